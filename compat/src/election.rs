//! The Election service: [`ElectionClient`], [`LeaderKey`] and the options and answers that
//! hold it.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytemuck::TransparentWrapper;
use futures_core::Stream;
use futures_util::StreamExt;

use crate::error::Error;
use crate::kv::{header_accessors, wraps};
use crate::{utf8_prefix, KeyValue, ProclaimResponse, ResignResponse, Result};

/// A candidate's key in an election: what proclaim and resign take.
#[derive(Clone, PartialEq, Eq, Default, TransparentWrapper)]
#[repr(transparent)]
pub struct LeaderKey(etcdgw::LeaderKey);

impl fmt::Debug for LeaderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl LeaderKey {
    /// An empty leader key.
    pub const fn new() -> Self {
        LeaderKey(etcdgw::LeaderKey::new())
    }

    /// Sets the election name.
    pub fn with_name(self, name: impl Into<Vec<u8>>) -> Self {
        LeaderKey(self.0.with_name(name))
    }

    /// Sets the key.
    pub fn with_key(self, key: impl Into<Vec<u8>>) -> Self {
        LeaderKey(self.0.with_key(key))
    }

    /// Sets the revision the key was created at (not `const`, unlike etcd-client's: a wrapper
    /// cannot move its field out in a `const fn`).
    pub fn with_rev(self, rev: i64) -> Self {
        LeaderKey(self.0.with_rev(rev))
    }

    /// Sets the lease the key is attached to (not `const`, as [`with_rev`](Self::with_rev)).
    pub fn with_lease(self, lease: i64) -> Self {
        LeaderKey(self.0.with_lease(lease))
    }

    /// The election name.
    pub fn name(&self) -> &[u8] {
        self.0.name()
    }

    /// The election name as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8Error`] if it is not.
    pub fn name_str(&self) -> Result<&str> {
        Ok(std::str::from_utf8(self.name())?)
    }

    /// The election name as UTF-8, which the caller promises it is.
    ///
    /// # Safety
    /// None needed here: the bytes are checked anyway, and a name that is not UTF-8 gives its
    /// longest UTF-8 start. `unsafe` as in etcd-client, so that code calling it compiles.
    #[allow(unsafe_code)]
    pub unsafe fn name_str_unchecked(&self) -> &str {
        utf8_prefix(self.name())
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        self.0.key()
    }

    /// The key as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8Error`] if it is not.
    pub fn key_str(&self) -> Result<&str> {
        Ok(std::str::from_utf8(self.key())?)
    }

    /// The key as UTF-8, which the caller promises it is.
    ///
    /// # Safety
    /// None needed here, as for [`name_str_unchecked`](Self::name_str_unchecked).
    #[allow(unsafe_code)]
    pub unsafe fn key_str_unchecked(&self) -> &str {
        utf8_prefix(self.key())
    }

    /// The revision the key was created at.
    pub const fn rev(&self) -> i64 {
        self.0.rev()
    }

    /// The lease the key is attached to.
    pub const fn lease(&self) -> i64 {
        self.0.lease()
    }
}

impl From<etcdgw::LeaderKey> for LeaderKey {
    fn from(inner: etcdgw::LeaderKey) -> Self {
        LeaderKey(inner)
    }
}

impl From<LeaderKey> for etcdgw::LeaderKey {
    fn from(outer: LeaderKey) -> Self {
        outer.0
    }
}

/// Options for proclaim.
#[derive(Debug, Default, Clone)]
pub struct ProclaimOptions(etcdgw::ProclaimOptions);

impl ProclaimOptions {
    /// No options.
    pub const fn new() -> Self {
        ProclaimOptions(etcdgw::ProclaimOptions::new())
    }

    /// The leader key to proclaim as (from [`CampaignResponse::leader`]).
    pub fn with_leader(self, leader: LeaderKey) -> Self {
        ProclaimOptions(self.0.with_leader(leader.0))
    }
}

