//! [`Error`], what etcd said ([`ServerError`], [`ServerErrorKind`], [`Code`]), and whether a
//! failed request may have reached the server ([`Delivery`]).

mod server;

use std::fmt;
use std::time::Duration;

use url::Url;

pub use server::{Code, ServerError, ServerErrorKind};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from a lower layer (HTTP, TLS, I/O), kept as [`std::error::Error::source`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong, grouped by what the caller can do about it.
///
/// `Display` names the endpoint and carries the server's message; it never shows a request
/// body, a password or a token.
///
/// The enum and its struct variants are `#[non_exhaustive]`: match with `..` (`Error::Transport
/// { endpoint, delivery, .. }`), so that new variants and fields are not breaking changes.
/// Large payloads are boxed (`Box<Url>`, `Box<str>`), so that a `Result` stays small on the
/// path where nothing fails: an `Error` is six words.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Refused before anything was sent: an empty key, a bad option, no endpoints.
    #[non_exhaustive]
    InvalidArgument {
        /// What is wrong with the argument.
        reason: String,
    },
    /// An endpoint string that is not a usable `http://` or `https://` URL.
    #[non_exhaustive]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: Box<str>,
        /// What is wrong with it.
        reason: Box<str>,
    },
    /// etcd answered with an error; match on [`ServerError::kind`].
    Server(ServerError),
    /// No answer within the request's deadline.
    #[non_exhaustive]
    Timeout {
        /// The endpoints tried, in order.
        tried: Vec<Url>,
        /// The deadline that passed.
        after: Duration,
        /// Whether the request may have reached a server (and, for a write, been applied).
        delivery: Delivery,
    },
    /// The HTTP exchange failed (connection refused, reset, TLS failure, body cut short).
    #[non_exhaustive]
    Transport {
        /// The endpoint the request went to.
        endpoint: Box<Url>,
        /// Whether the request may have reached the server.
        delivery: Delivery,
        /// The underlying error.
        source: BoxError,
    },
    /// Something answered with a success status, but not with etcd's JSON: the endpoint is
    /// probably not etcd's client port. (An error status whose body is not etcd's is
    /// [`Error::NotEtcd`].)
    #[non_exhaustive]
    Decode {
        /// The endpoint that answered.
        endpoint: Box<Url>,
        /// The HTTP status of the answer.
        status: u16,
        /// Why the body could not be read.
        reason: Box<str>,
        /// The first bytes of the body, escaped.
        body_head: Box<str>,
    },
    /// An HTTP error answer that is not etcd's: a reverse proxy or load balancer between the
    /// client and etcd answered by itself (a 502, 503 or 504 page when etcd is down behind it or
    /// slower than its timeout, a 401 or 403 of its own, a 413 over its body limit), or the
    /// endpoint is not etcd's gateway (a wrong path prefix, another server). `delivery` says
    /// whether the request may have reached etcd: what a proxy refuses (4xx) it did not pass
    /// on; behind a 5xx it may have (a 504 comes after the request went to etcd).
    #[non_exhaustive]
    NotEtcd {
        /// The endpoint that answered.
        endpoint: Box<Url>,
        /// The HTTP status of the answer.
        status: u16,
        /// Whether the request may have reached etcd (and, for a write, been applied).
        delivery: Delivery,
        /// The first bytes of the body, escaped.
        body_head: Box<str>,
    },
    /// The endpoint's gateway does not serve this call (etcd 3.4 has no `auth/status` or
    /// `maintenance/downgrade`; neither 3.4 nor 3.5.1 reaches HashKV through the gateway).
    #[non_exhaustive]
    Unsupported {
        /// The endpoint that answered.
        endpoint: Box<Url>,
        /// The gateway path it does not serve.
        path: String,
    },
    /// After a failover, a member answered a read at a revision older than the highest this
    /// client had seen when the read started: it lags behind, and its answer would go back in
    /// time.
    #[non_exhaustive]
    StaleRevision {
        /// The endpoint that answered.
        endpoint: Box<Url>,
        /// The highest revision seen before.
        seen: i64,
        /// The revision of the refused answer.
        got: i64,
    },
    /// An endpoint answered for another cluster than the one this client talks to.
    #[non_exhaustive]
    ClusterMismatch {
        /// The endpoint that answered.
        endpoint: Box<Url>,
        /// The cluster id seen first.
        expected: u64,
        /// The cluster id of this answer.
        got: u64,
    },
    /// A stream message larger than the configured maximum.
    #[non_exhaustive]
    MessageTooLarge {
        /// The endpoint that sent it.
        endpoint: Box<Url>,
        /// The maximum message size, in bytes.
        limit: usize,
    },
    /// A watch cannot go on: the revisions it needs have been compacted away.
    #[non_exhaustive]
    Compacted {
        /// The watch that ended.
        watch_id: i64,
        /// The oldest revision still available.
        compact_revision: i64,
    },
    /// A lease kept alive by this client could not be refreshed within its TTL: the server
    /// has let it expire, and its keys are gone.
    #[non_exhaustive]
    LeaseExpired {
        /// The lease id.
        id: i64,
    },
    /// The other half of a stream is gone: a request sent on a watch whose response stream
    /// was dropped.
    StreamClosed,
    /// Writing a snapshot to a file or writer failed, or the blocking client's runtime (its
    /// thread and I/O driver) could not start.
    #[non_exhaustive]
    Io {
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key, value or name that is not UTF-8, from a `*_str()` accessor.
    #[non_exhaustive]
    Utf8 {
        /// Where the bytes stopped being UTF-8.
        source: std::str::Utf8Error,
    },
    /// A connection setting that cannot be used, from the environment or an
    /// [`EnvConfig`](crate::env::EnvConfig): a value that does not parse, a certificate file
    /// that cannot be read, a user without a password. Nothing was sent.
    #[non_exhaustive]
    InvalidSetting {
        /// Where the value came from: the variable that held it (`ETCDCTL_DIAL_TIMEOUT`), or
        /// etcdctl's flag for a value given to a setter (`--dial-timeout`).
        name: Box<str>,
        /// What is wrong with it; never the value of a password.
        reason: Box<str>,
    },
    /// A call of the blocking client (`etcdgw::blocking`, feature `blocking`) made inside an
    /// async runtime, where waiting would stall the runtime's thread (and could deadlock it).
    /// Nothing was sent. Use the async [`Client`](crate::Client) there, or make the call from
    /// a thread of its own (`std::thread::spawn`).
    #[non_exhaustive]
    BlockingInAsync {
        /// The call, e.g. `"etcdgw::blocking::Client::get"`.
        call: &'static str,
    },
    /// A call that needs a task of its own in the background (a managed lease's keep-alive, a
    /// session, a cache, the endpoints' auto-sync) was made where none can run: natively,
    /// outside a tokio runtime. Nothing was sent and nothing started; call it from within a
    /// runtime (`#[tokio::main]`, `Runtime::block_on`, a spawned task).
    #[non_exhaustive]
    NoRuntime {
        /// What needed the task, e.g. `"a managed lease's keep-alive"`.
        task: &'static str,
    },
}

