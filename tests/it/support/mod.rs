//! Test support: real etcd members and clusters, and hand-written servers for faults etcd
//! cannot produce.

#![allow(dead_code)] // not every test module uses every helper

pub mod certs;
pub mod etcd;
pub mod faults;
pub mod proxy;

pub use etcd::{Cluster, Etcd};

/// A key unique to the calling test, so tests sharing nothing still never collide.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}{}", N.fetch_add(1, Ordering::Relaxed))
}
