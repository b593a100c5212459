//! [`Client`] and [`ConnectOptions`], with etcd-client's defaults: no request timeout, no
//! automatic token refresh, authentication during `connect`, and its checks of the endpoints.

use std::time::Duration;

use crate::error::Error;
use crate::{
    AlarmAction, AlarmOptions, AlarmResponse, AlarmType, AuthClient, AuthDisableResponse,
    AuthEnableResponse, CampaignResponse, ClusterClient, CompactionOptions, CompactionResponse,
    DefragmentResponse, DeleteOptions, DeleteResponse, ElectionClient, GetOptions, GetResponse,
    HashKvResponse, HashResponse, KvClient, LeaderResponse, LeaseClient, LeaseGrantOptions,
    LeaseGrantResponse, LeaseKeepAliveStream, LeaseKeeper, LeaseLeasesResponse,
    LeaseRevokeResponse, LeaseTimeToLiveOptions, LeaseTimeToLiveResponse, LockClient, LockOptions,
    LockResponse, MaintenanceClient, MemberAddOptions, MemberAddResponse, MemberListResponse,
    MemberPromoteResponse, MemberRemoveResponse, MemberUpdateResponse, MoveLeaderResponse,
    ObserveStream, Permission, ProclaimOptions, ProclaimResponse, PutOptions, PutResponse,
    ResignOptions, ResignResponse, Result, RoleAddResponse, RoleDeleteResponse, RoleGetResponse,
    RoleGrantPermissionResponse, RoleListResponse, RoleRevokePermissionOptions,
    RoleRevokePermissionResponse, SnapshotStreaming, StatusResponse, Txn, TxnResponse,
    UnlockResponse, UserAddOptions, UserAddResponse, UserChangePasswordResponse,
    UserDeleteResponse, UserGetResponse, UserGrantRoleResponse, UserListResponse,
    UserRevokeRoleResponse, WatchClient, WatchOptions, WatchStream,
};

const HTTP_PREFIX: &str = "http://";
const HTTPS_PREFIX: &str = "https://";

/// A client of an etcd cluster, over etcd's JSON/HTTP gateway.
///
/// Cheap to clone: clones share one connection pool and endpoint list.
#[derive(Debug, Clone)]
pub struct Client {
    inner: etcdgw::Client,
    /// Whether the client has TLS options: `add_endpoint` makes scheme-less endpoints https.
    tls: bool,
}

impl Client {
    /// Connects to etcd through `endpoints`: checks them as etcd-client does (a scheme-less
    /// endpoint gets `http://`, or `https://` with TLS options) and, with a user, authenticates
    /// now. No connection is made until a request needs one (without a user).
    ///
    /// # Errors
    /// `InvalidUri` for an endpoint that is not a URI; `InvalidArgs("empty endpoints")`; with
    /// a user, the failure to authenticate.
    pub async fn connect<E: AsRef<str>, S: AsRef<[E]>>(
        endpoints: S,
        options: Option<ConnectOptions>,
    ) -> Result<Self> {
        let options = options.unwrap_or_default();
        let urls = endpoints
            .as_ref()
            .iter()
            .map(|e| endpoint_url(e.as_ref(), options.tls))
            .collect::<Result<Vec<_>>>()?;
        if urls.is_empty() {
            return Err(Error::InvalidArgs(String::from("empty endpoints")));
        }
        let mut inner = etcdgw::Client::connect(urls, Some(options.gateway())).await?;
        if let Some(timeout) = options.timeout {
            // A handle's deadline covers the calls that wait (lock, campaign), as tonic's
            // per-request timeout does in etcd-client.
            inner = inner.with_timeout(timeout);
        }
        if options.user {
            inner.refresh_token().await?;
        }
        Ok(Client {
            inner,
            tls: options.tls,
        })
    }

    /// The etcdgw client underneath (the same connections and token), for what etcd-client
    /// does not have: background keep-alives, locks and elections as guards, a cache, ...
    pub fn etcdgw(&self) -> &etcdgw::Client {
        &self.inner
    }