/// Options for resign.
#[derive(Debug, Default, Clone)]
pub struct ResignOptions(etcdgw::ResignOptions);

impl ResignOptions {
    /// No options.
    pub const fn new() -> Self {
        ResignOptions(etcdgw::ResignOptions::new())
    }

    /// The leader key to resign (from [`CampaignResponse::leader`]).
    pub fn with_leader(self, leader: LeaderKey) -> Self {
        ResignOptions(self.0.with_leader(leader.0))
    }
}

/// The answer to a campaign: this candidate's leader key.
#[derive(Debug, Clone)]
#[repr(transparent)]
pub struct CampaignResponse(etcdgw::CampaignResponse);

impl CampaignResponse {
    header_accessors!();

    /// The leader key, to pass to proclaim and resign.
    pub fn leader(&self) -> Option<&LeaderKey> {
        self.0.leader().map(LeaderKey::wrap_ref)
    }

    /// Takes the leader key out.
    pub fn take_leader(&mut self) -> Option<LeaderKey> {
        self.0.take_leader().map(LeaderKey)
    }
}

/// The current leader: its key-value pair.
#[derive(Debug, Clone)]
#[repr(transparent)]
pub struct LeaderResponse(etcdgw::LeaderResponse);

impl LeaderResponse {
    header_accessors!();

    /// The leader's key-value pair.
    pub fn kv(&self) -> Option<&KeyValue> {
        self.0.kv().map(KeyValue::wrap_ref)
    }

    /// Takes the leader's key-value pair out.
    pub fn take_kv(&mut self) -> Option<KeyValue> {
        self.0.take_kv().map(KeyValue::from)
    }
}

wraps!(CampaignResponse, LeaderResponse);

/// The leaders of an election as they change.
pub struct ObserveStream(etcdgw::ObserveStream);

impl fmt::Debug for ObserveStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl ObserveStream {
    /// The next leader.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn message(&mut self) -> Result<Option<LeaderResponse>> {
        self.next().await.transpose()
    }
}

impl Stream for ObserveStream {
    type Item = Result<LeaderResponse>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0
            .poll_next_unpin(cx)
            .map(|item| item.map(|r| r.map(LeaderResponse).map_err(Error::from)))
    }
}

/// The Election service's client.
#[derive(Debug, Clone)]
pub struct ElectionClient(etcdgw::ElectionClient);

impl ElectionClient {
    pub(crate) fn new(inner: etcdgw::ElectionClient) -> Self {
        ElectionClient(inner)
    }

    /// Campaigns for leadership of `name` with `value`, tied to `lease`; returns once elected.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn campaign(
        &mut self,
        name: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        lease: i64,
    ) -> Result<CampaignResponse> {
        self.0
            .campaign(name, value, lease)
            .await
            .map(CampaignResponse)
            .map_err(Error::from)
    }

    /// Sets a new value for the leader.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn proclaim(
        &mut self,
        value: impl Into<Vec<u8>>,
        options: Option<ProclaimOptions>,
    ) -> Result<ProclaimResponse> {
        Ok(self.0.proclaim(value, options.map(|o| o.0)).await?)
    }

    /// Tells the current leader of `name`.
    ///
    /// # Errors
    /// `GRpcStatus(Unknown, "election: no leader")` if nobody is elected.
    pub async fn leader(&mut self, name: impl Into<Vec<u8>>) -> Result<LeaderResponse> {
        self.0
            .leader(name)
            .await
            .map(LeaderResponse)
            .map_err(Error::from)
    }

    /// Observes the leaders of `name` as they change.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn observe(&mut self, name: impl Into<Vec<u8>>) -> Result<ObserveStream> {
        Ok(ObserveStream(self.0.observe(name).await?))
    }

    /// Gives up leadership.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn resign(&mut self, option: Option<ResignOptions>) -> Result<ResignResponse> {
        Ok(self.0.resign(option.map(|o| o.0)).await?)
    }
}
