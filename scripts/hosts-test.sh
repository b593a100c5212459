#!/usr/bin/env bash
# The host suite: etcdgw compiled to wasm32 and run on each JavaScript host it targets, headless
# Chromium, Node.js, Deno and workerd (Cloudflare Workers' runtime), against members of the etcd
# matrix (scripts/etcd-env.sh) on loopback (tests/hosts/). Installs what it needs without a
# prompt: Debian's chromium and chromium-driver (and nodejs if the machine has no Node.js), the
# wasm32 target, wasm-bindgen-cli at the version Cargo.lock holds and worker-build (each built
# once into target/tools/), and Deno, workerd and esbuild from the npm registry at the exact
# versions tests/hosts/npm/package-lock.json pins (`npm ci` into target/hosts/npm/). Builds the
# suite, the example page and the Worker example into target/hosts/, then runs `cargo test
# --test hosts` for each host and etcd version: Chromium on every etcd of ETCDGW_MATRIX, the
# others on ETCDGW_EDGE_MATRIX (by default 3.4 and 3.6, those of ETCDGW_MATRIX among them, or
# its first if neither is).
#
#   scripts/hosts-test.sh [filter...]  run the suite (scripts/test.sh runs it too); filters
#                                      pick tests by name within each host
#   scripts/hosts-test.sh build        only build
#   scripts/hosts-test.sh tools        only install the tools (scripts/test.sh runs this in the
#                                      background while the native suites run: worker-build
#                                      alone takes minutes to build the first time)
#   scripts/hosts-test.sh serve [port] start a local etcd, build the example key browser and
#                                      serve it on http://127.0.0.1:PORT (default 8080) until
#                                      Ctrl-C; the address it prints points the page at the etcd
#
# ETCDGW_HOSTS="node deno" runs fewer hosts (default: chromium node deno workerd).
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.5
hosts_dir=$PWD/target/hosts

_sudo() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else "$@"; fi
}