    /// Adds an endpoint, checked as `connect` checks them.
    ///
    /// # Errors
    /// `InvalidUri` for an endpoint that is not a URI.
    pub async fn add_endpoint<E: AsRef<str>>(&self, endpoint: E) -> Result<()> {
        let url = endpoint_url(endpoint.as_ref(), self.tls)?;
        Ok(self.inner.add_endpoint(url).await?)
    }

    /// Removes an endpoint, given as it was added.
    ///
    /// # Errors
    /// `InvalidUri` for an endpoint that is not a URI.
    pub async fn remove_endpoint<E: AsRef<str>>(&self, endpoint: E) -> Result<()> {
        let _: http::Uri = endpoint.as_ref().parse()?;
        Ok(self.inner.remove_endpoint(endpoint).await?)
    }

    /// A KV client on this client's connections.
    pub fn kv_client(&self) -> KvClient {
        KvClient::new(self.inner.kv_client())
    }

    /// A watch client on this client's connections.
    pub fn watch_client(&self) -> WatchClient {
        WatchClient::new(self.inner.watch_client())
    }

    /// A lease client on this client's connections.
    pub fn lease_client(&self) -> LeaseClient {
        LeaseClient::new(self.inner.lease_client())
    }

    /// An auth client on this client's connections.
    pub fn auth_client(&self) -> AuthClient {
        AuthClient::new(self.inner.auth_client())
    }

    /// A maintenance client on this client's connections.
    pub fn maintenance_client(&self) -> MaintenanceClient {
        MaintenanceClient::new(self.inner.maintenance_client())
    }

    /// A cluster client on this client's connections.
    pub fn cluster_client(&self) -> ClusterClient {
        ClusterClient::new(self.inner.cluster_client())
    }

    /// A lock client on this client's connections.
    pub fn lock_client(&self) -> LockClient {
        LockClient::new(self.inner.lock_client())
    }

    /// An election client on this client's connections.
    pub fn election_client(&self) -> ElectionClient {
        ElectionClient::new(self.inner.election_client())
    }

    /// Puts a key; see [`KvClient::put`].
    ///
    /// # Errors
    /// As [`KvClient::put`].
    pub async fn put(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) -> Result<PutResponse> {
        self.kv_client().put(key, value, options).await
    }

