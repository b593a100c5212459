//! The Election service (etcd's `v3election`): campaign, proclaim, leader, observe, resign.
//!
//! A campaign blocks until this candidate is elected, so it has a deadline the caller controls
//! ([`ElectionClient::campaign_with_timeout`]), sent to the server too. The observe stream
//! delivers each new leader; after a drop it reconnects (with backoff, to the same or another
//! endpoint) and, since the server starts every observe with the current leader, a leader
//! already delivered is not delivered twice.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use url::Url;

use super::{KeyValue, ResponseHeader};
use crate::error::{Error, Result};
use crate::rt;
use crate::transport::resume::{self, Flow, Next, Resume, StreamRequest};
use crate::transport::{CallOptions, Idempotency, Transport};
use crate::wire::codec::{B64, I64};
use crate::wire::election as w;
use crate::wire::paths;

/// The Election service of a [`Client`](crate::Client).
#[derive(Debug, Clone)]
pub struct ElectionClient {
    transport: Transport,
}

impl ElectionClient {
    pub(crate) fn new(transport: Transport) -> Self {
        ElectionClient { transport }
    }

    /// Campaigns for leadership of the election `name` with `value`, tied to `lease`: returns
    /// once elected, waiting as long as that takes (as Go and etcd-client do), unless this
    /// client handle has a deadline ([`Client::with_timeout`](crate::Client::with_timeout)).
    /// While it waits, the liveness check still moves it off a member that stops answering
    /// (with a lease, a campaign sent again takes up the same key). Dropping the future stops
    /// the campaign on the server. [`campaign_with_timeout`](Self::campaign_with_timeout)
    /// gives it a deadline of its own.
    ///
    /// # Errors
    /// [`Error::Timeout`] (or the server's [`DeadlineExceeded`](crate::ServerErrorKind::DeadlineExceeded))
    /// if not elected by a deadline; [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound).
    pub async fn campaign(
        &self,
        name: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        lease: i64,
    ) -> Result<CampaignResponse> {
        self.campaign_inner(name.into(), value.into(), lease, None)
            .await
    }

    /// Campaigns, waiting at most `timeout` to be elected (the server is told the same
    /// deadline, so it stops campaigning when the caller stops waiting).
    pub async fn campaign_with_timeout(
        &self,
        name: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        lease: i64,
        timeout: Duration,
    ) -> Result<CampaignResponse> {
        self.campaign_inner(name.into(), value.into(), lease, Some(timeout))
            .await
    }

    async fn campaign_inner(
        &self,
        name: Vec<u8>,
        value: Vec<u8>,
        lease: i64,
        timeout: Option<Duration>,
    ) -> Result<CampaignResponse> {
        if name.is_empty() {
            return Err(Error::invalid("the election name is empty"));
        }
        let request = w::CampaignRequest {
            name: B64(name),
            lease: I64(lease),
            value: B64(value),
        };
        let options = CallOptions {
            timeout,
            server_deadline: true,
            blocks: true,
            ..CallOptions::new(super::lock::repeatable_with(lease))
        };
        let reply: w::CampaignResponse = self
            .transport
            .call_with(paths::ELECTION_CAMPAIGN, &request, options)
            .await?;
        Ok(CampaignResponse {
            header: Some(ResponseHeader(reply.header)),
            leader: reply.leader.map(LeaderKey),
        })
    }

    /// Sets a new value for the leader, keeping the leadership.
    ///
    /// # Errors
    /// [`ElectionNotLeader`](crate::ServerErrorKind::ElectionNotLeader) if the given leader key
    /// is not the leader any more.
    pub async fn proclaim(
        &self,
        value: impl Into<Vec<u8>>,
        options: Option<ProclaimOptions>,
    ) -> Result<ProclaimResponse> {
        let request = w::ProclaimRequest {
            leader: options.unwrap_or_default().leader.map(|l| l.0),
            value: B64(value.into()),
        };
        let reply: w::HeaderOnlyResponse = self
            .transport
            .call(paths::ELECTION_PROCLAIM, &request, Idempotency::Write)
            .await?;
        Ok(ProclaimResponse::new(Some(reply.header)))
    }

