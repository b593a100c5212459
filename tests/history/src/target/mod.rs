//! What a client under test must do for the workload: connect to endpoints with a profile
//! ([`Connector`]), run a request and say how it ended ([`Target::run`]: its own errors
//! classified as "unknown outcome" or "certainly failed", by its own rules), and watch
//! ([`Target::watch`]). etcdgw's is [`etcdgw`]; the control, etcd-client over gRPC, lives in
//! its own crate (`tests/history/grpc`), so that the main workspace never builds it.

pub mod etcdgw;

use std::future::Future;
use std::time::Duration;

use crate::model::{Event, KeyRange, Outcome, Request, Rev};

/// How a client is set up.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Each request's deadline, retries included.
    pub timeout: Duration,
    /// Whether concurrent point gets may go together (etcdgw's read coalescing).
    pub coalescing: bool,
    /// Whether requests require a leader (Go's `WithRequireLeader`).
    pub require_leader: bool,
}

/// What a watch delivers next.
#[derive(Clone, Debug)]
pub enum WatchItem {
    /// It was created; the header's revision.
    Created(Rev),
    /// Events.
    Events(Vec<Event>),
    /// An answer without events (progress): its header's revision.
    Progress(Rev),
    /// It ended, and why.
    End(String),
}

/// Connects clients of the kind under test.
pub trait Connector: Send + Sync + 'static {
    /// The client.
    type Client: Target;

    /// The client's name in the summary (`etcdgw`, `etcd-client`).
    fn name(&self) -> &'static str;

    /// A client of these endpoints.
    fn connect(
        &self,
        endpoints: Vec<String>,
        profile: Profile,
    ) -> impl Future<Output = Self::Client> + Send;
}

/// A client under test.
pub trait Target: Clone + Send + Sync + 'static {
    /// Its watch.
    type Watch: WatchStream;

    /// Runs one request; its errors classified by the client's own rules.
    fn run(&self, request: &Request) -> impl Future<Output = Outcome> + Send;

    /// Opens a watch of `range` from `start` (0: from now), with previous keys and progress
    /// notifications if asked.
    fn watch(
        &self,
        range: &KeyRange,
        start: Rev,
        prev_kv: bool,
        progress_notify: bool,
    ) -> impl Future<Output = Result<Self::Watch, String>> + Send;
}

/// An open watch.
pub trait WatchStream: Send + 'static {
    /// What it delivers next.
    fn next(&mut self) -> impl Future<Output = WatchItem> + Send;
}
