//! etcd-client's [`Error`], and the one place etcdgw's errors become it.
//!
//! What etcd answered keeps etcd's gRPC code and message ([`Error::GRpcStatus`]). A failure that
//! never reached etcd becomes what etcd-client (tonic) gives for the same situation, as the
//! differential test (`compat/diff`) measures it on every etcd version of the matrix; etcdgw's
//! own error rides along as the [`tonic::Status`]'s source. The few failures whose form depends
//! on the call (a watch stream's, a keep-alive's) are converted by the wrappers, with the
//! functions at the end of this file.

use std::fmt;
use std::str::Utf8Error;
use std::sync::Arc;

use etcdgw::{Delivery, ServerErrorKind};
use tonic::{Code, Status};

/// The error type of every call: etcd-client 0.21's enum, variant for variant.
///
/// Not `#[non_exhaustive]`, as etcd-client's is not: code that matches every variant compiles.
/// `TransportError` holds [`TransportError`] instead of `tonic::transport::Error`, which has no
/// public constructor (and this crate has no gRPC transport); `OpenSsl` is missing, as there is
/// no OpenSSL. The crate's README lists which variants are returned where.
#[derive(Debug)]
pub enum Error {
    /// Invalid arguments: an empty endpoint list, TLS options with `http://` endpoints, an
    /// argument etcdgw refuses before sending.
    InvalidArgs(String),

    /// An endpoint that is not a URI.
    InvalidUri(http::uri::InvalidUri),

    /// An I/O error.
    IoError(std::io::Error),

    /// A transport error; never returned (etcd-client reports connection failures as
    /// [`Error::GRpcStatus`] too), kept so that code matching it compiles.
    TransportError(TransportError),

    /// What etcd answered (its gRPC code and message), or a failure on the way there in the
    /// form etcd-client gives it.
    GRpcStatus(Status),

    /// A request on a watch stream whose responses are gone.
    WatchError(String),

    /// Bytes that are not UTF-8, from a `*_str` accessor.
    Utf8Error(Utf8Error),

    /// A keep-alive of a lease that does not exist, or on a stream that is gone.
    LeaseKeepAliveError(String),

    /// An election error; never returned (etcd-client does not return it either).
    ElectError(String),

    /// A header value that is not valid (an auth token); never returned.
    InvalidMetadataValue(tonic::metadata::errors::InvalidMetadataValue),

    /// An endpoint that could not be added or removed; never returned.
    EndpointError(String),

    /// The endpoints are not managed by this client; never returned (every client here
    /// manages its endpoints).
    EndpointsNotManaged,

    /// Something etcd-client has no word for: etcdgw's checks that keep answers in order, a
    /// call made outside a tokio runtime (where etcd-client panics).
    Internal(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgs(e) => write!(f, "invalid arguments: {e}"),
            Error::InvalidUri(e) => write!(f, "invalid uri: {e}"),
            Error::IoError(e) => write!(f, "io error: {e}"),
            Error::TransportError(e) => write!(f, "transport error: {e}"),
            Error::GRpcStatus(e) => write!(f, "grpc request error: {e}"),
            Error::WatchError(e) => write!(f, "watch error: {e}"),
            Error::Utf8Error(e) => write!(f, "utf8 error: {e}"),
            Error::LeaseKeepAliveError(e) => write!(f, "lease keep alive error: {e}"),
            Error::ElectError(e) => write!(f, "election error: {e}"),
            Error::InvalidMetadataValue(e) => write!(f, "invalid metadata value: {e}"),
            Error::EndpointError(e) => write!(f, "endpoint error: {e}"),
            Error::EndpointsNotManaged => write!(f, "endpoints not managed by this client"),
            Error::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::InvalidUri(e) => Some(e),
            Error::IoError(e) => Some(e),
            Error::TransportError(e) => Some(e),
            Error::GRpcStatus(e) => Some(e),
            Error::Utf8Error(e) => Some(e),
            Error::InvalidMetadataValue(e) => Some(e),
            _ => None,
        }
    }
}

/// What [`Error::TransportError`] holds here: etcd-client's payload is
/// `tonic::transport::Error`, which nothing outside tonic can build. It carries etcdgw's error.
#[derive(Debug)]
pub struct TransportError(etcdgw::Error);

