#!/usr/bin/env bash
# Runs the benchmarks: starts an etcd (3.6 unless ETCD_BIN says otherwise) serving http and,
# with a certificate made here for the run, https (server-only TLS), then alternates rounds
# of etcdgw + the raw HTTP baseline (examples/bench.rs) with rounds of etcd-client over gRPC
# (bench/grpc), and prints the medians and ratios. Results go to target/bench/results.jsonl.
# Usage: scripts/bench.sh [rounds] [workloads]     e.g. scripts/bench.sh 3 W1,W4,W4t
# The W7 workloads (a thousand watches on one client) run one per process, etcdgw's and
# etcd-client's alternately first, so that each process's RSS is that workload's.
# ETCDGW_BENCH_BEFORE=path/to/an/older/bench binary adds its etcdgw rounds as "etcdgw-before".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/etcd-env.sh
rounds=${1:-3}
workloads=${2:-W1,W2,W3,W3s,W4,W4d,W4ds,W5,W6,W1t,W2t,W4t,W5t,W7,W7p,W7a,W7t,W7h}
IFS=, read -ra _all <<<"$workloads"
rest=() w7=()
for w in "${_all[@]}"; do
  case $w in W7*) w7+=("$w") ;; *) rest+=("$w") ;; esac
done
rest_list=$(IFS=,; echo "${rest[*]}")
# W7h holds a connection per watch (1,000): raise the soft limit on open files if it is low.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi

# etcd-client builds its protos with protoc.
if ! command -v protoc >/dev/null 2>&1; then
  echo "bench: installing protoc (Debian protobuf-compiler) for etcd-client" >&2
  _etcdgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  _etcdgw_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >&2
fi
cargo build --release --example bench
(cd bench/grpc && cargo build --release)

# A CA and a server certificate for 127.0.0.1 (P-256), made for this run only.
certs=target/bench/certs
rm -rf "$certs" && mkdir -p "$certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=etcdgw bench CA" -keyout "$certs/ca-key.pem" -out "$certs/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=etcd" -keyout "$certs/server-key.pem" -out "$certs/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$certs/ext.cnf"
openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca-key.pem" \
  -CAcreateserial -days 2 -extfile "$certs/ext.cnf" -out "$certs/server.pem" 2>/dev/null

. scripts/etcd-local.sh
etcdgw_start_local "${ETCD_BIN:-$ETCD36_BIN}" "$certs/server.pem" "$certs/server-key.pem"
mkdir -p target/bench
results=target/bench/results.jsonl
: > "$results"
member=(--endpoint "$ETCDGW_ENDPOINT" --etcd-pid "$ETCDGW_LOCAL_PID")
common=("${member[@]}" --workloads "$rest_list")
tls=(--tls-endpoint "$ETCDGW_TLS_ENDPOINT" --ca-file "$certs/ca.pem")
for round in $(seq 1 "$rounds"); do
  echo "bench: round $round of $rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  if [ ${#rest[@]} -gt 0 ]; then
    target/release/examples/bench "${common[@]}" "${tls[@]}" --round "$round" >> "$results"
    bench/grpc/target/release/etcdgw-bench-grpc "${common[@]}" "${tls[@]}" --round "$round" >> "$results"
    if [ -n "${ETCDGW_BENCH_BEFORE:-}" ]; then
      "$ETCDGW_BENCH_BEFORE" "${common[@]}" --sides etcdgw --round "$round" \
        | sed 's/"side":"etcdgw"/"side":"etcdgw-before"/' >> "$results"
    fi
  fi
  for w in "${w7[@]}"; do
    etcdgw_w7=(target/release/examples/bench "${member[@]}" "${tls[@]}" --workloads "$w" --sides etcdgw --round "$round")
    raw_w7=(target/release/examples/bench "${member[@]}" --workloads "$w" --sides raw --round "$round")
    grpc_w7=(bench/grpc/target/release/etcdgw-bench-grpc "${member[@]}" "${tls[@]}" --workloads "$w" --round "$round")
    if [ $((round % 2)) = 1 ]; then
      "${etcdgw_w7[@]}" >> "$results"
      "${raw_w7[@]}" >> "$results"
      "${grpc_w7[@]}" >> "$results"
    else
      "${grpc_w7[@]}" >> "$results"
      "${raw_w7[@]}" >> "$results"
      "${etcdgw_w7[@]}" >> "$results"
    fi
  done
done
rm -rf "$certs"
target/release/examples/bench --report "$results"
