#!/usr/bin/env bash
# Packages the library and the command line as `cargo publish` would (`cargo package`, which
# also builds each from its package, the command line against the packaged library through
# cargo's local registry overlay), then unpacks the .crate files and runs the tests that
# travel with them: the library's unit and doc tests with every feature (the unit tests read
# the gateway captures the package holds), and the command line's unit tests against the
# packaged library. Their integration suites start etcd through the checkout's harness and
# are not published. Dependencies come from this checkout's target directory, so only the two
# crates are compiled again. Extra arguments go to `cargo package` (e.g. --allow-dirty).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# `cargo package` verifies the command line against the packaged library through a local
# registry overlay named after this checkout's path, and cargo unpacks a registry's crate only
# once: a library packaged earlier from the same path would be built in its place. Remove
# those unpacked copies (local registries have no host, so their names start with "-").
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/etcdgw-[0-9]* \
  "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/etcdgw-cli-[0-9]*
cargo package -p etcdgw -p etcdgw-cli "$@"
version() { cargo metadata --format-version 1 --no-deps \
  | python3 -c "import json,sys; print(next(p['version'] for p in json.load(sys.stdin)['packages'] if p['name']=='$1'))"; }
lib=etcdgw-$(version etcdgw) cli=etcdgw-cli-$(version etcdgw-cli)

# Outside the checkout, so that cargo does not take the checkout's workspace for theirs, and
# at the same place every time: the test binaries built in the shared target directory keep
# the package's path (the captures are found through CARGO_MANIFEST_DIR).
unpacked=${TMPDIR:-/tmp}/etcdgw-package-check-$(printf %s "$root" | cksum | cut -d' ' -f1)
rm -rf "$unpacked"
mkdir -p "$unpacked"
tar -xzf "target/package/$lib.crate" -C "$unpacked"
tar -xzf "target/package/$cli.crate" -C "$unpacked"
export CARGO_TARGET_DIR=$root/target
# A package builds with the checkout's own crate names and relative paths, so cargo would take
# the checkout's test binaries for its own; a profile setting of the two crates alone (no
# effect on the code) gives them artifacts of their own, and the dependencies stay shared.
own=()
for profile in dev test; do
  for crate in etcdgw etcdgw-cli; do
    own+=(--config "profile.$profile.package.$crate.codegen-units=255")
  done
done

echo "== $lib: unit and doc tests from the package" >&2
cargo test "${own[@]}" --manifest-path "$unpacked/$lib/Cargo.toml" --all-features --lib -- --test-threads 4
cargo test "${own[@]}" --manifest-path "$unpacked/$lib/Cargo.toml" --all-features --doc
echo "== $cli: unit tests from the package, against the packaged library" >&2
cargo test "${own[@]}" --manifest-path "$unpacked/$cli/Cargo.toml" --bins \
  --config "patch.crates-io.etcdgw.path='$unpacked/$lib'"
