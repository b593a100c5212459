//! [`ConnectOptions`]' settings for the HTTP between the client and etcd, for networks where a
//! reverse proxy, an API gateway or a load balancer stands in between: headers of the
//! application's own on every request, the User-Agent, the application's own HTTP client, and
//! how watches and observes are carried ([`StreamMode`]).

use std::fmt;
use std::time::Duration;

use super::ConnectOptions;
use crate::error::{Error, Result};
use crate::rt::{CustomClient, NativeHttpSettings};
use crate::transport::{
    HeaderList, StreamConfig, StreamMode, DEFAULT_LONG_POLL_INTERVAL, DEFAULT_STREAMS_PER_ENDPOINT,
};

/// The HTTP settings of a [`ConnectOptions`] (one field there, so that they stay together).
#[derive(Clone)]
pub(crate) struct HttpOptions {
    headers: HeaderList,
    user_agent: Option<String>,
    client: CustomClient,
    stream_mode: StreamMode,
    long_poll_interval: Duration,
    websocket: bool,
    streams_per_endpoint: usize,
}

impl HttpOptions {
    pub(crate) const fn new() -> Self {
        HttpOptions {
            headers: HeaderList::new(),
            user_agent: None,
            client: CustomClient::None,
            stream_mode: StreamMode::Auto,
            long_poll_interval: DEFAULT_LONG_POLL_INTERVAL,
            websocket: true,
            streams_per_endpoint: DEFAULT_STREAMS_PER_ENDPOINT,
        }
    }

    /// Refuses settings that cannot work, before anything starts (the headers themselves are
    /// checked when the transport is built).
    pub(crate) fn check(&self) -> Result<()> {
        if self.long_poll_interval < Duration::from_millis(100) {
            return Err(Error::invalid(
                "with_long_poll_interval: at least 100 ms (each poll is a request)",
            ));
        }
        if self.streams_per_endpoint == 0 {
            return Err(Error::invalid(
                "with_streams_per_endpoint: at least 1 (the watches need a request to go on)",
            ));
        }
        Ok(())
    }

    /// The transport's share of these settings: headers, User-Agent, streams.
    pub(crate) fn transport(&self) -> (HeaderList, Option<String>, StreamConfig) {
        (
            self.headers.clone(),
            self.user_agent.clone(),
            StreamConfig {
                mode: self.stream_mode,
                poll_interval: self.long_poll_interval,
                websocket: self.websocket,
                per_endpoint: self.streams_per_endpoint,
            },
        )
    }

    /// Puts the application's HTTP client (or its changes to etcdgw's) in the HTTP settings.
    pub(crate) fn customize(&self, settings: &mut NativeHttpSettings) {
        settings.custom = self.client.clone();
    }
}

impl fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpOptions")
            .field("headers", &self.headers)
            .field("user_agent", &self.user_agent)
            .field("client", &self.client)
            .field("stream_mode", &self.stream_mode)
            .field("long_poll_interval", &self.long_poll_interval)
            .field("websocket", &self.websocket)
            .field("streams_per_endpoint", &self.streams_per_endpoint)
            .finish()
    }
}

