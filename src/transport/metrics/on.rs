//! The metrics, recorded through the `metrics` facade (feature `metrics`).

use metrics::{counter, gauge, histogram, SharedString};

use crate::error::{Error, Result, ServerErrorKind};
use crate::rt;
use crate::transport::endpoints::Endpoint;

mod names {
    pub(super) const REQUESTS_STARTED: &str = "etcdgw_requests_started_total";
    pub(super) const REQUESTS_FINISHED: &str = "etcdgw_requests_finished_total";
    pub(super) const REQUEST_DURATION: &str = "etcdgw_request_duration_seconds";
    pub(super) const REQUESTS_IN_FLIGHT: &str = "etcdgw_requests_in_flight";
    pub(super) const RETRIES: &str = "etcdgw_retries_total";
    pub(super) const FAILOVERS: &str = "etcdgw_failovers_total";
    pub(super) const ENDPOINT_DOWN: &str = "etcdgw_endpoint_down_total";
    pub(super) const LIVENESS_CHECKS: &str = "etcdgw_liveness_checks_total";
    pub(super) const WATCHES_OPEN: &str = "etcdgw_watches_open";
    pub(super) const WATCH_RESUMES: &str = "etcdgw_watch_resumes_total";
    pub(super) const WATCH_EVENTS: &str = "etcdgw_watch_events_total";
    pub(super) const KEEPALIVES: &str = "etcdgw_lease_keepalives_total";
    pub(super) const LEASES_LOST: &str = "etcdgw_leases_lost_total";
    pub(super) const TOKEN_REFRESHES: &str = "etcdgw_token_refreshes_total";
    pub(super) const READ_BATCHES: &str = "etcdgw_read_batches_total";
    pub(super) const COALESCED_GETS: &str = "etcdgw_coalesced_gets_total";
}

use names::*;

/// Gives each metric its help text and unit, once per process (the first client does it):
/// exporters show them (Prometheus' `# HELP` lines).
pub(crate) fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        describe_counter!(REQUESTS_STARTED, "HTTP requests sent to an etcd endpoint.");
        describe_counter!(
            REQUESTS_FINISHED,
            "HTTP requests to an etcd endpoint that finished, by outcome and error kind."
        );
        describe_histogram!(
            REQUEST_DURATION,
            Unit::Seconds,
            "Time from sending a request to its answer (to the first message of a stream)."
        );
        describe_gauge!(
            REQUESTS_IN_FLIGHT,
            "HTTP requests waiting for their answer."
        );
        describe_counter!(
            RETRIES,
            "Requests tried again after failing on an endpoint."
        );
        describe_counter!(FAILOVERS, "Requests moved from one endpoint to another.");
        describe_counter!(
            ENDPOINT_DOWN,
            "Times an endpoint was taken out of rotation."
        );
        describe_counter!(LIVENESS_CHECKS, "Liveness checks of endpoints, by outcome.");
        describe_gauge!(WATCHES_OPEN, "Watches established and not ended.");
        describe_counter!(
            WATCH_RESUMES,
            "Watches created again after their stream dropped."
        );
        describe_counter!(WATCH_EVENTS, "Watch events handed to the caller.");
        describe_counter!(KEEPALIVES, "Lease keep-alives sent, by outcome.");
        describe_counter!(
            LEASES_LOST,
            "Leases kept alive in the background that were lost."
        );
        describe_counter!(TOKEN_REFRESHES, "Auth tokens fetched.");
        describe_counter!(
            READ_BATCHES,
            "Requests that carried gets that waited to go together, by outcome."
        );
        describe_counter!(
            COALESCED_GETS,
            "Gets that waited to go together with others, by the outcome of their batch."
        );
    });
}

/// The `method` label: the gateway path without `/v3/` (`kv/range`, `watch`, `lease/grant`).
fn method(path: &'static str) -> &'static str {
    path.strip_prefix("/v3/").unwrap_or(path)
}

fn endpoint_label(endpoint: &Endpoint) -> SharedString {
    SharedString::from_shared(endpoint.label())
}

/// The `error_kind` label of an error: etcd's kind for a server error (`Compacted`,
/// `LeaseNotFound`, ...), else what went wrong on this side (`Timeout`, `Transport`, ...).
fn error_kind(err: &Error) -> &'static str {
    match err {
        Error::Server(e) => match e.kind() {
            ServerErrorKind::Other => "Other",
            kind => kind.name(),
        },
        Error::InvalidArgument { .. } => "InvalidArgument",
        Error::InvalidEndpoint { .. } => "InvalidEndpoint",
        Error::Timeout { .. } => "Timeout",
        Error::Transport { .. } => "Transport",
        Error::Decode { .. } => "Decode",
        Error::NotEtcd { .. } => "NotEtcd",
        Error::Unsupported { .. } => "Unsupported",
        Error::StaleRevision { .. } => "StaleRevision",
        Error::ClusterMismatch { .. } => "ClusterMismatch",
        Error::MessageTooLarge { .. } => "MessageTooLarge",
        Error::Compacted { .. } => "Compacted",
        Error::LeaseExpired { .. } => "LeaseExpired",
        Error::StreamClosed => "StreamClosed",
        Error::Io { .. } => "Io",
        Error::NoRuntime { .. } => "NoRuntime",
        Error::Utf8 { .. } => "Utf8",
        Error::InvalidSetting { .. } => "InvalidSetting",
        Error::BlockingInAsync { .. } => "BlockingInAsync",
    }
}

