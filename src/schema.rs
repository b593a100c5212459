//! JSON Schemas of every wire message this crate sends or receives, generated from the wire
//! types (feature `schema`). `schemas/` holds them committed; `cargo run --example gen_schemas
//! --features schema` writes them again, and a test fails when the two differ.
//!
//! Every object schema forbids properties it does not list, so validating a live server's
//! answer against it catches a field the server sends that our types would drop.

use serde_json::Value;

use crate::wire;

/// The schema of a message the crate sends: what serializing it can produce.
fn sent<T: schemars::JsonSchema>() -> Value {
    finish(
        schemars::generate::SchemaSettings::default().for_serialize(),
        |g| g.into_root_schema_for::<T>(),
    )
}

/// The schema of a message the crate receives: what decoding it accepts.
fn received<T: schemars::JsonSchema>() -> Value {
    finish(
        schemars::generate::SchemaSettings::default().for_deserialize(),
        |g| g.into_root_schema_for::<T>(),
    )
}

fn finish(
    settings: schemars::generate::SchemaSettings,
    generate: impl FnOnce(schemars::SchemaGenerator) -> schemars::Schema,
) -> Value {
    let mut value = generate(settings.into_generator()).to_value();
    forbid_unknown_fields(&mut value);
    value
}

/// Adds `"additionalProperties": false` to every object schema that lists its properties.
fn forbid_unknown_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(forbid_unknown_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(forbid_unknown_fields),
        _ => {}
    }
}