/// Whether a failed request may have reached etcd. A write is retried only when `NotSent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// The request certainly never reached a server (the connection could not be made).
    NotSent,
    /// The request may have reached a server: a write may have been applied.
    MaybeSent,
}

impl Error {
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            reason: reason.into(),
        }
    }

    pub(crate) fn empty_key() -> Self {
        Error::invalid("key is empty (etcd refuses an empty key)")
    }

    /// The server's error, if etcd answered with one.
    pub fn server_error(&self) -> Option<&ServerError> {
        match self {
            Error::Server(e) => Some(e),
            _ => None,
        }
    }

    /// The kind of the server's error, if etcd answered with one. Watch compaction reads as
    /// [`ServerErrorKind::Compacted`] too.
    pub fn server_kind(&self) -> Option<ServerErrorKind> {
        match self {
            Error::Server(e) => Some(e.kind()),
            Error::Compacted { .. } => Some(ServerErrorKind::Compacted),
            _ => None,
        }
    }

    /// The HTTP status of an answer that was not etcd's ([`Error::NotEtcd`], [`Error::Decode`]):
    /// a proxy's 502, 504 or 413, say.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::NotEtcd { status, .. } | Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the request ran out of time, on the client's clock or the server's.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Server(e) => matches!(
                e.kind(),
                ServerErrorKind::Timeout
                    | ServerErrorKind::TimeoutDueToLeaderFail
                    | ServerErrorKind::TimeoutDueToConnectionLost
                    | ServerErrorKind::DeadlineExceeded
            ),
            _ => false,
        }
    }

    /// Whether a failure of an established stream (a watch, an observe, a managed keep-alive)
    /// is one that reopening it cures: the connection broke or timed out, the member went away
    /// or lost its leader, the server cancelled the call. The unary calls' counterpart is the
    /// transport's `retry::verdict`.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::NotEtcd { status, .. } => is_gateway_failure(*status),
            Error::Server(e) => {
                matches!(
                    e.code(),
                    Code::Unavailable
                        | Code::DeadlineExceeded
                        | Code::Canceled
                        | Code::Unknown
                        | Code::Aborted
                ) || e.kind() == ServerErrorKind::NoLeader
            }
            _ => false,
        }
    }

    /// Whether the request may have been applied although it failed: a write that timed out,
    /// or whose connection broke after it was sent, is "outcome unknown", not "failed"
    /// (GATEWAY.md 9: such a put was applied once quorum came back).
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Error::Timeout { delivery, .. }
            | Error::Transport { delivery, .. }
            | Error::NotEtcd { delivery, .. } => *delivery == Delivery::MaybeSent,
            Error::Server(e) => e.is_outcome_unknown(),
            Error::Decode { .. }
            | Error::MessageTooLarge { .. }
            | Error::ClusterMismatch { .. } => true,
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument { reason } => write!(f, "invalid argument: {reason}"),
            Error::InvalidEndpoint { endpoint, reason } => {
                write!(f, "invalid endpoint {endpoint:?}: {reason}")
            }
            Error::Server(e) => fmt::Display::fmt(e, f),
            Error::Timeout { tried, after, .. } if tried.is_empty() => {
                write!(f, "no endpoint to send the request to within {after:?}: the client's endpoint list is empty")
            }
            Error::Timeout { tried, after, delivery } => {
                write!(f, "no answer within {after:?} from ")?;
                write_urls(f, tried)?;
                if *delivery == Delivery::MaybeSent {
                    f.write_str(" (the request may have been applied)")?;
                }
                Ok(())
            }
            Error::Transport {
                endpoint,
                delivery,
                source,
            } => {
                match delivery {
                    Delivery::NotSent => write!(f, "could not connect to {endpoint}")?,
                    Delivery::MaybeSent => write!(
                        f,
                        "the exchange with {endpoint} failed (the request may have been applied)"
                    )?,
                }
                // The innermost cause says what actually happened (refused, a certificate
                // rejected, a connection closed); the layers above it only wrap it.
                let cause = root_cause(source.as_ref());
                write!(f, ": {cause}")?;
                if let Some(hint) = scheme_hint(endpoint, &cause) {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
            Error::Decode { endpoint, status, reason, body_head } => write!(
                f,
                "{endpoint} did not answer as etcd's JSON gateway (HTTP {status}, {reason}): body starts with \"{body_head}\""
            ),
            Error::NotEtcd { endpoint, status, delivery, body_head } => {
                write!(f, "{endpoint} answered HTTP {status}, not as etcd's gateway ({})", not_etcd_hint(*status))?;
                if *delivery == Delivery::MaybeSent {
                    f.write_str("; the request may have reached etcd")?;
                }
                write!(f, ": body starts with \"{body_head}\"")
            }
            Error::Unsupported { endpoint, path } => {
                write!(f, "{endpoint} does not serve {path}: this etcd version's gateway lacks the call")
            }
            Error::StaleRevision { endpoint, seen, got } => write!(
                f,
                "{endpoint} answered at revision {got}, older than revision {seen} already seen: it lags behind"
            ),
            Error::ClusterMismatch { endpoint, expected, got } => write!(
                f,
                "{endpoint} belongs to cluster {got:x}, not to cluster {expected:x} this client talks to"
            ),
            Error::MessageTooLarge { endpoint, limit } => {
                write!(f, "{endpoint} sent a stream message larger than the {limit} byte limit")
            }
            Error::Compacted { watch_id, compact_revision } => write!(
                f,
                "watch {watch_id}: required revision has been compacted (oldest available: {compact_revision})"
            ),
            Error::LeaseExpired { id } => {
                write!(f, "lease {id} expired: no keep-alive got through within its TTL")
            }
            Error::StreamClosed => f.write_str("the stream's other half was dropped"),
            Error::Io { source } => write!(f, "I/O error: {source}"),
            Error::InvalidSetting { name, reason } => write!(f, "{name}: {reason}"),
            Error::BlockingInAsync { call } => write!(
                f,
                "{call} was called inside an async runtime, whose thread it would block: use etcdgw::Client's async calls there, or call it from a thread of its own"
            ),
            Error::NoRuntime { task } => write!(
                f,
                "no tokio runtime to run {task} in: call this from within a runtime"
            ),
            Error::Utf8 { .. } => f.write_str("bytes are not valid UTF-8"),
        }
    }
}

