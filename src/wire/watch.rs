//! The Watch service's messages (`etcdserverpb.WatchRequest` / `WatchResponse`, `mvccpb.Event`).
//! No I/O.

use serde::{Deserialize, Serialize};

use super::codec::{is_false, wire_enum, B64, I64};
use super::{KeyValue, ResponseHeader};

wire_enum! {
    /// What happened to a key (`mvccpb.Event.EventType`). The gateway leaves `type` out for a
    /// put, since it is the zero value.
    EventType {
        /// The key was created or changed.
        Put = 0 => "PUT",
        /// The key was deleted.
        Delete = 1 => "DELETE",
    }
}

wire_enum! {
    /// Events a watch leaves out (`WatchCreateRequest.FilterType`).
    WatchFilterType {
        /// Leave out put events.
        NoPut = 0 => "NOPUT",
        /// Leave out delete events.
        NoDelete = 1 => "NODELETE",
    }
}

/// `etcdserverpb.WatchRequest`: a oneof, written as an object with exactly one field. Over
/// HTTP/1.1 a watch is cancelled by closing its request, so `cancel_request` is never sent,
/// and a `progress_request` on a request of its own goes unanswered on the versions with the
/// fix for etcd issue 15220 (3.5.34, 3.6 and 3.7 measured; GATEWAY.md 4.5), so progress is
/// found another way (`api::watch::progress`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) enum WatchRequest {
    #[serde(rename = "create_request")]
    Create(WatchCreateRequest),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct WatchCreateRequest {
    #[serde(skip_serializing_if = "B64::is_empty")]
    pub(crate) key: B64,
    #[serde(skip_serializing_if = "B64::is_empty")]
    pub(crate) range_end: B64,
    #[serde(skip_serializing_if = "I64::is_zero")]
    pub(crate) start_revision: I64,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) progress_notify: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) filters: Vec<WatchFilterType>,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) prev_kv: bool,
    #[serde(skip_serializing_if = "I64::is_zero")]
    pub(crate) watch_id: I64,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) fragment: bool,
}

/// `etcdserverpb.WatchResponse`. `watch_id` 0 is left out by the server, also in cancel
/// answers and progress notifications (GATEWAY.md pitfall 4). The header is always there,
/// though the header of a compaction cancel has no `revision`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct WatchResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) watch_id: I64,
    #[serde(default)]
    pub(crate) created: bool,
    #[serde(default)]
    pub(crate) canceled: bool,
    #[serde(default)]
    pub(crate) compact_revision: I64,
    #[serde(default)]
    pub(crate) cancel_reason: String,
    #[serde(default)]
    pub(crate) fragment: bool,
    #[serde(default)]
    pub(crate) events: Vec<Event>,
}

/// `mvccpb.Event`: a DELETE event's `kv` has only `key` and `mod_revision`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct Event {
    #[serde(default, rename = "type")]
    pub(crate) kind: EventType,
    #[serde(default)]
    pub(crate) kv: Option<KeyValue>,
    #[serde(default)]
    pub(crate) prev_kv: Option<KeyValue>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    fn messages(name: &str) -> Vec<(&'static str, Vec<serde_json::Value>)> {
        fixtures::bodies(name)
            .into_iter()
            .map(|(v, body)| {
                let values = body
                    .split(|&b| b == b'\n')
                    .filter(|m| !m.is_empty())
                    .map(|m| serde_json::from_slice(m).unwrap())
                    .collect();
                (v, values)
            })
            .collect()
    }

    fn result(v: &serde_json::Value) -> WatchResponse {
        serde_json::from_value(v["result"].clone()).unwrap()
    }

    #[test]
    fn captured_events_decode_with_put_type_omitted() {
        for (v, msgs) in messages("42-watch-basic-events") {
            let created = result(&msgs[0]);
            assert!(created.created && created.watch_id.0 == 0, "{v}");
            let put = result(&msgs[1]);
            assert_eq!(put.events[0].kind, EventType::Put, "{v}");
            assert_eq!(put.events[0].kv.as_ref().unwrap().version.0, 1, "{v}");
            let delete = result(&msgs[3]);
            assert_eq!(delete.events[0].kind, EventType::Delete, "{v}");
            let kv = delete.events[0].kv.as_ref().unwrap();
            assert!(kv.value.is_empty() && kv.mod_revision.0 > 0, "{v}");
            assert!(delete.events[0].prev_kv.is_some(), "{v}");
            assert_eq!(
                result(&msgs[4]).events.len(),
                2,
                "{v}: a txn of two puts is one message"
            );
        }
    }

    #[test]
    fn captured_compaction_cancel_and_progress_decode() {
        for (v, msgs) in messages("45-watch-compacted-start-revision") {
            let cancel = result(&msgs[1]);
            assert!(cancel.canceled && cancel.compact_revision.0 > 0, "{v}");
            assert_eq!(cancel.header.revision.0, 0, "{v}");
        }
        for (v, msgs) in messages("43-watch-progress-notify") {
            let progress = result(&msgs[1]);
            assert!(
                !progress.created && progress.events.is_empty() && progress.header.revision.0 > 0,
                "{v}"
            );
        }
        for (v, msgs) in messages("76-auth-watch-permission-denied") {
            let refused = result(&msgs[0]);
            assert!(
                refused.created && refused.canceled && !refused.cancel_reason.is_empty(),
                "{v}"
            );
        }
    }

    #[test]
    fn create_request_encodes_like_the_captured_ones() {
        let req = WatchRequest::Create(WatchCreateRequest {
            key: B64(b"w/".to_vec()),
            range_end: B64(b"w0".to_vec()),
            prev_kv: true,
            ..Default::default()
        });
        for (v, ex) in fixtures::both("42-watch-basic-events") {
            assert_eq!(
                serde_json::to_value(&req).unwrap(),
                ex[0].request_json(),
                "{v}"
            );
        }
        let req = WatchRequest::Create(WatchCreateRequest {
            key: B64(b"w/fr/".to_vec()),
            range_end: B64(b"w/fr0".to_vec()),
            start_revision: I64(55),
            fragment: true,
            ..Default::default()
        });
        for (v, ex) in fixtures::both("47-watch-fragment") {
            assert_eq!(
                serde_json::to_value(&req).unwrap(),
                ex[0].request_json(),
                "{v}"
            );
        }
    }
}
