#!/usr/bin/env bash
# The differential test of etcdgw-compat (compat/diff): each scenario through etcd-client 0.21.1
# (gRPC) and through etcdgw-compat against the same etcd, on each version of the matrix; any
# difference compat/README.md does not list fails it. Prints every outcome as a table.
#
#   scripts/compat-diff.sh                every version of the matrix
#   ETCDGW_MATRIX=36 scripts/compat-diff.sh
#
# compat/diff is a workspace of its own, so that the library's builds never compile etcd-client;
# it shares its target directory with scripts/etcd-client-compat.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/etcd-env.sh

# etcd-client builds its protos with protoc.
if ! command -v protoc >/dev/null 2>&1; then
  echo "compat-diff: installing protoc (Debian protobuf-compiler) for etcd-client" >&2
  _etcdgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  _etcdgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >&2
fi

export CARGO_TARGET_DIR=$root/target/etcd-client-compat/target
manifest=$root/compat/diff/Cargo.toml
threads=${ETCDGW_TEST_THREADS:-3}
report=$(mktemp "${TMPDIR:-/tmp}/etcdgw-compat-diff-XXXXXX")
trap 'rm -f "$report"' EXIT

echo "== compat-diff: building the differential test (etcd-client and etcdgw-compat)" >&2
cargo test --quiet --manifest-path "$manifest" --no-run

status=0
for v in $ETCDGW_MATRIX; do
  bin_var=ETCD${v}_BIN ctl_var=ETCDCTL${v}_BIN
  echo "== compat-diff: etcd-client vs etcdgw-compat on $(${!bin_var} --version | head -1)" >&2
  if ! COMPAT_DIFF_REPORT=$report ETCD_BIN=${!bin_var} ETCDCTL_BIN=${!ctl_var} \
    cargo test --quiet --manifest-path "$manifest" -- --test-threads "$threads" >&2; then
    status=1
  fi
done

echo "| etcd | scenario | etcd-client | etcdgw-compat | |" >&2
echo "|---|---|---|---|---|" >&2
sort -t'|' -k3,3 -k2,2V "$report" >&2
exit $status