impl TransportError {
    /// etcdgw's error.
    pub fn etcdgw(&self) -> &etcdgw::Error {
        &self.0
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::TransportError(e)
    }
}

impl From<http::uri::InvalidUri> for Error {
    fn from(e: http::uri::InvalidUri) -> Self {
        Error::InvalidUri(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::IoError(e)
    }
}

impl From<Status> for Error {
    fn from(e: Status) -> Self {
        Error::GRpcStatus(e)
    }
}

impl From<Utf8Error> for Error {
    fn from(e: Utf8Error) -> Self {
        Error::Utf8Error(e)
    }
}

impl From<tonic::metadata::errors::InvalidMetadataValue> for Error {
    fn from(e: tonic::metadata::errors::InvalidMetadataValue) -> Self {
        Error::InvalidMetadataValue(e)
    }
}

/// tonic's message for a request that ran past `ConnectOptions::with_timeout`.
const TIMEOUT_EXPIRED: &str = "Timeout expired";
/// tonic's message when the connection under a call waiting for its answer breaks (the member
/// was killed).
const BROKEN_CALL: &str = "transport error";
/// tonic's message when the connection under an open stream breaks.
const BROKEN_STREAM: &str = "h2 protocol error: error reading a body from connection";
/// What hyper-util's connector says when a connection cannot be made; tonic reports its words
/// as the status message, and reqwest's error carries the same connector error.
const CONNECT_ERRORS: &[&str] = &[
    "dns error",
    "tcp connect error",
    "tcp open error",
    "tcp set_nonblocking error",
    "tcp bind local error",
];

impl From<etcdgw::Error> for Error {
    fn from(e: etcdgw::Error) -> Self {
        match e {
            etcdgw::Error::Server(server) => Error::GRpcStatus(Status::new(
                Code::from_i32(server.code_number()),
                server.message(),
            )),
            etcdgw::Error::Utf8 { source, .. } => Error::Utf8Error(source),
            etcdgw::Error::Io { source, .. } => Error::IoError(source),
            etcdgw::Error::InvalidArgument { reason, .. } => Error::InvalidArgs(reason),
            etcdgw::Error::InvalidEndpoint { .. } => Error::InvalidArgs(e.to_string()),
            etcdgw::Error::InvalidSetting { .. } => Error::InvalidArgs(e.to_string()),
            etcdgw::Error::LeaseExpired { .. } => Error::LeaseKeepAliveError(e.to_string()),
            other => status_with_source(failure_status(&other), other),
        }
    }
}

/// The status etcd-client gives for a failure that is not etcd's answer.
fn failure_status(e: &etcdgw::Error) -> Status {
    match e {
        etcdgw::Error::Timeout { .. } => Status::cancelled(TIMEOUT_EXPIRED),
        etcdgw::Error::Transport {
            delivery: Delivery::NotSent,
            source,
            ..
        } => Status::unavailable(connect_message(source.as_ref())),
        etcdgw::Error::Transport { .. } => Status::unknown(BROKEN_CALL),
        etcdgw::Error::Decode { status, .. } | etcdgw::Error::NotEtcd { status, .. } => {
            http_status(*status, e)
        }
        etcdgw::Error::Compacted { .. } => {
            Status::out_of_range("etcdserver: mvcc: required revision has been compacted")
        }
        etcdgw::Error::MessageTooLarge { .. } => Status::out_of_range(e.to_string()),
        etcdgw::Error::Unsupported { .. } => Status::unimplemented(e.to_string()),
        etcdgw::Error::StaleRevision { .. } | etcdgw::Error::ClusterMismatch { .. } => {
            Status::unavailable(e.to_string())
        }
        _ => Status::internal(e.to_string()),
    }
}

/// `status` with etcdgw's error as its source: the code and message are etcd-client's, the
/// details (which endpoint, what the connector said) are etcdgw's.
fn status_with_source(mut status: Status, source: etcdgw::Error) -> Error {
    status.set_source(Arc::new(source));
    Error::GRpcStatus(status)
}

/// The connector's words for a connection never made (`"tcp connect error"`, `"dns error"`),
/// found in the source chain as tonic finds them; else the innermost cause.
fn connect_message(source: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = Some(source);
    let mut innermost = source;
    while let Some(err) = cause {
        let text = err.to_string();
        if CONNECT_ERRORS.contains(&text.as_str()) {
            return text;
        }
        innermost = err;
        cause = err.source();
    }
    innermost.to_string()
}

/// What tonic says for an answer that is not gRPC: the code gRPC maps the HTTP status to, and
/// its message (a 200 that is not etcd's JSON has no such mapping: `Internal`).
fn http_status(status: u16, e: &etcdgw::Error) -> Status {
    let code = match status {
        200 => return Status::internal(e.to_string()),
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    Status::new(
        code,
        format!("grpc-status header missing, mapped from HTTP status code {status}"),
    )
}

/// A failure of an open stream (a watch's): a connection that broke under it is tonic's
/// "h2 protocol error", not the "transport error" of a call still waiting for its answer.
pub(crate) fn stream(e: etcdgw::Error) -> Error {
    match e {
        etcdgw::Error::Transport {
            delivery: Delivery::MaybeSent,
            ..
        } => status_with_source(Status::unknown(BROKEN_STREAM), e),
        other => Error::from(other),
    }
}

/// A request sent on a watch stream whose responses are gone: etcd-client's channel says
/// "channel closed".
pub(crate) fn watch_send(e: etcdgw::Error) -> Error {
    match e {
        etcdgw::Error::StreamClosed => Error::WatchError("channel closed".into()),
        other => Error::from(other),
    }
}

/// A keep-alive sent by a keeper whose stream is gone: etcd-client's channel says "channel
/// closed".
pub(crate) fn keeper_send(e: etcdgw::Error) -> Error {
    match e {
        etcdgw::Error::StreamClosed => Error::LeaseKeepAliveError("channel closed".into()),
        other => Error::from(other),
    }
}

/// Starting a keep-alive of a lease that does not exist: etcd-client reads the first answer's
/// TTL of 0 and says "lease not found".
pub(crate) fn keep_alive_start(e: etcdgw::Error) -> Error {
    match e.server_kind() {
        Some(ServerErrorKind::LeaseNotFound) => {
            Error::LeaseKeepAliveError("lease not found".into())
        }
        _ => Error::from(e),
    }
}

/// An etcdgw error for a call on one key: etcdgw refuses an empty key before sending,
/// etcd-client sends it and etcd answers `key is not provided`.
pub(crate) fn keyed(empty_key: bool, e: etcdgw::Error) -> Error {
    match e {
        etcdgw::Error::InvalidArgument { .. } if empty_key => {
            Error::GRpcStatus(Status::invalid_argument("etcdserver: key is not provided"))
        }
        other => Error::from(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_etcd_client_does() {
        let status = Error::GRpcStatus(Status::not_found("etcdserver: requested lease not found"));
        assert_eq!(
            status.to_string(),
            "grpc request error: code: 'Some requested entity was not found', message: \"etcdserver: requested lease not found\""
        );
        assert_eq!(
            Error::InvalidArgs("empty endpoints".into()).to_string(),
            "invalid arguments: empty endpoints"
        );
        assert_eq!(
            Error::EndpointsNotManaged.to_string(),
            "endpoints not managed by this client"
        );
    }

    #[test]
    fn a_connector_message_is_found_anywhere_in_the_chain() {
        #[derive(Debug)]
        struct Layer(
            &'static str,
            Option<Box<dyn std::error::Error + Send + Sync>>,
        );
        impl fmt::Display for Layer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Layer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let refused = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "client error (Connect)",
                Some(Box::new(Layer(
                    "tcp connect error",
                    Some(Box::new(std::io::Error::from(
                        std::io::ErrorKind::ConnectionRefused,
                    ))),
                ))),
            ))),
        );
        assert_eq!(connect_message(&refused), "tcp connect error");
        let tls = Layer(
            "error sending request",
            Some(Box::new(Layer("invalid peer certificate", None))),
        );
        assert_eq!(connect_message(&tls), "invalid peer certificate");
    }
}
