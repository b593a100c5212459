//! Serde mirrors of etcd's messages as the JSON gateway reads and writes them. No I/O.
//!
//! Field names are the proto names the gateway emits (`range_end`, but also `ID`, `TTL`): the
//! gateway silently ignores a name it does not know, so a wrong one is a silent bug
//! (GATEWAY.md 2.1). Every field the server leaves out when zero is `#[serde(default)]` here,
//! and requests leave zero fields out the same way. Envelopes the server always sends (the
//! `result` of a stream message) are not defaulted.

pub(crate) mod codec;
pub(crate) mod election;
pub(crate) mod kv;
pub(crate) mod lease;
pub(crate) mod lock;
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

/// `{"result": T}`: the envelope of every stream message. `result` is required: a message
/// without it (and without `error`) is not etcd's.
#[derive(Debug, Deserialize)]
pub(crate) struct Streamed<T> {
    pub(crate) result: T,
}

#[cfg(test)]
pub(crate) mod fixtures;
