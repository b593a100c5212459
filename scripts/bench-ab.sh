#!/usr/bin/env bash
# Compares two versions of the library on the same workloads, under the same harness: builds
# `examples/bench.rs` as it is at REV_A against the library at REV_A and at REV_B, then runs
# the two binaries on one etcd member, alternating which goes first, for ROUNDS rounds, and
# prints per workload the medians and the paired ratios (B/A, round by round). Pairing matters
# on a shared 2-core machine: the speed of the whole machine drifts by ±20 % between rounds
# (the server's CPU per request, the same requests, moves with it), far more than the
# difference being looked for.
# Usage: scripts/bench-ab.sh REV_A REV_B [rounds] [workloads]
#   e.g. scripts/bench-ab.sh b0b7df6 HEAD 16 W1,W3
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 REV_A REV_B [rounds] [workloads]" >&2; exit 2; }
rev_a=$(git rev-parse --verify "$1^{commit}") rev_b=$(git rev-parse --verify "$2^{commit}")
rounds=${3:-16}
workloads=${4:-W1,W3}
. scripts/etcd-env.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/etcdgw-ab.XXXXXX")
cleanup() {
  git worktree remove --force "$work/a" 2>/dev/null || true
  git worktree remove --force "$work/b" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
root=$PWD
for side in a b; do
  rev=$rev_a; [ $side = b ] && rev=$rev_b
  git worktree add --quiet --detach "$work/$side" "$rev"
  # The harness of REV_A on both sides: only the library differs.
  git show "$rev_a:examples/bench.rs" >"$work/$side/examples/bench.rs"
  (cd "$work/$side" && cargo build --quiet --release --example bench --target-dir "$root/target/bench-ab/$side")
done
bin_a=target/bench-ab/a/release/examples/bench bin_b=target/bench-ab/b/release/examples/bench
# The binaries are built: the work trees can go now (etcd-local.sh sets an EXIT trap of its own).
cleanup
trap - EXIT

. scripts/etcd-local.sh
etcdgw_start_local "${ETCD_BIN:-$ETCD36_BIN}"
mkdir -p target/bench
out=target/bench/ab.jsonl
: >"$out"
for round in $(seq 1 "$rounds"); do
  order="a b"; [ $((round % 2)) = 0 ] && order="b a"
  for side in $order; do
    b=$bin_a; [ $side = b ] && b=$bin_b
    "$b" --endpoint "$ETCDGW_ENDPOINT" --etcd-pid "$ETCDGW_LOCAL_PID" --workloads "$workloads" \
      --sides etcdgw --round "$round" | sed "s/\"side\":\"etcdgw\"/\"side\":\"$side\"/" >>"$out"
  done
done
echo "A = $rev_a, B = $rev_b, $rounds rounds, etcd $("${ETCD_BIN:-$ETCD36_BIN}" --version | head -1)"
python3 - "$out" <<'PY'
import collections, json, statistics as st, sys
runs = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[(r["workload"], r["round"])][r["side"]] = r
print("| workload | p50 µs A | p50 µs B | p50 B/A (paired, geometric mean) | ops/s B/A (paired, geometric mean) | client CPU per server CPU, B/A (paired median) |")
print("|---|---:|---:|---:|---:|---:|")
for w in sorted({w for w, _ in runs}):
    pairs = [v for (k, _), v in runs.items() if k == w and len(v) == 2]
    p50 = [v["b"]["p50_us"] / v["a"]["p50_us"] for v in pairs]
    ops = [v["b"]["ops_per_sec"] / v["a"]["ops_per_sec"] for v in pairs]
    # Client CPU relative to the server's for the same requests: the machine's drift cancels.
    cpu = [(v["b"]["client_cpu_ms_per_10k"] / v["b"]["server_cpu_ms_per_10k"])
           / (v["a"]["client_cpu_ms_per_10k"] / v["a"]["server_cpu_ms_per_10k"]) for v in pairs]
    med = lambda side: st.median(v[side]["p50_us"] for v in pairs)
    print(f"| {w} | {med('a'):.0f} | {med('b'):.0f} | {st.geometric_mean(p50):.3f} | {st.geometric_mean(ops):.3f} | {st.median(cpu):.3f} |")
PY