    /// Tells the current leader of the election `name`.
    ///
    /// # Errors
    /// [`ElectionNoLeader`](crate::ServerErrorKind::ElectionNoLeader) if nobody is elected.
    pub async fn leader(&self, name: impl Into<Vec<u8>>) -> Result<LeaderResponse> {
        let name = name.into();
        if name.is_empty() {
            return Err(Error::invalid("the election name is empty"));
        }
        let reply: w::LeaderResponse = self
            .transport
            .call(
                paths::ELECTION_LEADER,
                &w::LeaderRequest { name: B64(name) },
                Idempotency::Read,
            )
            .await?;
        Ok(LeaderResponse::from(reply))
    }

    /// Observes the election `name`: a stream of each new leader, starting with the current
    /// one (the first answer waits until there is a leader). It reconnects after a drop; see
    /// the module docs.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty name. Failures before the first leader arrives
    /// come as the stream's first item.
    pub async fn observe(&self, name: impl Into<Vec<u8>>) -> Result<ObserveStream> {
        let name = name.into();
        if name.is_empty() {
            return Err(Error::invalid("the election name is empty"));
        }
        let state = Observe {
            request: w::LeaderRequest { name: B64(name) },
            last: None,
            established: false,
        };
        Ok(ObserveStream {
            inner: resume::resumable(self.transport.clone(), state),
        })
    }

    /// Gives up leadership, letting the next candidate win.
    pub async fn resign(&self, options: Option<ResignOptions>) -> Result<ResignResponse> {
        let request = w::ResignRequest {
            leader: options.unwrap_or_default().leader.map(|l| l.0),
        };
        let reply: w::HeaderOnlyResponse = self
            .transport
            .call(paths::ELECTION_RESIGN, &request, Idempotency::Write)
            .await?;
        Ok(ResignResponse::new(Some(reply.header)))
    }
}

/// The key of an elected leader: the election's name, the leader's key and revision, and its
/// lease. Campaign returns it; proclaim and resign take it back.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LeaderKey(w::LeaderKey);

impl fmt::Debug for LeaderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl LeaderKey {
    /// An empty leader key, to fill with the `with_*` setters.
    pub const fn new() -> Self {
        LeaderKey(w::LeaderKey {
            name: B64(Vec::new()),
            key: B64(Vec::new()),
            rev: I64(0),
            lease: I64(0),
        })
    }

    /// Sets the election name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<Vec<u8>>) -> Self {
        self.0.name = B64(name.into());
        self
    }

    /// Sets the leader's key.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.0.key = B64(key.into());
        self
    }

    /// Sets the leader key's creation revision.
    #[must_use]
    pub const fn with_rev(mut self, rev: i64) -> Self {
        self.0.rev = I64(rev);
        self
    }

    /// Sets the leader's lease.
    #[must_use]
    pub const fn with_lease(mut self, lease: i64) -> Self {
        self.0.lease = I64(lease);
        self
    }

    /// The election name.
    pub fn name(&self) -> &[u8] {
        &self.0.name.0
    }

    /// The election name as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8`] if it is not UTF-8.
    pub fn name_str(&self) -> Result<&str> {
        std::str::from_utf8(self.name()).map_err(Error::from)
    }

    /// The leader's key (the election name, `/`, the lease id in hex).
    pub fn key(&self) -> &[u8] {
        &self.0.key.0
    }

    /// The leader's key as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8`] if it is not UTF-8.
    pub fn key_str(&self) -> Result<&str> {
        std::str::from_utf8(self.key()).map_err(Error::from)
    }

    /// The revision at which the leader's key was created.
    pub const fn rev(&self) -> i64 {
        self.0.rev.0
    }

    /// The leader's lease.
    pub const fn lease(&self) -> i64 {
        self.0.lease.0
    }
}

/// Options for [`ElectionClient::proclaim`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ProclaimOptions {
    leader: Option<LeaderKey>,
}

impl ProclaimOptions {
    /// Options without a leader key (the server will refuse them: give the key campaign
    /// returned).
    pub const fn new() -> Self {
        ProclaimOptions { leader: None }
    }

