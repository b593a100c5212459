//! The face: [`Client`] and [`ConnectOptions`]. This module validates the endpoints and builds
//! the shared transport; `Client`'s calls are here too, one file per service (`kv.rs`:
//! `Client::put`, `Client::get`, ...), each a forward to that service's client in `api/`.
//! `api/` knows nothing of `Client`.

mod auth;
mod cluster;
mod election;
mod http;
mod kv;
mod lease;
mod lock;
mod maintenance;
mod watch;

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::api::kv::KvClient;
use crate::error::Error;
use crate::error::Result;
use crate::rt;
use crate::transport::auth::Credentials;
use crate::transport::endpoints::Endpoint;
use crate::transport::{Transport, TransportConfig};

/// Refuses `http://` endpoints with TLS options (as etcd-client does) and `https://` ones in
/// a build without TLS.
fn check_scheme(raw: &str, endpoint: &Endpoint, default_scheme: &str) -> Result<()> {
    let invalid = |reason: &str| Error::InvalidEndpoint {
        endpoint: raw.to_string().into(),
        reason: reason.to_string().into(),
    };
    match endpoint.url().scheme() {
        "http" if default_scheme == "https" => Err(invalid(
            "an http:// endpoint with TLS options; use https://",
        )),
        "https" if !cfg!(feature = "__tls") => Err(invalid("https:// needs the tls feature")),
        _ => Ok(()),
    }
}

