#!/usr/bin/env bash
# The drop-in check: etcd-client 0.21.1's own tests/ and examples/, from its published package and
# untouched, built against the compat crate under the name `etcd_client`
# (`etcd-client = { package = "etcdgw-compat", path = "compat" }`), and run against etcd 3.5, 3.6
# and 3.7 set up as etcd-client's CI sets up its server: one member on localhost:2379,
# `--auth-token-ttl 2`, user root (password rootpwd) with the root role, auth off.
#
#   scripts/etcd-client-compat.sh            every version of the matrix but 3.4
#   ETCDGW_MATRIX=37 scripts/etcd-client-compat.sh
#
# The only tests allowed to fail are the deliberate differences compat/README.md lists under
# "Differences from etcd-client" (each with its reason); any other failure, or a test or example
# that does not build, fails the script. It needs port 2379 free, like etcd-client's own tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/etcd-env.sh

version=0.21.1
work=$root/target/etcd-client-compat
src=$work/etcd-client-$version
pkg=$work/pkg

# etcd-client's published package, from cargo's cache (fetched through a scratch manifest).
if [ ! -f "$src/Cargo.toml" ]; then
  mkdir -p "$work/fetch/src" && : >"$work/fetch/src/lib.rs"
  cat >"$work/fetch/Cargo.toml" <<EOF
[package]
name = "etcdgw-fetch-etcd-client"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
etcd-client = "=$version"

[workspace]
EOF
  echo "compat: fetching etcd-client $version from the Rust registry" >&2
  cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"
  crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"etcd-client-$version.crate" | head -n 1)
  rm -rf "$src" && mkdir -p "$src"
  tar -xzf "$crate" -C "$src" --strip-components=1
fi

# A package whose tests and examples are etcd-client's files, in place, with etcdgw-compat as
# etcd_client.
mkdir -p "$pkg/src" && : >"$pkg/src/lib.rs"
{
  cat <<EOF
[package]
name = "etcd-client-compat"
version = "0.0.0"
edition = "2021"
publish = false
autotests = false
autoexamples = false

[dev-dependencies]
etcd-client = { package = "etcdgw-compat", path = "$root/compat" }
serial_test = "3"
tokio = { version = "1.38", features = ["full"] }

[workspace]
EOF
  for t in "$src"/tests/*.rs; do
    printf '\n[[test]]\nname = "%s"\npath = "%s"\n' "$(basename "$t" .rs)" "$t"
  done
  for e in "$src"/examples/*.rs; do
    printf '\n[[example]]\nname = "%s"\npath = "%s"\n' "$(basename "$e" .rs)" "$e"
  done
} >"$pkg/Cargo.toml"
# The lock file of this project, so the same versions build (missing ones resolve afresh).
cp "$root/Cargo.lock" "$pkg/Cargo.lock"
export CARGO_TARGET_DIR=$root/target/etcd-client-compat/target

# The deliberate differences: `test_name` lines in compat/README.md's "Differences from
# etcd-client" section.
mapfile -t deliberate < <(awk '/^## Differences from etcd-client/{on=1; next} /^## /{on=0} on' compat/README.md |
  grep -o 'test `test_[a-z_0-9]*`' | grep -o 'test_[a-z_0-9]*' | sort -u)

echo "== compat: building etcd-client $version's tests and examples against etcdgw-compat" >&2
cargo build --quiet --manifest-path "$pkg/Cargo.toml" --tests --examples

start_etcd() { # BIN EXTRA...: one member on localhost:2379, set up as etcd-client's CI does
  local bin=$1; shift
  if "$ETCDCTL35_BIN" --endpoints 127.0.0.1:2379 --dial-timeout 1s endpoint health >/dev/null 2>&1; then
    echo "compat: something already answers on localhost:2379; stop it first" >&2
    exit 1
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/etcdgw-compat-XXXXXX")
  "$bin" --name compat --data-dir "$dir/data" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://localhost:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster compat=http://127.0.0.1:2380 --auth-token-ttl 2 \
    --logger zap --log-level error "$@" >"$dir/etcd.log" 2>&1 &
  etcd_pid=$!
  for _ in $(seq 100); do
    "$ETCDCTL35_BIN" --endpoints 127.0.0.1:2379 endpoint health >/dev/null 2>&1 && break
    kill -0 "$etcd_pid" 2>/dev/null || { cat "$dir/etcd.log" >&2; echo "compat: etcd did not start (is port 2379 free?)" >&2; exit 1; }
    sleep 0.1
  done
  kill -0 "$etcd_pid" 2>/dev/null || { cat "$dir/etcd.log" >&2; echo "compat: etcd exited" >&2; exit 1; }
  "$ETCDCTL35_BIN" --endpoints 127.0.0.1:2379 user add root --new-user-password=rootpwd >/dev/null
  "$ETCDCTL35_BIN" --endpoints 127.0.0.1:2379 user grant-role root root >/dev/null
}
stop_etcd() {
  kill "$etcd_pid" 2>/dev/null || true
  wait "$etcd_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap 'stop_etcd' EXIT

status=0
# Runs cargo test with the arguments given; prints the failures that are not deliberate.
run_tests() {
  local out
  out=$(cargo test --no-fail-fast --manifest-path "$pkg/Cargo.toml" "$@" 2>&1) || true
  grep -E '^test result:' <<<"$out" | sed 's/^/    /' >&2
  local failed
  failed=$(grep -E '^test [a-z_0-9:]+ \.\.\. FAILED$' <<<"$out" | awk '{print $2}' | sort -u || true)
  for t in $failed; do
    if printf '%s\n' "${deliberate[@]}" | grep -qx "${t##*::}"; then
      echo "    $t failed: a deliberate difference (compat/README.md)" >&2
    else
      echo "    $t FAILED:" >&2
      awk -v t="$t" '$0 ~ "---- "t" stdout ----"{on=1} on{print "      " $0} /^$/{if(on) exit}' <<<"$out" >&2
      status=1
    fi
  done
  if ! grep -qE '^test result:' <<<"$out"; then
    echo "$out" | tail -20 >&2
    status=1
  fi
}

for v in ${ETCDGW_MATRIX:-35 36 37}; do
  [ "$v" = 34 ] && continue # etcd-client's CI runs 3.5, 3.6 and 3.7
  bin_var=ETCD${v}_BIN
  echo "== compat: etcd-client $version's tests on $(${!bin_var} --version | head -1)" >&2
  start_etcd "${!bin_var}"
  run_tests --tests
  # The examples that run against one member (`cluster` needs three, and promotes a member it
  # added as a voter, which etcd refuses with etcd-client too; it is built above).
  for e in "$src"/examples/*.rs; do
    name=$(basename "$e" .rs)
    [ "$name" = cluster ] && continue
    # Each example ends on its own within seconds; a hang fails it instead of the whole run.
    if timeout 120 cargo run --quiet --manifest-path "$pkg/Cargo.toml" --example "$name" >"$dir/example.log" 2>&1; then
      echo "    example $name: ok" >&2
    else
      echo "    example $name FAILED:" >&2
      tail -5 "$dir/example.log" | sed 's/^/      /' >&2
      status=1
    fi
  done
  stop_etcd
  # RangeStream's tests, as etcd-client runs them: --ignored, on a member with a small
  # --max-request-bytes, so the server (here: the pages) splits the answer.
  start_etcd "${!bin_var}" --max-request-bytes 10240
  run_tests --test client test_get_stream -- --ignored
  stop_etcd
done
exit $status
