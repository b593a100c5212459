#!/usr/bin/env bash
# Runs the benchmarks: starts an etcd (3.5 unless ETCD_BIN says otherwise), then alternates
# rounds of etcdgw + the raw HTTP baseline (examples/bench.rs) with rounds of etcd-client over
# gRPC (bench/grpc), and prints the medians and ratios. Results go to target/bench/results.jsonl.
# Usage: scripts/bench.sh [rounds] [workloads]     e.g. scripts/bench.sh 3 W1,W4
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/etcd-env.sh
rounds=${1:-3}
workloads=${2:-W1,W2,W3,W3s,W4,W5,W6}

# etcd-client builds its protos with protoc.
if ! command -v protoc >/dev/null 2>&1; then
  echo "bench: installing protoc (Debian protobuf-compiler) for etcd-client" >&2
  _etcdgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  _etcdgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >&2
fi
cargo build --release --example bench
(cd bench/grpc && cargo build --release)

. scripts/etcd-local.sh
etcdgw_start_local "${ETCD_BIN:-$ETCD36_BIN}"
mkdir -p target/bench
results=target/bench/results.jsonl
: > "$results"
common=(--endpoint "$ETCDGW_ENDPOINT" --etcd-pid "$ETCDGW_LOCAL_PID" --workloads "$workloads")
for round in $(seq 1 "$rounds"); do
  target/release/examples/bench "${common[@]}" --round "$round" >> "$results"
  bench/grpc/target/release/etcdgw-bench-grpc "${common[@]}" --round "$round" >> "$results"
done
target/release/examples/bench --report "$results"