    /// The leader key campaign returned.
    pub fn with_leader(mut self, leader: LeaderKey) -> Self {
        self.leader = Some(leader);
        self
    }
}

/// Options for [`ElectionClient::resign`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ResignOptions {
    leader: Option<LeaderKey>,
}

impl ResignOptions {
    /// Options without a leader key.
    pub const fn new() -> Self {
        ResignOptions { leader: None }
    }

    /// The leader key campaign returned.
    pub fn with_leader(mut self, leader: LeaderKey) -> Self {
        self.leader = Some(leader);
        self
    }
}

/// The answer to a campaign: this candidate's leader key.
#[derive(Debug, Clone)]
pub struct CampaignResponse {
    header: Option<ResponseHeader>,
    leader: Option<LeaderKey>,
}

impl CampaignResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The leader key, to pass to proclaim and resign.
    pub fn leader(&self) -> Option<&LeaderKey> {
        self.leader.as_ref()
    }

    /// Takes the leader key out.
    pub fn take_leader(&mut self) -> Option<LeaderKey> {
        self.leader.take()
    }
}

header_response! {
    /// The answer to a proclaim.
    ProclaimResponse
}

header_response! {
    /// The answer to a resign.
    ResignResponse
}

/// The current leader: its key-value pair (key, value, lease, revisions).
#[derive(Debug, Clone)]
pub struct LeaderResponse {
    header: Option<ResponseHeader>,
    kv: Option<KeyValue>,
}

impl From<w::LeaderResponse> for LeaderResponse {
    fn from(r: w::LeaderResponse) -> Self {
        LeaderResponse {
            header: Some(ResponseHeader(r.header)),
            kv: r.kv.map(KeyValue),
        }
    }
}

impl LeaderResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The leader's key-value pair.
    pub fn kv(&self) -> Option<&KeyValue> {
        self.kv.as_ref()
    }

    /// Takes the leader's key-value pair out.
    pub fn take_kv(&mut self) -> Option<KeyValue> {
        self.kv.take()
    }
}

/// The leaders of an election, one answer per change; see [`ElectionClient::observe`].
pub struct ObserveStream {
    inner: rt::BoxStream<'static, Result<LeaderResponse>>,
}

impl fmt::Debug for ObserveStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObserveStream").finish_non_exhaustive()
    }
}

impl ObserveStream {
    /// The next leader.
    ///
    /// # Errors
    /// An error that reconnecting cannot cure; the stream ends after it.
    pub async fn message(&mut self) -> Result<Option<LeaderResponse>> {
        futures_util::StreamExt::next(self).await.transpose()
    }
}

impl Stream for ObserveStream {
    type Item = Result<LeaderResponse>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// How long an observe request may wait for its first answer, which the server sends only once
/// the election has a leader.
const OBSERVE_OPEN_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// An observe's state: the request, and the leader delivered last (a reconnection starts with
/// the current leader, which is not news if it is this one).
struct Observe {
    request: w::LeaderRequest,
    /// The leader delivered last, as (key, mod revision).
    last: Option<(Vec<u8>, i64)>,
    established: bool,
}

impl Resume for Observe {
    type Message = w::LeaderResponse;
    type Item = LeaderResponse;

    fn next(&mut self, pause: Duration) -> Next {
        let options = CallOptions {
            timeout: Some(OBSERVE_OPEN_TIMEOUT),
            pollable: true,
            ..CallOptions::new(Idempotency::Read)
        };
        match StreamRequest::new(paths::ELECTION_OBSERVE, &self.request, options) {
            Ok(request) => Next::Open(request, pause),
            Err(err) => Next::Fail(err),
        }
    }

    fn on_message(&mut self, answer: w::LeaderResponse, _: &Url) -> Flow<LeaderResponse> {
        self.established = true;
        let id = answer
            .kv
            .as_ref()
            .map(|kv| (kv.key.0.clone(), kv.mod_revision.0));
        if id.is_some() && id == self.last {
            return Flow::Skip; // the leader delivered before the reconnection
        }
        self.last = id;
        Flow::Yield(LeaderResponse::from(answer))
    }

    fn established(&self) -> bool {
        self.established
    }
}
