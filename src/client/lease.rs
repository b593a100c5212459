//! `Client`'s Lease calls: grant, revoke, keep-alive, time-to-live, list (see `api::lease`).

use super::Client;
use crate::api::lease::{
    LeaseClient, LeaseGrantOptions, LeaseGrantResponse, LeaseKeepAliveStream, LeaseKeeper,
    LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveOptions, LeaseTimeToLiveResponse,
};
use crate::error::Result;

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
