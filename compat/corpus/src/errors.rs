//! Branching on etcd-client's errors, the way services that use it do.

use etcd_client::{Client, Error};
use tonic::Code;

/// Revokes a lease; one that is already gone (expired, revoked elsewhere) is not an error.
/// Returns whether it was still there.
pub async fn revoke_if_present(client: &mut Client, id: i64) -> Result<bool, Error> {
    match client.lease_revoke(id).await {
        Ok(_) => Ok(true),
        Err(Error::GRpcStatus(status)) if status.code() == Code::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the token expired (or etcd forgot it) and authenticating again would help.
pub fn should_refresh(e: &Error) -> bool {
    matches!(e, Error::GRpcStatus(s)
        if s.code() == Code::Unauthenticated && s.message().contains("invalid auth token"))
}

/// Whether a read asked for history that compaction removed.
pub fn is_compacted(e: &Error) -> bool {
    matches!(e, Error::GRpcStatus(s) if s.code() == Code::OutOfRange && s.message().contains("compacted"))
}

/// Whether the cluster could not be reached: reconnect, or try another cluster.
pub fn needs_reconnect(e: &Error) -> bool {
    match e {
        Error::IoError(_) | Error::TransportError(_) => true,
        Error::GRpcStatus(s) => matches!(
            s.code(),
            Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded
        ),
        _ => false,
    }
}

/// A label for logs and metrics, written as an exhaustive match (it must name every variant).
pub fn label(e: &Error) -> &'static str {
    match e {
        Error::InvalidArgs(_) => "invalid_args",
        Error::InvalidUri(_) => "invalid_uri",
        Error::IoError(_) => "io",
        Error::TransportError(_) => "transport",
        Error::GRpcStatus(s) if s.code() == Code::NotFound => "not_found",
        Error::GRpcStatus(s) if s.code() == Code::PermissionDenied => "permission_denied",
        Error::GRpcStatus(_) => "grpc",
        Error::WatchError(_) => "watch",
        Error::Utf8Error(_) => "utf8",
        Error::LeaseKeepAliveError(_) => "lease_keep_alive",
        Error::ElectError(_) => "elect",
        Error::InvalidMetadataValue(_) => "metadata",
        Error::EndpointError(_) => "endpoint",
        Error::EndpointsNotManaged => "endpoints_not_managed",
        Error::Internal(_) => "internal",
    }
}
