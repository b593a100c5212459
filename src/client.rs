//! [`Client`] and [`ConnectOptions`]: validating the endpoints and building the shared
//! transport. The calls themselves live with their service in `api/`.

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::api::kv::KvClient;
use crate::error::Result;
use crate::transport::endpoints::Endpoint;
use crate::transport::{rt, Transport, TransportConfig};

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
    /// the list is empty.
    pub async fn connect<E: AsRef<str>, S: AsRef<[E]>>(
        endpoints: S,
        options: Option<ConnectOptions>,
    ) -> Result<Self> {
        let options = options.unwrap_or_default();
        let endpoints = endpoints
            .as_ref()
            .iter()
            .map(|e| Endpoint::parse(e.as_ref(), "http"))
            .collect::<Result<Vec<_>>>()?;
        let transport = Transport::new(endpoints, options.transport_config())?;
        Ok(Client { transport })
    }

    /// The client's endpoints, in order.
    pub fn endpoints(&self) -> Vec<Url> {
        self.transport.endpoint_urls()
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
    timeout: Duration,
    connect_timeout: Duration,
    keep_alive: Option<(Duration, Duration)>,
    keep_alive_while_idle: bool,
    tcp_keepalive: Option<Duration>,
    require_leader: bool,
    max_message_size: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions::new()
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("keep_alive", &self.keep_alive)
            .field("keep_alive_while_idle", &self.keep_alive_while_idle)
            .field("tcp_keepalive", &self.tcp_keepalive)
            .field("require_leader", &self.require_leader)
            .field("max_message_size", &self.max_message_size)
            .finish()
    }
}

/// The request deadline when none is set: long enough for etcd's own 7 s proposal timeout to
/// answer first when quorum is lost.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The TCP (and TLS) connect deadline when none is set.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest stream message accepted when none is set.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = crate::transport::stream::DEFAULT_MAX_MESSAGE;

impl ConnectOptions {
    /// The defaults: a 10 s request deadline, a 3 s connect deadline, no leader required.
    pub const fn new() -> Self {
        ConnectOptions {
            timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            keep_alive: None,
            keep_alive_while_idle: true,
            tcp_keepalive: None,
            require_leader: false,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }

    /// The deadline of each request, retries included (default 10 s). Streams (watches) are not
    /// bound by it.
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The deadline for opening a connection (default 3 s). Ignored in a browser.
    pub const fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// HTTP/2 keep-alive pings every `interval`, the connection dropped if one is not answered
    /// within `timeout`. Applies to TLS endpoints (plain-text endpoints speak HTTP/1.1).
    pub const fn with_keep_alive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keep_alive = Some((interval, timeout));
        self
    }

    /// Whether HTTP/2 keep-alive pings are sent on idle connections too (default true).
    pub const fn with_keep_alive_while_idle(mut self, enabled: bool) -> Self {
        self.keep_alive_while_idle = enabled;
        self
    }

    /// TCP keep-alive probes on every connection. Ignored in a browser.
    pub const fn with_tcp_keepalive(mut self, interval: Duration) -> Self {
        self.tcp_keepalive = Some(interval);
        self
    }

    /// Requires a leader: with none (quorum lost), calls fail at once with
    /// [`NoLeader`](crate::ServerErrorKind::NoLeader) instead of waiting for etcd's 7 s
    /// timeout, serializable reads included (Go's `WithRequireLeader`).
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

    fn transport_config(&self) -> TransportConfig {
        TransportConfig {
            request_timeout: self.timeout,
            require_leader: self.require_leader,
            max_message_size: self.max_message_size,
            http: rt::NativeHttpSettings {
                connect_timeout: self.connect_timeout,
                tcp_keepalive: self.tcp_keepalive,
                http2_keep_alive: self.keep_alive,
                keep_alive_while_idle: self.keep_alive_while_idle,
            },
        }
    }
}
