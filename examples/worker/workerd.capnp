# workerd's configuration for the Worker example, beside the `build/` directory worker-build
# writes: `ETCD_ENDPOINTS=http://127.0.0.1:2379 npx workerd serve workerd.capnp` serves it on
# 127.0.0.1:8787 (the tests move the socket with --socket-addr http=127.0.0.1:PORT).
# wrangler.toml says the same to wrangler, for Cloudflare.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "api", worker = .api),
    # Where fetch goes. workerd's default network allows public addresses only; an etcd on
    # this machine listens on loopback, so this one allows it ("local"). On Cloudflare a
    # Worker reaches etcd by a public hostname.
    (name = "loopback", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "api")],
);

const api :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "build/index.js"),
    (name = "index_bg.wasm", wasm = embed "build/index_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [
    (name = "ETCD_ENDPOINTS", fromEnvironment = "ETCD_ENDPOINTS"),
    (name = "PREFIX_CACHE", durableObjectNamespace = "PrefixCache"),
  ],
  durableObjectNamespaces = [
    (className = "PrefixCache", uniqueKey = "etcdgw-worker-example-prefix-cache"),
  ],
  # A cache is memory, not storage: the objects keep nothing on disk.
  durableObjectStorage = (inMemory = void),
  globalOutbound = "loopback",
);
