//! The Lease service: [`LeaseClient`], [`LeaseClientPrefix`], and a keeper with the stream of
//! its answers, where a lease that is gone answers a TTL of 0, as over gRPC (etcdgw reports it
//! as `LeaseNotFound`).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use etcdgw::ServerErrorKind;
use futures_core::Stream;
use futures_util::StreamExt;

use crate::error::{self, Error};
use crate::{
    LeaseGrantOptions, LeaseGrantResponse, LeaseLeasesResponse, LeaseRevokeResponse,
    LeaseTimeToLiveOptions, LeaseTimeToLiveResponse, ResponseHeader, Result,
};

/// The Lease service's client.
#[derive(Debug, Clone)]
pub struct LeaseClient(etcdgw::LeaseClient);

impl LeaseClient {
    pub(crate) fn new(inner: etcdgw::LeaseClient) -> Self {
        LeaseClient(inner)
    }

    /// Grants a lease of `ttl` seconds.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn grant(
        &mut self,
        ttl: i64,
        options: Option<LeaseGrantOptions>,
    ) -> Result<LeaseGrantResponse> {
        Ok(self.0.grant(ttl, options).await?)
    }

    /// Revokes a lease: its keys are deleted.
    ///
    /// # Errors
    /// `GRpcStatus(NotFound, "etcdserver: requested lease not found")` if it does not exist.
    pub async fn revoke(&mut self, id: i64) -> Result<LeaseRevokeResponse> {
        Ok(self.0.revoke(id).await?)
    }

    /// Refreshes a lease once, and returns a keeper that refreshes it again on each call and
    /// the stream of the refreshes' answers.
    ///
    /// # Errors
    /// `LeaseKeepAliveError("lease not found")` if the lease does not exist.
    pub async fn keep_alive(&mut self, id: i64) -> Result<(LeaseKeeper, LeaseKeepAliveStream)> {
        let (keeper, stream) = self
            .0
            .keep_alive(id)
            .await
            .map_err(error::keep_alive_start)?;
        Ok((
            LeaseKeeper(keeper),
            LeaseKeepAliveStream { inner: stream, id },
        ))
    }

    /// Tells how long a lease has left (-1 for a lease that does not exist).
    ///
    /// # Errors
    /// The failure to reach etcd, as [`Error::GRpcStatus`].
    pub async fn time_to_live(
        &mut self,
        id: i64,
        options: Option<LeaseTimeToLiveOptions>,
    ) -> Result<LeaseTimeToLiveResponse> {
        Ok(self.0.time_to_live(id, options).await?)
    }

    /// Lists the leases.
    ///
    /// # Errors
    /// The failure to reach etcd, as [`Error::GRpcStatus`].
    pub async fn leases(&mut self) -> Result<LeaseLeasesResponse> {
        Ok(self.0.leases().await?)
    }
}

/// A lease client whose time-to-live keys are shown without a prefix.
#[derive(Debug, Clone)]
pub struct LeaseClientPrefix(etcdgw::LeaseClientPrefix);

impl LeaseClientPrefix {
    /// Strips `pfx` from the keys `time_to_live` lists.
    pub fn new(lease: LeaseClient, pfx: Vec<u8>) -> Self {
        LeaseClientPrefix(etcdgw::LeaseClientPrefix::new(lease.0, pfx))
    }

    /// Tells how long a lease has left and, with keys, those under the prefix.
    ///
    /// # Errors
    /// As [`LeaseClient::time_to_live`].
    pub async fn time_to_live(
        &mut self,
        id: i64,
        options: Option<LeaseTimeToLiveOptions>,
    ) -> Result<LeaseTimeToLiveResponse> {
        Ok(self.0.time_to_live(id, options).await?)
    }
}

/// Refreshes one lease on each call; the answers come on its [`LeaseKeepAliveStream`].
#[derive(Debug)]
pub struct LeaseKeeper(etcdgw::LeaseKeeper);

impl LeaseKeeper {
    /// The lease id.
    pub const fn id(&self) -> i64 {
        self.0.id()
    }

    /// Refreshes the lease once; the answer comes on the stream.
    ///
    /// # Errors
    /// `LeaseKeepAliveError("channel closed")` if the stream was dropped; the failure to
    /// reach etcd, as [`Error::GRpcStatus`].
    pub async fn keep_alive(&mut self) -> Result<()> {
        self.0.keep_alive().await.map_err(error::keeper_send)
    }
}

/// The answers to a [`LeaseKeeper`]'s refreshes.
pub struct LeaseKeepAliveStream {
    inner: etcdgw::LeaseKeepAliveStream,
    id: i64,
}

impl fmt::Debug for LeaseKeepAliveStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseKeepAliveStream")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl LeaseKeepAliveStream {
    /// The next answer; `None` once the keeper is dropped.
    ///
    /// # Errors
    /// The failure to reach etcd, as [`Error::GRpcStatus`].
    pub async fn message(&mut self) -> Result<Option<LeaseKeepAliveResponse>> {
        self.next().await.transpose()
    }
}

impl Stream for LeaseKeepAliveStream {
    type Item = Result<LeaseKeepAliveResponse>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let id = self.id;
        self.inner.poll_next_unpin(cx).map(|item| {
            item.map(|answer| match answer {
                Ok(r) => Ok(LeaseKeepAliveResponse(KeepAlive::Etcd(r))),
                Err(e) if e.server_kind() == Some(ServerErrorKind::LeaseNotFound) => {
                    Ok(LeaseKeepAliveResponse(KeepAlive::Gone { id }))
                }
                Err(e) => Err(Error::from(e)),
            })
        })
    }
}

/// The answer to one keep-alive refresh.
#[derive(Debug, Clone)]
pub struct LeaseKeepAliveResponse(KeepAlive);

#[derive(Debug, Clone)]
enum KeepAlive {
    /// What etcd answered for a live lease.
    Etcd(etcdgw::LeaseKeepAliveResponse),
    /// etcd's answer for a lease that is gone (TTL 0), which etcdgw reports as an error and
    /// whose header it does not keep.
    Gone { id: i64 },
}

impl LeaseKeepAliveResponse {
    /// The response header (none on the answer for a lease that is gone; see the README).
    pub fn header(&self) -> Option<&ResponseHeader> {
        match &self.0 {
            KeepAlive::Etcd(r) => r.header(),
            KeepAlive::Gone { .. } => None,
        }
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        match &mut self.0 {
            KeepAlive::Etcd(r) => r.take_header(),
            KeepAlive::Gone { .. } => None,
        }
    }

    /// The lease's TTL after the refresh, in seconds; 0 if the lease is gone.
    pub const fn ttl(&self) -> i64 {
        match &self.0 {
            KeepAlive::Etcd(r) => r.ttl(),
            KeepAlive::Gone { .. } => 0,
        }
    }

    /// The lease id.
    pub const fn id(&self) -> i64 {
        match &self.0 {
            KeepAlive::Etcd(r) => r.id(),
            KeepAlive::Gone { id } => *id,
        }
    }
}
