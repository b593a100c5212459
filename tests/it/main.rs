//! Integration tests against real etcd members started on loopback by `support`. The etcd
//! binary is `$ETCD_BIN`; `scripts/test.sh` runs this suite on etcd 3.4 and on 3.5.

mod support;

mod auth;
#[cfg(feature = "cli")]
mod cli;
mod cluster;
mod election;
mod errors;
mod failover;
mod interop;
mod kv;
mod lease;
mod lock;
mod maintenance;
mod namespace;
#[cfg(feature = "schema")]
mod schemas;
mod tls;
mod watch;