/// Whether an HTTP status says that something between the client and etcd could not get an
/// answer from it: bad gateway, unavailable, gateway timeout.
pub(crate) fn is_gateway_failure(status: u16) -> bool {
    matches!(status, 502..=504)
}

/// Whether a request answered with `status` by something that is not etcd may have been
/// passed on to etcd: a refusal (4xx; 501 and 505, which refuse the request's form) was not;
/// after another server error it may have been.
pub(crate) fn not_etcd_delivery(status: u16) -> Delivery {
    if status >= 500 && !matches!(status, 501 | 505) {
        Delivery::MaybeSent
    } else {
        Delivery::NotSent
    }
}

/// What an answer that is not etcd's most likely means, by its status.
fn not_etcd_hint(status: u16) -> &'static str {
    match status {
        401 | 403 | 407 => {
            "refused by a proxy in front of etcd: does it want a header of its own (with_header)?"
        }
        404 => "no such path: a path prefix the proxy does not have, or not an etcd gateway",
        413 => "the request is larger than the proxy in front of etcd accepts",
        502 => "a proxy could not reach etcd, or etcd broke the exchange",
        503 => "a proxy has no etcd to send the request to",
        504 => "a proxy gave up waiting for etcd (its read timeout)",
        _ => "a proxy's or another server's own answer",
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = err;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// A hint for the usual mix-up of a TLS port with a plain one, from what the failure says.
fn scheme_hint(endpoint: &Url, cause: &str) -> Option<&'static str> {
    let cause = cause.to_ascii_lowercase();
    match endpoint.scheme() {
        "https"
            if [
                "corrupt message",
                "invalidcontenttype",
                "invalid content type",
                "handshake",
                "peer closed",
                "eof",
                // A plain-text etcd sometimes resets a TLS hello instead of answering it.
                "connection reset",
            ]
            .iter()
            .any(|m| cause.contains(m))
                && !cause.contains("certificate") =>
        {
            Some("TLS handshake failed: is this a plain-text port? try http://")
        }
        "http"
            if [
                "closed before message completed",
                "incomplete message",
                "connection reset",
                "invalid http version",
                "parse",
            ]
            .iter()
            .any(|m| cause.contains(m)) =>
        {
            Some("no HTTP answer: is this a TLS port? try https://")
        }
        "https"
            if cause.contains("alert")
                && (cause.contains("badcertificate") || cause.contains("certificaterequired")) =>
        {
            Some("the server wants a client certificate it trusts: see TlsOptions::identity")
        }
        _ => None,
    }
}