/// Every wire message's schema, by message name (the file name in `schemas/` without `.json`).
pub fn all() -> Vec<(&'static str, Value)> {
    use wire::{auth, cluster, election, kv, lease, lock, maintenance, watch};
    vec![
        ("RangeRequest", sent::<kv::RangeRequest>()),
        ("RangeResponse", received::<kv::RangeResponse>()),
        ("PutRequest", sent::<kv::PutRequest>()),
        ("PutResponse", received::<kv::PutResponse>()),
        ("DeleteRangeRequest", sent::<kv::DeleteRangeRequest>()),
        ("DeleteRangeResponse", received::<kv::DeleteRangeResponse>()),
        ("TxnRequest", sent::<kv::TxnRequest>()),
        ("TxnResponse", received::<kv::TxnResponse>()),
        ("CompactionRequest", sent::<kv::CompactionRequest>()),
        ("CompactionResponse", received::<kv::CompactionResponse>()),
        ("WatchRequest", sent::<watch::WatchRequest>()),
        ("WatchResponse", received::<watch::WatchResponse>()),
        ("LeaseGrantRequest", sent::<lease::LeaseGrantRequest>()),
        (
            "LeaseGrantResponse",
            received::<lease::LeaseGrantResponse>(),
        ),
        ("LeaseIdRequest", sent::<lease::LeaseIdRequest>()),
        (
            "LeaseRevokeResponse",
            received::<lease::LeaseRevokeResponse>(),
        ),
        (
            "LeaseKeepAliveResponse",
            received::<lease::LeaseKeepAliveResponse>(),
        ),
        (
            "LeaseTimeToLiveRequest",
            sent::<lease::LeaseTimeToLiveRequest>(),
        ),
        (
            "LeaseTimeToLiveResponse",
            received::<lease::LeaseTimeToLiveResponse>(),
        ),
        ("LeaseLeasesRequest", sent::<lease::LeaseLeasesRequest>()),
        (
            "LeaseLeasesResponse",
            received::<lease::LeaseLeasesResponse>(),
        ),
        ("LockRequest", sent::<lock::LockRequest>()),
        ("LockResponse", received::<lock::LockResponse>()),
        ("UnlockRequest", sent::<lock::UnlockRequest>()),
        ("UnlockResponse", received::<lock::UnlockResponse>()),
        ("CampaignRequest", sent::<election::CampaignRequest>()),
        ("CampaignResponse", received::<election::CampaignResponse>()),
        ("ProclaimRequest", sent::<election::ProclaimRequest>()),
        ("LeaderRequest", sent::<election::LeaderRequest>()),
        ("LeaderResponse", received::<election::LeaderResponse>()),
        ("ResignRequest", sent::<election::ResignRequest>()),
        (
            "ElectionHeaderResponse",
            received::<election::HeaderOnlyResponse>(),
        ),
        ("AuthEmptyRequest", sent::<auth::Empty>()),
        ("AuthHeaderResponse", received::<auth::AuthHeaderResponse>()),
        ("AuthStatusResponse", received::<auth::AuthStatusResponse>()),
        ("AuthenticateRequest", sent::<auth::AuthenticateRequest>()),
        (
            "AuthenticateResponse",
            received::<auth::AuthenticateResponse>(),
        ),
        ("UserAddRequest", sent::<auth::UserAddRequest>()),
        (
            "UserChangePasswordRequest",
            sent::<auth::UserChangePasswordRequest>(),
        ),
        ("AuthNameRequest", sent::<auth::NameRequest>()),
        ("AuthRoleRequest", sent::<auth::RoleRequest>()),
        ("UserGrantRoleRequest", sent::<auth::UserGrantRoleRequest>()),
        (
            "UserRevokeRoleRequest",
            sent::<auth::UserRevokeRoleRequest>(),
        ),
        ("AuthRolesResponse", received::<auth::RolesResponse>()),
        ("UserListResponse", received::<auth::UserListResponse>()),
        ("RoleGetResponse", received::<auth::RoleGetResponse>()),
        (
            "RoleGrantPermissionRequest",
            sent::<auth::RoleGrantPermissionRequest>(),
        ),
        (
            "RoleRevokePermissionRequest",
            sent::<auth::RoleRevokePermissionRequest>(),
        ),
        ("MemberAddRequest", sent::<cluster::MemberAddRequest>()),
        (
            "MemberAddResponse",
            received::<cluster::MemberAddResponse>(),
        ),
        ("MemberIdRequest", sent::<cluster::MemberIdRequest>()),
        (
            "MemberUpdateRequest",
            sent::<cluster::MemberUpdateRequest>(),
        ),
        ("MemberListRequest", sent::<cluster::MemberListRequest>()),
        ("MembersResponse", received::<cluster::MembersResponse>()),
        ("AlarmRequest", sent::<maintenance::AlarmRequest>()),
        ("AlarmResponse", received::<maintenance::AlarmResponse>()),
        ("MaintenanceEmptyRequest", sent::<maintenance::Empty>()),
        ("StatusResponse", received::<maintenance::StatusResponse>()),
        (
            "MaybeHeaderResponse",
            received::<maintenance::MaybeHeaderResponse>(),
        ),
        ("HashResponse", received::<maintenance::HashResponse>()),
        ("HashKvRequest", sent::<maintenance::HashKvRequest>()),
        ("HashKvResponse", received::<maintenance::HashKvResponse>()),
        (
            "SnapshotResponse",
            received::<maintenance::SnapshotResponse>(),
        ),
        (
            "MoveLeaderRequest",
            sent::<maintenance::MoveLeaderRequest>(),
        ),
        ("DowngradeRequest", sent::<maintenance::DowngradeRequest>()),
        (
            "DowngradeResponse",
            received::<maintenance::DowngradeResponse>(),
        ),
    ]
}

