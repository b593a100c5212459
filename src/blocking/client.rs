//! The blocking [`Client`]: each call is the async client's, waited for on the caller's thread.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::runtime::{Held, Runtime};
use super::streams::{
    GetPages, LeaseKeepAliveStream, LeaseKeeper, LockGuard, ManagedLease, ObserveStream,
    SnapshotStreaming, WatchStream,
};
use crate::env::EnvConfig;
use crate::error::Result;
use crate::{
    AlarmAction, AlarmOptions, AlarmResponse, AlarmType, AuthDisableResponse, AuthEnableResponse,
    AuthStatusResponse, CampaignResponse, CompactionOptions, CompactionResponse, ConnectOptions,
    DefragmentResponse, DeleteOptions, DeleteResponse, GetOptions, GetResponse, HashKvResponse,
    HashResponse, LeaderResponse, LeaseGrantOptions, LeaseGrantResponse, LeaseLeasesResponse,
    LeaseRevokeResponse, LeaseTimeToLiveOptions, LeaseTimeToLiveResponse, LockOptions,
    LockResponse, MemberAddOptions, MemberAddResponse, MemberListResponse, MemberPromoteResponse,
    MemberRemoveResponse, MemberUpdateResponse, MoveLeaderResponse, Permission, ProclaimOptions,
    ProclaimResponse, PutOptions, PutResponse, ResignOptions, ResignResponse, RoleAddResponse,
    RoleDeleteResponse, RoleGetResponse, RoleGrantPermissionResponse, RoleListResponse,
    RoleRevokePermissionOptions, RoleRevokePermissionResponse, StatusResponse, Txn, TxnResponse,
    UnlockResponse, UserAddOptions, UserAddResponse, UserChangePasswordResponse,
    UserDeleteResponse, UserGetResponse, UserGrantRoleResponse, UserListResponse,
    UserRevokeRoleResponse, WatchOptions,
};

/// A blocking client of an etcd cluster over its JSON/HTTP gateway: the async
/// [`Client`](crate::Client)'s calls, each returning when its answer is there (see the
/// [module docs](super) for how it runs).
///
/// Cheap to clone; clones share one runtime, one connection pool and one endpoint list, and
/// can be used from many threads at once.
///
/// # Examples
/// ```no_run
/// use etcdgw::blocking::Client;
/// use etcdgw::{Compare, CompareOp, Txn, TxnOp};
///
/// # fn main() -> etcdgw::Result<()> {
/// let client = Client::connect(["localhost:2379"], None)?;
/// let txn = Txn::new()
///     .when([Compare::version("app/leader", CompareOp::Equal, 0)])
///     .and_then([TxnOp::put("app/leader", "me", None)]);
/// println!("won: {}", client.txn(txn)?.succeeded());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: crate::Client,
    rt: Arc<Runtime>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.inner.endpoints())
            .finish_non_exhaustive()
    }
}

/// The blocking forms of calls that return what the async ones return.
macro_rules! blocking_calls {
    ($(
        $(#[doc = $doc:literal])*
        fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
    )*) => {$(
        $(#[doc = $doc])*
        ///
        #[doc = concat!(
            "The blocking form of [`Client::", stringify!($name), "`](crate::Client::",
            stringify!($name), "), which says more; its errors, and ",
            "[`Error::BlockingInAsync`](crate::Error::BlockingInAsync) inside an async runtime."
        )]
        pub fn $name(&self $(, $arg: $ty)*) -> Result<$ret> {
            self.rt.run(
                concat!("etcdgw::blocking::Client::", stringify!($name)),
                self.inner.$name($($arg),*),
            )
        }
    )*};
}

impl Client {
    /// Creates a client for the given endpoints (`host:port`, `http://host:port` or
    /// `https://host:port`), with its runtime. Nothing is sent yet: the first request
    /// connects.
    ///
    /// # Errors
    /// As [`Client::connect`](crate::Client::connect); [`Error::BlockingInAsync`](crate::Error::BlockingInAsync)
    /// inside an async runtime; [`Error::Io`](crate::Error::Io) if the runtime's thread cannot
    /// start.
    pub fn connect<E: AsRef<str>, S: AsRef<[E]>>(
        endpoints: S,
        options: Option<ConnectOptions>,
    ) -> Result<Self> {
        const CALL: &str = "etcdgw::blocking::Client::connect";
        let rt = Runtime::start(CALL)?;
        let inner = rt.run(CALL, crate::Client::connect(endpoints, options))?;
        Ok(Client { inner, rt })
    }

