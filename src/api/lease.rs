//! The Lease service: grant, revoke, time-to-live, list, keep-alive one refresh at a time (as
//! etcd-client), and a managed keep-alive that refreshes on its own ([`ManagedLease`]).
//!
//! Over the gateway a keep-alive is one short `POST /v3/lease/keepalive` per refresh, the one
//! design that works on both 3.4 and 3.5 over HTTP/1.1 (GATEWAY.md 5). A refresh of a lease
//! that no longer exists is answered with 200 and no TTL; it is reported here as the typed
//! [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) error, never as "TTL 0".

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::sync::{mpsc, oneshot};

use super::ResponseHeader;
use crate::client::Client;
use crate::error::{Error, Result, ServerError, ServerErrorKind};
use crate::transport::{metrics, retry, rt, CallOptions, Idempotency, Transport};
use crate::wire::codec::I64;
use crate::wire::lease as w;
use crate::wire::{paths, Streamed};

/// The Lease service of a [`Client`].
#[derive(Debug, Clone)]
pub struct LeaseClient {
    transport: Transport,
}

/// etcd's own words for a lease that does not exist, used when a keep-alive answer says so by
/// leaving out the TTL.
const LEASE_NOT_FOUND: &str = "etcdserver: requested lease not found";

impl LeaseClient {
    pub(crate) fn new(transport: Transport) -> Self {
        LeaseClient { transport }
    }

    /// Grants a lease of `ttl` seconds (the server may round it up to its minimum).
    ///
    /// # Errors
    /// [`LeaseTtlTooLarge`](crate::ServerErrorKind::LeaseTtlTooLarge) above 9,000,000,000 s;
    /// [`LeaseExist`](crate::ServerErrorKind::LeaseExist) for an explicit id already in use.
    pub async fn grant(
        &self,
        ttl: i64,
        options: Option<LeaseGrantOptions>,
    ) -> Result<LeaseGrantResponse> {
        let request = w::LeaseGrantRequest {
            ttl: I64(ttl),
            id: I64(options.unwrap_or_default().id),
        };
        let reply: w::LeaseGrantResponse = self
            .transport
            .call(paths::LEASE_GRANT, &request, Idempotency::Write)
            .await?;
        Ok(LeaseGrantResponse::from(reply))
    }

    /// Revokes a lease: its keys are deleted.
    ///
    /// # Errors
    /// [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) if it does not exist.
    pub async fn revoke(&self, id: i64) -> Result<LeaseRevokeResponse> {
        let reply: w::LeaseRevokeResponse = self
            .transport
            .call(
                paths::LEASE_REVOKE,
                &w::LeaseIdRequest { id: I64(id) },
                Idempotency::Write,
            )
            .await?;
        Ok(LeaseRevokeResponse::new(Some(reply.header)))
    }

    /// Refreshes a lease once and returns a keeper to refresh it again and the stream of the
    /// refreshes' answers, as etcd-client does: call [`LeaseKeeper::keep_alive`] yourself, or
    /// use [`keep_alive_managed`](Self::keep_alive_managed) to have it done for you.
    ///
    /// # Errors
    /// [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) if the lease does not exist.
    pub async fn keep_alive(&self, id: i64) -> Result<(LeaseKeeper, LeaseKeepAliveStream)> {
        refresh(&self.transport, id).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        Ok((
            LeaseKeeper {
                id,
                transport: self.transport.clone(),
                tx,
            },
            LeaseKeepAliveStream { rx },
        ))
    }

    /// Tells how long a lease has left, and with [`LeaseTimeToLiveOptions::with_keys`] which
    /// keys are attached. A lease that does not exist has a TTL of -1 (the server's answer, as
    /// in etcd-client).
    pub async fn time_to_live(
        &self,
        id: i64,
        options: Option<LeaseTimeToLiveOptions>,
    ) -> Result<LeaseTimeToLiveResponse> {
        let request = w::LeaseTimeToLiveRequest {
            id: I64(id),
            keys: options.unwrap_or_default().keys,
        };
        let reply: w::LeaseTimeToLiveResponse = self
            .transport
            .call(paths::LEASE_TIMETOLIVE, &request, Idempotency::Read)
            .await?;
        Ok(LeaseTimeToLiveResponse::from(reply))
    }