/// The text of a schema as committed: pretty JSON with a final newline.
pub fn to_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    /// Which schema each captured answer must fit: (path, schema, streamed).
    const ANSWERS: &[(&str, &str, bool)] = &[
        ("/v3/kv/range", "RangeResponse", false),
        ("/v3/kv/put", "PutResponse", false),
        ("/v3/kv/deleterange", "DeleteRangeResponse", false),
        ("/v3/kv/txn", "TxnResponse", false),
        ("/v3/kv/compaction", "CompactionResponse", false),
        ("/v3/watch", "WatchResponse", true),
        ("/v3/lease/grant", "LeaseGrantResponse", false),
        ("/v3/lease/revoke", "LeaseRevokeResponse", false),
        ("/v3/lease/keepalive", "LeaseKeepAliveResponse", true),
        ("/v3/lease/timetolive", "LeaseTimeToLiveResponse", false),
        ("/v3/lease/leases", "LeaseLeasesResponse", false),
        ("/v3/lock/lock", "LockResponse", false),
        ("/v3/lock/unlock", "UnlockResponse", false),
        ("/v3/election/campaign", "CampaignResponse", false),
        ("/v3/election/proclaim", "ElectionHeaderResponse", false),
        ("/v3/election/leader", "LeaderResponse", false),
        ("/v3/election/resign", "ElectionHeaderResponse", false),
        ("/v3/election/observe", "LeaderResponse", true),
        ("/v3/auth/enable", "AuthHeaderResponse", false),
        ("/v3/auth/disable", "AuthHeaderResponse", false),
        ("/v3/auth/status", "AuthStatusResponse", false),
        ("/v3/auth/authenticate", "AuthenticateResponse", false),
        ("/v3/auth/user/add", "AuthHeaderResponse", false),
        ("/v3/auth/user/get", "AuthRolesResponse", false),
        ("/v3/auth/user/list", "UserListResponse", false),
        ("/v3/auth/user/delete", "AuthHeaderResponse", false),
        ("/v3/auth/user/changepw", "AuthHeaderResponse", false),
        ("/v3/auth/user/grant", "AuthHeaderResponse", false),
        ("/v3/auth/user/revoke", "AuthHeaderResponse", false),
        ("/v3/auth/role/add", "AuthHeaderResponse", false),
        ("/v3/auth/role/get", "RoleGetResponse", false),
        ("/v3/auth/role/list", "AuthRolesResponse", false),
        ("/v3/auth/role/delete", "AuthHeaderResponse", false),
        ("/v3/auth/role/grant", "AuthHeaderResponse", false),
        ("/v3/auth/role/revoke", "AuthHeaderResponse", false),
        ("/v3/cluster/member/add", "MemberAddResponse", false),
        ("/v3/cluster/member/remove", "MembersResponse", false),
        ("/v3/cluster/member/update", "MembersResponse", false),
        ("/v3/cluster/member/list", "MembersResponse", false),
        ("/v3/cluster/member/promote", "MembersResponse", false),
        ("/v3/maintenance/alarm", "AlarmResponse", false),
        ("/v3/maintenance/status", "StatusResponse", false),
        ("/v3/maintenance/defragment", "MaybeHeaderResponse", false),
        ("/v3/maintenance/hash", "HashResponse", false),
        ("/v3/maintenance/snapshot", "SnapshotResponse", true),
        (
            "/v3/maintenance/transfer-leadership",
            "MaybeHeaderResponse",
            false,
        ),
        ("/v3/maintenance/downgrade", "DowngradeResponse", false),
    ];

    #[test]
    fn every_captured_answer_validates_with_unknown_fields_forbidden() {
        let schemas: std::collections::HashMap<_, _> = all().into_iter().collect();
        let mut checked = std::collections::BTreeMap::new();
        for entry in std::fs::read_dir(fixtures::path("")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            for exchange in fixtures::capture(&name) {
                let Some(&(path, schema, streamed)) = ANSWERS.iter().find(|(path, _, _)| {
                    exchange.request_line.starts_with(&format!("POST {path} "))
                }) else {
                    continue;
                };
                if exchange.status != 200 {
                    continue;
                }
                let validator = jsonschema::validator_for(&schemas[schema]).unwrap();
                let body = exchange.body();
                let messages: Vec<&[u8]> = if streamed {
                    body.split(|&b| b == b'\n').collect()
                } else {
                    vec![&body[..]]
                };
                for message in messages {
                    if message.windows(14).any(|w| w == b"bytes omitted]") {
                        continue; // abridged in the capture
                    }
                    let Ok(value) = serde_json::from_slice::<Value>(message) else {
                        continue; // abridged captures of huge answers
                    };
                    let value = if streamed {
                        match value.get("result") {
                            Some(result) => result.clone(),
                            None => continue, // a stream error object
                        }
                    } else {
                        value
                    };
                    let errors: Vec<String> = validator
                        .iter_errors(&value)
                        .map(|e| e.to_string())
                        .collect();
                    assert!(errors.is_empty(), "{name}: {schema}: {errors:?}");
                    *checked.entry(path).or_insert(0) += 1;
                }
            }
        }
        for (path, _, _) in ANSWERS {
            assert!(
                checked.get(path).is_some_and(|n| *n > 0),
                "no captured answer of {path} checked"
            );
        }
    }
}
