//! etcdgw's test harness, shared by every test crate of the workspace (the integration suite
//! `tests/it`, `tests/metrics.rs`, the browser suite's driver and the command line's tests):
//! real etcd members and clusters on free loopback ports ([`etcd`], [`free_port`]), certificates
//! made at test time ([`certs`]), hand-written servers for faults etcd cannot produce
//! ([`faults`]), a TCP proxy that can be cut ([`proxy`]), real reverse proxies (nginx, HAProxy,
//! Caddy: [`reverse_proxy`]), the connections this process holds ([`sockets`]), and [`wait_until`], which waits for a condition instead of for
//! the machine.
//!
//! The etcd under test is `$ETCD_BIN` (with `$ETCDCTL_BIN` and `$ETCDUTL_BIN` of the same
//! version); `scripts/test.sh` sets them for each etcd of its matrix. Internal: not published.

pub mod certs;
pub mod etcd;
pub mod faults;
mod ports;
pub mod proxy;
pub mod reverse_proxy;
pub mod sockets;
pub mod wait;

pub use etcd::{Cluster, Etcd, EtcdBuilder, Member};
pub use ports::free_port;
pub use wait::{wait_until, wait_until_blocking};
