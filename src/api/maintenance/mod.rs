//! The Maintenance service: alarms, status, defragment, hash, snapshot, leader transfer,
//! downgrade.
//!
//! Status, defragment, hash and alarm are answered by the member asked; [`MaintenanceClient::at`]
//! aims them at one chosen endpoint, as Go's `Status(ctx, endpoint)` does (beyond etcd-client).
//!
//! HashKV cannot be reached through the gateway of etcd 3.4 or 3.5.1: `/v3/maintenance/hash`
//! answers Hash, and `/v3/maintenance/hashkv` only exists from a later 3.5.x (GATEWAY.md
//! pitfall 7). [`MaintenanceClient::hash_kv`] asks for the latter and reports
//! [`Error::Unsupported`] where it is missing, rather than returning Hash under HashKV's name.

use std::sync::Arc;

use super::cluster::ClusterClient;
use super::ResponseHeader;
use crate::error::{Error, Result};
use crate::transport::endpoints::Endpoint;
use crate::transport::{CallOptions, Idempotency, Transport};
use crate::wire::codec::{I64, U64};
use crate::wire::maintenance as w;
use crate::wire::paths;

mod snapshot;

pub use crate::wire::maintenance::{AlarmAction, AlarmType};
pub use snapshot::{SnapshotInfo, SnapshotResponse, SnapshotStreaming};

/// The Maintenance service of a [`Client`](crate::Client).
#[derive(Debug, Clone)]
pub struct MaintenanceClient {
    transport: Transport,
    /// Every call goes to this endpoint, when set.
    endpoint: Option<Arc<Endpoint>>,
}

header_response! {
    /// The answer to a defragmentation (no header on 3.4 and 3.5).
    DefragmentResponse
}
header_response! {
    /// The answer to a leader transfer (no header on 3.4 and 3.5).
    MoveLeaderResponse
}

impl MaintenanceClient {
    pub(crate) fn new(transport: Transport) -> Self {
        MaintenanceClient {
            transport,
            endpoint: None,
        }
    }

