# workerd's configuration for the host suite (tests/hosts/host/workerd.rs starts one workerd per
# test with it, from the directory scripts/hosts-test.sh builds; the port is given with
# --socket-addr http=127.0.0.1:PORT).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "suite", worker = .suite),
    # Where fetch goes. workerd's default network allows public addresses only; the test
    # members listen on loopback, so this one allows it ("local"). On Cloudflare a Worker
    # reaches etcd by a public hostname.
    (name = "loopback", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "suite")],
);

const suite :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "etcdgw_host_suite.js", esModule = embed "etcdgw_host_suite.js"),
    (name = "etcdgw_host_suite_bg.wasm", wasm = embed "etcdgw_host_suite_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  globalOutbound = "loopback",
);