/// A client of an etcd cluster over its JSON/HTTP gateway.
///
/// Cheap to clone: clones share one connection pool and one endpoint list. All methods take
/// `&self`, so a client can be shared by many tasks.
///
/// # Examples
/// ```no_run
/// # async fn run() -> etcdgw::Result<()> {
/// use etcdgw::{Client, GetOptions};
///
/// let client = Client::connect(["localhost:2379"], None).await?;
/// client.put("app/name", "etcdgw", None).await?;
/// let resp = client.get("app/", Some(GetOptions::new().with_prefix())).await?;
/// assert_eq!(resp.kvs()[0].value_str()?, "etcdgw");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) transport: Transport,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.transport.endpoint_urls())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Creates a client for the given endpoints (`host:port`, `http://host:port` or
    /// `https://host:port`; a scheme-less endpoint gets `http://`).
    ///
    /// Nothing is sent yet: the first request connects, so an unreachable endpoint shows up
    /// there, as an [`Error::Transport`](crate::Error::Transport) naming it.
    ///
    /// # Errors
    /// [`Error::InvalidEndpoint`](crate::Error::InvalidEndpoint) naming the first endpoint
    /// that is not a usable URL; [`Error::InvalidArgument`](crate::Error::InvalidArgument) if
    /// the list is empty or an option cannot be used (an interval of zero);
    /// [`Error::NoRuntime`](crate::Error::NoRuntime) with
    /// [`ConnectOptions::with_auto_sync_interval`] outside a tokio runtime, where the syncs
    /// (a task of their own) could never run.
    pub async fn connect<E: AsRef<str>, S: AsRef<[E]>>(
        endpoints: S,
        options: Option<ConnectOptions>,
    ) -> Result<Self> {
        let options = options.unwrap_or_default();
        options.check()?;
        let config = options.transport_config();
        let scheme = config.http.default_scheme();
        let endpoints = endpoints
            .as_ref()
            .iter()
            .map(|e| {
                let endpoint = Endpoint::parse(e.as_ref(), scheme)?;
                check_scheme(e.as_ref(), &endpoint, scheme)?;
                Ok(endpoint)
            })
            .collect::<Result<Vec<_>>>()?;
        let auto_sync = match options.auto_sync_interval {
            Some(interval) => Some((rt::Spawner::current("the endpoints' auto-sync")?, interval)),
            None => None,
        };
        let transport = Transport::new(endpoints, config)?;
        let client = Client { transport };
        if let Some((spawner, interval)) = auto_sync {
            client.start_auto_sync(&spawner, interval);
        }
        Ok(client)
    }

    /// Creates a client as etcdctl would make one in this environment: the endpoints, user
    /// and password, TLS files, timeouts and flags of the `ETCDCTL_*` variables, with
    /// etcdctl's defaults (`127.0.0.1:2379`, a 5 s request deadline); see
    /// [`EnvConfig`](crate::env::EnvConfig) for each variable.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] naming a variable whose value cannot be used (a duration
    /// that does not parse, a certificate file that cannot be read, a user without a
    /// password); then as [`connect`](Self::connect).
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run() -> etcdgw::Result<()> {
    /// // ETCDCTL_ENDPOINTS=http://10.0.0.1:2379,http://10.0.0.2:2379
    /// let client = etcdgw::Client::from_env().await?;
    /// client.put("greeting", "hello", None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn from_env() -> Result<Self> {
        Client::from_env_config(&crate::env::EnvConfig::from_env()?).await
    }

    /// Creates a client of the endpoints these settings name, with the options they describe
    /// (variables given by the caller, or adjusted after [`from_env`](Self::from_env)'s
    /// reading).
    ///
    /// # Errors
    /// As [`EnvConfig::connect_options`](crate::env::EnvConfig::connect_options), then as
    /// [`connect`](Self::connect).
    pub async fn from_env_config(config: &crate::env::EnvConfig) -> Result<Self> {
        Client::connect(config.endpoints(), Some(config.connect_options()?)).await
    }

    /// The client's endpoints, in order.
    pub fn endpoints(&self) -> Vec<Url> {
        self.transport.endpoint_urls()
    }

    /// Each endpoint with whether it is in rotation: false while it is skipped as down (it is
    /// probed in the background and comes back as soon as it answers).
    pub fn endpoint_health(&self) -> Vec<(Url, bool)> {
        self.transport.endpoint_health()
    }

    /// Adds an endpoint (as etcd-client's).
    ///
    /// # Errors
    /// [`Error::InvalidEndpoint`] naming it if it is not a usable URL.
    pub async fn add_endpoint<E: AsRef<str>>(&self, endpoint: E) -> Result<()> {
        self.transport.add_endpoint(endpoint.as_ref())
    }

    /// Removes an endpoint (as etcd-client's); an endpoint not in the list is ignored.
    ///
    /// # Errors
    /// [`Error::InvalidEndpoint`] if it is not a usable URL; [`Error::InvalidArgument`] for the
    /// last endpoint.
    pub async fn remove_endpoint<E: AsRef<str>>(&self, endpoint: E) -> Result<()> {
        self.transport
            .remove_endpoint(endpoint.as_ref())
            .map(|_| ())
    }

    /// Replaces the endpoints with the client URLs the cluster advertises (its started voting
    /// members; learners cannot serve linearizable requests), as Go's `Sync` does, and returns
    /// the new list.
    ///
    /// # Errors
    /// The member list's errors; [`Error::InvalidArgument`] if no member advertises a client
    /// URL.
    pub async fn sync_endpoints(&self) -> Result<Vec<Url>> {
        // The leader's view: a member cut off from the others may know an outdated list.
        let members = self
            .cluster_client()
            .member_list_with(Some(
                crate::api::cluster::MemberListOptions::new().with_linearizable(),
            ))
            .await?;
        let urls: Vec<String> = members
            .members()
            .iter()
            .filter(|m| !m.name().is_empty() && !m.is_learner())
            .flat_map(|m| m.client_urls().iter().cloned())
            .collect();
        self.transport.replace_endpoints(&urls)
    }

    fn start_auto_sync(&self, spawner: &rt::Spawner, interval: Duration) {
        let weak = self.transport.downgrade();
        spawner.spawn(async move {
            loop {
                rt::sleep(interval).await;
                let Some(transport) = weak.upgrade() else {
                    return;
                };
                // A failed sync keeps the list as it is; the next one tries again.
                let _ = Client { transport }.sync_endpoints().await;
            }
        });
    }

    /// Authenticates again with the stored user and password, or drops the token if there
    /// are none (as etcd-client's). Tokens are refreshed on their own when they expire; this
    /// is for a caller who knows better (a password changed elsewhere, say).
    ///
    /// # Errors
    /// [`AuthFailed`](crate::ServerErrorKind::AuthFailed) for a wrong password.
    pub async fn refresh_token(&self) -> Result<()> {
        self.transport.refresh_token().await
    }

    /// Switches to another user and authenticates as them now; `None` sends no token from now
    /// on (as etcd-client's).
    ///
    /// # Errors
    /// [`AuthFailed`](crate::ServerErrorKind::AuthFailed) for a wrong password; the client then
    /// has the new credentials but no token.
    pub async fn update_user(&self, user: Option<(String, String)>) -> Result<()> {
        let credentials = user.map(|(name, password)| Credentials { name, password });
        self.transport.set_credentials(credentials).await
    }

    /// How many times this client (with its clones) fetched an auth token: once at first
    /// use, and once per expiry it recovered from.
    pub fn token_refreshes(&self) -> u64 {
        self.transport.token_refreshes()
    }

    /// A handle on this client (the same connections, endpoints and token) whose calls have
    /// this deadline, retries included, as Go's `context.WithTimeout` gives a call: ordinary
    /// calls use it instead of the request timeout, and calls that block by design (lock,
    /// campaign) use it instead of waiting until done, and tell the server, so it stops
    /// waiting too. A call that runs out fails with [`Error::Timeout`], which says whether the
    /// request may have reached the server. Dropping a call's future still cancels it.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// use std::time::Duration;
    ///
    /// let quick = client.with_timeout(Duration::from_millis(500));
    /// let value = quick.get("config/mode", None).await?;
    /// // Waits at most 5 s for the lock, and the server knows it.
    /// let lock = client.with_timeout(Duration::from_secs(5)).lock("jobs/nightly", None).await?;
    /// # let _ = (value, lock);
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            transport: self.transport.with_timeout(timeout),
        }
    }

    /// A handle on this client whose calls require a leader, or not (see
    /// [`ConnectOptions::with_require_leader`]); the same connections, endpoints and token.
    /// In a browser, calls of a handle that requires a leader fail with
    /// [`Error::InvalidArgument`]: etcd's CORS answer does not allow the header (Node.js, Deno
    /// and Cloudflare Workers send it; README, "On the edge").
    pub fn with_require_leader(&self, require_leader: bool) -> Client {
        Client {
            transport: self.transport.with_require_leader(require_leader),
        }
    }

    /// The KV service, sharing this client's connections.
    pub fn kv_client(&self) -> KvClient {
        KvClient::new(self.transport.clone())
    }
}