fn write_urls(f: &mut fmt::Formatter<'_>, urls: &[Url]) -> fmt::Result {
    if urls.is_empty() {
        return f.write_str("no endpoint");
    }
    for (i, url) in urls.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{url}")?;
    }
    Ok(())
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport { source, .. } => Some(source.as_ref()),
            Error::Utf8 { source } => Some(source),
            Error::Io { source } => Some(source),
            Error::Server(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Self {
        Error::Server(e)
    }
}

impl From<std::str::Utf8Error> for Error {
    fn from(source: std::str::Utf8Error) -> Self {
        Error::Utf8 { source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_s_answer_says_whether_etcd_may_have_seen_the_request() {
        let url: Box<Url> = Box::new(Url::parse("http://proxy:80/etcd").unwrap());
        let answer = |status| Error::NotEtcd {
            endpoint: url.clone(),
            status,
            delivery: not_etcd_delivery(status),
            body_head: "<html><head><title>x</title>".into(),
        };
        for status in [400, 401, 403, 404, 413, 429, 501] {
            let err = answer(status);
            assert!(!err.is_outcome_unknown(), "{status}");
            assert!(!err.is_transient(), "{status}");
        }
        for status in [502, 503, 504] {
            let err = answer(status);
            assert!(err.is_outcome_unknown() && err.is_transient(), "{status}");
            assert_eq!(err.http_status(), Some(status));
            let text = err.to_string();
            assert!(
                text.contains(&format!("HTTP {status}")) && text.contains("<html>"),
                "{text}"
            );
        }
        assert!(answer(504).to_string().contains("may have reached etcd"));
        assert!(!answer(413).to_string().contains("may have reached"));
    }

    #[test]
    fn an_error_is_six_words_and_a_server_error_five() {
        let word = std::mem::size_of::<usize>();
        assert!(std::mem::size_of::<Error>() <= 6 * word);
        assert!(std::mem::size_of::<Result<()>>() <= 6 * word);
        assert!(std::mem::size_of::<ServerError>() <= 5 * word);
    }

    #[test]
    fn a_scheme_mix_up_gets_a_hint_whatever_the_failure_says() {
        let tls = url::Url::parse("https://127.0.0.1:2379").unwrap();
        let plain = url::Url::parse("http://127.0.0.1:2379").unwrap();
        for cause in [
            "received corrupt message of type InvalidContentType",
            "Connection reset by peer (os error 104)",
            "peer closed connection without sending TLS close_notify",
        ] {
            assert!(
                scheme_hint(&tls, cause).unwrap().contains("http://"),
                "{cause}"
            );
        }
        assert_eq!(
            scheme_hint(&tls, "invalid peer certificate: UnknownIssuer"),
            None
        );
        assert!(
            scheme_hint(&plain, "connection closed before message completed")
                .unwrap()
                .contains("https://")
        );
    }

    #[test]
    fn timed_out_writes_are_outcome_unknown_and_refusals_are_not() {
        let url = Url::parse("http://h:1").unwrap();
        let timeout = Error::Server(ServerError::new(
            14,
            "etcdserver: request timed out".into(),
            url.clone(),
        ));
        assert!(timeout.is_outcome_unknown() && timeout.is_timeout());
        let refused = Error::Server(ServerError::new(
            3,
            "etcdserver: key is not provided".into(),
            url.clone(),
        ));
        assert!(!refused.is_outcome_unknown());
        let not_sent = Error::Transport {
            endpoint: Box::new(url),
            delivery: Delivery::NotSent,
            source: "refused".into(),
        };
        assert!(!not_sent.is_outcome_unknown());
    }
}
