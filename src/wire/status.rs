//! The gateway's error bodies (GATEWAY.md 3). No I/O.
//!
//! Two shapes reach a client, each in an older and a newer form:
//! - unary: `{"error":"<msg>","message":"<msg>","code":<grpc code>}` (3.4; 3.5 puts `code` second),
//!   `{"code":<grpc code>,"message":"<msg>"[,"details":[]]}` (3.6 and 3.7: no `error` field);
//! - stream: `{"error":{"grpc_code":4,"http_code":504,"message":"...","http_status":"..."}}` (3.4,
//!   3.5), `{"error":{"code":4,"message":"..."[,"details":[]]}}` (3.6, 3.7), inside a 200 stream or
//!   as the whole body of a failed stream.
//!
//! Both are read here into one [`Status`]; which HTTP status came with it does not matter, since
//! it differs between versions for the same error (412 on 3.4 and 400 on 3.5 for code 9).

use serde::Deserialize;

/// A gRPC status as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) code: i32,
    pub(crate) message: String,
}

#[derive(Deserialize)]
struct Body {
    // 3.4 and 3.5 send both `error` and `message` with the same text; `message` wins.
    #[serde(default)]
    error: Option<ErrorField>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<i32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Text(String),
    Stream(StreamError),
}

#[derive(Deserialize)]
struct StreamError {
    // `grpc_code` up to 3.5, `code` from 3.6 on.
    #[serde(alias = "code")]
    grpc_code: i32,
    #[serde(default)]
    message: String,
}

/// Whether a 2xx body is an error object rather than a response: etcd's answers never start
/// with an `error` field, while both error shapes do.
pub(crate) fn looks_like_error(body: &[u8]) -> bool {
    let trimmed = body.trim_ascii_start();
    trimmed
        .strip_prefix(b"{")
        .map(|rest| rest.trim_ascii_start().starts_with(b"\"error\""))
        .unwrap_or(false)
}

/// Reads either error shape; `None` if the body is neither (e.g. `Not Found\n` text, HTML).
pub(crate) fn parse(body: &[u8]) -> Option<Status> {
    let parsed: Body = serde_json::from_slice(body).ok()?;
    match (parsed.error, parsed.code) {
        (Some(ErrorField::Stream(s)), _) => Some(Status {
            code: s.grpc_code,
            message: s.message,
        }),
        (Some(ErrorField::Text(text)), Some(code)) => Some(Status {
            code,
            message: parsed.message.unwrap_or(text),
        }),
        (None, Some(code)) => parsed.message.map(|message| Status { code, message }),
        (Some(ErrorField::Text(_)), None) | (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    #[test]
    fn unary_error_bodies_of_both_versions_are_read() {
        for (v, body) in fixtures::bodies("30-err-empty-key-put") {
            assert!(looks_like_error(&body), "{v}");
            let status = parse(&body).unwrap_or_else(|| panic!("{v}"));
            assert_eq!(status.code, 3, "{v}");
            assert_eq!(status.message, "etcdserver: key is not provided", "{v}");
        }
        for (v, body) in fixtures::bodies("33-err-lease-grant-duplicate-id") {
            let status = parse(&body).unwrap_or_else(|| panic!("{v}"));
            assert_eq!(
                (status.code, status.message.as_str()),
                (9, "etcdserver: lease already exists"),
                "{v}"
            );
        }
    }

    #[test]
    fn stream_error_objects_are_read() {
        for (v, body) in fixtures::bodies("90-hdr-grpc-timeout-watch") {
            let text = String::from_utf8_lossy(&body);
            let line = text
                .lines()
                .find(|l| l.contains("\"error\""))
                .unwrap_or_else(|| panic!("{v}"));
            let status = parse(line.as_bytes()).unwrap_or_else(|| panic!("{v}"));
            // 3.4 says DeadlineExceeded (4), 3.5 Unknown (2): the message is what is stable.
            assert_eq!(status.message, "context deadline exceeded", "{v}");
            assert!(status.code == 4 || status.code == 2, "{v}");
        }
    }

    #[test]
    fn error_bodies_of_every_version_read_alike() {
        for (name, code, message) in [
            (
                "30-err-compacted-range",
                11,
                "etcdserver: mvcc: required revision has been compacted",
            ),
            ("30-err-empty-key-put", 3, "etcdserver: key is not provided"),
            (
                "31-err-txn-too-many-ops",
                3,
                "etcdserver: too many operations in txn request",
            ),
            (
                "33-err-lease-not-found-revoke",
                5,
                "etcdserver: requested lease not found",
            ),
            (
                "74-auth-token-garbage",
                16,
                "etcdserver: invalid auth token",
            ),
            ("90-hdr-grpc-timeout-lock", 4, "context deadline exceeded"),
        ] {
            let found = fixtures::every_body(name);
            assert!(found.len() >= 4, "{name}: {found:?}");
            for (v, body) in found {
                let status = parse(&body).unwrap_or_else(|| panic!("{name} {v}"));
                assert_eq!(
                    (status.code, status.message.as_str()),
                    (code, message),
                    "{name} {v}"
                );
            }
        }
    }

    #[test]
    fn stream_errors_of_every_version_are_read() {
        for (name, message) in [
            ("90-hdr-grpc-timeout-watch", "context deadline exceeded"),
            // "transport is closing" on 3.4, "error reading from server: EOF" later.
            ("99-watch-member-stops", ""),
        ] {
            for (v, body) in fixtures::every_body(name) {
                let text = String::from_utf8_lossy(&body);
                let line = text
                    .lines()
                    .find(|l| l.starts_with("{\"error\""))
                    .unwrap_or_else(|| panic!("{name} {v}"));
                assert!(looks_like_error(line.as_bytes()), "{name} {v}");
                let status = parse(line.as_bytes()).unwrap_or_else(|| panic!("{name} {v}"));
                assert!(status.message.contains(message), "{name} {v}: {status:?}");
                assert!(status.code != 0, "{name} {v}");
            }
        }
    }

    #[test]
    fn text_bodies_and_responses_are_not_errors() {
        assert_eq!(parse(b"Not Found\n"), None);
        assert_eq!(parse(b"{\"error\":\"x\"}"), None);
        assert!(!looks_like_error(b"{\"header\":{}}"));
        assert!(!looks_like_error(b"Not Found"));
        assert!(looks_like_error(b" { \"error\" : 1}"));
    }
}