    /// The same service, with every call sent to `endpoint` (one of the client's or any other
    /// member's client URL), without failover: status, defragment, hash and alarms are per
    /// member.
    ///
    /// # Errors
    /// [`Error::InvalidEndpoint`] for a URL that is not usable.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// for member in client.member_list().await?.members() {
    ///     for url in member.client_urls() {
    ///         let status = client.maintenance_client().at(url)?.status().await?;
    ///         println!("{url}: version {}, db {} bytes", status.version(), status.db_size());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn at(&self, endpoint: impl AsRef<str>) -> Result<MaintenanceClient> {
        Ok(MaintenanceClient {
            transport: self.transport.clone(),
            endpoint: Some(self.transport.endpoint(endpoint.as_ref())?),
        })
    }

    fn options(&self, idempotency: Idempotency) -> CallOptions {
        CallOptions {
            endpoint: self.endpoint.clone(),
            ..CallOptions::new(idempotency)
        }
    }

    /// Lists, raises or clears alarms. With [`AlarmAction::Get`] and [`AlarmType::None`], lists
    /// every active alarm.
    pub async fn alarm(
        &self,
        alarm_action: AlarmAction,
        alarm_type: AlarmType,
        options: Option<AlarmOptions>,
    ) -> Result<AlarmResponse> {
        let request = w::AlarmRequest {
            action: alarm_action,
            member_id: U64(options.unwrap_or_default().member),
            alarm: alarm_type,
        };
        let idempotency = match alarm_action {
            AlarmAction::Get => Idempotency::Read,
            _ => Idempotency::Write,
        };
        let reply: w::AlarmResponse = self
            .transport
            .call_with(paths::ALARM, &request, self.options(idempotency))
            .await?;
        Ok(AlarmResponse {
            header: reply.header.map(ResponseHeader),
            alarms: reply
                .alarms
                .into_iter()
                .map(|a| AlarmMember {
                    member_id: a.member_id.0,
                    alarm: a.alarm,
                })
                .collect(),
        })
    }

    /// The answering member's status: version, database size, raft state, leader.
    pub async fn status(&self) -> Result<StatusResponse> {
        let reply: w::StatusResponse = self
            .transport
            .call_with(paths::STATUS, &w::Empty {}, self.options(Idempotency::Read))
            .await?;
        let mut status = reply;
        let header = std::mem::take(&mut status.header);
        let downgrade_info = status.downgrade_info.as_ref().map(|d| DowngradeInfo {
            enabled: d.enabled,
            target_version: d.target_version.clone(),
        });
        Ok(StatusResponse {
            header: Some(ResponseHeader(header)),
            status,
            downgrade_info,
        })
    }

    /// Defragments the answering member's database, giving freed space back to the file
    /// system. It blocks the member while it runs.
    pub async fn defragment(&self) -> Result<DefragmentResponse> {
        let reply: w::MaybeHeaderResponse = self
            .transport
            .call_with(
                paths::DEFRAGMENT,
                &w::Empty {},
                self.options(Idempotency::Write),
            )
            .await?;
        Ok(DefragmentResponse::new(reply.header))
    }

    /// The hash of the answering member's whole backend (Hash, not HashKV).
    pub async fn hash(&self) -> Result<HashResponse> {
        let reply: w::HashResponse = self
            .transport
            .call_with(paths::HASH, &w::Empty {}, self.options(Idempotency::Read))
            .await?;
        Ok(HashResponse {
            header: Some(ResponseHeader(reply.header)),
            hash: reply.hash,
        })
    }

    /// The hash of the key-value store up to `revision` (0: the latest).
    ///
    /// # Errors
    /// [`Error::Unsupported`] on etcd 3.4 and 3.5.1, whose gateway cannot reach HashKV (see
    /// the module docs).
    pub async fn hash_kv(&self, revision: i64) -> Result<HashKvResponse> {
        let request = w::HashKvRequest {
            revision: I64(revision),
        };
        let reply: w::HashKvResponse = self
            .transport
            .call_with(paths::HASH_KV, &request, self.options(Idempotency::Read))
            .await?;
        Ok(HashKvResponse {
            header: Some(ResponseHeader(reply.header)),
            hash: reply.hash,
            compact_revision: reply.compact_revision.0,
            hash_revision: reply.hash_revision.0,
        })
    }

    /// Streams a snapshot of the answering member's database. Read it with
    /// [`SnapshotStreaming::message`], or write it all with [`SnapshotStreaming::save_to`],
    /// which checks the SHA-256 etcd appends.
    pub async fn snapshot(&self) -> Result<SnapshotStreaming> {
        let stream = self
            .transport
            .open_stream(
                paths::SNAPSHOT,
                &w::Empty {},
                self.options(Idempotency::Read),
            )
            .await?;
        Ok(SnapshotStreaming::new(
            stream,
            self.transport.request_timeout(),
        ))
    }

    /// Moves the leadership to the member `target_id`. The request must reach the current
    /// leader: it is found through status and the member list and sent there, so any
    /// endpoint of the cluster will do.
    ///
    /// # Errors
    /// [`NotLeader`](crate::ServerErrorKind::NotLeader) if leadership moved meanwhile;
    /// [`Error::Timeout`] if the target cannot take over (the server waits until the deadline).
    pub async fn move_leader(&self, target_id: u64) -> Result<MoveLeaderResponse> {
        let leader_id = self.status().await?.leader();
        let members = ClusterClient::new(self.transport.clone())
            .member_list_with(None)
            .await?;
        let leader_url = members
            .members()
            .iter()
            .find(|m| m.id() == leader_id)
            .and_then(|m| m.client_urls().first())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "the leader (member {leader_id:x}) has no client URL"
                ))
            })?;
        let at_leader = self.at(leader_url)?;
        let request = w::MoveLeaderRequest {
            target_id: U64(target_id),
        };
        let reply: w::MaybeHeaderResponse = at_leader
            .transport
            .call_with(
                paths::MOVE_LEADER,
                &request,
                at_leader.options(Idempotency::Write),
            )
            .await?;
        Ok(MoveLeaderResponse::new(reply.header))
    }

    /// Validates, starts or cancels a cluster downgrade (etcd 3.5 and later).
    ///
    /// # Errors
    /// [`Error::Unsupported`] on etcd 3.4.
    pub async fn downgrade(&self, options: DowngradeOptions) -> Result<DowngradeResponse> {
        let (action, version) = match options {
            DowngradeOptions::Validate(v) => (w::DowngradeAction::Validate, v),
            DowngradeOptions::Enable(v) => (w::DowngradeAction::Enable, v),
            DowngradeOptions::Cancel => (w::DowngradeAction::Cancel, String::new()),
        };
        let request = w::DowngradeRequest { action, version };
        let reply: w::DowngradeResponse = self
            .transport
            .call_with(paths::DOWNGRADE, &request, self.options(Idempotency::Write))
            .await?;
        Ok(DowngradeResponse {
            header: Some(ResponseHeader(reply.header)),
            version: reply.version,
        })
    }
}

/// Options for [`MaintenanceClient::alarm`].
#[derive(Debug, Clone, Default)]
pub struct AlarmOptions {
    member: u64,
}

impl AlarmOptions {
    /// Options for every member.
    pub const fn new() -> Self {
        AlarmOptions { member: 0 }
    }

