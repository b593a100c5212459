#!/usr/bin/env bash
# The browser suite: etcdgw compiled to wasm32 and run in headless Chromium against members of
# every etcd of the matrix (scripts/etcd-env.sh) on loopback (tests/browser/). Installs what it needs without a prompt: Debian's
# chromium and chromium-driver, the wasm32 target, and wasm-bindgen-cli at the version Cargo.lock
# holds (built once into target/tools/). Builds the suite page and the example page into
# target/browser/, then runs `cargo test --test browser` on each etcd version.
#
#   scripts/browser-test.sh [filter]   run the suite (scripts/test.sh runs it too)
#   scripts/browser-test.sh build      only build the pages
#   scripts/browser-test.sh serve [port]
#                                      start a local etcd, build the example key browser and
#                                      serve it on http://127.0.0.1:PORT (default 8080) until
#                                      Ctrl-C; the address it prints points the page at the etcd
set -euo pipefail
cd "$(dirname "$0")/.."

_sudo() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else "$@"; fi
}

install_chromium() {
  if [ -x "${CHROME_BIN:-/usr/bin/chromium}" ] && [ -x "${CHROMEDRIVER:-/usr/bin/chromedriver}" ]; then
    return 0
  fi
  echo "browser: installing Debian chromium and chromium-driver" >&2
  _sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  _sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
}

# wasm-bindgen's CLI must be the version of the wasm-bindgen crate the pages link.
install_wasm_bindgen() {
  local version
  version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  [ -n "$version" ] || { echo "browser: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
  WASM_BINDGEN="$PWD/target/tools/wasm-bindgen-$version/bin/wasm-bindgen"
  if [ -x "$WASM_BINDGEN" ] && "$WASM_BINDGEN" --version | grep -q " $version"; then
    return 0
  fi
  echo "browser: building wasm-bindgen-cli $version (once)" >&2
  # --locked first; its lock file may name a yanked crate, then without.
  cargo install --quiet --locked --root "target/tools/wasm-bindgen-$version" wasm-bindgen-cli --version "$version" >&2 \
    || cargo install --quiet --root "target/tools/wasm-bindgen-$version" wasm-bindgen-cli --version "$version" >&2
}

build_pages() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown >&2
  install_wasm_bindgen
  cargo build --quiet --target wasm32-unknown-unknown -p etcdgw-browser-suite -p etcdgw-browser-example
  local wasm=target/wasm32-unknown-unknown/debug
  rm -rf target/browser/suite target/browser/example
  "$WASM_BINDGEN" --target web --no-typescript --out-dir target/browser/suite "$wasm/etcdgw_browser_suite.wasm"
  cp tests/browser/suite/suite.html target/browser/suite/
  "$WASM_BINDGEN" --target web --no-typescript --out-dir target/browser/example "$wasm/etcdgw_browser_example.wasm"
  cp examples/browser/index.html target/browser/example/
}

case "${1:-}" in
  build)
    build_pages
    ;;
  serve)
    build_pages
    port=${2:-8080}
    . scripts/etcd-env.sh
    . scripts/etcd-local.sh
    etcdgw_start_local "${ETCD_BIN:-$ETCD36_BIN}"
    echo "etcd is listening on $ETCDGW_ENDPOINT; try: ETCDCTL_API=3 $ETCDCTL35_BIN --endpoints $ETCDGW_ENDPOINT put demo/hello world" >&2
    echo "open http://127.0.0.1:$port/index.html?endpoint=$ETCDGW_ENDPOINT&prefix=demo/  (Ctrl-C stops both)" >&2
    python3 -m http.server --bind 127.0.0.1 --directory target/browser/example "$port" 2>/dev/null
    ;;
  *)
    . scripts/etcd-env.sh
    install_chromium
    build_pages
    export CHROME_BIN=${CHROME_BIN:-/usr/bin/chromium} CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
    # Each test runs one Chromium and one etcd; two at a time is what two cores take.
    threads=${ETCDGW_BROWSER_TEST_THREADS:-2}
    for v in $ETCDGW_MATRIX; do
      bin_var=ETCD${v}_BIN ctl_var=ETCDCTL${v}_BIN
      echo "== browser tests on $(${!bin_var} --version | head -1)" >&2
      if cargo nextest --version >/dev/null 2>&1; then
        ETCD_BIN=${!bin_var} ETCDCTL_BIN=${!ctl_var} \
          cargo nextest run --test browser --no-fail-fast --test-threads "$threads" "$@"
      else
        ETCD_BIN=${!bin_var} ETCDCTL_BIN=${!ctl_var} \
          cargo test --test browser -- --test-threads "$threads" "$@"
      fi
    done
    ;;
esac
