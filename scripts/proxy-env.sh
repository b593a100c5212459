# shellcheck shell=bash
# Source this file: it installs the reverse proxies the proxy tests run (tests/it/proxy.rs,
# cli/tests/cli/proxy.rs) when they are missing, from Debian's packages, without a prompt:
# nginx, haproxy and caddy. The packages may start system services on port 80; they are
# stopped and disabled (the tests start their own instances on free loopback ports, with the
# configurations in test-support/proxies/).

# etcd-env.sh defines it too; this file may be sourced alone.
if ! declare -F _etcdgw_sudo >/dev/null; then
  _etcdgw_sudo() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else "$@"; fi
  }
fi

_etcdgw_proxy_missing() {
  local p
  for p in nginx haproxy caddy; do
    command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || { echo "$p"; return 0; }
  done
  return 1
}

if _etcdgw_proxy_missing >/dev/null; then
  echo "etcdgw: installing nginx, haproxy and caddy (Debian packages) for the proxy tests" >&2
  _etcdgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  _etcdgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx haproxy caddy >&2 \
    || { echo "etcdgw: could not install the proxies" >&2; return 1 2>/dev/null || exit 1; }
  # Whichever init system started them (systemd, or the init scripts in a container).
  for _etcdgw_s in nginx haproxy caddy; do
    if command -v systemctl >/dev/null 2>&1; then
      _etcdgw_sudo systemctl disable --now "$_etcdgw_s" >/dev/null 2>&1 || true
    fi
    if command -v service >/dev/null 2>&1; then
      _etcdgw_sudo service "$_etcdgw_s" stop >/dev/null 2>&1 || true
    fi
  done
  unset _etcdgw_s
fi
# nginx and haproxy live in /usr/sbin, which a non-root PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac
