//! [etcd-client](https://docs.rs/etcd-client/0.21) 0.21's API, error type and Cargo features,
//! over [etcdgw](https://docs.rs/etcdgw) (etcd's JSON/HTTP gateway instead of gRPC): a program
//! written for etcd-client moves by changing one line of its `Cargo.toml`,
//!
//! ```toml
//! [dependencies]
//! etcd-client = { package = "etcdgw-compat", version = "0.1" }  # was: etcd-client = "0.21"
//! tonic = "0.14"                                                # as before, for Status and Code
//! ```
//!
//! and keeps matching errors as it did:
//!
//! ```no_run
//! # use etcdgw_compat as etcd_client;
//! use etcd_client::{Client, Error};
//!
//! # async fn run() -> Result<(), Error> {
//! let mut client = Client::connect(["localhost:2379"], None).await?;
//! match client.lease_revoke(7).await {
//!     Ok(_) => {}
//!     Err(Error::GRpcStatus(status)) if status.code() == tonic::Code::NotFound => {}
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! Everything is done by etcdgw; this crate converts. Its clients and streams wrap etcdgw's
//! and give [`Error`], etcd-client's enum: what etcd answered is
//! [`Error::GRpcStatus`] with etcd's own gRPC code and message (the gateway's error bodies carry
//! both), and the failures that never reached etcd are what etcd-client gives for the same
//! situation (a refused connection is `GRpcStatus(Unavailable, "tcp connect error")`, a request
//! past its timeout `GRpcStatus(Cancelled, "Timeout expired")`), measured against etcd-client
//! itself by this crate's differential test. The README lists every difference that remains,
//! with its reason.
//!
//! The types whose methods return errors (clients, streams, [`KeyValue`], [`LeaderKey`],
//! [`Permission`] and the answers that hold them) are wrappers; options and the other answers
//! are etcdgw's own, re-exported. [`Client::etcdgw`] hands out the etcdgw client underneath,
//! for what etcd-client lacks (background keep-alives, locks and elections as guards, a
//! cache); `Error` keeps etcdgw's error as the [`tonic::Status`]'s source.
//!
//! # Cargo features
//! etcd-client's names, none on by default:
//! - `tls`, `tls-ring`: TLS through rustls with the ring provider; `tls-aws-lc`: with
//!   aws-lc-rs.
//! - `tls-roots`, `tls-native-roots`: trust the system's roots; `tls-webpki-roots`: Mozilla's,
//!   for [`TlsOptions::with_webpki_roots`](etcdgw::TlsOptions::with_webpki_roots).
//! - `tls-openssl`, `tls-openssl-vendored`: TLS through rustls (ring) with the system's roots;
//!   there is no OpenSSL, hence no `with_openssl_tls`.
//! - `pub-response-field`, `build-server`, `raw-channel`: accepted and empty: there are no
//!   protobuf types, tonic channels or gRPC servers over HTTP.

#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod auth;
mod client;
mod cluster;
mod election;
mod error;
mod kv;
mod lease;
mod lock;
mod maintenance;
mod watch;

pub use auth::{AuthClient, Permission, RoleGetResponse};
pub use client::{Client, ConnectOptions};
pub use cluster::ClusterClient;
pub use election::{
    CampaignResponse, ElectionClient, LeaderKey, LeaderResponse, ObserveStream, ProclaimOptions,
    ResignOptions,
};
pub use error::{Error, TransportError};
pub use kv::{
    DeleteResponse, GetResponse, GetStreamResponse, KeyValue, KvClient, KvClientPrefix,
    PutResponse, TxnOpResponse, TxnResponse,
};
pub use lease::{
    LeaseClient, LeaseClientPrefix, LeaseKeepAliveResponse, LeaseKeepAliveStream, LeaseKeeper,
};
pub use lock::LockClient;
pub use maintenance::{MaintenanceClient, SnapshotStreaming};
pub use watch::{
    Event, WatchClient, WatchRequestSender, WatchResponse, WatchResponseStream, WatchStream,
};

// etcdgw's own types where they already are etcd-client's: options, and answers that hold
// nothing with a method that can fail.
pub use etcdgw::{
    AlarmAction, AlarmMember, AlarmOptions, AlarmResponse, AlarmType, AuthDisableResponse,
    AuthEnableResponse, AuthenticateResponse, CompactionOptions, CompactionResponse, Compare,
    CompareOp, DefragmentResponse, DeleteOptions, DowngradeInfo, DowngradeOptions,
    DowngradeResponse, EventType, GetOptions, HashKvResponse, HashResponse, LeaseGrantOptions,
    LeaseGrantResponse, LeaseLeasesResponse, LeaseRevokeResponse, LeaseStatus,
    LeaseTimeToLiveOptions, LeaseTimeToLiveResponse, LockOptions, LockResponse, Member,
    MemberAddOptions, MemberAddResponse, MemberListResponse, MemberPromoteResponse,
    MemberRemoveResponse, MemberUpdateResponse, MoveLeaderResponse, PermissionType,
    ProclaimResponse, PutOptions, ResignResponse, ResponseHeader, RoleAddResponse,
    RoleDeleteResponse, RoleGrantPermissionResponse, RoleListResponse, RoleRevokePermissionOptions,
    RoleRevokePermissionResponse, SnapshotResponse, SortOrder, SortTarget, StatusResponse, Txn,
    TxnOp, UnlockResponse, UserAddOptions, UserAddResponse, UserChangePasswordResponse,
    UserDeleteResponse, UserGetResponse, UserGrantRoleResponse, UserListResponse,
    UserRevokeRoleResponse, WatchFilterType, WatchOptions,
};

#[cfg(feature = "_tls")]
pub use etcdgw::{Certificate, Identity, TlsOptions};

/// etcdgw itself, for what etcd-client does not have; [`Client::etcdgw`] gives its client.
pub use etcdgw;

/// `Result` with etcd-client's [`Error`]; private, as etcd-client's is (a `use etcd_client::*`
/// must not bring a `Result` into scope).
type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks the bytes that an `*_str_unchecked` accessor was promised are UTF-8: the longest
/// UTF-8 start of them, so a broken promise gives a shorter string, never undefined behaviour.
fn utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => bytes
            .get(..e.valid_up_to())
            .and_then(|valid| std::str::from_utf8(valid).ok())
            .unwrap_or_default(),
    }
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
