//! `Client`'s Cluster calls: members (see `api::cluster`).

use super::Client;
use crate::api::cluster::{
    ClusterClient, MemberAddOptions, MemberAddResponse, MemberListResponse, MemberPromoteResponse,
    MemberRemoveResponse, MemberUpdateResponse,
};
use crate::error::Result;

impl Client {
    /// The Cluster service, sharing this client's connections.
    pub fn cluster_client(&self) -> ClusterClient {
        ClusterClient::new(self.transport.clone())
    }

    /// Adds a member; scheme-less URLs get `http://` (as etcd-client's `Client::member_add`).
    /// See [`ClusterClient::member_add`].
    pub async fn member_add<E: AsRef<str>, S: AsRef<[E]>>(
        &self,
        urls: S,
        options: Option<MemberAddOptions>,
    ) -> Result<MemberAddResponse> {
        let urls: Vec<String> = urls
            .as_ref()
            .iter()
            .map(|u| {
                let u = u.as_ref();
                if u.contains("://") {
                    u.to_string()
                } else {
                    format!("http://{u}")
                }
            })
            .collect();
        self.cluster_client().member_add(urls, options).await
    }

    /// Removes a member; see [`ClusterClient::member_remove`].
    pub async fn member_remove(&self, id: u64) -> Result<MemberRemoveResponse> {
        self.cluster_client().member_remove(id).await
    }

    /// Changes a member's peer URLs; see [`ClusterClient::member_update`].
    pub async fn member_update(
        &self,
        id: u64,
        url: impl Into<Vec<String>>,
    ) -> Result<MemberUpdateResponse> {
        self.cluster_client().member_update(id, url).await
    }

    /// Promotes a learner; see [`ClusterClient::member_promote`].
    pub async fn member_promote(&self, id: u64) -> Result<MemberPromoteResponse> {
        self.cluster_client().member_promote(id).await
    }

    /// Lists the members; see [`ClusterClient::member_list`].
    pub async fn member_list(&self) -> Result<MemberListResponse> {
        self.cluster_client().member_list().await
    }
}
