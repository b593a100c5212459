#!/usr/bin/env bash
# Runs every test: unit and doc tests once, then the integration suite, the command line's
# tests (`cli/`, compared with etcdctl) and etcdgw-compat's corpus (`compat/corpus`) against each
# etcd of the matrix (3.4.23, 3.5.34, 3.6.15, 3.7.2; each test starts its own members on free
# loopback ports), then etcd-client's own suite against etcdgw-compat and the differential test
# against etcd-client, then the host suite (wasm32 in headless Chromium on each of them; in
# Node.js, Deno and workerd on 3.4 and 3.6).
# Extra arguments filter the tests, e.g. `scripts/test.sh watch`; ETCDGW_MATRIX="36 37" runs
# fewer versions. The tests through real reverse proxies (`proxy::`: nginx, HAProxy and Caddy,
# installed by scripts/proxy-env.sh) run on the versions of ETCDGW_PROXY_MATRIX (default "34
# 36": the oldest and the newest gateway error shapes) that are in ETCDGW_MATRIX.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/etcd-env.sh
. scripts/proxy-env.sh
# The host suite's tools (wasm-bindgen-cli, worker-build, Deno, workerd, esbuild) build in the
# background while the native suites run, which mostly wait on etcd: built from nothing,
# worker-build alone takes minutes of a core.
mkdir -p target
scripts/hosts-test.sh tools > target/hosts-tools.log 2>&1 &
tools_pid=$!
proxy_matrix=" ${ETCDGW_PROXY_MATRIX:-34 36} "

export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
features=(--all-features)
# Six at a time: the tests mostly wait on etcd (measured on 3.6: 107 s with four, 74 s with six).
threads=${ETCDGW_TEST_THREADS:-6}

cargo test "${features[@]}" --lib --bins -- "$@"
cargo test -p etcdgw-cli --bins -- "$@"
# The whole-history checker's own tests: it catches every kind of anomaly it claims to.
cargo test -p etcdgw-history --lib --bins -- "$@"
cargo test "${features[@]}" --doc -- "$@"
# etcdgw-compat's unit and doc tests, built with the corpus's features (one build of both).
cargo test -p etcdgw-compat -p etcdgw-compat-corpus --lib -- "$@"
cargo test -p etcdgw-compat -p etcdgw-compat-corpus --doc -- "$@"
# cargo-nextest runs each test in its own process (faster here, and a crash stays contained);
# plain cargo test does the same job where it is missing.
# The harness (test-support/) tests itself too: port clashes at every kind of start.
# $skip_proxies: the proxy tests are left out on this version.
if cargo nextest --version >/dev/null 2>&1; then
  no_proxies() { if [ -n "$skip_proxies" ]; then printf "%s\n" -E "not test(/^proxy::/)"; fi; }
  run_it() {
    local skip; mapfile -t skip < <(no_proxies)
    cargo nextest run -p etcdgw-test-support --no-fail-fast --no-tests=warn --test-threads "$threads" "$@"
    cargo nextest run "${features[@]}" --test it --test metrics --no-fail-fast --no-tests=warn --test-threads "$threads" "${skip[@]}" "$@"
  }
  run_cli() {
    local skip; mapfile -t skip < <(no_proxies)
    cargo nextest run -p etcdgw-cli --test cli --no-fail-fast --no-tests=warn --test-threads 4 "${skip[@]}" "$@"
  }
  run_corpus() { cargo nextest run -p etcdgw-compat-corpus --no-fail-fast --no-tests=warn --test-threads "$threads" "$@"; }
else
  no_proxies() { if [ -n "$skip_proxies" ]; then printf "%s\n" --skip "proxy::"; fi; }
  run_it() {
    local skip; mapfile -t skip < <(no_proxies)
    cargo test -p etcdgw-test-support -- --test-threads "$threads" "$@"
    cargo test "${features[@]}" --test it -- --test-threads "$threads" "${skip[@]}" "$@"
    cargo test "${features[@]}" --test metrics -- "$@"
  }
  run_cli() {
    local skip; mapfile -t skip < <(no_proxies)
    cargo test -p etcdgw-cli --test cli -- --test-threads 4 "${skip[@]}" "$@"
  }
  run_corpus() { cargo test -p etcdgw-compat-corpus --test corpus -- --test-threads "$threads" "$@"; }
