//! Reading answers: a unary body into its response or etcd's typed error, a stream message
//! into its `result` or error. Which HTTP status came with an error does not matter (it
//! differs between versions for the same error); its code and message do (`wire::status`).

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Delivery, Error, Result, ServerError};
use crate::wire::{status, Streamed};

/// Reads a unary answer: the response on 2xx, etcd's error by its code and message on any
/// status, and a decode error naming the endpoint for anything else.
pub(crate) fn decode_response<Resp: DeserializeOwned>(
    endpoint: &Url,
    path: &str,
    status: u16,
    body: &[u8],
) -> Result<Resp> {
    let success = (200..300).contains(&status);
    if success && !status::looks_like_error(body) {
        return serde_json::from_slice(body).map_err(|e| Error::Decode {
            endpoint: endpoint.clone().into(),
            status,
            reason: format!("not an etcd answer: {e}").into(),
            body_head: body_head(body).into(),
        });
    }
    match status::parse(body) {
        // The gateway's own answer for a /v3 path this version does not serve: text up to 3.5,
        // JSON from 3.6 on (a real NotFound from etcd has etcd's message, not this one).
        Some(s) if status == 404 && s.code == 5 && s.message == "Not Found" => {
            Err(Error::Unsupported {
                endpoint: endpoint.clone().into(),
                path: path.to_string(),
            })
        }
        Some(s) => Err(Error::Server(ServerError::new(
            s.code,
            s.message,
            endpoint.clone(),
        ))),
        None if status == 404 && body == b"Not Found\n" => Err(Error::Unsupported {
            endpoint: endpoint.clone().into(),
            path: path.to_string(),
        }),
        // A 2xx body with `{"error": ...}` that is not etcd's shape: not etcd's JSON.
        None if success => Err(Error::Decode {
            endpoint: endpoint.clone().into(),
            status,
            reason: "not an etcd error body".into(),
            body_head: body_head(body).into(),
        }),
        // A proxy's own page (502/504 with etcd down or slow behind it, its 401 or 413), or
        // another server altogether.
        None => Err(not_etcd(endpoint, status, body)),
    }
}

/// An error answer that is not etcd's, with whether the request may have reached etcd.
pub(crate) fn not_etcd(endpoint: &Url, status: u16, body: &[u8]) -> Error {
    Error::NotEtcd {
        endpoint: endpoint.clone().into(),
        status,
        delivery: crate::error::not_etcd_delivery(status),
        body_head: body_head(body).into(),
    }
}

/// Reads one stream message.
pub(crate) fn decode_stream_message<T: DeserializeOwned>(
    endpoint: &Url,
    message: &[u8],
) -> Result<T> {
    if status::looks_like_error(message) {
        if let Some(s) = status::parse(message) {
            return Err(Error::Server(ServerError::new(
                s.code,
                s.message,
                endpoint.clone(),
            )));
        }
    }
    serde_json::from_slice::<Streamed<T>>(message)
        .map(|e| e.result)
        .map_err(|e| Error::Decode {
            endpoint: endpoint.clone().into(),
            status: 200,
            reason: format!("not an etcd stream message: {e}").into(),
            body_head: body_head(message).into(),
        })
}

/// How many bytes of an unreadable body an error shows.
const BODY_HEAD: usize = 200;

pub(crate) fn body_head(body: &[u8]) -> String {
    body[..body.len().min(BODY_HEAD)].escape_ascii().to_string()
}

/// The most memory set aside up front from a `Content-Length` (more grows as it arrives).
const PREALLOCATE_LIMIT: usize = 64 * 1024 * 1024;

