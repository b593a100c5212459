//! An [etcd](https://etcd.io) v3 client that speaks etcd's JSON/HTTP gateway (`POST /v3/...` on
//! the client port) instead of gRPC: for networks where gRPC is blocked, for serverless code,
//! for the browser and for server-side JavaScript runtimes (Node.js, Deno, Cloudflare Workers,
//! through wasm32), with the API of the [`etcd-client`](https://docs.rs/etcd-client) crate.
//!
//! ```no_run
//! # async fn run() -> etcdgw::Result<()> {
//! use etcdgw::{Client, GetOptions};
//!
//! let client = Client::connect(["localhost:2379"], None).await?;
//! client.put("app/greeting", "hello", None).await?;
//! let resp = client.get("app/", Some(GetOptions::new().with_prefix())).await?;
//! for kv in resp.kvs() {
//!     println!("{} = {}", kv.key_str()?, kv.value_str()?);
//! }
//! # Ok(()) }
//! ```
//!
//! Scripts use the blocking client (feature `blocking`), which needs no async code and no
//! runtime of the program's own, and connect as etcdctl would, from its `ETCDCTL_*` variables:
//!
//! ```no_run
//! # #[cfg(feature = "blocking")]
//! # fn run() -> etcdgw::Result<()> {
//! let client = etcdgw::blocking::Client::from_env()?;
//! client.put("app/greeting", "hello", None)?;
//! # Ok(()) }
//! ```
//!
//! # Layers
//! - `wire`: serde mirrors of etcd's messages and the gateway's encodings (no I/O);
//! - `transport`: endpoints, HTTP, deadlines, retries and error mapping (the only network code);
//! - `api`: one module per etcd service, turning options into requests and answers into
//!   typed responses.
//!
//! # Recipes
//! Built on the public API alone, as Go's `client/v3/concurrency` and `client/v3/mirror` are:
//! [`concurrency`] (a [`Session`](concurrency::Session), a [`Mutex`](concurrency::Mutex) with
//! `try_lock`, an [`Election`](concurrency::Election), software transactional memory
//! ([`Stm`](concurrency::Stm))), in Go's key layout so that Go programs and etcdctl take the
//! same locks; [`mirror`] (make-mirror as a library); and [`cache`], a local copy of a prefix
//! kept consistent with etcd.
//!
//! # Cargo features
//! - `tls` (default): `https://` endpoints through rustls on the aws-lc-rs crypto provider,
//!   with `TlsOptions` for a CA and a client identity; `tls-ring`: the same on ring (it wins
//!   when both are on); `tls-roots` (default): trust the system's roots when no CA is given;
//!   `tls-webpki-roots`: Mozilla's roots, for `TlsOptions::with_webpki_roots`.
//! - `tracing`: events for requests, retries, failovers, endpoint health and watch resumes
//!   (target `etcdgw`), never with keys, values or secrets.
//! - `metrics`: counters, gauges and histograms through the `metrics` facade; names and labels
//!   in `docs/METRICS.md`.
//! - `schema`: JSON Schemas of the wire messages (used by the schema tests).
//! - `blocking`: `etcdgw::blocking`, the blocking client, with blocking
//!   forms of the concurrency recipes (native targets only).
//!
//! The `etcdgw` command line, an etcdctl over the gateway, is the package `etcdgw-cli`.
//!
//! # Configuration from the environment
//! [`Client::from_env`], [`ConnectOptions::from_env`] and the blocking client's `from_env` read
//! etcdctl's `ETCDCTL_*` variables (endpoints, user and password, TLS files, timeouts) with
//! etcdctl's defaults, as the `etcdgw` command line does; [`env::EnvConfig`] takes them from a
//! map instead, and a bad value is an [`Error::InvalidSetting`] naming its variable.
//!
//! # Errors
//! Every call returns [`Result`]; [`Error`] separates what the caller got wrong (refused before
//! sending), what etcd answered ([`ServerError`] with a [`ServerErrorKind`] to match on),
//! deadlines, and transport failures that say whether the request may have been applied.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod api;
// Native targets only: it waits on threads, which a browser page does not have.
#[cfg(all(feature = "blocking", not(target_arch = "wasm32")))]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
pub mod cache;
mod client;
pub mod concurrency;
pub mod env;
mod error;
pub mod mirror;
mod rt;
#[cfg(feature = "__tls")]
mod tls;
mod transport;
mod wire;

