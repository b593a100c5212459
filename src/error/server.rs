//! What etcd said: [`ServerError`] with its gRPC [`Code`] and the [`ServerErrorKind`] read from
//! its message, as etcd's own client reads it (`api/v3rpc/rpctypes/error.go`). The table of
//! messages is the one place etcd's text becomes a kind.

use std::fmt;

use url::Url;

/// An error answered by etcd: its gRPC code, its message, and the [`ServerErrorKind`] read from
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    kind: ServerErrorKind,
    code: i32,
    message: String,
    /// Boxed: the URL is 88 bytes, and a `ServerError` sits in every `Error`.
    endpoint: Box<Url>,
}

impl ServerError {
    /// etcd's "requested lease not found", for a keep-alive answer that says so by leaving
    /// out the TTL.
    pub(crate) fn lease_not_found(endpoint: Url) -> Self {
        ServerError::new(
            Code::NotFound as i32,
            "etcdserver: requested lease not found".to_string(),
            endpoint,
        )
    }

    pub(crate) fn new(code: i32, message: String, endpoint: Url) -> Self {
        ServerError {
            kind: ServerErrorKind::from_message(code, &message),
            code,
            message,
            endpoint: Box::new(endpoint),
        }
    }

    /// What went wrong, as a kind to match on.
    pub fn kind(&self) -> ServerErrorKind {
        self.kind
    }

    /// The gRPC status code the server gave.
    pub fn code(&self) -> Code {
        Code::from_i32(self.code)
    }

    /// The gRPC status code as the number the server sent.
    pub fn code_number(&self) -> i32 {
        self.code
    }

    /// The server's message, verbatim (e.g. `etcdserver: key is not provided`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The endpoint that answered.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Whether a request refused this way may still have been applied (a timed-out proposal).
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            self.kind,
            ServerErrorKind::Timeout
                | ServerErrorKind::TimeoutDueToLeaderFail
                | ServerErrorKind::TimeoutDueToConnectionLost
                | ServerErrorKind::TimeoutWaitAppliedIndex
                | ServerErrorKind::LeaderChanged
                | ServerErrorKind::DeadlineExceeded
                | ServerErrorKind::Canceled
        ) || (self.kind == ServerErrorKind::Other && self.code() == Code::Unknown)
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered: {} (code {} {:?})",
            self.endpoint,
            self.message,
            self.code,
            self.code()
        )
    }
}

impl std::error::Error for ServerError {}