    /// Lists the leases that exist.
    pub async fn leases(&self) -> Result<LeaseLeasesResponse> {
        let reply: w::LeaseLeasesResponse = self
            .transport
            .call(
                paths::LEASE_LEASES,
                &w::LeaseLeasesRequest {},
                Idempotency::Read,
            )
            .await?;
        Ok(LeaseLeasesResponse::from(reply))
    }

    /// Keeps a lease alive in the background until the returned [`ManagedLease`] is dropped,
    /// stopped or revoked (beyond etcd-client, which leaves the loop to the caller).
    ///
    /// It refreshes at a third of the TTL, retries a failed refresh (on another endpoint if
    /// there is one) until the TTL runs out, and reports a lost lease as soon as it knows:
    /// [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) when a refresh finds it revoked
    /// or expired, [`Error::LeaseExpired`] when no refresh succeeded within the TTL.
    ///
    /// # Errors
    /// [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) if the lease does not exist.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// use etcdgw::PutOptions;
    ///
    /// let mut lease = client.lease_client().grant_managed(10, None).await?;
    /// client.put("services/api/1", "10.0.0.7:8080", Some(PutOptions::new().with_lease(lease.id()))).await?;
    /// // ... serve; the key lives as long as this process keeps the lease alive.
    /// let err = lease.lost().await;
    /// eprintln!("registration lost: {err}");
    /// # Ok(()) }
    /// ```
    pub async fn keep_alive_managed(&self, id: i64) -> Result<ManagedLease> {
        let first = refresh(&self.transport, id).await?;
        Ok(ManagedLease::start(self.transport.clone(), id, first.ttl.0))
    }

    /// Grants a lease and keeps it alive in the background; see
    /// [`keep_alive_managed`](Self::keep_alive_managed).
    pub async fn grant_managed(
        &self,
        ttl: i64,
        options: Option<LeaseGrantOptions>,
    ) -> Result<ManagedLease> {
        let granted = self.grant(ttl, options).await?;
        Ok(ManagedLease::start(
            self.transport.clone(),
            granted.id(),
            granted.ttl(),
        ))
    }
}

/// One keep-alive refresh: a dead lease (an answer without TTL) is the typed "not found".
async fn refresh(transport: &Transport, id: i64) -> Result<w::LeaseKeepAliveResponse> {
    let outcome = async {
        let (answer, endpoint): (Streamed<w::LeaseKeepAliveResponse>, _) = transport
            .call_answered(
                paths::LEASE_KEEPALIVE,
                &w::LeaseIdRequest { id: I64(id) },
                CallOptions::new(Idempotency::Read),
            )
            .await?;
        if answer.result.ttl.0 <= 0 {
            return Err(Error::Server(ServerError::new(
                5,
                LEASE_NOT_FOUND.to_string(),
                endpoint,
            )));
        }
        Ok(answer.result)
    }
    .await;
    metrics::keepalive(&outcome);
    outcome
}

impl Client {
    /// The Lease service, sharing this client's connections.
    pub fn lease_client(&self) -> LeaseClient {
        LeaseClient::new(self.transport.clone())
    }

    /// Grants a lease; see [`LeaseClient::grant`].
    pub async fn lease_grant(
        &self,
        ttl: i64,
        options: Option<LeaseGrantOptions>,
    ) -> Result<LeaseGrantResponse> {
        self.lease_client().grant(ttl, options).await
    }

    /// Revokes a lease; see [`LeaseClient::revoke`].
    pub async fn lease_revoke(&self, id: i64) -> Result<LeaseRevokeResponse> {
        self.lease_client().revoke(id).await
    }

