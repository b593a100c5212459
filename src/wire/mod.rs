//! Serde mirrors of etcd's messages as the JSON gateway reads and writes them. No I/O.
//!
//! Field names are the proto names the gateway emits (`range_end`, but also `ID`, `TTL`): the
//! gateway silently ignores a name it does not know, so a wrong one is a silent bug
//! (GATEWAY.md 2.1). Every field the server leaves out when zero is `#[serde(default)]` here,
//! and requests leave zero fields out the same way. Envelopes the server always sends (the
//! `result` of a stream message) are not defaulted.

pub(crate) mod auth;
pub(crate) mod cluster;
pub(crate) mod codec;
pub(crate) mod election;
pub(crate) mod kv;
pub(crate) mod lease;
pub(crate) mod lock;
pub(crate) mod maintenance;
pub(crate) mod status;
pub(crate) mod watch;

use serde::{Deserialize, Serialize};

use codec::{B64, I64, U64};

/// The gateway's paths, one constant per call (GATEWAY.md 1).
pub(crate) mod paths {
    pub(crate) const KV_RANGE: &str = "/v3/kv/range";
    pub(crate) const KV_PUT: &str = "/v3/kv/put";
    pub(crate) const KV_DELETE_RANGE: &str = "/v3/kv/deleterange";
    pub(crate) const KV_TXN: &str = "/v3/kv/txn";
    pub(crate) const KV_COMPACTION: &str = "/v3/kv/compaction";
    pub(crate) const WATCH: &str = "/v3/watch";
    pub(crate) const LEASE_GRANT: &str = "/v3/lease/grant";
    pub(crate) const LEASE_REVOKE: &str = "/v3/lease/revoke";
    pub(crate) const LEASE_KEEPALIVE: &str = "/v3/lease/keepalive";
    pub(crate) const LEASE_TIMETOLIVE: &str = "/v3/lease/timetolive";
    pub(crate) const LEASE_LEASES: &str = "/v3/lease/leases";
    pub(crate) const LOCK: &str = "/v3/lock/lock";
    pub(crate) const UNLOCK: &str = "/v3/lock/unlock";
    pub(crate) const ELECTION_CAMPAIGN: &str = "/v3/election/campaign";
    pub(crate) const ELECTION_PROCLAIM: &str = "/v3/election/proclaim";
    pub(crate) const ELECTION_LEADER: &str = "/v3/election/leader";
    pub(crate) const ELECTION_OBSERVE: &str = "/v3/election/observe";
    pub(crate) const ELECTION_RESIGN: &str = "/v3/election/resign";
    pub(crate) const AUTH_ENABLE: &str = "/v3/auth/enable";
    pub(crate) const AUTH_DISABLE: &str = "/v3/auth/disable";
    pub(crate) const AUTH_STATUS: &str = "/v3/auth/status";
    pub(crate) const AUTH_AUTHENTICATE: &str = "/v3/auth/authenticate";
    pub(crate) const USER_ADD: &str = "/v3/auth/user/add";
    pub(crate) const USER_GET: &str = "/v3/auth/user/get";
    pub(crate) const USER_LIST: &str = "/v3/auth/user/list";
    pub(crate) const USER_DELETE: &str = "/v3/auth/user/delete";
    pub(crate) const USER_CHANGE_PASSWORD: &str = "/v3/auth/user/changepw";
    pub(crate) const USER_GRANT_ROLE: &str = "/v3/auth/user/grant";
    pub(crate) const USER_REVOKE_ROLE: &str = "/v3/auth/user/revoke";
    pub(crate) const ROLE_ADD: &str = "/v3/auth/role/add";
    pub(crate) const ROLE_GET: &str = "/v3/auth/role/get";
    pub(crate) const ROLE_LIST: &str = "/v3/auth/role/list";
    pub(crate) const ROLE_DELETE: &str = "/v3/auth/role/delete";
    pub(crate) const ROLE_GRANT_PERMISSION: &str = "/v3/auth/role/grant";
    pub(crate) const ROLE_REVOKE_PERMISSION: &str = "/v3/auth/role/revoke";
    pub(crate) const MEMBER_ADD: &str = "/v3/cluster/member/add";
    pub(crate) const MEMBER_REMOVE: &str = "/v3/cluster/member/remove";
    pub(crate) const MEMBER_UPDATE: &str = "/v3/cluster/member/update";
    pub(crate) const MEMBER_LIST: &str = "/v3/cluster/member/list";
    pub(crate) const MEMBER_PROMOTE: &str = "/v3/cluster/member/promote";
    pub(crate) const ALARM: &str = "/v3/maintenance/alarm";
    pub(crate) const STATUS: &str = "/v3/maintenance/status";
    pub(crate) const DEFRAGMENT: &str = "/v3/maintenance/defragment";
    pub(crate) const HASH: &str = "/v3/maintenance/hash";
    /// Not served by 3.4 or 3.5 (added in a later 3.5.x): `/hash` answers Hash, not HashKV.
    pub(crate) const HASH_KV: &str = "/v3/maintenance/hashkv";
    pub(crate) const SNAPSHOT: &str = "/v3/maintenance/snapshot";
    pub(crate) const MOVE_LEADER: &str = "/v3/maintenance/transfer-leadership";
    pub(crate) const DOWNGRADE: &str = "/v3/maintenance/downgrade";
}

