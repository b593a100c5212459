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

use super::{KeyValue, ResponseHeader};
use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::transport::{retry, rt, CallOptions, Idempotency, OpenStream, Transport};
use crate::wire::codec::{B64, I64};
use crate::wire::election as w;
use crate::wire::paths;

/// The Election service of a [`Client`].
#[derive(Debug, Clone)]
pub struct ElectionClient {
    transport: Transport,
}

impl ElectionClient {
    pub(crate) fn new(transport: Transport) -> Self {
        ElectionClient { transport }
    }

    /// Campaigns for leadership of the election `name` with `value`, tied to `lease`: returns
    /// once elected, or fails at the client's request deadline. Use
    /// [`campaign_with_timeout`](Self::campaign_with_timeout) to wait longer.
    ///
    /// # Errors
    /// [`Error::Timeout`] (or the server's [`DeadlineExceeded`](crate::ServerErrorKind::DeadlineExceeded))
    /// if not elected in time; [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound).
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
            ..CallOptions::new(Idempotency::Write)
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
        let state = ObserveState {
            transport: self.transport.clone(),
            request: w::LeaderRequest { name: B64(name) },
            open: None,
            last: None,
            established: false,
            failures: 0,
            done: false,
        };
        Ok(ObserveStream {
            inner: Box::pin(futures_util::stream::unfold(state, ObserveState::step)),
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

impl Client {
    /// The Election service, sharing this client's connections.
    pub fn election_client(&self) -> ElectionClient {
        ElectionClient::new(self.transport.clone())
    }

    /// Campaigns for leadership; see [`ElectionClient::campaign`].
    pub async fn campaign(
        &self,
        name: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        lease: i64,
    ) -> Result<CampaignResponse> {
        self.election_client().campaign(name, value, lease).await
    }

    /// Sets the leader's value; see [`ElectionClient::proclaim`].
    pub async fn proclaim(
        &self,
        value: impl Into<Vec<u8>>,
        options: Option<ProclaimOptions>,
    ) -> Result<ProclaimResponse> {
        self.election_client().proclaim(value, options).await
    }

    /// Tells the current leader; see [`ElectionClient::leader`].
    pub async fn leader(&self, name: impl Into<Vec<u8>>) -> Result<LeaderResponse> {
        self.election_client().leader(name).await
    }

    /// Observes leader changes; see [`ElectionClient::observe`].
    pub async fn observe(&self, name: impl Into<Vec<u8>>) -> Result<ObserveStream> {
        self.election_client().observe(name).await
    }

    /// Gives up leadership; see [`ElectionClient::resign`].
    pub async fn resign(&self, options: Option<ResignOptions>) -> Result<ResignResponse> {
        self.election_client().resign(options).await
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
/// The longest pause between two reconnection attempts.
const LONGEST_RESUME_PAUSE: Duration = Duration::from_secs(2);

struct ObserveState {
    transport: Transport,
    request: w::LeaderRequest,
    open: Option<OpenStream>,
    /// The leader delivered last, as (key, mod revision): a reconnection starts with the
    /// current leader, which is not news if it is this one.
    last: Option<(Vec<u8>, i64)>,
    established: bool,
    failures: u32,
    done: bool,
}

impl ObserveState {
    fn is_transient(err: &Error) -> bool {
        match err {
            Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::Server(e) => matches!(
                e.code(),
                Code::Unavailable | Code::DeadlineExceeded | Code::Canceled | Code::Unknown
            ),
            _ => false,
        }
    }

    fn fail(mut self, err: Error) -> Option<(Result<LeaderResponse>, Self)> {
        self.done = true;
        self.open = None;
        Some((Err(err), self))
    }

    async fn step(mut self) -> Option<(Result<LeaderResponse>, Self)> {
        loop {
            if self.done {
                return None;
            }
            if self.open.is_none() {
                if self.failures > 0 {
                    rt::sleep(retry::backoff(self.failures).min(LONGEST_RESUME_PAUSE)).await;
                }
                let options = CallOptions {
                    timeout: Some(OBSERVE_OPEN_TIMEOUT),
                    ..CallOptions::new(Idempotency::Read)
                };
                match self
                    .transport
                    .open_stream(paths::ELECTION_OBSERVE, &self.request, options)
                    .await
                {
                    Ok(stream) => self.open = Some(stream),
                    Err(err) if self.established && Self::is_transient(&err) => {
                        self.failures = self.failures.saturating_add(1);
                        continue;
                    }
                    Err(err) => return self.fail(err),
                }
            }
            let Some(stream) = self.open.as_mut() else {
                continue;
            };
            let endpoint = stream.endpoint_handle();
            match self
                .transport
                .watched(&endpoint, stream.next::<w::LeaderResponse>())
                .await
            {
                Ok(Some(answer)) => {
                    self.established = true;
                    self.failures = 0;
                    let id = answer
                        .kv
                        .as_ref()
                        .map(|kv| (kv.key.0.clone(), kv.mod_revision.0));
                    if id.is_some() && id == self.last {
                        continue; // the leader we delivered before the reconnection
                    }
                    self.last = id;
                    return Some((Ok(LeaderResponse::from(answer)), self));
                }
                Ok(None) if self.established => {
                    // An observe body never ends by itself: the member went away. Resume.
                    self.open = None;
                    self.failures = self.failures.saturating_add(1);
                }
                Ok(None) => {
                    return self.fail(Error::Decode {
                        endpoint: endpoint.url().clone(),
                        status: 200,
                        reason: "the observe stream ended before its first answer".into(),
                        body_head: String::new(),
                    });
                }
                Err(err) if self.established && Self::is_transient(&err) => {
                    self.transport.endpoint_failed(&endpoint, &err);
                    self.open = None;
                    self.failures = self.failures.saturating_add(1);
                }
                Err(err) => return self.fail(err),
            }
        }
    }
}