/// One HTTP request to one endpoint, counted from start to finish: started, in flight, then
/// finished with an outcome and its latency. Dropped unfinished (the caller gave up on it),
/// it counts as `cancelled`.
#[must_use]
pub(crate) struct Attempt {
    live: Option<(&'static str, SharedString, rt::Instant)>,
}

impl Attempt {
    /// Counts a request to `path` on `endpoint` as started and in flight.
    pub(crate) fn start(path: &'static str, endpoint: &Endpoint) -> Attempt {
        let method = method(path);
        let endpoint = endpoint_label(endpoint);
        counter!(REQUESTS_STARTED, "method" => method, "endpoint" => endpoint.clone()).increment(1);
        gauge!(REQUESTS_IN_FLIGHT, "method" => method, "endpoint" => endpoint.clone())
            .increment(1.0);
        Attempt {
            live: Some((method, endpoint, rt::Instant::now())),
        }
    }

    /// Counts the request as finished with `outcome`.
    pub(crate) fn finish<T>(self, outcome: &Result<T>) {
        match outcome {
            Ok(_) => self.record("ok", "none"),
            Err(err) => self.record("error", error_kind(err)),
        }
    }

    /// Counts the request as finished with `err`.
    pub(crate) fn failed(self, err: &Error) {
        self.record("error", error_kind(err));
    }

    /// Counts the request as finished by the caller's deadline.
    pub(crate) fn timed_out(self) {
        self.record("error", "Timeout");
    }

    fn record(mut self, outcome: &'static str, kind: &'static str) {
        if let Some((method, endpoint, started)) = self.live.take() {
            let seconds = started.elapsed().as_secs_f64();
            counter!(REQUESTS_FINISHED, "method" => method, "endpoint" => endpoint.clone(),
                "outcome" => outcome, "error_kind" => kind)
            .increment(1);
            histogram!(REQUEST_DURATION, "method" => method, "endpoint" => endpoint.clone())
                .record(seconds);
            gauge!(REQUESTS_IN_FLIGHT, "method" => method, "endpoint" => endpoint).decrement(1.0);
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if self.live.is_some() {
            Attempt {
                live: self.live.take(),
            }
            .record("cancelled", "none");
        }
    }
}

/// A request to `path` is tried again after failing on `endpoint`.
pub(crate) fn retry(path: &'static str, endpoint: &Endpoint) {
    counter!(RETRIES, "method" => method(path), "endpoint" => endpoint_label(endpoint))
        .increment(1);
}

/// A request to `path` moves from endpoint `from` to endpoint `to`.
pub(crate) fn failover(path: &'static str, from: &Endpoint, to: &Endpoint) {
    counter!(FAILOVERS, "method" => method(path), "from" => endpoint_label(from),
        "to" => endpoint_label(to))
    .increment(1);
}

/// `endpoint` was taken out of rotation.
pub(crate) fn endpoint_down(endpoint: &Endpoint) {
    counter!(ENDPOINT_DOWN, "endpoint" => endpoint_label(endpoint)).increment(1);
}

/// A liveness check of `endpoint` got an answer (`answered`) or not.
pub(crate) fn liveness_check(endpoint: &Endpoint, answered: bool) {
    counter!(LIVENESS_CHECKS, "endpoint" => endpoint_label(endpoint),
        "outcome" => if answered { "ok" } else { "error" })
    .increment(1);
}

/// A token was fetched.
pub(crate) fn token_refreshed() {
    counter!(TOKEN_REFRESHES).increment(1);
}

/// A batch of `gets` gets that waited to go together was sent: answered (`ok`), or failed
/// and each get sent again alone.
pub(crate) fn read_batch(gets: usize, ok: bool) {
    {
        let outcome = if ok { "ok" } else { "alone" };
        counter!(READ_BATCHES, "outcome" => outcome).increment(1);
        counter!(COALESCED_GETS, "outcome" => outcome)
            .increment(u64::try_from(gets).unwrap_or(u64::MAX));
    }
}

/// One established watch, counted in `etcdgw_watches_open` until dropped.
#[must_use]
#[derive(Debug)]
pub(crate) struct OpenWatch(());

impl OpenWatch {
    pub(crate) fn new() -> OpenWatch {
        gauge!(WATCHES_OPEN).increment(1.0);
        OpenWatch(())
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        gauge!(WATCHES_OPEN).decrement(1.0);
    }
}

/// An established watch is being created again after its stream dropped.
pub(crate) fn watch_resumed() {
    counter!(WATCH_RESUMES).increment(1);
}

/// `n` events were handed to the caller.
pub(crate) fn watch_events(n: usize) {
    counter!(WATCH_EVENTS).increment(u64::try_from(n).unwrap_or(u64::MAX));
}

/// A keep-alive was sent; `outcome` is its answer.
pub(crate) fn keepalive(failure: Option<&Error>) {
    match failure {
        None => counter!(KEEPALIVES, "outcome" => "ok", "error_kind" => "none").increment(1),
        Some(err) => {
            counter!(KEEPALIVES, "outcome" => "error", "error_kind" => error_kind(err)).increment(1)
        }
    }
}

/// A lease kept alive in the background was lost: `LeaseNotFound` (revoked or expired on the
/// server) or `LeaseExpired` (no refresh got through in time).
pub(crate) fn lease_lost(reason: &'static str) {
    counter!(LEASES_LOST, "reason" => reason).increment(1);
}
