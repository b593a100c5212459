//! The Maintenance service: [`MaintenanceClient`] and [`SnapshotStreaming`].

use std::fmt;

use crate::{
    AlarmAction, AlarmOptions, AlarmResponse, AlarmType, DefragmentResponse, DowngradeOptions,
    DowngradeResponse, HashKvResponse, HashResponse, MoveLeaderResponse, Result, SnapshotResponse,
    StatusResponse,
};

/// The Maintenance service's client.
#[derive(Debug, Clone)]
pub struct MaintenanceClient(etcdgw::MaintenanceClient);

impl MaintenanceClient {
    pub(crate) fn new(inner: etcdgw::MaintenanceClient) -> Self {
        MaintenanceClient(inner)
    }

    /// Lists, raises or clears alarms.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn alarm(
        &mut self,
        alarm_action: AlarmAction,
        alarm_type: AlarmType,
        options: Option<AlarmOptions>,
    ) -> Result<AlarmResponse> {
        Ok(self.0.alarm(alarm_action, alarm_type, options).await?)
    }

    /// The answering member's status.
    ///
    /// # Errors
    /// The failure to reach etcd, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn status(&mut self) -> Result<StatusResponse> {
        Ok(self.0.status().await?)
    }

    /// Defragments the answering member's storage.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn defragment(&mut self) -> Result<DefragmentResponse> {
        Ok(self.0.defragment().await?)
    }

    /// The hash of the answering member's whole backend.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn hash(&mut self) -> Result<HashResponse> {
        Ok(self.0.hash().await?)
    }

    /// The hash of the key space up to `revision` (0: the latest).
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus);
    /// `GRpcStatus(Unimplemented, ..)` where the gateway cannot reach HashKV (etcd 3.4, 3.5
    /// before 3.5.10).
    pub async fn hash_kv(&mut self, revision: i64) -> Result<HashKvResponse> {
        Ok(self.0.hash_kv(revision).await?)
    }

    /// A snapshot of the answering member's backend, as a stream of pieces.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn snapshot(&mut self) -> Result<SnapshotStreaming> {
        Ok(SnapshotStreaming(self.0.snapshot().await?))
    }

    /// Moves the leadership to `target_id` (sent to the leader).
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn move_leader(&mut self, target_id: u64) -> Result<MoveLeaderResponse> {
        Ok(self.0.move_leader(target_id).await?)
    }

    /// Validates, enables or cancels a cluster downgrade.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn downgrade(&mut self, options: DowngradeOptions) -> Result<DowngradeResponse> {
        Ok(self.0.downgrade(options).await?)
    }
}

/// The pieces of a snapshot.
pub struct SnapshotStreaming(etcdgw::SnapshotStreaming);

impl fmt::Debug for SnapshotStreaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl SnapshotStreaming {
    /// The next piece; `None` after the last.
    ///
    /// # Errors
    /// The failure that broke the stream, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn message(&mut self) -> Result<Option<SnapshotResponse>> {
        Ok(self.0.message().await?)
    }
}
