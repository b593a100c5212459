#!/usr/bin/env bash
# Runs every test: unit and doc tests once, then the integration suite against etcd 3.4 and
# against etcd 3.5 (each test starts its own members on free loopback ports).
# Extra arguments go to the test binaries, e.g. `scripts/test.sh watch` to filter.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/etcd-env.sh

export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
features=(--all-features)

cargo test "${features[@]}" --lib -- "$@"
cargo test "${features[@]}" --doc -- "$@"
cargo test "${features[@]}" --no-run --test '*'
for v in 34 35; do
  bin_var=ETCD${v}_BIN ctl_var=ETCDCTL${v}_BIN
  echo "== integration tests on $(${!bin_var} --version | head -1)" >&2
  ETCD_BIN=${!bin_var} ETCDCTL_BIN=${!ctl_var} ETCDUTL_BIN=${ETCDUTL35_BIN} \
    cargo test "${features[@]}" --test '*' -- --test-threads "${ETCDGW_TEST_THREADS:-4}" "$@"
done
