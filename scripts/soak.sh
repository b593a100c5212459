#!/usr/bin/env bash
# A long run of the whole-history check under faults (RELIABILITY.md): etcdgw's (the same test
# as scripts/test.sh's short run, tests/whole_history.rs, for longer), then the control's (the
# same workload, faults and checker with etcd-client 0.21 over gRPC, tests/history/grpc), on
# one etcd of the matrix. Each prints its summary: operations by kind and outcome, faults,
# watches and resumes, read batches, what the check placed, and the anomalies.
#
#   scripts/soak.sh DURATION SEED [VERSION]    e.g. scripts/soak.sh 20m 7 36
#
# DURATION: 90s, 20m, 1h. VERSION: 34, 35, 36 (the default) or 37. ETCDGW_SOAK_CLIENTS picks
# the runs: "etcdgw control" (the default), "etcdgw" or "control" (the control builds
# etcd-client, and so needs protoc: Debian's protobuf-compiler).
# A run that finds an anomaly writes its whole history under target/history/ (re-check it with
# `cargo run -p etcdgw-history --bin history-check -- FILE`). Exits non-zero if etcdgw's run
# found one; the control's anomalies are reported, not failed on.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '2,16p' "$0" >&2
  exit 2
fi
duration=$1 seed=$2 version=${3:-36}
. scripts/etcd-env.sh
bin_var=ETCD${version}_BIN
[ -n "${!bin_var:-}" ] || { echo "soak: no etcd for version $version (34 35 36 37)" >&2; exit 2; }
export ETCD_BIN=${!bin_var}
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0} RUST_BACKTRACE=${RUST_BACKTRACE:-0}
status=0
clients=" ${ETCDGW_SOAK_CLIENTS:-etcdgw control} "
if [[ $clients == *" etcdgw "* ]]; then
  echo "== soak: etcdgw for $duration, seed $seed, on $($ETCD_BIN --version | head -1)" >&2
  started=$(date +%s)
  ETCDGW_HISTORY_DURATION=$duration ETCDGW_HISTORY_SEED=$seed \
    cargo test --all-features --test whole_history -- --nocapture --exact whole_history_under_faults \
    || status=$?
  echo "== etcdgw's soak took $(( $(date +%s) - started )) s (exit $status)" >&2
fi

if [[ $clients == *" control "* ]]; then
  command -v protoc >/dev/null || {
    echo "soak: installing protoc (Debian protobuf-compiler) for etcd-client's build" >&2
    apt-get install -y -qq protobuf-compiler >&2 || sudo -n apt-get install -y -qq protobuf-compiler >&2
  }
  echo "== soak: the control, etcd-client over gRPC, for $duration, seed $seed" >&2
  # Its own workspace and lock; built into the checkout's target/ (one place to clean).
  (cd tests/history/grpc && cargo build --quiet --target-dir ../../../target/history-grpc)
  started=$(date +%s)
  target/history-grpc/debug/etcdgw-history-grpc "$duration" "$seed" || echo "soak: the control exited with $?" >&2
  echo "== the control's soak took $(( $(date +%s) - started )) s" >&2
fi
exit $status
