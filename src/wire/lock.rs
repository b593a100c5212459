//! The Lock service's messages (`v3lockpb`). No I/O.

use serde::{Deserialize, Serialize};

use super::codec::{B64, I64};
use super::ResponseHeader;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LockRequest {
    #[serde(skip_serializing_if = "B64::is_empty")]
    pub(crate) name: B64,
    #[serde(skip_serializing_if = "I64::is_zero")]
    pub(crate) lease: I64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct LockResponse {
    pub(crate) header: ResponseHeader,
    #[serde(default)]
    pub(crate) key: B64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct UnlockRequest {
    #[serde(skip_serializing_if = "B64::is_empty")]
    pub(crate) key: B64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct UnlockResponse {
    pub(crate) header: ResponseHeader,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    #[test]
    fn captured_lock_exchanges_round_trip() {
        for (v, ex) in fixtures::both("15-path-lock-lock") {
            let r: LockResponse = serde_json::from_slice(&ex[0].body()).unwrap();
            assert!(r.key.0.starts_with(b"mylock/"), "{v}");
            let req = UnlockRequest { key: r.key };
            let unlock = &fixtures::both("15-path-lock-unlock")
                .into_iter()
                .find(|(x, _)| *x == v)
                .unwrap()
                .1[0];
            assert_eq!(
                serde_json::to_value(&req).unwrap(),
                unlock.request_json(),
                "{v}"
            );
        }
    }
}
