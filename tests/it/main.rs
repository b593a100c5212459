//! Integration tests against real etcd members started on loopback by the harness
//! (`etcdgw-test-support`, in `test-support/`). The etcd binary is `$ETCD_BIN`; `scripts/test.sh`
//! runs this suite on every etcd of its matrix.

mod auth;
#[cfg(feature = "blocking")]
mod blocking;
mod bundle;
mod cache;
mod cluster;
mod coalesce;
mod concurrency;
mod election;
mod errors;
mod failover;
mod from_env;
mod interop;
mod kv;
mod lease;
mod lock;
mod maintenance;
mod mirror;
mod namespace;
mod proxy;
#[cfg(feature = "schema")]
mod schemas;
mod stm;
mod tls;
mod watch;
mod websocket;
