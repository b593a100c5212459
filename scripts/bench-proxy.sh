#!/usr/bin/env bash
# Event latency through reverse proxies (examples/proxy_latency.rs): a watch streamed through
# nginx without buffering against long polls through nginx at its defaults, and directly from
# etcd, on a member of etcd 3.6 (ETCD_BIN to change it) started by the test harness.
# Usage: scripts/bench-proxy.sh [events] [gap-ms]      (default 200 events, one every 37 ms)
# Prints one JSON line per setup and a Markdown table (BENCHMARKS.md, "Through a proxy").
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/etcd-env.sh
. scripts/proxy-env.sh
cargo build --release --example proxy_latency
echo "bench-proxy: load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
ETCD_BIN=${ETCD_BIN:-$ETCD36_BIN} target/release/examples/proxy_latency "$@"