fi
for v in $ETCDGW_MATRIX; do
  bin_var=ETCD${v}_BIN ctl_var=ETCDCTL${v}_BIN
  case "$proxy_matrix" in *" $v "*) skip_proxies= ;; *) skip_proxies=1 ;; esac
  # (sed reads to the end: `head` would close the pipe under etcd, whose SIGPIPE, with
  # pipefail, would end this script.)
  version=$(${!bin_var} --version | sed -n 1p)
  # The command line's suite runs beside the integration suite: its longest test is etcdctl's
  # 60 s `check perf` load, which mostly waits. Its output follows the integration suite's.
  cli_log=target/test-cli-$v.log
  ETCD_BIN=${!bin_var} ETCDCTL_BIN=${!ctl_var} ETCDUTL_BIN=${ETCDUTL35_BIN} run_cli "$@" \
    > "$cli_log" 2>&1 &
  cli_pid=$!
  echo "== integration tests on $version" >&2
  it_status=0
  ETCD_BIN=${!bin_var} ETCDCTL_BIN=${!ctl_var} ETCDUTL_BIN=${ETCDUTL35_BIN} run_it "$@" || it_status=$?
  cli_status=0
  wait "$cli_pid" || cli_status=$?
  echo "== command line tests on $version" >&2
  cat "$cli_log" >&2
  if [ "$it_status" -ne 0 ] || [ "$cli_status" -ne 0 ]; then
    echo "test.sh: failures on $version (integration: exit $it_status, command line: exit $cli_status)" >&2
    exit 1
  fi
  echo "== etcdgw-compat's corpus on $version" >&2
  ETCD_BIN=${!bin_var} ETCDCTL_BIN=${!ctl_var} run_corpus "$@"
done
# The whole-history check under faults (tests/whole_history.rs, RELIABILITY.md): once, for 60 s,
# on etcd 3.6 (on the matrix's last version when 3.6 is not in it); scripts/soak.sh runs it longer.
history_version=36
case " $ETCDGW_MATRIX " in *" 36 "*) ;; *) history_version=${ETCDGW_MATRIX##* } ;; esac
bin_var=ETCD${history_version}_BIN
history_title="== whole-history check under faults on $(${!bin_var} --version | sed -n 1p)"
# It runs beside etcd-client's suite and the differential test below (its minute is mostly the
# faults' timers; they build in a target directory of their own); its output follows theirs.
history_log=target/test-history.log
if cargo nextest --version >/dev/null 2>&1; then
  ETCD_BIN=${!bin_var} cargo nextest run "${features[@]}" --test whole_history --no-fail-fast --no-tests=warn "$@" \
    > "$history_log" 2>&1 &
else
  ETCD_BIN=${!bin_var} cargo test "${features[@]}" --test whole_history -- "$@" > "$history_log" 2>&1 &
fi
history_pid=$!
# etcd-client 0.21.1's own tests and examples, untouched, against etcdgw-compat on etcd 3.5-3.7,
# and the differential test against etcd-client itself (the drop-in promise); not when a filter
# picks some of our tests.
if [ $# -eq 0 ]; then
  scripts/etcd-client-compat.sh
  scripts/compat-diff.sh
fi
history_status=0
wait "$history_pid" || history_status=$?
echo "$history_title" >&2
cat "$history_log" >&2
if [ "$history_status" -ne 0 ]; then
  echo "test.sh: the whole-history check failed (exit $history_status)" >&2
  exit 1
fi
# Installs Chromium, ChromeDriver, wasm-bindgen-cli, worker-build, Deno and workerd when they
# are missing (the tools, built in the background above, are there by now).
if ! wait "$tools_pid"; then
  cat target/hosts-tools.log >&2
  echo "test.sh: installing the host suite's tools failed (target/hosts-tools.log)" >&2
  exit 1
fi
scripts/hosts-test.sh "$@"
