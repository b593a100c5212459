//! The Election service's messages (`v3electionpb`). No I/O.

use serde::{Deserialize, Serialize};

use super::codec::{B64, I64};
use super::{KeyValue, ResponseHeader};

/// The key that identifies an elected leader: what campaign returns and proclaim and resign
/// take back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaderKey {
    #[serde(default, skip_serializing_if = "B64::is_empty")]
    pub(crate) name: B64,
    #[serde(default, skip_serializing_if = "B64::is_empty")]
    pub(crate) key: B64,
    #[serde(default, skip_serializing_if = "I64::is_zero")]
    pub(crate) rev: I64,
    #[serde(default, skip_serializing_if = "I64::is_zero")]
    pub(crate) lease: I64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct CampaignRequest {
    #[serde(skip_serializing_if = "B64::is_empty")]
    pub(crate) name: B64,
    #[serde(skip_serializing_if = "I64::is_zero")]
    pub(crate) lease: I64,
    #[serde(skip_serializing_if = "B64::is_empty")]
    pub(crate) value: B64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct CampaignResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) leader: Option<LeaderKey>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct ProclaimRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) leader: Option<LeaderKey>,
    #[serde(skip_serializing_if = "B64::is_empty")]
    pub(crate) value: B64,
}

/// The request of leader and observe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaderRequest {
    #[serde(skip_serializing_if = "B64::is_empty")]
    pub(crate) name: B64,
}

/// The answer of leader, and each message of observe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LeaderResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) kv: Option<KeyValue>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct ResignRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) leader: Option<LeaderKey>,
}

/// The answer of proclaim and resign: a header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct HeaderOnlyResponse {
    pub(crate) header: ResponseHeader,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{fixtures, Streamed};

    #[test]
    fn captured_election_exchanges_round_trip() {
        for (v, ex) in fixtures::both("16-path-election-campaign") {
            let r: CampaignResponse = serde_json::from_slice(&ex[0].body()).unwrap();
            let leader = r.leader.unwrap();
            assert!(leader.rev.0 > 0 && leader.lease.0 != 0, "{v}");
            // Proclaim sends the leader key back exactly as campaign returned it.
            let proclaim = ProclaimRequest {
                leader: Some(leader),
                value: B64(b"cand1-v2".to_vec()),
            };
            let captured = &fixtures::both("16-path-election-proclaim")
                .into_iter()
                .find(|(x, _)| *x == v)
                .unwrap()
                .1[0];
            assert_eq!(
                serde_json::to_value(&proclaim).unwrap(),
                captured.request_json(),
                "{v}"
            );
        }
        for (v, body) in fixtures::bodies("16-path-election-leader") {
            let r: LeaderResponse = serde_json::from_slice(&body).unwrap();
            assert_eq!(r.kv.unwrap().version.0, 2, "{v}");
        }
        for (v, body) in fixtures::bodies("63-election-observe-stream") {
            for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let r: Streamed<LeaderResponse> = serde_json::from_slice(line).unwrap();
                assert!(r.result.kv.is_some(), "{v}");
            }
        }
    }
}