    /// Gets a key or a range; see [`KvClient::get`].
    ///
    /// # Errors
    /// As [`KvClient::get`].
    pub async fn get(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetResponse> {
        self.kv_client().get(key, options).await
    }

    /// Deletes a key or a range; see [`KvClient::delete`].
    ///
    /// # Errors
    /// As [`KvClient::delete`].
    pub async fn delete(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<DeleteOptions>,
    ) -> Result<DeleteResponse> {
        self.kv_client().delete(key, options).await
    }

    /// Compacts the history; see [`KvClient::compact`].
    ///
    /// # Errors
    /// As [`KvClient::compact`].
    pub async fn compact(
        &mut self,
        revision: i64,
        options: Option<CompactionOptions>,
    ) -> Result<CompactionResponse> {
        self.kv_client().compact(revision, options).await
    }

    /// Runs a transaction; see [`KvClient::txn`].
    ///
    /// # Errors
    /// As [`KvClient::txn`].
    pub async fn txn(&mut self, txn: Txn) -> Result<TxnResponse> {
        self.kv_client().txn(txn).await
    }

    /// Watches a key or a range; see [`WatchClient::watch`].
    ///
    /// # Errors
    /// As [`WatchClient::watch`].
    pub async fn watch(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<WatchStream> {
        self.watch_client().watch(key, options).await
    }

    /// Grants a lease; see [`LeaseClient::grant`].
    ///
    /// # Errors
    /// As [`LeaseClient::grant`].
    pub async fn lease_grant(
        &mut self,
        ttl: i64,
        options: Option<LeaseGrantOptions>,
    ) -> Result<LeaseGrantResponse> {
        self.lease_client().grant(ttl, options).await
    }

    /// Revokes a lease; see [`LeaseClient::revoke`].
    ///
    /// # Errors
    /// As [`LeaseClient::revoke`].
    pub async fn lease_revoke(&mut self, id: i64) -> Result<LeaseRevokeResponse> {
        self.lease_client().revoke(id).await
    }

    /// Keeps a lease alive by hand; see [`LeaseClient::keep_alive`].
    ///
    /// # Errors
    /// As [`LeaseClient::keep_alive`].
    pub async fn lease_keep_alive(
        &mut self,
        id: i64,
    ) -> Result<(LeaseKeeper, LeaseKeepAliveStream)> {
        self.lease_client().keep_alive(id).await
    }

    /// Tells how long a lease has left; see [`LeaseClient::time_to_live`].
    ///
    /// # Errors
    /// As [`LeaseClient::time_to_live`].
    pub async fn lease_time_to_live(
        &mut self,
        id: i64,
        options: Option<LeaseTimeToLiveOptions>,
    ) -> Result<LeaseTimeToLiveResponse> {
        self.lease_client().time_to_live(id, options).await
    }

    /// Lists the leases; see [`LeaseClient::leases`].
    ///
    /// # Errors
    /// As [`LeaseClient::leases`].
    pub async fn leases(&mut self) -> Result<LeaseLeasesResponse> {
        self.lease_client().leases().await
    }

    /// Takes a lock; see [`LockClient::lock`].
    ///
    /// # Errors
    /// As [`LockClient::lock`].
    pub async fn lock(
        &mut self,
        name: impl Into<Vec<u8>>,
        options: Option<LockOptions>,
    ) -> Result<LockResponse> {
        self.lock_client().lock(name, options).await
    }

    /// Releases a lock; see [`LockClient::unlock`].
    ///
    /// # Errors
    /// As [`LockClient::unlock`].
    pub async fn unlock(&mut self, key: impl Into<Vec<u8>>) -> Result<UnlockResponse> {
        self.lock_client().unlock(key).await
    }

    /// Turns authentication on; see [`AuthClient::auth_enable`].
    ///
    /// # Errors
    /// As [`AuthClient::auth_enable`].
    pub async fn auth_enable(&mut self) -> Result<AuthEnableResponse> {
        self.auth_client().auth_enable().await
    }

    /// Turns authentication off; see [`AuthClient::auth_disable`].
    ///
    /// # Errors
    /// As [`AuthClient::auth_disable`].
    pub async fn auth_disable(&mut self) -> Result<AuthDisableResponse> {
        self.auth_client().auth_disable().await
    }

    /// Adds a role; see [`AuthClient::role_add`].
    ///
    /// # Errors
    /// As [`AuthClient::role_add`].
    pub async fn role_add(&mut self, name: impl Into<String>) -> Result<RoleAddResponse> {
        self.auth_client().role_add(name).await
    }

    /// Deletes a role; see [`AuthClient::role_delete`].
    ///
    /// # Errors
    /// As [`AuthClient::role_delete`].
    pub async fn role_delete(&mut self, name: impl Into<String>) -> Result<RoleDeleteResponse> {
        self.auth_client().role_delete(name).await
    }

    /// A role's permissions; see [`AuthClient::role_get`].
    ///
    /// # Errors
    /// As [`AuthClient::role_get`].
    pub async fn role_get(&mut self, name: impl Into<String>) -> Result<RoleGetResponse> {
        self.auth_client().role_get(name).await
    }

    /// Lists the roles; see [`AuthClient::role_list`].
    ///
    /// # Errors
    /// As [`AuthClient::role_list`].
    pub async fn role_list(&mut self) -> Result<RoleListResponse> {
        self.auth_client().role_list().await
    }

    /// Grants a permission to a role; see [`AuthClient::role_grant_permission`].
    ///
    /// # Errors
    /// As [`AuthClient::role_grant_permission`].
    pub async fn role_grant_permission(
        &mut self,
        name: impl Into<String>,
        perm: Permission,
    ) -> Result<RoleGrantPermissionResponse> {
        self.auth_client().role_grant_permission(name, perm).await
    }

    /// Revokes a role's permission; see [`AuthClient::role_revoke_permission`].
    ///
    /// # Errors
    /// As [`AuthClient::role_revoke_permission`].
    pub async fn role_revoke_permission(
        &mut self,
        name: impl Into<String>,
        key: impl Into<Vec<u8>>,
        options: Option<RoleRevokePermissionOptions>,
    ) -> Result<RoleRevokePermissionResponse> {
        self.auth_client()
            .role_revoke_permission(name, key, options)
            .await
    }

    /// Adds a user; see [`AuthClient::user_add`].
    ///
    /// # Errors
    /// As [`AuthClient::user_add`].
    pub async fn user_add(
        &mut self,
        name: impl Into<String>,
        password: impl Into<String>,
        options: Option<UserAddOptions>,
    ) -> Result<UserAddResponse> {
        self.auth_client().user_add(name, password, options).await
    }

    /// A user's roles; see [`AuthClient::user_get`].
    ///
    /// # Errors
    /// As [`AuthClient::user_get`].
    pub async fn user_get(&mut self, name: impl Into<String>) -> Result<UserGetResponse> {
        self.auth_client().user_get(name).await
    }

    /// Lists the users; see [`AuthClient::user_list`].
    ///
    /// # Errors
    /// As [`AuthClient::user_list`].
    pub async fn user_list(&mut self) -> Result<UserListResponse> {
        self.auth_client().user_list().await
    }

    /// Deletes a user; see [`AuthClient::user_delete`].
    ///
    /// # Errors
    /// As [`AuthClient::user_delete`].
    pub async fn user_delete(&mut self, name: impl Into<String>) -> Result<UserDeleteResponse> {
        self.auth_client().user_delete(name).await
    }

    /// Changes a user's password; see [`AuthClient::user_change_password`].
    ///
    /// # Errors
    /// As [`AuthClient::user_change_password`].
    pub async fn user_change_password(
        &mut self,
        name: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<UserChangePasswordResponse> {
        self.auth_client()
            .user_change_password(name, password)
            .await
    }

    /// Grants a role to a user; see [`AuthClient::user_grant_role`].
    ///
    /// # Errors
    /// As [`AuthClient::user_grant_role`].
    pub async fn user_grant_role(
        &mut self,
        user: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<UserGrantRoleResponse> {
        self.auth_client().user_grant_role(user, role).await
    }

    /// Revokes a role from a user; see [`AuthClient::user_revoke_role`].
    ///
    /// # Errors
    /// As [`AuthClient::user_revoke_role`].
    pub async fn user_revoke_role(
        &mut self,
        user: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<UserRevokeRoleResponse> {
        self.auth_client().user_revoke_role(user, role).await
    }

    /// Lists, raises or clears alarms; see [`MaintenanceClient::alarm`].
    ///
    /// # Errors
    /// As [`MaintenanceClient::alarm`].
    pub async fn alarm(
        &mut self,
        alarm_action: AlarmAction,
        alarm_type: AlarmType,
        options: Option<AlarmOptions>,
    ) -> Result<AlarmResponse> {
        self.maintenance_client()
            .alarm(alarm_action, alarm_type, options)
            .await
    }

    /// The answering member's status; see [`MaintenanceClient::status`].
    ///
    /// # Errors
    /// As [`MaintenanceClient::status`].
    pub async fn status(&mut self) -> Result<StatusResponse> {
        self.maintenance_client().status().await
    }

    /// Defragments the answering member; see [`MaintenanceClient::defragment`].
    ///
    /// # Errors
    /// As [`MaintenanceClient::defragment`].
    pub async fn defragment(&mut self) -> Result<DefragmentResponse> {
        self.maintenance_client().defragment().await
    }

    /// The hash of the answering member's backend; see [`MaintenanceClient::hash`].
    ///
    /// # Errors
    /// As [`MaintenanceClient::hash`].
    pub async fn hash(&mut self) -> Result<HashResponse> {
        self.maintenance_client().hash().await
    }

    /// The hash of the key space; see [`MaintenanceClient::hash_kv`].
    ///
    /// # Errors
    /// As [`MaintenanceClient::hash_kv`].
    pub async fn hash_kv(&mut self, revision: i64) -> Result<HashKvResponse> {
        self.maintenance_client().hash_kv(revision).await
    }

    /// A snapshot; see [`MaintenanceClient::snapshot`].
    ///
    /// # Errors
    /// As [`MaintenanceClient::snapshot`].
    pub async fn snapshot(&mut self) -> Result<SnapshotStreaming> {
        self.maintenance_client().snapshot().await
    }

    /// Adds a member; scheme-less URLs get `http://`.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn member_add<E: AsRef<str>, S: AsRef<[E]>>(
        &mut self,
        urls: S,
        options: Option<MemberAddOptions>,
    ) -> Result<MemberAddResponse> {
        Ok(self.inner.member_add(urls, options).await?)
    }

    /// Removes a member; see [`ClusterClient::member_remove`].
    ///
    /// # Errors
    /// As [`ClusterClient::member_remove`].
    pub async fn member_remove(&mut self, id: u64) -> Result<MemberRemoveResponse> {
        self.cluster_client().member_remove(id).await
    }

    /// Changes a member's peer URLs; see [`ClusterClient::member_update`].
    ///
    /// # Errors
    /// As [`ClusterClient::member_update`].
    pub async fn member_update(
        &mut self,
        id: u64,
        url: impl Into<Vec<String>>,
    ) -> Result<MemberUpdateResponse> {
        self.cluster_client().member_update(id, url).await
    }

    /// Promotes a learner; see [`ClusterClient::member_promote`].
    ///
    /// # Errors
    /// As [`ClusterClient::member_promote`].
    pub async fn member_promote(&mut self, id: u64) -> Result<MemberPromoteResponse> {
        self.cluster_client().member_promote(id).await
    }

    /// Lists the members; see [`ClusterClient::member_list`].
    ///
    /// # Errors
    /// As [`ClusterClient::member_list`].
    pub async fn member_list(&mut self) -> Result<MemberListResponse> {
        self.cluster_client().member_list().await
    }

    /// Moves the leadership; see [`MaintenanceClient::move_leader`].
    ///
    /// # Errors
    /// As [`MaintenanceClient::move_leader`].
    pub async fn move_leader(&mut self, target_id: u64) -> Result<MoveLeaderResponse> {
        self.maintenance_client().move_leader(target_id).await
    }

    /// Campaigns in an election; see [`ElectionClient::campaign`].
    ///
    /// # Errors
    /// As [`ElectionClient::campaign`].
    pub async fn campaign(
        &mut self,
        name: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        lease: i64,
    ) -> Result<CampaignResponse> {
        self.election_client().campaign(name, value, lease).await
    }

    /// Sets a new value for the leader; see [`ElectionClient::proclaim`].
    ///
    /// # Errors
    /// As [`ElectionClient::proclaim`].
    pub async fn proclaim(
        &mut self,
        value: impl Into<Vec<u8>>,
        options: Option<ProclaimOptions>,
    ) -> Result<ProclaimResponse> {
        self.election_client().proclaim(value, options).await
    }

    /// Tells the current leader; see [`ElectionClient::leader`].
    ///
    /// # Errors
    /// As [`ElectionClient::leader`].
    pub async fn leader(&mut self, name: impl Into<Vec<u8>>) -> Result<LeaderResponse> {
        self.election_client().leader(name).await
    }

    /// Observes the leaders as they change; see [`ElectionClient::observe`].
    ///
    /// # Errors
    /// As [`ElectionClient::observe`].
    pub async fn observe(&mut self, name: impl Into<Vec<u8>>) -> Result<ObserveStream> {
        self.election_client().observe(name).await
    }

    /// Gives up leadership; see [`ElectionClient::resign`].
    ///
    /// # Errors
    /// As [`ElectionClient::resign`].
    pub async fn resign(&mut self, option: Option<ResignOptions>) -> Result<ResignResponse> {
        self.election_client().resign(option).await
    }

    /// Authenticates again with the stored user and password, or drops the token if there
    /// are none.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn refresh_token(&self) -> Result<()> {
        Ok(self.inner.refresh_token().await?)
    }

    /// Switches to another user and authenticates as them now; `None` sends no token from now
    /// on.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn update_user(&mut self, user: Option<(String, String)>) -> Result<()> {
        Ok(self.inner.update_user(user).await?)
    }
}

/// An endpoint as etcd-client builds it: `http://` and `https://` as given, anything else with
/// `http://` in front (`https://` with TLS options); then it must parse as a URI.
fn endpoint_url(url: &str, tls: bool) -> Result<String> {
    let url = if url.starts_with(HTTP_PREFIX) {
        if tls {
            return Err(Error::InvalidArgs(String::from(
                "TLS options are only supported with HTTPS URLs",
            )));
        }
        url.to_string()
    } else if url.starts_with(HTTPS_PREFIX) {
        #[cfg(not(any(feature = "_tls", feature = "tls-openssl")))]
        return Err(Error::InvalidArgs(String::from(
            "HTTPS URLs are only supported with one of the features \"tls\", \"tls-ring\" or \"tls-aws-lc\"",
        )));
        #[cfg(any(feature = "_tls", feature = "tls-openssl"))]
        url.to_string()
    } else if tls {
        format!("{HTTPS_PREFIX}{url}")
    } else {
        format!("{HTTP_PREFIX}{url}")
    };
    let _: http::Uri = url.parse()?;
    Ok(url)
}

/// Options for [`Client::connect`], with etcd-client's defaults: no request timeout, no
/// automatic token refresh.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    inner: etcdgw::ConnectOptions,
    timeout: Option<Duration>,
    user: bool,
    tls: bool,
}

impl Default for ConnectOptions {
    /// etcd-client's default: as [`ConnectOptions::new`], but without keep-alive pings on
    /// idle connections.
    fn default() -> Self {
        ConnectOptions {
            inner: ConnectOptions::new()
                .inner
                .with_keep_alive_while_idle(false),
            ..ConnectOptions::new()
        }
    }
}

impl ConnectOptions {
    /// No user, no TLS, no request timeout, no automatic token refresh.
    pub const fn new() -> Self {
        ConnectOptions {
            inner: etcdgw::ConnectOptions::new()
                .with_auto_token_refresh(false)
                .with_timeout(Duration::MAX),
            timeout: None,
            user: false,
            tls: false,
        }
    }

