//! Keep-alives: one refresh at a time by hand ([`LeaseKeeper`], as etcd-client), or a lease
//! kept alive in the background ([`ManagedLease`]) through the transport's resumable stream:
//! every third of the TTL after a good refresh, sooner after a failure, until the lease is gone
//! or no refresh got through within its TTL.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::sync::{mpsc, oneshot};
use url::Url;

use super::{LeaseClient, LeaseKeepAliveResponse, LeaseRevokeResponse};
use crate::error::{Error, Result, ServerError};
use crate::rt;
use crate::transport::resume::{self, Flow, Next, Resume, StreamRequest};
use crate::transport::{metrics, CallOptions, Idempotency, Transport};
use crate::wire::codec::I64;
use crate::wire::lease as w;
use crate::wire::{paths, Streamed};

/// One keep-alive refresh: a dead lease (an answer without TTL) is the typed "not found".
pub(super) async fn refresh(transport: &Transport, id: i64) -> Result<w::LeaseKeepAliveResponse> {
    let outcome = async {
        let (answer, endpoint): (Streamed<w::LeaseKeepAliveResponse>, _) = transport
            .call_answered(
                paths::LEASE_KEEPALIVE,
                &w::LeaseIdRequest { id: I64(id) },
                CallOptions::new(Idempotency::Read),
            )
            .await?;
        if answer.result.ttl.0 <= 0 {
            return Err(Error::Server(ServerError::lease_not_found(endpoint)));
        }
        Ok(answer.result)
    }
    .await;
    metrics::keepalive(outcome.as_ref().err());
    outcome
}

/// A keeper and the stream of its answers, for [`LeaseClient::keep_alive`].
pub(super) fn keeper(transport: Transport, id: i64) -> (LeaseKeeper, LeaseKeepAliveStream) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        LeaseKeeper { id, transport, tx },
        LeaseKeepAliveStream { rx },
    )
}

/// Sends keep-alive refreshes for one lease; the answers come on the paired
/// [`LeaseKeepAliveStream`].
pub struct LeaseKeeper {
    id: i64,
    transport: Transport,
    tx: mpsc::UnboundedSender<Result<LeaseKeepAliveResponse>>,
}

impl fmt::Debug for LeaseKeeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseKeeper")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl LeaseKeeper {
    /// The lease id.
    pub const fn id(&self) -> i64 {
        self.id
    }

    /// Refreshes the lease once; the answer (or the typed error of a dead lease) comes on the
    /// stream.
    ///
    /// # Errors
    /// A transport error or [`Error::Timeout`] if no endpoint answered; [`Error::StreamClosed`]
    /// if the stream was dropped.
    pub async fn keep_alive(&mut self) -> Result<()> {
        let answer = match refresh(&self.transport, self.id).await {
            // The server answered: the answer, or its "lease not found", goes on the stream.
            Ok(answer) => Ok(LeaseKeepAliveResponse::from(answer)),
            Err(err @ Error::Server(_)) => Err(err),
            Err(unanswered) => return Err(unanswered),
        };
        self.tx.send(answer).map_err(|_| Error::StreamClosed)
    }
}

/// The answers to a [`LeaseKeeper`]'s refreshes; ends when the keeper is dropped.
pub struct LeaseKeepAliveStream {
    rx: mpsc::UnboundedReceiver<Result<LeaseKeepAliveResponse>>,
}

impl fmt::Debug for LeaseKeepAliveStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseKeepAliveStream")
            .finish_non_exhaustive()
    }
}

impl LeaseKeepAliveStream {
    /// The next answer; `None` once the keeper is dropped.
    ///
    /// # Errors
    /// [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) when the lease is gone.
    pub async fn message(&mut self) -> Result<Option<LeaseKeepAliveResponse>> {
        self.rx.recv().await.transpose()
    }
}

impl Stream for LeaseKeepAliveStream {
    type Item = Result<LeaseKeepAliveResponse>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// A lease kept alive in the background (see [`LeaseClient::keep_alive_managed`]).
///
/// Dropping it stops the refreshes: the lease then expires after its TTL, and its keys with
/// it. [`revoke`](Self::revoke) ends it at once.
pub struct ManagedLease {
    id: i64,
    ttl: Arc<Mutex<i64>>,
    transport: Transport,
    lost: Option<Error>,
    lost_rx: oneshot::Receiver<Error>,
    _stop: oneshot::Sender<()>,
}

impl fmt::Debug for ManagedLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedLease")
            .field("id", &self.id)
            .field("ttl", &self.ttl())
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

impl ManagedLease {
    /// What its task is called in [`Error::NoRuntime`].
    pub(super) const TASK: &'static str = "a managed lease's keep-alive";