    /// Refreshes a lease and returns a keeper and its answers; see [`LeaseClient::keep_alive`].
    pub async fn lease_keep_alive(&self, id: i64) -> Result<(LeaseKeeper, LeaseKeepAliveStream)> {
        self.lease_client().keep_alive(id).await
    }

    /// Tells a lease's remaining TTL; see [`LeaseClient::time_to_live`].
    pub async fn lease_time_to_live(
        &self,
        id: i64,
        options: Option<LeaseTimeToLiveOptions>,
    ) -> Result<LeaseTimeToLiveResponse> {
        self.lease_client().time_to_live(id, options).await
    }

    /// Lists the leases; see [`LeaseClient::leases`].
    pub async fn leases(&self) -> Result<LeaseLeasesResponse> {
        self.lease_client().leases().await
    }
}

/// Options for [`LeaseClient::grant`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct LeaseGrantOptions {
    id: i64,
}

impl LeaseGrantOptions {
    /// Options that let the server choose the lease id.
    pub const fn new() -> Self {
        LeaseGrantOptions { id: 0 }
    }

    /// Asks for this lease id.
    pub const fn with_id(mut self, id: i64) -> Self {
        self.id = id;
        self
    }
}

/// Options for [`LeaseClient::time_to_live`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct LeaseTimeToLiveOptions {
    keys: bool,
}

impl LeaseTimeToLiveOptions {
    /// Options without the attached keys.
    pub const fn new() -> Self {
        LeaseTimeToLiveOptions { keys: false }
    }

    /// Lists the keys attached to the lease.
    pub const fn with_keys(mut self) -> Self {
        self.keys = true;
        self
    }
}

/// The answer to a grant.
#[derive(Debug, Clone)]
pub struct LeaseGrantResponse {
    header: Option<ResponseHeader>,
    id: i64,
    ttl: i64,
    error: String,
}

impl From<w::LeaseGrantResponse> for LeaseGrantResponse {
    fn from(r: w::LeaseGrantResponse) -> Self {
        LeaseGrantResponse {
            header: Some(ResponseHeader(r.header)),
            id: r.id.0,
            ttl: r.ttl.0,
            error: r.error,
        }
    }
}

impl LeaseGrantResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The granted TTL, in seconds.
    pub const fn ttl(&self) -> i64 {
        self.ttl
    }

    /// The lease id.
    pub const fn id(&self) -> i64 {
        self.id
    }

    /// An error text the server put in the answer (normally empty).
    pub fn error(&self) -> &str {
        &self.error
    }
}

header_response! {
    /// The answer to a revoke.
    LeaseRevokeResponse
}

/// The answer to one keep-alive refresh.
#[derive(Debug, Clone)]
pub struct LeaseKeepAliveResponse {
    header: Option<ResponseHeader>,
    id: i64,
    ttl: i64,
}

impl From<w::LeaseKeepAliveResponse> for LeaseKeepAliveResponse {
    fn from(r: w::LeaseKeepAliveResponse) -> Self {
        LeaseKeepAliveResponse {
            header: Some(ResponseHeader(r.header)),
            id: r.id.0,
            ttl: r.ttl.0,
        }
    }
}

impl LeaseKeepAliveResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The lease's TTL after the refresh, in seconds (always above 0: a dead lease is an
    /// error).
    pub const fn ttl(&self) -> i64 {
        self.ttl
    }

    /// The lease id.
    pub const fn id(&self) -> i64 {
        self.id
    }
}

/// The answer to a time-to-live query.
#[derive(Debug, Clone)]
pub struct LeaseTimeToLiveResponse {
    header: Option<ResponseHeader>,
    id: i64,
    ttl: i64,
    granted_ttl: i64,
    keys: Vec<Vec<u8>>,
}

impl From<w::LeaseTimeToLiveResponse> for LeaseTimeToLiveResponse {
    fn from(r: w::LeaseTimeToLiveResponse) -> Self {
        LeaseTimeToLiveResponse {
            header: Some(ResponseHeader(r.header)),
            id: r.id.0,
            ttl: r.ttl.0,
            granted_ttl: r.granted_ttl.0,
            keys: r.keys.into_iter().map(|k| k.0).collect(),
        }
    }
}