/// Reads a whole answer into one buffer sized from `Content-Length` (reqwest's `bytes()`
/// collects the chunks and then joins them, holding a large answer twice). An answer over
/// `limit` bytes fails as [`Error::MessageTooLarge`] without being read further; a body cut
/// short is a transport error whose request may have been applied.
pub(super) async fn read_body(
    endpoint: &Url,
    response: reqwest::Response,
    limit: Option<usize>,
) -> Result<Vec<u8>> {
    let too_large = |limit| Error::MessageTooLarge {
        endpoint: endpoint.clone().into(),
        limit,
    };
    let expected = response.content_length().unwrap_or(0);
    if let Some(limit) = limit.filter(|&l| expected > u64::try_from(l).unwrap_or(u64::MAX)) {
        return Err(too_large(limit));
    }
    let mut body = Vec::with_capacity(
        usize::try_from(expected)
            .unwrap_or(0)
            .min(PREALLOCATE_LIMIT),
    );
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| Error::Transport {
            endpoint: endpoint.clone().into(),
            delivery: Delivery::MaybeSent,
            source: Box::new(e),
        })?;
        if let Some(limit) = limit.filter(|&l| body.len().saturating_add(chunk.len()) > l) {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServerErrorKind;
    use crate::wire::{fixtures, kv};

    fn url() -> Url {
        Url::parse("http://127.0.0.1:2379").unwrap()
    }

    #[test]
    fn captured_errors_map_by_code_whatever_the_http_status() {
        // 412 on 3.4, 400 on 3.5: the same kind either way.
        for (v, ex) in fixtures::both("33-err-lease-grant-duplicate-id") {
            let err = decode_response::<kv::PutResponse>(
                &url(),
                "/v3/lease/grant",
                ex[0].status,
                &ex[0].body(),
            )
            .unwrap_err();
            assert_eq!(err.server_kind(), Some(ServerErrorKind::LeaseExist), "{v}");
        }
    }

    #[test]
    fn a_non_etcd_server_reads_as_not_etcd_with_its_status() {
        let ex = &fixtures::capture("83-discovery-non-etcd-post-range.txt")[0];
        match decode_response::<kv::RangeResponse>(&url(), "/v3/kv/range", ex.status, &ex.body()) {
            Err(Error::NotEtcd {
                status, body_head, ..
            }) => {
                assert_eq!(status, ex.status);
                assert!(!body_head.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_path_the_gateway_does_not_serve_is_unsupported() {
        for (v, ex) in fixtures::every("34-err-wrong-path") {
            let err = decode_response::<kv::RangeResponse>(
                &url(),
                "/v3/kv/nope",
                ex[0].status,
                &ex[0].body(),
            )
            .unwrap_err();
            assert!(
                matches!(&err, Error::Unsupported { path, .. } if path == "/v3/kv/nope"),
                "{v}: {err:?}"
            );
        }
        for (v, ex) in fixtures::both("13-path-maintenance-hashkv") {
            // 3.4 and 3.5.1; 3.5.34 and later serve it.
            let err = decode_response::<kv::RangeResponse>(
                &url(),
                "/v3/maintenance/hashkv",
                ex[0].status,
                &ex[0].body(),
            )
            .unwrap_err();
            assert!(matches!(err, Error::Unsupported { .. }), "{v}: {err:?}");
        }
    }

    #[test]
    fn every_version_s_error_bodies_map_to_the_same_kind() {
        for (name, path, kind) in [
            (
                "30-err-compacted-range",
                "/v3/kv/range",
                ServerErrorKind::Compacted,
            ),
            (
                "33-err-lease-not-found-revoke",
                "/v3/lease/revoke",
                ServerErrorKind::LeaseNotFound,
            ),
            (
                "74-auth-token-garbage",
                "/v3/kv/range",
                ServerErrorKind::InvalidAuthToken,
            ),
            (
                "87-auth-nonadmin-hashkv",
                "/v3/maintenance/hashkv",
                ServerErrorKind::PermissionDenied,
            ),
        ] {
            for (v, ex) in fixtures::every(name) {
                let err =
                    decode_response::<kv::RangeResponse>(&url(), path, ex[0].status, &ex[0].body())
                        .unwrap_err();
                if name.starts_with("87") && (v == "v34" || v == "v35") {
                    // No HashKV on the gateway of 3.4 and 3.5.1.
                    assert!(matches!(err, Error::Unsupported { .. }), "{v}: {err:?}");
                    continue;
                }
                assert_eq!(err.server_kind(), Some(kind), "{name} {v}: {err:?}");
            }
        }
    }

    #[test]
    fn hash_kv_answers_decode_where_the_gateway_serves_it() {
        for (v, ex) in fixtures::every("13-path-maintenance-hashkv") {
            let answer = decode_response::<crate::wire::maintenance::HashKvResponse>(
                &url(),
                "/v3/maintenance/hashkv",
                ex[0].status,
                &ex[0].body(),
            );
            match v {
                "v34" | "v35" => assert!(matches!(answer, Err(Error::Unsupported { .. })), "{v}"),
                _ => assert!(answer.unwrap().hash != 0, "{v}"),
            }
        }
    }

    #[test]
    fn an_error_object_in_a_200_body_is_an_error() {
        let body = br#"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}"#;
        let err =
            decode_response::<kv::RangeResponse>(&url(), "/v3/kv/range", 200, body).unwrap_err();
        assert_eq!(err.server_kind(), Some(ServerErrorKind::NoLeader));
    }

    #[test]
    fn json_from_something_else_is_a_decode_error() {
        let err =
            decode_response::<kv::RangeResponse>(&url(), "/v3/kv/range", 200, br#"{"ok":true}"#)
                .unwrap_err();
        assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
        let err = decode_response::<kv::RangeResponse>(
            &url(),
            "/v3/kv/range",
            500,
            br#"{"message":"boom"}"#,
        )
        .unwrap_err();
        assert!(matches!(err, Error::NotEtcd { status: 500, .. }), "{err:?}");
    }
}
