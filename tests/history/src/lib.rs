//! etcdgw's whole-history check under faults (issue 27), as etcd's robustness suite and
//! Jepsen do it: clients run a concurrent workload against a real three-member cluster while
//! a nemesis injects faults; every operation's invocation, completion and outcome is
//! recorded, every watch's events too; at the end the history of applied writes is read from
//! a watch from revision 1, and [`check()`] checks the whole run against etcd's model:
//! every answer linearizable (serializable reads: a state that existed, never going back for
//! their client), nothing acknowledged lost, nothing applied twice, nothing that failed
//! applied, every watch exactly the history of its range.
//!
//! - [`model`]: what a run records ([`model::History`]), written as JSON lines when a run fails;
//! - [`check`](mod@check): the checker, and [`check::render`], which shows each anomaly's window;
//! - [`proxy`]: the fault-injecting TCP proxy in front of every member, for clients and peers;
//! - [`cluster`]: the cluster behind the proxies;
//! - [`nemesis`]: the faults;
//! - [`target`]: what a client under test must do ([`target::Connector`]), and
//!   [`target::etcdgw`], etcdgw's; the control (etcd-client, over gRPC) is a crate of its own
//!   (`tests/history/grpc`, run by `scripts/soak.sh`);
//! - [`workload`] and [`run`]: the workers, and a whole run with its summary.
//!
//! `RELIABILITY.md` says what is checked, how, and what it found.

pub mod check;
pub mod cluster;
pub mod model;
pub mod nemesis;
pub mod proxy;
pub mod rng;
pub mod run;
pub mod target;
pub mod workload;

pub use check::{check, Anomaly, AnomalyKind, Report};
