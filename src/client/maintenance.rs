//! `Client`'s Maintenance calls: alarms, status, defragment, hashes, snapshot, leader moves (see `api::maintenance`).

use super::Client;
use crate::api::maintenance::{
    AlarmAction, AlarmOptions, AlarmResponse, AlarmType, DefragmentResponse, HashKvResponse,
    HashResponse, MaintenanceClient, MoveLeaderResponse, SnapshotStreaming, StatusResponse,
};
use crate::error::Result;

impl Client {
    /// The Maintenance service, sharing this client's connections.
    pub fn maintenance_client(&self) -> MaintenanceClient {
        MaintenanceClient::new(self.transport.clone())
    }

    /// Lists, raises or clears alarms; see [`MaintenanceClient::alarm`].
    pub async fn alarm(
        &self,
        alarm_action: AlarmAction,
        alarm_type: AlarmType,
        options: Option<AlarmOptions>,
    ) -> Result<AlarmResponse> {
        self.maintenance_client()
            .alarm(alarm_action, alarm_type, options)
            .await
    }

    /// A member's status; see [`MaintenanceClient::status`].
    pub async fn status(&self) -> Result<StatusResponse> {
        self.maintenance_client().status().await
    }

    /// Defragments a member; see [`MaintenanceClient::defragment`].
    pub async fn defragment(&self) -> Result<DefragmentResponse> {
        self.maintenance_client().defragment().await
    }

    /// A member's backend hash; see [`MaintenanceClient::hash`].
    pub async fn hash(&self) -> Result<HashResponse> {
        self.maintenance_client().hash().await
    }

    /// The key-value store's hash; see [`MaintenanceClient::hash_kv`].
    pub async fn hash_kv(&self, revision: i64) -> Result<HashKvResponse> {
        self.maintenance_client().hash_kv(revision).await
    }

    /// Streams a snapshot; see [`MaintenanceClient::snapshot`].
    pub async fn snapshot(&self) -> Result<SnapshotStreaming> {
        self.maintenance_client().snapshot().await
    }

    /// Moves the leadership; see [`MaintenanceClient::move_leader`].
    pub async fn move_leader(&self, target_id: u64) -> Result<MoveLeaderResponse> {
        self.maintenance_client().move_leader(target_id).await
    }
}