impl LeaseTimeToLiveResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// Seconds left; -1 if the lease does not exist (expired, revoked or never granted).
    pub const fn ttl(&self) -> i64 {
        self.ttl
    }

    /// The lease id.
    pub const fn id(&self) -> i64 {
        self.id
    }

    /// The TTL the lease was granted with.
    pub const fn granted_ttl(&self) -> i64 {
        self.granted_ttl
    }

    /// The keys attached to the lease, with [`LeaseTimeToLiveOptions::with_keys`].
    pub fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }

    pub(crate) fn keys_mut(&mut self) -> &mut Vec<Vec<u8>> {
        &mut self.keys
    }
}

/// The answer to a lease listing.
#[derive(Debug, Clone)]
pub struct LeaseLeasesResponse {
    header: Option<ResponseHeader>,
    leases: Vec<LeaseStatus>,
}

impl From<w::LeaseLeasesResponse> for LeaseLeasesResponse {
    fn from(r: w::LeaseLeasesResponse) -> Self {
        LeaseLeasesResponse {
            header: Some(ResponseHeader(r.header)),
            leases: r
                .leases
                .into_iter()
                .map(|l| LeaseStatus { id: l.id.0 })
                .collect(),
        }
    }
}

impl LeaseLeasesResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The leases.
    pub fn leases(&self) -> &[LeaseStatus] {
        &self.leases
    }
}

/// One lease of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseStatus {
    id: i64,
}

impl LeaseStatus {
    /// The lease id.
    pub const fn id(&self) -> i64 {
        self.id
    }
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

/// The shortest pause between two refreshes, whatever the TTL.
const SHORTEST_REFRESH: Duration = Duration::from_millis(100);

impl ManagedLease {
    fn start(transport: Transport, id: i64, ttl: i64) -> Self {
        let (lost_tx, lost_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let ttl_cell = Arc::new(Mutex::new(ttl));
        rt::spawn(keep_alive_loop(
            transport.clone(),
            id,
            ttl,
            ttl_cell.clone(),
            lost_tx,
            stop_rx,
        ));
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

async fn keep_alive_loop(
    transport: Transport,
    id: i64,
    ttl: i64,
    ttl_cell: Arc<Mutex<i64>>,
    lost: oneshot::Sender<Error>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut ttl = Duration::from_secs(u64::try_from(ttl.max(1)).unwrap_or(1));
    let mut expires = rt::Instant::now() + ttl;
    let mut pause = (ttl / 3).max(SHORTEST_REFRESH);
    let mut failures = 0u32;
    loop {
        // Sleep until the next refresh, or stop when the handle is gone.
        let stopped = rt::timeout(pause, &mut stop).await;
        if stopped.is_ok() {
            return;
        }
        let left = expires.saturating_duration_since(rt::Instant::now());
        if left.is_zero() {
            metrics::lease_lost("LeaseExpired");
            let _ = lost.send(Error::LeaseExpired { id });
            return;
        }
        match rt::timeout(left, refresh(&transport, id)).await {
            Ok(Ok(answer)) => {
                failures = 0;
                *ttl_cell.lock().unwrap_or_else(|e| e.into_inner()) = answer.ttl.0;
                ttl = Duration::from_secs(u64::try_from(answer.ttl.0.max(1)).unwrap_or(1));
                expires = rt::Instant::now() + ttl;
                pause = (ttl / 3).max(SHORTEST_REFRESH);
            }
            Ok(Err(err)) if err.server_kind() == Some(ServerErrorKind::LeaseNotFound) => {
                metrics::lease_lost("LeaseNotFound");
                let _ = lost.send(err);
                return;
            }
            Ok(Err(_)) | Err(rt::Elapsed) => {
                // Try again soon, while the lease may still be alive.
                failures = failures.saturating_add(1);
                pause = retry::backoff(failures)
                    .min(expires.saturating_duration_since(rt::Instant::now()));
            }
        }
    }
}