#[cfg(feature = "schema")]
#[doc(hidden)]
pub mod schema;

pub use api::auth::{
    AuthClient, AuthDisableResponse, AuthEnableResponse, AuthStatusResponse, AuthenticateResponse,
    Permission, PermissionType, RoleAddResponse, RoleDeleteResponse, RoleGetResponse,
    RoleGrantPermissionResponse, RoleListResponse, RoleRevokePermissionOptions,
    RoleRevokePermissionResponse, UserAddOptions, UserAddResponse, UserChangePasswordResponse,
    UserDeleteResponse, UserGetResponse, UserGrantRoleResponse, UserListResponse,
    UserRevokeRoleResponse,
};
pub use api::cluster::{
    ClusterClient, Member, MemberAddOptions, MemberAddResponse, MemberListOptions,
    MemberListResponse, MemberPromoteResponse, MemberRemoveResponse, MemberUpdateResponse,
};
pub use api::election::{
    CampaignResponse, ElectionClient, LeaderKey, LeaderResponse, ObserveStream, ProclaimOptions,
    ProclaimResponse, ResignOptions, ResignResponse,
};
pub use api::kv::{
    CompactionOptions, CompactionResponse, Compare, CompareOp, DeleteOptions, DeleteResponse,
    GetOptions, GetPages, GetResponse, GetStreamResponse, KvClient, KvClientPrefix, PutOptions,
    PutResponse, SortOrder, SortTarget, Txn, TxnOp, TxnOpResponse, TxnResponse,
};
pub use api::lease::{
    LeaseClient, LeaseClientPrefix, LeaseGrantOptions, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseKeepAliveStream, LeaseKeeper, LeaseLeasesResponse, LeaseRevokeResponse, LeaseStatus,
    LeaseTimeToLiveOptions, LeaseTimeToLiveResponse, ManagedLease,
};
pub use api::lock::{LockClient, LockGuard, LockOptions, LockResponse, UnlockResponse};
pub use api::maintenance::{
    AlarmAction, AlarmMember, AlarmOptions, AlarmResponse, AlarmType, DefragmentResponse,
    DowngradeInfo, DowngradeOptions, DowngradeResponse, HashKvResponse, HashResponse,
    MaintenanceClient, MoveLeaderResponse, SnapshotInfo, SnapshotResponse, SnapshotStreaming,
    StatusResponse,
};
pub use api::watch::{
    Event, EventType, WatchClient, WatchClientPrefix, WatchFilterType, WatchOptions,
    WatchRequestSender, WatchResponse, WatchResponseStream, WatchStream,
};
pub use api::{KeyValue, ResponseHeader};
pub use client::{
    Client, ConnectOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_REQUEST_TIMEOUT,
};
pub use error::{BoxError, Code, Delivery, Error, Result, ServerError, ServerErrorKind};
/// The HTTP client etcdgw is built on, for [`ConnectOptions::with_http_client`] and
/// [`ConnectOptions::with_http_client_builder`]: the same version etcdgw uses.
pub use reqwest;
#[cfg(feature = "__tls")]
#[cfg_attr(docsrs, doc(cfg(any(feature = "tls", feature = "tls-ring"))))]
pub use tls::{Certificate, Identity, TlsOptions};
pub use transport::{StreamMode, DEFAULT_LONG_POLL_INTERVAL, DEFAULT_STREAMS_PER_ENDPOINT};

// The README's examples are doc tests; the first is the blocking script.
#[cfg(all(doctest, feature = "blocking"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
