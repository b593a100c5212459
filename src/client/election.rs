//! `Client`'s Election calls (see `api::election`).

use super::Client;
use crate::api::election::{
    CampaignResponse, ElectionClient, LeaderResponse, ObserveStream, ProclaimOptions,
    ProclaimResponse, ResignOptions, ResignResponse,
};
use crate::error::Result;

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
