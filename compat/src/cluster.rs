//! The Cluster service: [`ClusterClient`].

use crate::{
    MemberAddOptions, MemberAddResponse, MemberListResponse, MemberPromoteResponse,
    MemberRemoveResponse, MemberUpdateResponse, Result,
};

/// The Cluster service's client.
#[derive(Debug, Clone)]
pub struct ClusterClient(etcdgw::ClusterClient);

impl ClusterClient {
    pub(crate) fn new(inner: etcdgw::ClusterClient) -> Self {
        ClusterClient(inner)
    }

    /// Adds a member with these peer URLs (as given: no scheme is added here).
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn member_add(
        &mut self,
        urls: impl Into<Vec<String>>,
        options: Option<MemberAddOptions>,
    ) -> Result<MemberAddResponse> {
        Ok(self.0.member_add(urls, options).await?)
    }

    /// Removes a member.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn member_remove(&mut self, id: u64) -> Result<MemberRemoveResponse> {
        Ok(self.0.member_remove(id).await?)
    }

    /// Changes a member's peer URLs.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn member_update(
        &mut self,
        id: u64,
        url: impl Into<Vec<String>>,
    ) -> Result<MemberUpdateResponse> {
        Ok(self.0.member_update(id, url).await?)
    }

    /// Lists the members, as the answering member knows them.
    ///
    /// # Errors
    /// The failure to reach etcd, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn member_list(&mut self) -> Result<MemberListResponse> {
        Ok(self.0.member_list().await?)
    }

    /// Promotes a learner to a voting member.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn member_promote(&mut self, id: u64) -> Result<MemberPromoteResponse> {
        Ok(self.0.member_promote(id).await?)
    }
}
