//! Small programs in the style of etcd-client's users, written against etcd-client 0.21's API
//! (`etcd_client::...`) and built against etcdgw-compat through the one-line swap
//! `etcd-client = { package = "etcdgw-compat", ... }`. `tests/corpus.rs` runs each against live
//! etcd members and checks what it does.
//!
//! Each module is a program of its own; they refer to one another only through `super::`, so
//! that the same files build against the real etcd-client too.

pub mod auth;
pub mod backup;
pub mod cas;
pub mod config;
pub mod election;
pub mod errors;
pub mod health;
pub mod lease_keeper;
pub mod lock;
pub mod queue;
pub mod registry;
pub mod tenant;
pub mod watch_cache;
