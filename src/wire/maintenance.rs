//! The Maintenance service's messages. No I/O.
//!
//! Several answers have no header at all on these versions: defragment and transfer-leadership
//! (`{}` on both), alarm on 3.4, and every snapshot message (GATEWAY.md 2.6).

use serde::{Deserialize, Serialize};

use super::codec::{wire_enum, B64, I64, U64};
use super::ResponseHeader;

wire_enum! {
    /// What an alarm request does (`AlarmRequest.AlarmAction`).
    AlarmAction {
        /// List the active alarms.
        Get = 0 => "GET",
        /// Raise an alarm.
        Activate = 1 => "ACTIVATE",
        /// Clear an alarm.
        Deactivate = 2 => "DEACTIVATE",
    }
}

wire_enum! {
    /// An alarm (`etcdserverpb.AlarmType`).
    AlarmType {
        /// No alarm (with GET: every alarm).
        None = 0 => "NONE",
        /// The database is out of space: writes are refused until it is cleared.
        Nospace = 1 => "NOSPACE",
        /// The data is corrupt.
        Corrupt = 2 => "CORRUPT",
    }
}

wire_enum! {
    /// What a downgrade request does (3.5 and later).
    DowngradeAction {
        /// Check that the cluster can be downgraded to the version.
        Validate = 0 => "VALIDATE",
        /// Start the downgrade.
        Enable = 1 => "ENABLE",
        /// Cancel it.
        Cancel = 2 => "CANCEL",
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct AlarmRequest {
    #[serde(skip_serializing_if = "AlarmAction::is_default")]
    pub(crate) action: AlarmAction,
    #[serde(rename = "memberID", skip_serializing_if = "U64::is_zero")]
    pub(crate) member_id: U64,
    #[serde(skip_serializing_if = "AlarmType::is_default")]
    pub(crate) alarm: AlarmType,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct AlarmMember {
    #[serde(rename = "memberID", default)]
    pub(crate) member_id: U64,
    #[serde(default)]
    pub(crate) alarm: AlarmType,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct AlarmResponse {
    #[serde(default)]
    pub(crate) header: Option<ResponseHeader>,
    #[serde(default)]
    pub(crate) alarms: Vec<AlarmMember>,
}

/// The request of status, defragment, hash and snapshot: no fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct Empty {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct DowngradeInfo {
    #[serde(default)]
    pub(crate) enabled: bool,
    #[serde(rename = "targetVersion", default)]
    pub(crate) target_version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct StatusResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) version: String,
    #[serde(rename = "dbSize", default)]
    pub(crate) db_size: I64,
    #[serde(default)]
    pub(crate) leader: U64,
    #[serde(rename = "raftIndex", default)]
    pub(crate) raft_index: U64,
    #[serde(rename = "raftTerm", default)]
    pub(crate) raft_term: U64,
    #[serde(rename = "raftAppliedIndex", default)]
    pub(crate) raft_applied_index: U64,
    #[serde(default)]
    pub(crate) errors: Vec<String>,
    #[serde(rename = "dbSizeInUse", default)]
    pub(crate) db_size_in_use: I64,
    #[serde(rename = "isLearner", default)]
    pub(crate) is_learner: bool,
    #[serde(rename = "storageVersion", default)]
    pub(crate) storage_version: String,
    #[serde(rename = "dbSizeQuota", default)]
    pub(crate) db_size_quota: I64,
    #[serde(rename = "downgradeInfo", default)]
    pub(crate) downgrade_info: Option<DowngradeInfo>,
}

/// The answer of defragment and transfer-leadership: `{}` on these versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct MaybeHeaderResponse {
    #[serde(default)]
    pub(crate) header: Option<ResponseHeader>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct HashResponse {
    pub(crate) header: ResponseHeader,
    /// A 32-bit field: a JSON number, not a string (GATEWAY.md 2.3).
    #[serde(default)]
    pub(crate) hash: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct HashKvRequest {
    #[serde(skip_serializing_if = "I64::is_zero")]
    pub(crate) revision: I64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct HashKvResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) hash: u32,
    #[serde(default)]
    pub(crate) compact_revision: I64,
    #[serde(default)]
    pub(crate) hash_revision: I64,
}

/// One snapshot message: up to 32 KiB of the database; the last one has no
/// `remaining_bytes` and holds the SHA-256 etcd appends (GATEWAY.md 5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct SnapshotResponse {
    #[serde(default)]
    pub(crate) header: Option<ResponseHeader>,
    #[serde(default)]
    pub(crate) remaining_bytes: U64,
    #[serde(default)]
    pub(crate) blob: B64,
    #[serde(default)]
    pub(crate) version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct MoveLeaderRequest {
    #[serde(rename = "targetID", skip_serializing_if = "U64::is_zero")]
    pub(crate) target_id: U64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct DowngradeRequest {
    #[serde(skip_serializing_if = "DowngradeAction::is_default")]
    pub(crate) action: DowngradeAction,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct DowngradeResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) version: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    #[test]
    fn captured_maintenance_answers_decode() {
        for (v, body) in fixtures::bodies("13-path-maintenance-status") {
            let r: StatusResponse = serde_json::from_slice(&body).unwrap();
            assert!(
                r.version.starts_with("3.") && r.leader.0 != 0 && r.db_size.0 > 0,
                "{v}"
            );
        }
        for (v, body) in fixtures::bodies("17-alarm-get-active") {
            let r: AlarmResponse = serde_json::from_slice(&body).unwrap();
            assert_eq!(r.alarms[0].alarm, AlarmType::Nospace, "{v}");
            assert_eq!(r.header.is_some(), v == "v35", "{v}: 3.4 sends no header");
        }
        for (v, body) in fixtures::bodies("13-path-maintenance-hash-empty") {
            let r: HashResponse = serde_json::from_slice(&body).unwrap();
            assert!(r.hash > 0, "{v}");
        }
        for (v, body) in fixtures::bodies("13-path-maintenance-defragment") {
            let r: MaybeHeaderResponse = serde_json::from_slice(&body).unwrap();
            assert!(r.header.is_none(), "{v}");
        }
    }

    #[test]
    fn alarm_requests_spell_member_id() {
        for (v, ex) in fixtures::both("17-alarm-activate-nospace") {
            let captured = ex[0].request_json();
            let id: u64 = captured["memberID"].as_str().unwrap().parse().unwrap();
            let ours = AlarmRequest {
                action: AlarmAction::Activate,
                member_id: U64(id),
                alarm: AlarmType::Nospace,
            };
            assert_eq!(serde_json::to_value(&ours).unwrap(), captured, "{v}");
        }
    }
}
