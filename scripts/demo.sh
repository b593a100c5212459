#!/usr/bin/env bash
# Starts a local etcd (3.6 unless ETCD_BIN says otherwise) and runs the demo example against it.
# Usage: scripts/demo.sh [example]   (default: demo; e.g. scripts/demo.sh watch)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/etcd-env.sh
. scripts/etcd-local.sh
etcdgw_start_local "${ETCD_BIN:-$ETCD36_BIN}"
echo "etcd is listening on $ETCDGW_ENDPOINT" >&2
example=${1:-demo}
features=()
case $example in
  metrics) features=(--features metrics) ;;
  gen_schemas) features=(--features schema) ;;
  # The blocking script reads etcdctl's variables (and ignores the argument).
  script) features=(--features blocking); export ETCDCTL_ENDPOINTS=$ETCDGW_ENDPOINT ;;
esac
cargo run --quiet "${features[@]}" --example "$example" -- "$ETCDGW_ENDPOINT"
