//! The metrics' functions without feature `metrics`: each does nothing and compiles away.
//! The signatures are `on.rs`'s; a build with the feature and one without (CI runs both) keep
//! the two in step.

use crate::error::{Error, Result};
use crate::transport::endpoints::Endpoint;

/// Gives each metric its help text: nothing to give.
pub(crate) fn describe() {}

/// One HTTP request to one endpoint: not counted.
#[must_use]
pub(crate) struct Attempt;

impl Attempt {
    /// Counts a request as started: not counted.
    pub(crate) fn start(_path: &'static str, _endpoint: &Endpoint) -> Attempt {
        Attempt
    }

    /// Counts the request as finished with `outcome`: not counted.
    pub(crate) fn finish<T>(self, _outcome: &Result<T>) {}

    /// Counts the request as finished with `err`: not counted.
    pub(crate) fn failed(self, _err: &Error) {}

    /// Counts the request as finished by the caller's deadline: not counted.
    pub(crate) fn timed_out(self) {}
}

/// A request was tried again: not counted.
pub(crate) fn retry(_path: &'static str, _endpoint: &Endpoint) {}

/// A request moved to another endpoint: not counted.
pub(crate) fn failover(_path: &'static str, _from: &Endpoint, _to: &Endpoint) {}

/// An endpoint was taken out of rotation: not counted.
pub(crate) fn endpoint_down(_endpoint: &Endpoint) {}

/// A liveness check: not counted.
pub(crate) fn liveness_check(_endpoint: &Endpoint, _answered: bool) {}

/// A token was fetched: not counted.
pub(crate) fn token_refreshed() {}

/// A batch of gets was sent: not counted.
pub(crate) fn read_batch(_gets: usize, _ok: bool) {}

/// One established watch: not counted.
#[must_use]
#[derive(Debug)]
pub(crate) struct OpenWatch;

impl OpenWatch {
    pub(crate) fn new() -> OpenWatch {
        OpenWatch
    }
}

/// A watch is being created again: not counted.
pub(crate) fn watch_resumed() {}

/// Events were handed to the caller: not counted.
pub(crate) fn watch_events(_n: usize) {}

/// A keep-alive was sent: not counted.
pub(crate) fn keepalive(_failure: Option<&Error>) {}

/// A lease kept alive in the background was lost: not counted.
pub(crate) fn lease_lost(_reason: &'static str) {}
