//! The Lease service: grant, revoke, time-to-live, list, keep-alive one refresh at a time (as
//! etcd-client), and a managed keep-alive that refreshes on its own ([`ManagedLease`]).
//!
//! Over the gateway a keep-alive is one short `POST /v3/lease/keepalive` per refresh, the one
//! design that works on both 3.4 and 3.5 over HTTP/1.1 (GATEWAY.md 5). A refresh of a lease
//! that no longer exists is answered with 200 and no TTL; it is reported here as the typed
//! [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) error, never as "TTL 0".

mod keepalive;

use super::namespace::Namespace;
use super::ResponseHeader;
use crate::error::Result;
use crate::rt;
use crate::transport::{Idempotency, Transport};
use crate::wire::codec::I64;
use crate::wire::lease as w;
use crate::wire::paths;

use keepalive::refresh;
pub use keepalive::{LeaseKeepAliveStream, LeaseKeeper, ManagedLease};

/// The Lease service of a [`Client`](crate::Client).
#[derive(Debug, Clone)]
pub struct LeaseClient {
    transport: Transport,
    /// The prefix taken off the keys `time_to_live` lists, for [`LeaseClientPrefix`].
    namespace: Option<Namespace>,
}

impl LeaseClient {
    pub(crate) fn new(transport: Transport) -> Self {
        LeaseClient {
            transport,
            namespace: None,
        }
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
        Ok(keepalive::keeper(self.transport.clone(), id))
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
        let mut resp = LeaseTimeToLiveResponse::from(reply);
        if let Some(ns) = &self.namespace {
            ns.strip_keys(resp.keys_mut());
        }
        Ok(resp)
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
    /// or expired, [`Error::LeaseExpired`](crate::Error::LeaseExpired) when no refresh succeeded within the TTL.
    ///
    /// # Errors
    /// [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) if the lease does not exist;
    /// [`Error::NoRuntime`](crate::Error::NoRuntime), before anything is sent, when called
    /// outside a tokio runtime (the keep-alive is a task of its own).
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
        let spawner = rt::Spawner::current(ManagedLease::TASK)?;
        let first = refresh(&self.transport, id).await?;
        Ok(ManagedLease::start(
            &spawner,
            self.transport.clone(),
            id,
            first.ttl.0,
        ))
    }

    /// Grants a lease and keeps it alive in the background; see
    /// [`keep_alive_managed`](Self::keep_alive_managed).
    ///
    /// # Errors
    /// The grant's errors; [`Error::NoRuntime`](crate::Error::NoRuntime), before the grant is
    /// sent, when called outside a tokio runtime.
    pub async fn grant_managed(
        &self,
        ttl: i64,
        options: Option<LeaseGrantOptions>,
    ) -> Result<ManagedLease> {
        let spawner = rt::Spawner::current(ManagedLease::TASK)?;
        let granted = self.grant(ttl, options).await?;
        Ok(ManagedLease::start(
            &spawner,
            self.transport.clone(),
            granted.id(),
            granted.ttl(),
        ))
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

/// A lease client whose time-to-live keys are shown without a prefix (etcd-client's
/// `LeaseClientPrefix`). Leases themselves are not namespaced.
#[derive(Debug, Clone)]
pub struct LeaseClientPrefix {
    lease: LeaseClient,
}

impl LeaseClientPrefix {
    /// Strips `prefix` from the keys `time_to_live` lists (a `Vec<u8>`, as in etcd-client).
    pub fn new(lease: LeaseClient, prefix: Vec<u8>) -> Self {
        LeaseClientPrefix {
            lease: LeaseClient {
                namespace: Some(Namespace::new(prefix)),
                ..lease
            },
        }
    }

    /// Grants a lease; see [`LeaseClient::grant`].
    pub async fn grant(
        &self,
        ttl: i64,
        options: Option<LeaseGrantOptions>,
    ) -> Result<LeaseGrantResponse> {
        self.lease.grant(ttl, options).await
    }

    /// Revokes a lease; see [`LeaseClient::revoke`].
    pub async fn revoke(&self, id: i64) -> Result<LeaseRevokeResponse> {
        self.lease.revoke(id).await
    }

    /// Refreshes a lease by hand; see [`LeaseClient::keep_alive`].
    pub async fn keep_alive(&self, id: i64) -> Result<(LeaseKeeper, LeaseKeepAliveStream)> {
        self.lease.keep_alive(id).await
    }

    /// Tells a lease's TTL and, with keys, those in the namespace without the prefix.
    pub async fn time_to_live(
        &self,
        id: i64,
        options: Option<LeaseTimeToLiveOptions>,
    ) -> Result<LeaseTimeToLiveResponse> {
        self.lease.time_to_live(id, options).await
    }

    /// Lists the leases that exist; see [`LeaseClient::leases`].
    pub async fn leases(&self) -> Result<LeaseLeasesResponse> {
        self.lease.leases().await
    }
}
