//! The Lease service's messages. No I/O.
//!
//! The proto spells these fields `ID`, `TTL` and `grantedTTL`, and the gateway silently ignores
//! `id` or `ttl`: `{"ttl":"30"}` grants the minimum TTL (GATEWAY.md 2.1, pitfall 8).

use serde::{Deserialize, Serialize};

use super::codec::{is_false, B64, I64};
use super::ResponseHeader;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaseGrantRequest {
    #[serde(rename = "TTL", skip_serializing_if = "I64::is_zero")]
    pub(crate) ttl: I64,
    #[serde(rename = "ID", skip_serializing_if = "I64::is_zero")]
    pub(crate) id: I64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaseGrantResponse {
    pub(crate) header: ResponseHeader,
    #[serde(rename = "ID", default)]
    pub(crate) id: I64,
    #[serde(rename = "TTL", default)]
    pub(crate) ttl: I64,
    #[serde(default)]
    pub(crate) error: String,
}

/// The request of revoke, keep-alive (one per refresh) and time-to-live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaseIdRequest {
    #[serde(rename = "ID", skip_serializing_if = "I64::is_zero")]
    pub(crate) id: I64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaseRevokeResponse {
    pub(crate) header: ResponseHeader,
}

/// A keep-alive answer: `TTL` is left out (0) when the lease is gone (GATEWAY.md pitfall 11).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaseKeepAliveResponse {
    pub(crate) header: ResponseHeader,
    #[serde(rename = "ID", default)]
    pub(crate) id: I64,
    #[serde(rename = "TTL", default)]
    pub(crate) ttl: I64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaseTimeToLiveRequest {
    #[serde(rename = "ID", skip_serializing_if = "I64::is_zero")]
    pub(crate) id: I64,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) keys: bool,
}

/// `TTL` is -1 for a lease that does not exist (not an error, GATEWAY.md 3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaseTimeToLiveResponse {
    pub(crate) header: ResponseHeader,
    #[serde(rename = "ID", default)]
    pub(crate) id: I64,
    #[serde(rename = "TTL", default)]
    pub(crate) ttl: I64,
    #[serde(rename = "grantedTTL", default)]
    pub(crate) granted_ttl: I64,
    #[serde(default)]
    pub(crate) keys: Vec<B64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaseLeasesRequest {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaseLeasesResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) leases: Vec<LeaseStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaseStatus {
    #[serde(rename = "ID", default)]
    pub(crate) id: I64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{fixtures, Streamed};

    #[test]
    fn requests_use_the_proto_spelling() {
        let grant = LeaseGrantRequest {
            ttl: I64(60),
            id: I64(0),
        };
        for (v, ex) in fixtures::both("12-path-lease-grant") {
            assert_eq!(
                serde_json::to_value(&grant).unwrap(),
                ex[0].request_json(),
                "{v}"
            );
        }
        let ttl = LeaseTimeToLiveRequest {
            id: I64(7),
            keys: true,
        };
        assert_eq!(
            serde_json::to_string(&ttl).unwrap(),
            r#"{"ID":"7","keys":true}"#
        );
    }

    #[test]
    fn captured_lease_answers_decode() {
        for (v, body) in fixtures::bodies("12-path-lease-grant") {
            let r: LeaseGrantResponse = serde_json::from_slice(&body).unwrap();
            assert!(r.id.0 != 0 && r.ttl.0 == 60, "{v}");
        }
        for (v, body) in fixtures::bodies("12-path-lease-timetolive") {
            let r: LeaseTimeToLiveResponse = serde_json::from_slice(&body).unwrap();
            assert!(r.ttl.0 > 0 && r.granted_ttl.0 == 60, "{v}");
        }
        for (v, body) in fixtures::bodies("33-err-lease-not-found-timetolive") {
            let r: LeaseTimeToLiveResponse = serde_json::from_slice(&body).unwrap();
            assert_eq!(r.ttl.0, -1, "{v}");
        }
        for (v, body) in fixtures::bodies("12-path-lease-leases") {
            let r: LeaseLeasesResponse = serde_json::from_slice(&body).unwrap();
            assert!(!r.leases.is_empty(), "{v}");
        }
        for (v, body) in fixtures::bodies("33-err-lease-not-found-keepalive") {
            let r: Streamed<LeaseKeepAliveResponse> = serde_json::from_slice(&body).unwrap();
            assert_eq!(r.result.ttl.0, 0, "{v}: a dead lease's TTL is left out");
        }
    }
}