    /// Authenticates as this user, in `connect` (a wrong password fails `connect`, as in
    /// etcd-client). `Debug` does not show the password.
    pub fn with_user(self, name: impl Into<String>, password: impl Into<String>) -> Self {
        ConnectOptions {
            inner: self.inner.with_user(name, password),
            user: true,
            ..self
        }
    }

    /// Connects over TLS: endpoints must be `https://` (or scheme-less).
    #[cfg(feature = "_tls")]
    pub fn with_tls(self, tls: crate::TlsOptions) -> Self {
        ConnectOptions {
            inner: self.inner.with_tls(tls),
            tls: true,
            ..self
        }
    }

    /// Checks that a silent connection is alive every `interval`, giving up after `timeout`.
    pub fn with_keep_alive(self, interval: Duration, timeout: Duration) -> Self {
        ConnectOptions {
            inner: self.inner.with_keep_alive(interval, timeout),
            ..self
        }
    }

    /// A deadline for each request (and for the calls that wait: lock, campaign); none by
    /// default.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        ConnectOptions {
            inner: self.inner.with_timeout(timeout),
            timeout: Some(timeout),
            ..self
        }
    }

    /// A deadline for opening a connection.
    pub fn with_connect_timeout(self, timeout: Duration) -> Self {
        ConnectOptions {
            inner: self.inner.with_connect_timeout(timeout),
            ..self
        }
    }

    /// TCP keep-alive probes on every connection.
    pub fn with_tcp_keepalive(self, tcp_keepalive: Duration) -> Self {
        ConnectOptions {
            inner: self.inner.with_tcp_keepalive(tcp_keepalive),
            ..self
        }
    }

    /// Whether keep-alive pings are sent on idle connections too.
    pub fn with_keep_alive_while_idle(self, enabled: bool) -> Self {
        ConnectOptions {
            inner: self.inner.with_keep_alive_while_idle(enabled),
            ..self
        }
    }

    /// Requires a leader: with none, calls fail with `GRpcStatus(Unavailable, "etcdserver: no
    /// leader")`.
    pub fn with_require_leader(self, require_leader: bool) -> Self {
        ConnectOptions {
            inner: self.inner.with_require_leader(require_leader),
            ..self
        }
    }

    /// Whether a request refused for an expired token authenticates again and is sent again,
    /// once (off by default, as in etcd-client).
    pub fn with_auto_token_refresh(self, refresh_expired_token: bool) -> Self {
        ConnectOptions {
            inner: self.inner.with_auto_token_refresh(refresh_expired_token),
            ..self
        }
    }

    /// etcdgw's options for these.
    fn gateway(&self) -> etcdgw::ConnectOptions {
        self.inner.clone()
    }
}