impl ConnectOptions {
    /// Adds a header to every request (unary calls, watches, keep-alives, liveness checks): an
    /// API key or a bearer token a proxy in front of etcd wants, a tenant header. Call it again
    /// for more headers (the same name twice sends both values). The value never shows in
    /// `Debug`, in an error or in a log.
    ///
    /// `Client::connect` refuses, with [`Error::InvalidArgument`] naming the header (never its
    /// value), a name or value that is not valid HTTP, and the headers that would break the
    /// protocol: `Content-Type`, `Content-Length`, `Transfer-Encoding` and `Content-Encoding`
    /// (the body is etcdgw's JSON), `Host` (the endpoint URL's), the hop-by-hop headers
    /// (`Connection`, `Keep-Alive`, `TE`, `Trailer`, `Upgrade`, `Proxy-Connection`),
    /// `Proxy-Authorization` (give your own client a proxy with credentials instead),
    /// `User-Agent` ([`with_user_agent`](Self::with_user_agent)), every `Grpc-*` header (the
    /// gateway turns them into settings of the call: a deadline, require-leader, a token), and
    /// `Authorization` when [`with_user`](Self::with_user) is set, since etcd's token goes
    /// there. Without it, an `Authorization` header is sent as given: the proxy must take it
    /// off, for etcd reads any `Authorization` as its token and refuses one it did not issue.
    ///
    /// In a browser, a header of your own makes each request one that needs a CORS preflight,
    /// and etcd's own answer to that allows only `accept`, `content-type` and `authorization`:
    /// the requests then fail as [`Error::Transport`]. Use headers there only through a proxy
    /// that answers preflights allowing them (README, "Behind a proxy").
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.http.headers.0.push((name.into(), value.into()));
        self
    }

    /// Adds several headers to every request; see [`with_header`](Self::with_header).
    pub fn with_headers<N, V>(mut self, headers: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<String>,
        V: Into<String>,
    {
        self.http
            .headers
            .0
            .extend(headers.into_iter().map(|(n, v)| (n.into(), v.into())));
        self
    }

    /// The `User-Agent` of every request. The default is `etcdgw/<version>`, except with
    /// [`with_http_client`](Self::with_http_client), where the client's own stands unless this
    /// is set. A browser sends its own, whatever this says.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.http.user_agent = Some(user_agent.into());
        self
    }

    /// Sends every request through this HTTP client, as it is: its proxy settings, root
    /// certificates, timeouts, connection pool and default headers are the ones used.
    ///
    /// What still applies of etcdgw's: the endpoints, the deadlines (each request's, retries
    /// included, and the liveness checks of [`with_keep_alive`](Self::with_keep_alive), which
    /// need no socket option), auth, [`with_header`](Self::with_header) and
    /// [`with_user_agent`](Self::with_user_agent), retries and failover, stream modes. What
    /// does not: [`with_connect_timeout`](Self::with_connect_timeout),
    /// [`with_tcp_keepalive`](Self::with_tcp_keepalive), the HTTP/2 keep-alive pings of
    /// `with_keep_alive` and `with_keep_alive_while_idle` (those are the client's), and
    /// `with_tls`, which `Client::connect` then refuses: give the client its TLS settings, or
    /// use [`with_http_client_builder`](Self::with_http_client_builder), which keeps etcdgw's.
    /// HTTP/2 works over TLS only (etcd's plain port sends HTTP/2 to its gRPC server): do not
    /// give a client built with `http2_prior_knowledge` `http://` endpoints.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http.client = CustomClient::Client(client);
        self
    }

    /// Builds the HTTP client with etcdgw's settings (connect timeout, keep-alives, TLS) and
    /// then hands the builder to `customize` for the application's own: a proxy
    /// (`reqwest::Proxy`), more root certificates, local address, timeouts. What it sets last
    /// wins; the deadlines, headers, auth and retries stay etcdgw's (see
    /// [`with_http_client`](Self::with_http_client)).
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run() -> etcdgw::Result<()> {
    /// use etcdgw::{Client, ConnectOptions};
    ///
    /// let options = ConnectOptions::new().with_http_client_builder(|builder| {
    ///     builder.no_proxy() // ignore HTTP_PROXY for etcd
    /// });
    /// let client = Client::connect(["http://etcd.internal:2379"], Some(options)).await?;
    /// # let _ = client;
    /// # Ok(()) }
    /// ```
    pub fn with_http_client_builder<F>(mut self, customize: F) -> Self
    where
        F: Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static,
    {
        self.http.client = CustomClient::Builder(std::sync::Arc::new(customize));
        self
    }

    /// How watches and election observes are carried (default [`StreamMode::Auto`]): streamed,
    /// or in long polls, which a proxy that buffers responses lets through (README, "Behind a
    /// proxy"). `Auto` streams, and switches an endpoint to long polls when a stream's first
    /// answer does not come within a second and a check shows the endpoint holds answers back.
    pub const fn with_stream_mode(mut self, mode: StreamMode) -> Self {
        self.http.stream_mode = mode;
        self
    }

    /// How long each long poll lasts (default 1 s, at least 100 ms): the server ends it after
    /// this long, so an event through a buffering proxy arrives within about this long, at the
    /// cost of one request per interval per watch.
    pub const fn with_long_poll_interval(mut self, interval: Duration) -> Self {
        self.http.long_poll_interval = interval;
        self
    }

    /// Whether the client's watches on an `http://` endpoint share one WebSocket to it (default
    /// `true`), as a gRPC client's share one stream: a thousand watches hold one connection,
    /// not a thousand. Creates and cancels go on the socket as they come; a broken socket
    /// resumes each watch exactly once, as a broken HTTP watch does.
    ///
    /// Where a WebSocket cannot carry them, the watches share a few HTTP requests instead
    /// ([`with_streams_per_endpoint`](Self::with_streams_per_endpoint)): with a user on etcd
    /// before 3.5.34 (which takes no token on a socket), through a proxy that refuses the
    /// upgrade (found out once per endpoint), on workerd, in a browser, Node.js or Deno when the
    /// client has headers of its own ([`with_header`](Self::with_header): their `WebSocket`
    /// cannot send them), with [`StreamMode::LongPoll`], and with this set to `false`. On
    /// `https://` endpoints each watch is a request of its own, and HTTP/2 carries them all on
    /// one connection.
    pub const fn with_websocket(mut self, websocket: bool) -> Self {
        self.http.websocket = websocket;
        self
    }

    /// How many watch requests the client holds per `http://` endpoint when no WebSocket
    /// carries its watches (default 4, at least 1; see [`with_websocket`](Self::with_websocket)
    /// for when). The first watches get a request each; later ones join the request with the
    /// fewest: one request body carries many creates, and adding a watch to a request opens a
    /// new one carrying all of them, each from the revision after its last event, while the
    /// old one is read until the new one answers (every event still arrives once, in order).
    /// A bound of 1 holds one connection for any number of watches, at the cost of reopening
    /// it for each watch added. Through a proxy that holds streamed answers back, each shared
    /// request is a long poll ([`StreamMode`]), the next one carrying the watches on.
    ///
    /// Not counted: a watch asking for fragments (a request of its own), election observes,
    /// and waiting locks and campaigns (each a request of its own); in
    /// [`StreamMode::Auto`] the first watch to an endpoint, which finds out whether the
    /// endpoint streams; after a token refresh, the old token's requests until their watches
    /// have moved.
    pub const fn with_streams_per_endpoint(mut self, streams: usize) -> Self {
        self.http.streams_per_endpoint = streams;
        self
    }
}