/// gRPC status codes, as the gateway reports them in `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // the names are gRPC's, documented there
pub enum Code {
    Ok = 0,
    Canceled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

impl Code {
    /// The code with this number; numbers gRPC does not define read as `Unknown`.
    pub fn from_i32(n: i32) -> Code {
        match n {
            0 => Code::Ok,
            1 => Code::Canceled,
            3 => Code::InvalidArgument,
            4 => Code::DeadlineExceeded,
            5 => Code::NotFound,
            6 => Code::AlreadyExists,
            7 => Code::PermissionDenied,
            8 => Code::ResourceExhausted,
            9 => Code::FailedPrecondition,
            10 => Code::Aborted,
            11 => Code::OutOfRange,
            12 => Code::Unimplemented,
            13 => Code::Internal,
            14 => Code::Unavailable,
            15 => Code::DataLoss,
            16 => Code::Unauthenticated,
            _ => Code::Unknown,
        }
    }
}

macro_rules! server_error_kinds {
    ($($(#[$doc:meta])* $kind:ident => $($message:literal)|+,)+) => {
        /// What etcd's error means, read from its message as etcd's own client does
        /// (`api/v3rpc/rpctypes/error.go`). A message this crate does not know is
        /// [`ServerErrorKind::Other`]; its code and text stay in [`ServerError`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ServerErrorKind {
            $($(#[$doc])* $kind,)+
            /// `grpc: received message larger than max`: the request exceeded gRPC's limit
            /// (about 2 MiB), before etcd's own request-size check.
            MessageTooLarge,
            /// A message this crate does not know; see [`ServerError::message`].
            Other,
        }

        impl ServerErrorKind {
            /// The kind's name, as written in Rust (`LeaseNotFound`): metrics label errors
            /// with it.
            #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Self::$kind => stringify!($kind),)+
                    Self::MessageTooLarge => "MessageTooLarge",
                    Self::Other => "Other",
                }
            }

            /// The one place where etcd's text becomes a kind.
            fn from_message(code: i32, message: &str) -> Self {
                match message {
                    $($($message)|+ => Self::$kind,)+
                    m if m.starts_with("grpc: received message larger than max") => Self::MessageTooLarge,
                    // gRPC's code 4 is a deadline whatever the words: etcd 3.6 and 3.7 can end a
                    // call at its Grpc-Timeout with "stream terminated by RST_STREAM with error
                    // code: CANCEL".
                    _ if code == 4 => Self::DeadlineExceeded,
                    _ => Self::Other,
                }
            }
        }
    };
}

server_error_kinds! {
    /// The request has no key.
    EmptyKey => "etcdserver: key is not provided",
    /// A put with `ignore_value` or `ignore_lease` on a key that does not exist.
    KeyNotFound => "etcdserver: key not found",
    /// A value was given together with `ignore_value`.
    ValueProvided => "etcdserver: value is provided",
    /// A lease was given together with `ignore_lease`.
    LeaseProvided => "etcdserver: lease is provided",
    /// A txn with more operations than the server allows (`--max-txn-ops`, 128 by default).
    TooManyOps => "etcdserver: too many operations in txn request",
    /// A txn that writes the same key twice.
    DuplicateKey => "etcdserver: duplicate key given in txn request",
    /// The requested revision has been compacted.
    Compacted => "etcdserver: mvcc: required revision has been compacted",
    /// The requested revision is newer than the store's.
    FutureRevision => "etcdserver: mvcc: required revision is a future revision",
    /// The database is full (a NOSPACE alarm is raised).
    NoSpace => "etcdserver: mvcc: database space exceeded",
    /// The lease does not exist (expired, revoked or never granted).
    LeaseNotFound => "etcdserver: requested lease not found",
    /// A lease with the requested ID already exists.
    LeaseExist => "etcdserver: lease already exists",
    /// The requested lease TTL is above the maximum.
    LeaseTtlTooLarge => "etcdserver: too large lease TTL",
    /// A member with that ID already exists.
    MemberExist => "etcdserver: member ID already exist",
    /// A member already uses those peer URLs.
    PeerUrlExist => "etcdserver: Peer URLs already exists",
    /// The change would leave too few started members.
    MemberNotEnoughStarted => "etcdserver: re-configuration failed due to not enough started members",
    /// The member URLs are not valid.
    MemberBadUrls => "etcdserver: given member URLs are invalid",
    /// No member with that ID.
    MemberNotFound => "etcdserver: member not found",
    /// Only a learner can be promoted.
    MemberNotLearner => "etcdserver: can only promote a learner member",
    /// The learner has not caught up with the leader yet.
    LearnerNotReady => "etcdserver: can only promote a learner member which is in sync with leader",
    /// The cluster already has as many learners as it allows.
    TooManyLearners => "etcdserver: too many learner members in cluster",
    /// The request is above the server's request-size limit (1.5 MiB by default).
    RequestTooLarge => "etcdserver: request is too large",
    /// The server is shedding load.
    TooManyRequests => "etcdserver: too many requests",
    /// Auth cannot be enabled: there is no root user.
    RootUserNotExist => "etcdserver: root user does not exist",
    /// Auth cannot be enabled: root has no root role.
    RootRoleNotExist => "etcdserver: root user does not have root role",
    /// The user already exists.
    UserAlreadyExist => "etcdserver: user name already exists",
    /// Auth is on and the request carried no token.
    UserEmpty => "etcdserver: user name is empty",
    /// No such user.
    UserNotFound => "etcdserver: user name not found",
    /// The role already exists.
    RoleAlreadyExist => "etcdserver: role name already exists",
    /// No such role.
    RoleNotFound => "etcdserver: role name not found",
    /// The role name is empty.
    RoleEmpty => "etcdserver: role name is empty",
    /// Wrong user name or password.
    AuthFailed => "etcdserver: authentication failed, invalid user ID or password",
    /// The user may not do this. (3.5.34 says `auth: permission denied`, with code 2, to a
    /// non-admin user's HashKV.)
    PermissionDenied => "etcdserver: permission denied" | "auth: permission denied",
    /// The role is not granted to the user.
    RoleNotGranted => "etcdserver: role is not granted to the user",
    /// The permission is not granted to the role.
    PermissionNotGranted => "etcdserver: permission is not granted to the role",
    /// Auth is not enabled on the server.
    AuthNotEnabled => "etcdserver: authentication is not enabled",
    /// The token is invalid or expired.
    InvalidAuthToken => "etcdserver: invalid auth token",
    /// An auth change the server does not allow (e.g. revoking root's root role).
    InvalidAuthMgmt => "etcdserver: invalid auth management",
    /// The auth store changed since the token was issued.
    AuthOldRevision => "etcdserver: revision of auth store is old",
    /// The member has no leader (quorum lost, or an election is under way).
    NoLeader => "etcdserver: no leader",
    /// The call must go to the leader.
    NotLeader => "etcdserver: not leader",
    /// The leader changed while the request was in flight: it may or may not have been applied.
    LeaderChanged => "etcdserver: leader changed",
    /// The cluster version does not support the call.
    NotCapable => "etcdserver: not capable",
    /// The member is stopping.
    Stopped => "etcdserver: server stopped",
    /// The proposal did not commit in time: it may still be applied later.
    Timeout => "etcdserver: request timed out",
    /// The proposal timed out after a leader failure: it may still be applied later.
    TimeoutDueToLeaderFail => "etcdserver: request timed out, possibly due to previous leader failure",
    /// The proposal timed out after a lost connection: it may still be applied later.
    TimeoutDueToConnectionLost => "etcdserver: request timed out, possibly due to connection lost",
    /// A linearizable read waited too long for the applied index.
    TimeoutWaitAppliedIndex => "etcdserver: request timed out, waiting for the applied index took too long",
    /// The cluster is unhealthy.
    Unhealthy => "etcdserver: unhealthy cluster",
    /// The cluster's data is corrupt.
    Corrupt => "etcdserver: corrupt cluster",
    /// A learner refuses linearizable reads and writes.
    NotSupportedForLearner => "etcdserver: rpc not supported for learner",
    /// The leadership transfer target cannot lead.
    BadLeaderTransferee => "etcdserver: bad leader transferee",
    /// Downgrade: the cluster version is unknown.
    ClusterVersionUnavailable => "etcdserver: cluster version not found during downgrade",
    /// Downgrade: the target version is malformed.
    WrongDowngradeVersionFormat => "etcdserver: wrong downgrade target version format",
    /// Downgrade: the target version is not allowed.
    InvalidDowngradeTargetVersion => "etcdserver: invalid downgrade target version",
    /// Downgrade: one is already in progress.
    DowngradeInProcess => "etcdserver: cluster has a downgrade job in progress",
    /// Downgrade: none is in progress.
    NoInflightDowngrade => "etcdserver: no inflight downgrade job",
    /// The election has no leader yet.
    ElectionNoLeader => "election: no leader",
    /// The caller is not the election's leader.
    ElectionNotLeader => "election: not leader",
    /// The server-side deadline passed (`Grpc-Timeout`): the request may still be applied.
    DeadlineExceeded => "context deadline exceeded",
    /// The server saw the request cancelled (the connection went away).
    Canceled => "context canceled",
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{fixtures, status};

    fn kind_of(capture: &str) -> Vec<(&'static str, ServerErrorKind, Code)> {
        let url = Url::parse("http://127.0.0.1:2379").unwrap();
        fixtures::bodies(capture)
            .into_iter()
            .map(|(v, body)| {
                let s = status::parse(&body).unwrap_or_else(|| panic!("{capture}.{v}"));
                let e = ServerError::new(s.code, s.message, url.clone());
                (v, e.kind(), e.code())
            })
            .collect()
    }

    #[test]
    fn every_captured_server_error_maps_to_its_kind_on_both_versions() {
        use ServerErrorKind as K;
        let cases = [
            ("30-err-empty-key-put", K::EmptyKey, Code::InvalidArgument),
            ("30-err-empty-key-range", K::EmptyKey, Code::InvalidArgument),
            ("30-err-compacted-range", K::Compacted, Code::OutOfRange),
            (
                "30-err-compacted-compaction",
                K::Compacted,
                Code::OutOfRange,
            ),
            ("30-err-future-range", K::FutureRevision, Code::OutOfRange),
            (
                "30-err-future-compaction",
                K::FutureRevision,
                Code::OutOfRange,
            ),
            (
                "31-err-txn-too-many-ops",
                K::TooManyOps,
                Code::InvalidArgument,
            ),
            (
                "31-err-txn-duplicate-key",
                K::DuplicateKey,
                Code::InvalidArgument,
            ),
            (
                "32-err-request-too-large-1.5MiB",
                K::RequestTooLarge,
                Code::InvalidArgument,
            ),
            (
                "32-err-request-too-large-3MiB",
                K::MessageTooLarge,
                Code::ResourceExhausted,
            ),
            (
                "21-kv-put-ignore-value-missing",
                K::KeyNotFound,
                Code::InvalidArgument,
            ),
            (
                "33-err-lease-not-found-put",
                K::LeaseNotFound,
                Code::NotFound,
            ),
            (
                "33-err-lease-not-found-revoke",
                K::LeaseNotFound,
                Code::NotFound,
            ),
            (
                "33-err-lease-grant-duplicate-id",
                K::LeaseExist,
                Code::FailedPrecondition,
            ),
            (
                "33-err-lease-ttl-too-large",
                K::LeaseTtlTooLarge,
                Code::OutOfRange,
            ),
            (
                "34-err-member-remove-not-found",
                K::MemberNotFound,
                Code::NotFound,
            ),
            (
                "14-learner-rejects-put",
                K::NotSupportedForLearner,
                Code::Unavailable,
            ),
            (
                "17-alarm-put-while-nospace",
                K::NoSpace,
                Code::ResourceExhausted,
            ),
            (
                "16-path-election-leader-none",
                K::ElectionNoLeader,
                Code::Unknown,
            ),
            (
                "76-auth-perm-denied-put",
                K::PermissionDenied,
                Code::PermissionDenied,
            ),
            (
                "74-auth-token-bearer",
                K::InvalidAuthToken,
                Code::Unauthenticated,
            ),
            (
                "78-auth-token-expired",
                K::InvalidAuthToken,
                Code::Unauthenticated,
            ),
            (
                "72-auth-no-token-range",
                K::UserEmpty,
                Code::InvalidArgument,
            ),
            (
                "70-auth-authenticate-not-enabled",
                K::AuthNotEnabled,
                Code::FailedPrecondition,
            ),
            (
                "73-auth-wrong-password",
                K::AuthFailed,
                Code::InvalidArgument,
            ),
            (
                "75-auth-user-get-unknown",
                K::UserNotFound,
                Code::FailedPrecondition,
            ),
            (
                "75-auth-user-add-duplicate",
                K::UserAlreadyExist,
                Code::FailedPrecondition,
            ),
            (
                "70-auth-enable-no-root",
                K::RootUserNotExist,
                Code::FailedPrecondition,
            ),
            (
                "90-hdr-grpc-timeout-lock",
                K::DeadlineExceeded,
                Code::DeadlineExceeded,
            ),
            ("99-quorum-lost-put", K::Timeout, Code::Unavailable),
            (
                "99-quorum-lost-put-hasleader",
                K::NoLeader,
                Code::Unavailable,
            ),
            (
                "13-path-maintenance-transfer-leadership-not-leader",
                K::NotLeader,
                Code::FailedPrecondition,
            ),
        ];
        for (capture, kind, code) in cases {
            for (v, got_kind, got_code) in kind_of(capture) {
                assert_eq!((got_kind, got_code), (kind, code), "{capture}.{v}");
            }
        }
    }

    #[test]
    fn unknown_messages_keep_code_and_text() {
        let url = Url::parse("http://h:1").unwrap();
        let e = ServerError::new(3, "invalid character 'n'".into(), url);
        assert_eq!(e.kind(), ServerErrorKind::Other);
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(e.message(), "invalid character 'n'");
        assert_eq!(
            e.to_string(),
            "http://h:1/ answered: invalid character 'n' (code 3 InvalidArgument)"
        );
    }
}