    /// Starts keeping lease `id` alive on `spawner`'s runtime.
    pub(super) fn start(spawner: &rt::Spawner, transport: Transport, id: i64, ttl: i64) -> Self {
        let (lost_tx, lost_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let ttl_cell = Arc::new(Mutex::new(ttl));
        let refreshes = resume::resumable(
            transport.clone(),
            KeepAlive::new(id, ttl, transport.request_timeout()),
        );
        spawner.spawn(keep_alive(refreshes, ttl_cell.clone(), lost_tx, stop_rx));
        ManagedLease {
            id,
            ttl: ttl_cell,
            transport,
            lost: None,
            lost_rx,
            _stop: stop_tx,
        }
    }

    /// The lease id.
    pub const fn id(&self) -> i64 {
        self.id
    }

    /// The TTL the last refresh reported, in seconds.
    pub fn ttl(&self) -> i64 {
        *self.ttl.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the lease is lost and says why: [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound)
    /// (revoked or expired on the server) or [`Error::LeaseExpired`] (no refresh got through
    /// within the TTL). Waits forever while the lease is alive.
    pub async fn lost(&mut self) -> &Error {
        let err = match self.lost.take() {
            Some(err) => err,
            None => (&mut self.lost_rx)
                .await
                .unwrap_or(Error::LeaseExpired { id: self.id }),
        };
        self.lost.insert(err)
    }

    /// Whether the lease is still being kept alive (false once it is known to be lost).
    pub fn is_alive(&mut self) -> bool {
        if self.lost.is_none() {
            if let Ok(err) = self.lost_rx.try_recv() {
                self.lost = Some(err);
            }
        }
        self.lost.is_none()
    }

    /// Stops the refreshes and revokes the lease, deleting its keys at once.
    ///
    /// # Errors
    /// [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) if it was already gone.
    pub async fn revoke(self) -> Result<LeaseRevokeResponse> {
        let ManagedLease { id, transport, .. } = self; // drops the stop sender first
        LeaseClient::new(transport).revoke(id).await
    }
}

/// Keeps the lease's TTL up to date from its refreshes until the lease is lost (the stream
/// ends with why) or the handle is dropped.
async fn keep_alive(
    mut refreshes: rt::BoxStream<'static, Result<i64>>,
    ttl_cell: Arc<Mutex<i64>>,
    lost: oneshot::Sender<Error>,
    mut stop: oneshot::Receiver<()>,
) {
    use futures_util::future::{select, Either};
    use futures_util::StreamExt;
    loop {
        let next = std::pin::pin!(refreshes.next());
        match select(next, &mut stop).await {
            Either::Left((Some(Ok(ttl)), _)) => {
                *ttl_cell.lock().unwrap_or_else(|e| e.into_inner()) = ttl;
            }
            Either::Left((Some(Err(err)), _)) => {
                let _ = lost.send(err);
                return;
            }
            // The refreshes never end without saying why; the handle went away.
            Either::Left((None, _)) | Either::Right(_) => return,
        }
    }
}

/// A managed lease's refreshes, one short request each: every third of the TTL after a good
/// one, sooner (with the transport's backoff) after a failure, until the lease is gone on the
/// server or no refresh got through within its TTL.
struct KeepAlive {
    id: i64,
    ttl: Duration,
    /// When the lease expires unless refreshed.
    expires: rt::Instant,
    /// Whether the last request got its answer (the next one waits a third of the TTL).
    refreshed: bool,
    request_timeout: Duration,
}

impl KeepAlive {
    fn new(id: i64, ttl: i64, request_timeout: Duration) -> Self {
        let ttl = ttl_duration(ttl);
        KeepAlive {
            id,
            ttl,
            expires: rt::deadline_in(ttl),
            // Granted just now: the first refresh is due after a third of the TTL.
            refreshed: true,
            request_timeout,
        }
    }
}

/// A TTL in seconds from the server as a duration, at least one second.
fn ttl_duration(ttl: i64) -> Duration {
    Duration::from_secs(u64::try_from(ttl.max(1)).unwrap_or(1))
}

/// The shortest pause between two refreshes, whatever the TTL.
const SHORTEST_REFRESH: Duration = Duration::from_millis(100);

impl Resume for KeepAlive {
    type Message = w::LeaseKeepAliveResponse;
    type Item = i64;

    fn next(&mut self, backoff: Duration) -> Next {
        let left = self.expires.saturating_duration_since(rt::Instant::now());
        let pause = if std::mem::take(&mut self.refreshed) {
            (self.ttl / 3).max(SHORTEST_REFRESH)
        } else {
            backoff
        }
        .min(left);
        let Some(left) = left.checked_sub(pause).filter(|l| !l.is_zero()) else {
            metrics::lease_lost("LeaseExpired");
            return Next::Fail(Error::LeaseExpired { id: self.id });
        };
        let options = CallOptions {
            timeout: Some(left.min(self.request_timeout)),
            ..CallOptions::new(Idempotency::Read)
        };
        let request = w::LeaseIdRequest { id: I64(self.id) };
        match StreamRequest::new(paths::LEASE_KEEPALIVE, &request, options) {
            Ok(request) => Next::Open(request, pause),
            Err(err) => Next::Fail(err),
        }
    }

    fn on_message(&mut self, answer: w::LeaseKeepAliveResponse, from: &Url) -> Flow<i64> {
        if answer.ttl.0 <= 0 {
            // A refresh of a lease that is gone: revoked, or expired on the server.
            let err = Error::Server(ServerError::lease_not_found(from.clone()));
            metrics::keepalive(Some(&err));
            metrics::lease_lost("LeaseNotFound");
            return Flow::End(Some(Err(err)));
        }
        metrics::keepalive(None);
        self.refreshed = true;
        self.ttl = ttl_duration(answer.ttl.0);
        self.expires = rt::deadline_in(self.ttl);
        Flow::Yield(answer.ttl.0)
    }

    fn on_failure(&mut self, err: &Error) {
        metrics::keepalive(Some(err));
    }

    fn established(&self) -> bool {
        true // the lease was granted: every failure is worth trying again, within its TTL
    }

    fn ends_normally(&self) -> bool {
        true // one answer per request
    }
}