    /// Creates a client as etcdctl would make one in this environment (`ETCDCTL_ENDPOINTS`,
    /// `ETCDCTL_USER`, `ETCDCTL_CACERT`, ..., with etcdctl's defaults); see
    /// [`EnvConfig`](crate::env::EnvConfig) for each variable.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`](crate::Error::InvalidSetting) naming a variable whose value
    /// cannot be used; then as [`connect`](Self::connect).
    pub fn from_env() -> Result<Self> {
        Client::from_env_config(&EnvConfig::from_env()?)
    }

    /// Creates a client of the endpoints these settings name, with the options they describe.
    ///
    /// # Errors
    /// As [`EnvConfig::connect_options`](crate::env::EnvConfig::connect_options), then as
    /// [`connect`](Self::connect).
    pub fn from_env_config(config: &EnvConfig) -> Result<Self> {
        Client::connect(config.endpoints(), Some(config.connect_options()?))
    }

    /// The client's endpoints, in order.
    pub fn endpoints(&self) -> Vec<Url> {
        self.inner.endpoints()
    }

    /// Each endpoint with whether it is in rotation (see
    /// [`Client::endpoint_health`](crate::Client::endpoint_health)).
    pub fn endpoint_health(&self) -> Vec<(Url, bool)> {
        self.inner.endpoint_health()
    }

    /// How many times this client (with its clones) fetched an auth token.
    pub fn token_refreshes(&self) -> u64 {
        self.inner.token_refreshes()
    }

