//! The Cluster service's messages. No I/O. Fields are `ID`, `peerURLs`, `clientURLs` and
//! `isLearner`, as the proto spells them (GATEWAY.md 2.1).

use serde::{Deserialize, Serialize};

use super::codec::{is_false, U64};
use super::ResponseHeader;

/// `etcdserverpb.Member`. A member added but not started yet has no name and no client URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct Member {
    #[serde(rename = "ID", default)]
    pub(crate) id: U64,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(rename = "peerURLs", default)]
    pub(crate) peer_urls: Vec<String>,
    #[serde(rename = "clientURLs", default)]
    pub(crate) client_urls: Vec<String>,
    #[serde(rename = "isLearner", default)]
    pub(crate) is_learner: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct MemberAddRequest {
    #[serde(rename = "peerURLs", skip_serializing_if = "Vec::is_empty")]
    pub(crate) peer_urls: Vec<String>,
    #[serde(rename = "isLearner", skip_serializing_if = "is_false")]
    pub(crate) is_learner: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct MemberAddResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) member: Option<Member>,
    #[serde(default)]
    pub(crate) members: Vec<Member>,
}

/// The request of member remove and promote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct MemberIdRequest {
    #[serde(rename = "ID", skip_serializing_if = "U64::is_zero")]
    pub(crate) id: U64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct MemberUpdateRequest {
    #[serde(rename = "ID", skip_serializing_if = "U64::is_zero")]
    pub(crate) id: U64,
    #[serde(rename = "peerURLs", skip_serializing_if = "Vec::is_empty")]
    pub(crate) peer_urls: Vec<String>,
}

/// `linearizable` exists from 3.5 on; 3.4 ignores it and answers from its local view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct MemberListRequest {
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) linearizable: bool,
}

/// The answer of member list, remove, update and promote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct MembersResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) members: Vec<Member>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    #[test]
    fn captured_member_answers_decode_with_learners_and_unstarted_members() {
        for (v, body) in fixtures::bodies("14-path-cluster-member-list-with-learner") {
            let r: MembersResponse = serde_json::from_slice(&body).unwrap();
            let learner = r.members.iter().find(|m| m.is_learner).unwrap();
            assert!(
                learner.name.is_empty() && learner.client_urls.is_empty(),
                "{v}"
            );
            assert!(learner.id.0 > i64::MAX as u64 || learner.id.0 > 0, "{v}");
        }
        for (v, ex) in fixtures::both("14-path-cluster-member-add-learner") {
            let req = MemberAddRequest {
                peer_urls: vec!["http://127.0.0.1:32398".into()],
                is_learner: true,
            };
            assert_eq!(
                serde_json::to_value(&req).unwrap(),
                ex[0].request_json(),
                "{v}"
            );
            let r: MemberAddResponse = serde_json::from_slice(&ex[0].body()).unwrap();
            assert!(r.member.unwrap().is_learner, "{v}");
        }
    }
}