_apt_install() {
  echo "hosts: installing Debian $*" >&2
  _sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  _sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

install_chromium() {
  if [ -x "${CHROME_BIN:-/usr/bin/chromium}" ] && [ -x "${CHROMEDRIVER:-/usr/bin/chromedriver}" ]; then
    return 0
  fi
  _apt_install chromium chromium-driver
}

install_node() {
  command -v node >/dev/null && command -v npm >/dev/null && return 0
  _apt_install nodejs npm
}

# Deno, workerd and esbuild at the versions the lock file pins. `npm ci` starts from nothing
# each time, so it runs only when the lock file changed; install scripts are not needed (each
# package finds its platform's binary in an optional dependency) and not run.
install_npm_tools() {
  local npm_dir=$hosts_dir/npm
  if cmp -s tests/hosts/npm/package-lock.json "$npm_dir/package-lock.json" \
    && [ -x "$npm_dir/node_modules/.bin/workerd" ] && [ -x "$npm_dir/node_modules/.bin/deno" ]; then
    return 0
  fi
  echo "hosts: installing Deno, workerd and esbuild from npm (npm ci)" >&2
  mkdir -p "$npm_dir"
  cp tests/hosts/npm/package.json tests/hosts/npm/package-lock.json "$npm_dir/"
  (cd "$npm_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
}

# wasm-bindgen's CLI must be the version of the wasm-bindgen crate the wasm32 crates link.
install_wasm_bindgen() {
  local version
  version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  [ -n "$version" ] || { echo "hosts: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
  WASM_BINDGEN="$PWD/target/tools/wasm-bindgen-$version/bin/wasm-bindgen"
  if [ -x "$WASM_BINDGEN" ] && "$WASM_BINDGEN" --version | grep -q " $version"; then
    return 0
  fi
  echo "hosts: building wasm-bindgen-cli $version (once)" >&2
  # --locked first; its lock file may name a yanked crate, then without.
  cargo install --quiet --locked --root "target/tools/wasm-bindgen-$version" wasm-bindgen-cli --version "$version" >&2 \
    || cargo install --quiet --root "target/tools/wasm-bindgen-$version" wasm-bindgen-cli --version "$version" >&2
}

# workers-rs' build tool. It would download wasm-bindgen (from GitHub, which this machine cannot
# reach) and esbuild; WASM_BINDGEN_BIN and ESBUILD_BIN hand it ours instead.
install_worker_build() {
  WORKER_BUILD="$PWD/target/tools/worker-build-$WORKER_BUILD_VERSION/bin/worker-build"
  if [ -x "$WORKER_BUILD" ] && [ "$("$WORKER_BUILD" --version)" = "$WORKER_BUILD_VERSION" ]; then
    return 0
  fi
  echo "hosts: building worker-build $WORKER_BUILD_VERSION (once)" >&2
  cargo install --quiet --locked --root "target/tools/worker-build-$WORKER_BUILD_VERSION" worker-build --version "$WORKER_BUILD_VERSION" >&2
}

build() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown >&2
  install_node
  install_npm_tools
  install_wasm_bindgen
  install_worker_build
  cargo build --quiet --target wasm32-unknown-unknown -p etcdgw-host-suite -p etcdgw-browser-example
  local wasm=target/wasm32-unknown-unknown/debug
  rm -rf "$hosts_dir/suite" "$hosts_dir/example" "$hosts_dir/worker"
  # One build of the suite for every host: the web target's module, loaded by the page, by
  # run.mjs (Node.js, Deno) and by worker.mjs (workerd).
  "$WASM_BINDGEN" --target web --no-typescript --out-dir "$hosts_dir/suite" "$wasm/etcdgw_host_suite.wasm"
  cp tests/hosts/suite/{suite.html,run.mjs,worker.mjs,workerd.capnp} "$hosts_dir/suite/"
  "$WASM_BINDGEN" --target web --no-typescript --out-dir "$hosts_dir/example" "$wasm/etcdgw_browser_example.wasm"
  cp examples/browser/index.html "$hosts_dir/example/"
  # The Worker as its users build it: worker-build (wasm-bindgen, its shim, esbuild).
  (cd examples/worker && WASM_BINDGEN_BIN="$WASM_BINDGEN" ESBUILD_BIN="$hosts_dir/npm/node_modules/.bin/esbuild" \
    "$WORKER_BUILD" --dev --out-dir "$hosts_dir/worker/build" >&2)
  cp examples/worker/workerd.capnp "$hosts_dir/worker/"
}

# The etcd versions the hosts other than Chromium run on.
edge_matrix() {
  if [ -n "${ETCDGW_EDGE_MATRIX:-}" ]; then
    echo "$ETCDGW_EDGE_MATRIX"
    return
  fi
  local v picked=()
  for v in $ETCDGW_MATRIX; do
    case $v in 34 | 36) picked+=("$v") ;; esac
  done
  [ ${#picked[@]} -gt 0 ] || picked=("${ETCDGW_MATRIX%% *}")
  echo "${picked[@]}"
}

# Runs host $1's tests (`<host>::...`), those matching any of the filters that follow if any.
run_host() {
  local host=$1 threads=${ETCDGW_HOSTS_TEST_THREADS:-2}
  shift
  if cargo nextest --version >/dev/null 2>&1; then
    local expr="test(/^$host::/)" names=""
    for f in "$@"; do names="${names:+$names | }test($f)"; done
    [ -z "$names" ] || expr="$expr & ($names)"
    cargo nextest run --test hosts --no-fail-fast --no-tests=warn --test-threads "$threads" -E "$expr"
  else
    local picked=()
    mapfile -t picked < <(cargo test --quiet --test hosts -- --list --format terse 2>/dev/null \
      | sed -n "s/^\($host::[^:]*\): test\$/\1/p" \
      | { if [ $# -eq 0 ]; then cat; else grep -F "$(printf '%s\n' "$@")" || true; fi; })
    if [ ${#picked[@]} -eq 0 ]; then
      echo "hosts: no $host test matches $*" >&2
      return 0
    fi
    cargo test --test hosts -- --test-threads "$threads" --exact "${picked[@]}"
  fi
}

case "${1:-}" in
  build)
    build
    ;;
  tools)
    install_node
    install_npm_tools
    install_wasm_bindgen
    install_worker_build
    ;;
  serve)
    build
    port=${2:-8080}
    . scripts/etcd-env.sh
    . scripts/etcd-local.sh
    etcdgw_start_local "${ETCD_BIN:-$ETCD36_BIN}"
    echo "etcd is listening on $ETCDGW_ENDPOINT; try: ETCDCTL_API=3 $ETCDCTL35_BIN --endpoints $ETCDGW_ENDPOINT put demo/hello world" >&2
    echo "open http://127.0.0.1:$port/index.html?endpoint=$ETCDGW_ENDPOINT&prefix=demo/  (Ctrl-C stops both)" >&2
    python3 -m http.server --bind 127.0.0.1 --directory "$hosts_dir/example" "$port" 2>/dev/null
    ;;
  *)
    . scripts/etcd-env.sh
    hosts=${ETCDGW_HOSTS:-chromium node deno workerd}
    case " $hosts " in *" chromium "*) install_chromium ;; esac
    build
    export CHROME_BIN=${CHROME_BIN:-/usr/bin/chromium} CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
    # Every host on every version, even after a failure; the failures are listed at the end.
    failed=()
    for host in $hosts; do
      versions=$ETCDGW_MATRIX
      [ "$host" = chromium ] || versions=$(edge_matrix)
      for v in $versions; do
        bin_var=ETCD${v}_BIN ctl_var=ETCDCTL${v}_BIN
        echo "== $host tests on $(${!bin_var} --version | head -1)" >&2
        ETCD_BIN=${!bin_var} ETCDCTL_BIN=${!ctl_var} run_host "$host" "$@" || failed+=("$host on etcd $v")
      done
    done
    if [ ${#failed[@]} -gt 0 ]; then
      printf 'hosts: failed: %s\n' "${failed[@]}" >&2
      exit 1
    fi
    ;;
esac