    /// A handle on this client whose calls have this deadline, retries included, as
    /// [`Client::with_timeout`](crate::Client::with_timeout): calls that block by design
    /// (lock, campaign) wait at most this long too.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            inner: self.inner.with_timeout(timeout),
            rt: self.rt.clone(),
        }
    }

    /// A handle on this client whose calls require a leader, or not (see
    /// [`ConnectOptions::with_require_leader`]).
    pub fn with_require_leader(&self, require_leader: bool) -> Client {
        Client {
            inner: self.inner.with_require_leader(require_leader),
            rt: self.rt.clone(),
        }
    }

    /// The async client this one runs: the same connections, endpoints and token. Its calls
    /// need a runtime; the blocking client's own runs only its background work.
    pub(crate) fn inner(&self) -> &crate::Client {
        &self.inner
    }

    /// The runtime this client's calls wait on.
    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.rt
    }

    fn held<T>(&self, value: T) -> Held<T> {
        Held::new(value, self.rt.clone())
    }

    blocking_calls! {
        /// Adds an endpoint.
        fn add_endpoint(&self, endpoint: impl AsRef<str>) -> ();
        /// Removes an endpoint; an endpoint not in the list is ignored.
        fn remove_endpoint(&self, endpoint: impl AsRef<str>) -> ();
        /// Replaces the endpoints with the client URLs the cluster advertises, and returns them.
        fn sync_endpoints(&self) -> Vec<Url>;
        /// Authenticates again with the stored user and password.
        fn refresh_token(&self) -> ();
        /// Switches to another user and authenticates as them now; `None` sends no token.
        fn update_user(&self, user: Option<(String, String)>) -> ();

        /// Puts a key.
        fn put(
            &self,
            key: impl Into<Vec<u8>>,
            value: impl Into<Vec<u8>>,
            options: Option<PutOptions>,
        ) -> PutResponse;
        /// Gets a key, or a range with [`GetOptions`].
        fn get(&self, key: impl Into<Vec<u8>>, options: Option<GetOptions>) -> GetResponse;
        /// Deletes a key or a range.
        fn delete(&self, key: impl Into<Vec<u8>>, options: Option<DeleteOptions>) -> DeleteResponse;
        /// Compacts the history up to `revision`.
        fn compact(&self, revision: i64, options: Option<CompactionOptions>) -> CompactionResponse;
        /// Runs a transaction.
        fn txn(&self, txn: Txn) -> TxnResponse;

        /// Grants a lease of `ttl` seconds.
        fn lease_grant(&self, ttl: i64, options: Option<LeaseGrantOptions>) -> LeaseGrantResponse;
        /// Revokes a lease: its keys are deleted.
        fn lease_revoke(&self, id: i64) -> LeaseRevokeResponse;
        /// Tells how long a lease has left, and with the option which keys are attached.
        fn lease_time_to_live(
            &self,
            id: i64,
            options: Option<LeaseTimeToLiveOptions>,
        ) -> LeaseTimeToLiveResponse;
        /// Lists the leases that exist.
        fn leases(&self) -> LeaseLeasesResponse;

        /// Takes a lock, waiting while another holder has it (until it is free, unless the
        /// options or [`with_timeout`](Self::with_timeout) set a deadline). Prefer
        /// [`lock_guard`](Self::lock_guard), whose lease is kept alive.
        fn lock(&self, name: impl Into<Vec<u8>>, options: Option<LockOptions>) -> LockResponse;
        /// Releases a lock by the key [`lock`](Self::lock) returned.
        fn unlock(&self, key: impl Into<Vec<u8>>) -> UnlockResponse;

        /// Campaigns for leadership, waiting until elected (or until the handle's deadline).
        fn campaign(
            &self,
            name: impl Into<Vec<u8>>,
            value: impl Into<Vec<u8>>,
            lease: i64,
        ) -> CampaignResponse;
        /// Sets the leader's value.
        fn proclaim(&self, value: impl Into<Vec<u8>>, options: Option<ProclaimOptions>) -> ProclaimResponse;
        /// Tells the current leader.
        fn leader(&self, name: impl Into<Vec<u8>>) -> LeaderResponse;
        /// Gives up leadership.
        fn resign(&self, options: Option<ResignOptions>) -> ResignResponse;

        /// Turns auth on.
        fn auth_enable(&self) -> AuthEnableResponse;
        /// Turns auth off.
        fn auth_disable(&self) -> AuthDisableResponse;
        /// Tells whether auth is on.
        fn auth_status(&self) -> AuthStatusResponse;
        /// Adds a user.
        fn user_add(
            &self,
            name: impl Into<String>,
            password: impl Into<String>,
            options: Option<UserAddOptions>,
        ) -> UserAddResponse;
        /// Tells a user's roles.
        fn user_get(&self, name: impl Into<String>) -> UserGetResponse;
        /// Lists the users.
        fn user_list(&self) -> UserListResponse;
        /// Deletes a user.
        fn user_delete(&self, name: impl Into<String>) -> UserDeleteResponse;
        /// Changes a password.
        fn user_change_password(
            &self,
            name: impl Into<String>,
            password: impl Into<String>,
        ) -> UserChangePasswordResponse;
        /// Grants a role to a user.
        fn user_grant_role(&self, user: impl Into<String>, role: impl Into<String>) -> UserGrantRoleResponse;
        /// Revokes a role from a user.
        fn user_revoke_role(&self, user: impl Into<String>, role: impl Into<String>) -> UserRevokeRoleResponse;
        /// Adds a role.
        fn role_add(&self, name: impl Into<String>) -> RoleAddResponse;
        /// Tells a role's permissions.
        fn role_get(&self, name: impl Into<String>) -> RoleGetResponse;
        /// Lists the roles.
        fn role_list(&self) -> RoleListResponse;
        /// Deletes a role.
        fn role_delete(&self, name: impl Into<String>) -> RoleDeleteResponse;
        /// Grants a permission to a role.
        fn role_grant_permission(&self, name: impl Into<String>, perm: Permission) -> RoleGrantPermissionResponse;
        /// Revokes a permission from a role.
        fn role_revoke_permission(
            &self,
            name: impl Into<String>,
            key: impl Into<Vec<u8>>,
            options: Option<RoleRevokePermissionOptions>,
        ) -> RoleRevokePermissionResponse;

        /// Removes a member.
        fn member_remove(&self, id: u64) -> MemberRemoveResponse;
        /// Changes a member's peer URLs.
        fn member_update(&self, id: u64, url: impl Into<Vec<String>>) -> MemberUpdateResponse;
        /// Promotes a learner.
        fn member_promote(&self, id: u64) -> MemberPromoteResponse;
        /// Lists the members.
        fn member_list(&self) -> MemberListResponse;

        /// Lists, raises or clears alarms.
        fn alarm(
            &self,
            alarm_action: AlarmAction,
            alarm_type: AlarmType,
            options: Option<AlarmOptions>,
        ) -> AlarmResponse;
        /// A member's status.
        fn status(&self) -> StatusResponse;
        /// Defragments a member.
        fn defragment(&self) -> DefragmentResponse;
        /// A member's backend hash.
        fn hash(&self) -> HashResponse;
        /// The key-value store's hash at a revision.
        fn hash_kv(&self, revision: i64) -> HashKvResponse;
        /// Moves the leadership to another member.
        fn move_leader(&self, target_id: u64) -> MoveLeaderResponse;
    }

    /// Adds a member; scheme-less URLs get `http://`.
    ///
    /// The blocking form of [`Client::member_add`](crate::Client::member_add); its errors,
    /// and [`Error::BlockingInAsync`](crate::Error::BlockingInAsync) inside an async runtime.
    pub fn member_add<E: AsRef<str>, S: AsRef<[E]>>(
        &self,
        urls: S,
        options: Option<MemberAddOptions>,
    ) -> Result<MemberAddResponse> {
        self.rt.run(
            "etcdgw::blocking::Client::member_add",
            self.inner.member_add(urls, options),
        )
    }

    /// Reads a large range page by page, each page a whole [`GetResponse`] at the revision of
    /// the first (see [`KvClient::get_pages`](crate::KvClient::get_pages)); the pages are an
    /// iterator.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a page size below 1 or
    /// options that cannot be paged; a page's errors come from the iterator.
    ///
    /// # Examples
    /// ```no_run
    /// # fn run(client: etcdgw::blocking::Client) -> etcdgw::Result<()> {
    /// use etcdgw::GetOptions;
    ///
    /// for page in client.get_pages("logs/", Some(GetOptions::new().with_prefix()), 500)? {
    ///     for kv in page?.kvs() {
    ///         println!("{}", kv.key_str()?);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_pages(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
        page_size: i64,
    ) -> Result<GetPages> {
        let pages = self.inner.get_pages(key, options, page_size)?;
        Ok(GetPages::new(self.held(pages)))
    }

    /// Refreshes a lease once and returns a keeper to refresh it again and the iterator of
    /// the refreshes' answers, as etcd-client does; [`lease_keep_alive_managed`](Self::lease_keep_alive_managed)
    /// refreshes in the background instead.
    ///
    /// # Errors
    /// [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) if the lease does not exist;
    /// [`Error::BlockingInAsync`](crate::Error::BlockingInAsync) inside an async runtime.
    pub fn lease_keep_alive(&self, id: i64) -> Result<(LeaseKeeper, LeaseKeepAliveStream)> {
        let (keeper, stream) = self.rt.run(
            "etcdgw::blocking::Client::lease_keep_alive",
            self.inner.lease_keep_alive(id),
        )?;
        Ok((
            LeaseKeeper::new(self.held(keeper)),
            LeaseKeepAliveStream::new(self.held(stream)),
        ))
    }

    /// Grants a lease of `ttl` seconds and keeps it alive in the background until the
    /// returned [`ManagedLease`] is dropped or revoked (see
    /// [`LeaseClient::grant_managed`](crate::LeaseClient::grant_managed)); the refreshes go on
    /// while the program does something else.
    ///
    /// # Errors
    /// The grant's errors; [`Error::BlockingInAsync`](crate::Error::BlockingInAsync) inside an
    /// async runtime.
    ///
    /// # Examples
    /// ```no_run
    /// # fn run(client: etcdgw::blocking::Client) -> etcdgw::Result<()> {
    /// use etcdgw::PutOptions;
    ///
    /// let lease = client.lease_grant_managed(10, None)?;
    /// client.put("services/api/1", "10.0.0.7:8080", Some(PutOptions::new().with_lease(lease.id())))?;
    /// // ... serve; the key lives as long as this process keeps the lease alive.
    /// lease.revoke()?;
    /// # Ok(()) }
    /// ```
    pub fn lease_grant_managed(
        &self,
        ttl: i64,
        options: Option<LeaseGrantOptions>,
    ) -> Result<ManagedLease> {
        let lease = self.rt.run(
            "etcdgw::blocking::Client::lease_grant_managed",
            self.inner.lease_client().grant_managed(ttl, options),
        )?;
        Ok(ManagedLease::new(self.held(lease)))
    }

    /// Keeps an existing lease alive in the background (see
    /// [`LeaseClient::keep_alive_managed`](crate::LeaseClient::keep_alive_managed)).
    ///
    /// # Errors
    /// [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) if the lease does not exist;
    /// [`Error::BlockingInAsync`](crate::Error::BlockingInAsync) inside an async runtime.
    pub fn lease_keep_alive_managed(&self, id: i64) -> Result<ManagedLease> {
        let lease = self.rt.run(
            "etcdgw::blocking::Client::lease_keep_alive_managed",
            self.inner.lease_client().keep_alive_managed(id),
        )?;
        Ok(ManagedLease::new(self.held(lease)))
    }

    /// Watches a key or a range: the stream's first item is the `created` answer, then the
    /// events, every one exactly once in revision order, the watch being resumed after a
    /// member restart or a broken connection (see [`WatchClient`](crate::WatchClient)).
    /// [`WatchStream::watch`] adds more watches to it.
    ///
    /// # Errors
    /// As [`Client::watch`](crate::Client::watch); [`Error::BlockingInAsync`](crate::Error::BlockingInAsync)
    /// inside an async runtime.
    ///
    /// # Examples
    /// ```no_run
    /// # fn run(client: etcdgw::blocking::Client) -> etcdgw::Result<()> {
    /// use etcdgw::WatchOptions;
    ///
    /// for answer in client.watch("config/", Some(WatchOptions::new().with_prefix()))? {
    ///     for event in answer?.events() {
    ///         println!("{:?} {:?}", event.event_type(), event.kv().map(|kv| kv.key()));
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<WatchStream> {
        let stream = self.rt.run(
            "etcdgw::blocking::Client::watch",
            self.inner.watch(key, options),
        )?;
        Ok(WatchStream::new(self.held(stream)))
    }

    /// Takes the lock `name` tied to a new lease of `ttl` seconds kept alive in the
    /// background (see [`LockClient::lock_guard`](crate::LockClient::lock_guard)). The lock is
    /// held until [`LockGuard::unlock`], or until the guard is dropped, a panic unwinding
    /// included: the drop releases it before returning.
    ///
    /// # Errors
    /// As [`LockClient::lock_guard`](crate::LockClient::lock_guard);
    /// [`Error::BlockingInAsync`](crate::Error::BlockingInAsync) inside an async runtime.
    ///
    /// # Examples
    /// ```no_run
    /// # fn run(client: etcdgw::blocking::Client) -> etcdgw::Result<()> {
    /// use std::time::Duration;
    ///
    /// let guard = client.with_timeout(Duration::from_secs(30)).lock_guard("jobs/nightly", 10, None)?;
    /// // ... do the work only one process may do ...
    /// guard.unlock()?;
    /// # Ok(()) }
    /// ```
    pub fn lock_guard(
        &self,
        name: impl Into<Vec<u8>>,
        ttl: i64,
        options: Option<LockOptions>,
    ) -> Result<LockGuard> {
        let guard = self.rt.run(
            "etcdgw::blocking::Client::lock_guard",
            self.inner.lock_client().lock_guard(name, ttl, options),
        )?;
        Ok(LockGuard::new(self.held(guard)))
    }

    /// Observes an election: its leaders as an iterator, the current one first (see
    /// [`ElectionClient::observe`](crate::ElectionClient::observe)).
    ///
    /// # Errors
    /// As [`Client::observe`](crate::Client::observe); [`Error::BlockingInAsync`](crate::Error::BlockingInAsync)
    /// inside an async runtime.
    pub fn observe(&self, name: impl Into<Vec<u8>>) -> Result<ObserveStream> {
        let stream = self.rt.run(
            "etcdgw::blocking::Client::observe",
            self.inner.observe(name),
        )?;
        Ok(ObserveStream::new(self.held(stream)))
    }

    /// Streams a snapshot of the member's backend: write it with
    /// [`SnapshotStreaming::save_to`] or [`SnapshotStreaming::save_to_file`] (which check
    /// etcd's SHA-256), or read its pieces as an iterator.
    ///
    /// # Errors
    /// As [`Client::snapshot`](crate::Client::snapshot); [`Error::BlockingInAsync`](crate::Error::BlockingInAsync)
    /// inside an async runtime.
    ///
    /// # Examples
    /// ```no_run
    /// # fn run(client: etcdgw::blocking::Client) -> etcdgw::Result<()> {
    /// let info = client.snapshot()?.save_to_file("backup.db")?;
    /// println!("{} bytes", info.size);
    /// # Ok(()) }
    /// ```
    pub fn snapshot(&self) -> Result<SnapshotStreaming> {
        let stream = self
            .rt
            .run("etcdgw::blocking::Client::snapshot", self.inner.snapshot())?;
        Ok(SnapshotStreaming::new(self.held(stream)))
    }
}
