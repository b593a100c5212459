# shellcheck shell=bash
# Source this file after etcd-env.sh: `etcdgw_start_local BIN` starts one etcd member on free
# loopback ports with a temp data dir, waits until it is healthy, exports ETCDGW_ENDPOINT, and
# stops it (and removes the dir) when the calling script exits. `etcdgw_start_local BIN CERT
# KEY` also serves https (server-only TLS) on a third port and exports ETCDGW_TLS_ENDPOINT.

etcdgw_start_local() {
  local bin=$1 cert=${2:-} key=${3:-} ports dir
  ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(3)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
  set -- $ports
  local client=$1 peer=$2 secure=$3
  local listen="http://127.0.0.1:$client" tls_args=()
  if [ -n "$cert" ]; then
    listen="$listen,https://127.0.0.1:$secure"
    tls_args=(--cert-file "$cert" --key-file "$key")
    export ETCDGW_TLS_ENDPOINT="https://127.0.0.1:$secure"
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/etcdgw-local-XXXXXX")
  "$bin" --name local --data-dir "$dir/data" "${tls_args[@]}" \
    --listen-client-urls "$listen" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "local=http://127.0.0.1:$peer" --logger zap --log-level error \
    >"$dir/etcd.log" 2>&1 &
  ETCDGW_LOCAL_PID=$!
  ETCDGW_LOCAL_DIR=$dir
  # Keeps the script's own exit status: etcd's (143, from the TERM) must neither replace it
  # nor, under `set -e`, end the trap early.
  trap 'etcdgw_rc=$?; kill "$ETCDGW_LOCAL_PID" 2>/dev/null; wait "$ETCDGW_LOCAL_PID" 2>/dev/null || true; rm -rf "$ETCDGW_LOCAL_DIR"; exit $etcdgw_rc' EXIT
  export ETCDGW_ENDPOINT="http://127.0.0.1:$client"
  python3 - "$ETCDGW_ENDPOINT" <<'PY' || { cat "$dir/etcd.log" >&2; return 1; }
import sys, time, urllib.request
for _ in range(200):
    try:
        if b'"true"' in urllib.request.urlopen(sys.argv[1] + "/health", timeout=1).read():
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.05)
sys.exit("etcd did not become healthy")
PY
}