/// How a [`Client`] connects. Start from [`ConnectOptions::new`]; each setter returns `Self`.
#[derive(Clone)]
#[must_use]
pub struct ConnectOptions {
    user: Option<Credentials>,
    auto_token_refresh: bool,
    #[cfg(feature = "__tls")]
    tls: Option<crate::tls::TlsOptions>,
    timeout: Duration,
    connect_timeout: Duration,
    keep_alive: Option<(Duration, Duration)>,
    keep_alive_while_idle: bool,
    tcp_keepalive: Option<Duration>,
    require_leader: bool,
    max_message_size: usize,
    auto_sync_interval: Option<Duration>,
    read_coalescing: bool,
    http: http::HttpOptions,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions::new()
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ConnectOptions");
        d.field("user", &self.user.as_ref().map(|c| &c.name))
            .field("password", &self.user.as_ref().map(|_| "<redacted>"))
            .field("auto_token_refresh", &self.auto_token_refresh);
        #[cfg(feature = "__tls")]
        d.field("tls", &self.tls);
        d.field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("keep_alive", &self.keep_alive)
            .field("keep_alive_while_idle", &self.keep_alive_while_idle)
            .field("tcp_keepalive", &self.tcp_keepalive)
            .field("require_leader", &self.require_leader)
            .field("max_message_size", &self.max_message_size)
            .field("auto_sync_interval", &self.auto_sync_interval)
            .field("read_coalescing", &self.read_coalescing)
            .field("http", &self.http)
            .finish()
    }
}

/// The request deadline when none is set: long enough for etcd's own 7 s proposal timeout to
/// answer first when quorum is lost.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The TCP (and TLS) connect deadline when none is set.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a request may go without an answer before its member is checked, and how long
/// the check waits, when not set with [`ConnectOptions::with_keep_alive`].
const DEFAULT_LIVENESS: (Duration, Duration) = (Duration::from_secs(3), Duration::from_secs(2));
/// The largest stream message accepted when none is set.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = crate::transport::framing::DEFAULT_MAX_MESSAGE;

impl ConnectOptions {
    /// The defaults: a 10 s request deadline, a 3 s connect deadline, no leader required.
    pub const fn new() -> Self {
        ConnectOptions {
            user: None,
            auto_token_refresh: true,
            #[cfg(feature = "__tls")]
            tls: None,
            timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            keep_alive: None,
            keep_alive_while_idle: true,
            tcp_keepalive: None,
            require_leader: false,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            auto_sync_interval: None,
            read_coalescing: true,
            http: http::HttpOptions::new(),
        }
    }