/// `etcdserverpb.ResponseHeader`. Absent entirely in some answers (GATEWAY.md 2.6), and a txn's
/// inner responses carry only `revision`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct ResponseHeader {
    #[serde(default, skip_serializing_if = "U64::is_zero")]
    pub(crate) cluster_id: U64,
    #[serde(default, skip_serializing_if = "U64::is_zero")]
    pub(crate) member_id: U64,
    #[serde(default, skip_serializing_if = "I64::is_zero")]
    pub(crate) revision: I64,
    #[serde(default, skip_serializing_if = "U64::is_zero")]
    pub(crate) raft_term: U64,
}

/// `mvccpb.KeyValue`. A DELETE event's `kv` carries only `key` and `mod_revision`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct KeyValue {
    #[serde(default, skip_serializing_if = "B64::is_empty")]
    pub(crate) key: B64,
    #[serde(default, skip_serializing_if = "I64::is_zero")]
    pub(crate) create_revision: I64,
    #[serde(default, skip_serializing_if = "I64::is_zero")]
    pub(crate) mod_revision: I64,
    #[serde(default, skip_serializing_if = "I64::is_zero")]
    pub(crate) version: I64,
    #[serde(default, skip_serializing_if = "B64::is_empty")]
    pub(crate) value: B64,
    #[serde(default, skip_serializing_if = "I64::is_zero")]
    pub(crate) lease: I64,
}

/// A decoded answer, as far as the transport's checks go: its header, if it has one, tells
/// which cluster answered and at which revision.
pub(crate) trait Answer {
    fn header(&self) -> Option<&ResponseHeader>;
}

macro_rules! answers {
    (with header: $($t:ty),* ; maybe header: $($m:ty),* ; no header: $($n:ty),* $(,)?) => {
        $(impl Answer for $t {
            fn header(&self) -> Option<&ResponseHeader> {
                Some(&self.header)
            }
        })*
        $(impl Answer for $m {
            fn header(&self) -> Option<&ResponseHeader> {
                self.header.as_ref()
            }
        })*
        $(impl Answer for $n {
            fn header(&self) -> Option<&ResponseHeader> {
                None
            }
        })*
    };
}

answers! {
    with header:
        kv::RangeResponse, kv::PutResponse, kv::DeleteRangeResponse, kv::TxnResponse,
        kv::CompactionResponse, watch::WatchResponse, lease::LeaseGrantResponse,
        lease::LeaseRevokeResponse, lease::LeaseKeepAliveResponse,
        lease::LeaseTimeToLiveResponse, lease::LeaseLeasesResponse, lock::LockResponse,
        lock::UnlockResponse, election::CampaignResponse, election::LeaderResponse,
        election::HeaderOnlyResponse, auth::AuthHeaderResponse, auth::AuthStatusResponse,
        auth::AuthenticateResponse, auth::RolesResponse, auth::UserListResponse,
        auth::RoleGetResponse, cluster::MemberAddResponse, cluster::MembersResponse,
        maintenance::StatusResponse, maintenance::HashResponse, maintenance::HashKvResponse,
        maintenance::DowngradeResponse;
    maybe header:
        maintenance::AlarmResponse, maintenance::MaybeHeaderResponse,
        maintenance::SnapshotResponse;
    no header:
        serde::de::IgnoredAny,
}

impl<T: Answer> Answer for Streamed<T> {
    fn header(&self) -> Option<&ResponseHeader> {
        self.result.header()
    }
}

/// `{"result": T}`: the envelope of every stream message. `result` is required: a message
/// without it (and without `error`) is not etcd's.
#[derive(Debug, Deserialize)]
pub(crate) struct Streamed<T> {
    pub(crate) result: T,
}

#[cfg(test)]
pub(crate) mod fixtures;