    /// Aims the alarm request at one member (etcd-client's signature: it sets, it does not
    /// return `Self`).
    pub fn with_member(&mut self, member: u64) {
        self.member = member;
    }
}

/// What [`MaintenanceClient::downgrade`] does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DowngradeOptions {
    /// Checks that the cluster can be downgraded to this version.
    Validate(String),
    /// Starts the downgrade to this version.
    Enable(String),
    /// Cancels the downgrade.
    Cancel,
}

/// An active alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmMember {
    member_id: u64,
    alarm: AlarmType,
}

impl AlarmMember {
    /// The member that raised it.
    pub fn member_id(&self) -> u64 {
        self.member_id
    }

    /// Which alarm.
    pub fn alarm(&self) -> AlarmType {
        self.alarm
    }
}

/// The answer to an alarm request: the active alarms (3.4 answers without a header).
#[derive(Debug, Clone)]
pub struct AlarmResponse {
    header: Option<ResponseHeader>,
    alarms: Vec<AlarmMember>,
}

impl AlarmResponse {
    /// The response header, if the server sent one.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The active alarms.
    pub fn alarms(&self) -> &[AlarmMember] {
        &self.alarms
    }
}

/// A member's status.
#[derive(Debug, Clone)]
pub struct StatusResponse {
    header: Option<ResponseHeader>,
    status: w::StatusResponse,
    downgrade_info: Option<DowngradeInfo>,
}

impl StatusResponse {
    /// The response header; its member id says who answered.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The etcd version, e.g. `3.5.1`.
    pub fn version(&self) -> &str {
        &self.status.version
    }

    /// The database file's size, in bytes.
    pub fn db_size(&self) -> i64 {
        self.status.db_size.0
    }

    /// The leader's member id (0 when there is none: quorum is lost).
    pub fn leader(&self) -> u64 {
        self.status.leader.0
    }

    /// The raft log index.
    pub fn raft_index(&self) -> u64 {
        self.status.raft_index.0
    }

    /// The raft term.
    pub fn raft_term(&self) -> u64 {
        self.status.raft_term.0
    }

    /// The last raft index applied.
    pub fn raft_applied_index(&self) -> u64 {
        self.status.raft_applied_index.0
    }

    /// Errors the member reports (for instance a NOSPACE alarm).
    pub fn errors(&self) -> &[String] {
        &self.status.errors
    }

    /// The size of the database actually in use, in bytes (etcd-client's name for
    /// `dbSizeInUse`).
    pub fn raft_used_db_size(&self) -> i64 {
        self.status.db_size_in_use.0
    }

    /// Whether the member is a learner.
    pub fn is_learner(&self) -> bool {
        self.status.is_learner
    }

    /// The storage version (etcd 3.6 and later; empty before).
    pub fn storage_version(&self) -> &str {
        &self.status.storage_version
    }

    /// The backend quota, in bytes (etcd 3.6 and later; 0 before).
    pub fn db_size_quota(&self) -> i64 {
        self.status.db_size_quota.0
    }

    /// The downgrade state (etcd 3.6 and later; `None` from older servers).
    pub fn downgrade_info(&self) -> Option<&DowngradeInfo> {
        self.downgrade_info.as_ref()
    }
}

/// Whether a downgrade is under way, and to which version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DowngradeInfo {
    enabled: bool,
    target_version: String,
}

impl DowngradeInfo {
    /// Whether a downgrade is under way.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The version it goes to.
    pub fn target_version(&self) -> &str {
        &self.target_version
    }
}

/// The answer to a hash request.
#[derive(Debug, Clone)]
pub struct HashResponse {
    header: Option<ResponseHeader>,
    hash: u32,
}

impl HashResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The hash of the member's backend.
    pub fn hash(&self) -> u32 {
        self.hash
    }
}

/// The answer to a HashKV request.
#[derive(Debug, Clone)]
pub struct HashKvResponse {
    header: Option<ResponseHeader>,
    hash: u32,
    compact_revision: i64,
    hash_revision: i64,
}

impl HashKvResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The hash of the key-value store.
    pub fn hash(&self) -> u32 {
        self.hash
    }

    /// The compaction revision when it was computed (etcd-client's name).
    pub fn compact_version(&self) -> i64 {
        self.compact_revision
    }

    /// The revision it was computed at (0 from servers that do not say; 3.5.34, 3.6 and 3.7 do).
    pub fn hash_revision(&self) -> i64 {
        self.hash_revision
    }
}

/// The answer to a downgrade request.
#[derive(Debug, Clone)]
pub struct DowngradeResponse {
    header: Option<ResponseHeader>,
    version: String,
}

impl DowngradeResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The cluster version.
    pub fn version(&self) -> &str {
        &self.version
    }
}