    /// The options the `ETCDCTL_*` variables describe, with etcdctl's defaults (a 5 s request
    /// deadline, a 2 s connect deadline); see [`EnvConfig`](crate::env::EnvConfig). The
    /// endpoints are [`EnvConfig::endpoints`](crate::env::EnvConfig::endpoints), or
    /// [`Client::from_env`] takes both.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] naming the variable whose value cannot be used.
    pub fn from_env() -> Result<Self> {
        crate::env::EnvConfig::from_env()?.connect_options()
    }

    /// Authenticates as this user. The token is fetched on first use (not in `connect`, so an
    /// unreachable endpoint is still reported as such), sent with every request, and fetched
    /// again when it expires. `Debug` never shows the password.
    pub fn with_user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some(Credentials {
            name: name.into(),
            password: password.into(),
        });
        self
    }

    /// Whether an expired or invalid token is fetched again and the request repeated, once
    /// (default true; etcd-client's name).
    pub const fn with_auto_token_refresh(mut self, refresh_expired_token: bool) -> Self {
        self.auto_token_refresh = refresh_expired_token;
        self
    }

    /// Connects over TLS: endpoints without a scheme get `https://`, and `http://` ones are
    /// refused.
    #[cfg(feature = "__tls")]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "tls", feature = "tls-ring"))))]
    pub fn with_tls(mut self, tls: crate::tls::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The deadline of each request, retries included (default 10 s). Streams (watches) are not
    /// bound by it.
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The deadline for opening a connection (default 3 s). Ignored on wasm32 (the JavaScript
    /// host's fetch decides).
    pub const fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How a silent member is found: a request (or a watch) without an answer for `interval`
    /// makes the client check that the member still answers at all (a status request); no
    /// answer within `timeout`, and the member is given up on and the request or watch moves
    /// to another endpoint. Over TLS (HTTP/2) the same values drive keep-alive pings. The
    /// default is a 3 s interval and a 2 s timeout; [`Client::connect`] refuses an interval of
    /// zero.
    pub const fn with_keep_alive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keep_alive = Some((interval, timeout));
        self
    }

    /// Replaces the endpoints with the cluster's advertised client URLs every `interval`
    /// (see [`Client::sync_endpoints`]); [`Client::connect`] refuses an interval of zero.
    pub const fn with_auto_sync_interval(mut self, interval: Duration) -> Self {
        self.auto_sync_interval = Some(interval);
        self
    }

    /// Whether HTTP/2 keep-alive pings are sent on idle connections too (default true).
    pub const fn with_keep_alive_while_idle(mut self, enabled: bool) -> Self {
        self.keep_alive_while_idle = enabled;
        self
    }

    /// TCP keep-alive probes on every connection. Ignored on wasm32 (the JavaScript host's
    /// fetch decides).
    pub const fn with_tcp_keepalive(mut self, interval: Duration) -> Self {
        self.tcp_keepalive = Some(interval);
        self
    }

    /// Requires a leader: with none (quorum lost), calls fail at once with
    /// [`NoLeader`](crate::ServerErrorKind::NoLeader) instead of waiting for etcd's 7 s
    /// timeout, serializable reads included (Go's `WithRequireLeader`).
    ///
    /// Not in a browser: etcd's CORS answer does not allow the header that asks for it, so
    /// `Client::connect` refuses it there with [`Error::InvalidArgument`](crate::Error::InvalidArgument).
    /// Node.js, Deno and Cloudflare Workers apply no CORS, and send it as a native client does.
    pub const fn with_require_leader(mut self, require_leader: bool) -> Self {
        self.require_leader = require_leader;
        self
    }

    /// The largest message a stream (watch, keep-alive, observe, snapshot) may send, in bytes
    /// (default 64 MiB). A larger one ends that stream with
    /// [`Error::MessageTooLarge`](crate::Error::MessageTooLarge) instead of being buffered.
    /// etcd sends a watch answer whole, however large, unless the watch asks for fragments.
    pub const fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Whether point gets that wait behind the gets already in flight go to the server
    /// together, as one request (default true). etcdgw's own option: etcd-client has none.
    ///
    /// A get of one key at the latest revision goes out at once while fewer than two gets
    /// are in flight (an idle client waits for nothing); beyond that, gets wait, and when a
    /// request finishes everything waiting goes as one txn of range operations (identical
    /// gets share one range), within the server's limits (128 operations, learned lower from
    /// a `TooManyOps` answer). Each caller gets its own [`GetResponse`](crate::GetResponse),
    /// with the txn's header. The gateway costs etcd 2–3× the CPU per request of a gRPC call,
    /// so fewer, fuller requests serve many more gets (BENCHMARKS.md, W4).
    ///
    /// Each answer is still linearizable: a get only joins a request sent after it was
    /// issued, never one already in flight, and that request is a new linearizable read, so
    /// its one revision is no older than the store was when any of its gets was issued.
    /// Serializable gets go together only with serializable ones; gets of a range or at a
    /// revision always go alone. A batch that fails (one key's permission denied fails the
    /// whole txn) is sent again one get at a time, so no caller gets an error its own get
    /// would not have got. A batch is one HTTP request in the request metrics
    /// (`docs/METRICS.md`).
    pub const fn with_read_coalescing(mut self, enabled: bool) -> Self {
        self.read_coalescing = enabled;
        self
    }

    /// Refuses durations that would make a background loop spin: a zero liveness interval
    /// (a probe after every probe) or a zero auto-sync interval.
    fn check(&self) -> Result<()> {
        if self
            .keep_alive
            .is_some_and(|(interval, _)| interval.is_zero())
        {
            return Err(Error::invalid(
                "with_keep_alive: the interval must be longer than zero",
            ));
        }
        if self.auto_sync_interval.is_some_and(|i| i.is_zero()) {
            return Err(Error::invalid(
                "with_auto_sync_interval: the interval must be longer than zero",
            ));
        }
        self.http.check()
    }

    fn transport_config(&self) -> TransportConfig {
        let (headers, user_agent, streams) = self.http.transport();
        let mut config = TransportConfig {
            request_timeout: self.timeout,
            require_leader: self.require_leader,
            max_message_size: self.max_message_size,
            liveness: self.keep_alive.unwrap_or(DEFAULT_LIVENESS),
            credentials: self.user.clone(),
            auto_token_refresh: self.auto_token_refresh,
            http: rt::NativeHttpSettings {
                connect_timeout: self.connect_timeout,
                tcp_keepalive: self.tcp_keepalive,
                http2_keep_alive: self.keep_alive,
                keep_alive_while_idle: self.keep_alive_while_idle,
                #[cfg(feature = "__tls")]
                tls: self.tls.clone(),
                custom: Default::default(),
            },
            read_coalescing: self.read_coalescing,
            headers,
            user_agent,
            streams,
        };
        self.http.customize(&mut config.http);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn intervals_of_zero_are_refused_before_anything_starts() {
        for options in [
            ConnectOptions::new().with_keep_alive(Duration::ZERO, Duration::from_secs(1)),
            ConnectOptions::new().with_auto_sync_interval(Duration::ZERO),
        ] {
            let err = Client::connect(["http://127.0.0.1:9"], Some(options))
                .await
                .unwrap_err();
            assert!(
                matches!(&err, Error::InvalidArgument { reason } if reason.contains("longer than zero")),
                "{err}"
            );
        }
    }

    /// `futures_executor::block_on` is an executor but not a tokio runtime: a call that needs a
    /// task in the background says so before sending anything (nothing listens on port 9, and
    /// nothing panics). The session's and the cache's tests do the same.
    #[test]
    fn outside_a_runtime_calls_that_need_a_task_say_so() {
        futures_executor::block_on(async {
            let options = ConnectOptions::new().with_auto_sync_interval(Duration::from_secs(1));
            let err = Client::connect(["http://127.0.0.1:9"], Some(options))
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::NoRuntime {
                        task: "the endpoints' auto-sync"
                    }
                ),
                "{err:?}"
            );
            let client = Client::connect(["http://127.0.0.1:9"], None).await.unwrap();
            let leases = client.lease_client();
            for err in [
                leases.grant_managed(10, None).await.unwrap_err(),
                leases.keep_alive_managed(1).await.unwrap_err(),
            ] {
                assert!(
                    matches!(
                        err,
                        Error::NoRuntime {
                            task: "a managed lease's keep-alive"
                        }
                    ),
                    "{err:?}"
                );
                assert!(err.to_string().contains("no tokio runtime"), "{err}");
            }
        });
    }
}
