//! The only code that touches the network: endpoints, HTTP, headers, deadlines, retries, and
//! the mapping of every answer to a typed result. By concern:
//!
//! - `unary.rs`: the one unary call path ([`Transport::call`]) and its retry loop;
//! - `range.rs`: the path every get takes, and `coalesce/`: the state of read coalescing
//!   (which gets wait, and which go together);
//! - `retry.rs`: what may be tried again;
//! - `streams.rs`: opening a streaming call and reading its messages;
//! - `resume.rs`: the one resumable stream (watch, observe, keep-alive) built on it;
//! - `shared.rs`: watches sharing a carrier: `websocket.rs`, a client's watches on one
//!   WebSocket per `http://` endpoint, or `bundle.rs`, where no socket can be used, a few watch
//!   requests per endpoint whose bodies carry many creates;
//! - `health.rs`: liveness checks and background probes of endpoints that failed;
//! - `ordering.rs`: no answer from another cluster, no read older than one already seen;
//! - `auth.rs`: the token: attached, shared, fetched again when stale;
//! - `decode.rs`, `framing.rs`: answers and stream messages into typed results or errors;
//! - `endpoints.rs`: the endpoint list and which endpoints are down;
//! - `metrics/`: instrumentation (one module with feature `metrics`, one without).
//!
//! The runtime seam it runs on (timers, spawning, the HTTP client's native and browser builds)
//! is the crate's `rt/`, which the other layers use too.

/// A `tracing` event under the target `etcdgw` with feature `tracing`; nothing without it.
/// Messages name endpoints, paths and error kinds, never keys, values, passwords or tokens.
macro_rules! event {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(feature = "tracing")]
        tracing::$level!(target: "etcdgw", $($arg)+);
        #[cfg(not(feature = "tracing"))]
        let _ = || {
            let _ = format_args!($($arg)+);
        };
    }};
}

pub(crate) mod auth;
mod bundle;
// Read coalescing (issue 16): point gets waiting behind those in flight go as one request.
mod coalesce;
mod decode;
pub(crate) mod endpoints;
pub(crate) mod framing;
mod headers;
mod health;
mod incremental;
pub(crate) mod metrics;
mod ordering;
mod range;
pub(crate) mod resume;
pub(crate) mod retry;
mod shared;
mod stream_mode;
mod streams;
mod unary;
mod websocket;

#[cfg(test)]
mod proptests;

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use url::Url;

use crate::error::{Error, Result};
use crate::rt;
use auth::{Auth, Credentials};
pub use bundle::DEFAULT_STREAMS_PER_ENDPOINT;
use endpoints::{Endpoint, Endpoints};
pub(crate) use headers::HeaderList;
pub(crate) use retry::Idempotency;
pub(crate) use stream_mode::StreamConfig;
pub use stream_mode::{StreamMode, DEFAULT_LONG_POLL_INTERVAL};
pub(crate) use streams::OpenStream;

/// How a transport is set up; built by `ConnectOptions`.
#[derive(Debug, Clone)]
pub(crate) struct TransportConfig {
    pub(crate) request_timeout: Duration,
    pub(crate) require_leader: bool,
    pub(crate) max_message_size: usize,
    /// How long a request may go without an answer before its endpoint is probed, and how
    /// long the probe waits.
    pub(crate) liveness: (Duration, Duration),
    pub(crate) credentials: Option<Credentials>,
    pub(crate) auto_token_refresh: bool,
    pub(crate) http: rt::NativeHttpSettings,
    /// Whether point gets waiting behind others go together (`coalesce/`).
    pub(crate) read_coalescing: bool,
    /// Headers of the application's for every request (checked in [`Transport::new`]).
    pub(crate) headers: HeaderList,
    /// The User-Agent asked for, if any.
    pub(crate) user_agent: Option<String>,
    /// How watches and observes are carried (`stream_mode.rs`).
    pub(crate) streams: StreamConfig,
}

/// Per-call settings beyond the defaults.
#[derive(Debug, Clone)]
pub(crate) struct CallOptions {
    pub(crate) idempotency: Idempotency,
    /// Overrides the client's request timeout for this call.
    pub(crate) timeout: Option<Duration>,
    /// Overrides the client's largest stream message for this call.
    pub(crate) max_message_size: Option<usize>,
    /// Sends the call to this endpoint only (per-member maintenance calls), without failover.
    pub(crate) endpoint: Option<Arc<Endpoint>>,
    /// Sends no token (the authenticate call itself).
    pub(crate) anonymous: bool,
    /// Tells the server the deadline too (`Grpc-Timeout`), for calls that block on the server
    /// (lock, campaign): it then stops waiting when the caller does. Other calls go without:
    /// it costs the server a timer per request.
    pub(crate) server_deadline: bool,
    /// A call that blocks by design (lock, campaign): without a timeout of its own, it waits
    /// until done or until its handle's [`Transport::with_timeout`], not the request timeout.
    pub(crate) blocks: bool,
    /// A stream (a watch, an observe) that may be carried by long polls through an endpoint
    /// that holds streamed answers back (`stream_mode.rs`).
    pub(crate) pollable: bool,
}

impl CallOptions {
    pub(crate) fn new(idempotency: Idempotency) -> Self {
        CallOptions {
            idempotency,
            timeout: None,
            max_message_size: None,
            endpoint: None,
            anonymous: false,
            server_deadline: false,
            blocks: false,
            pollable: false,
        }
    }
}

/// The connection to the cluster that a `Client` and all its clones share.
#[derive(Clone)]
pub(crate) struct Transport {
    inner: Arc<Inner>,
    /// This handle's own settings ([`Transport::with_timeout`]); the pool and everything
    /// else are shared.
    overrides: Overrides,
}

/// Settings a handle may give its calls instead of the client's.
#[derive(Debug, Clone, Copy, Default)]
struct Overrides {
    /// The deadline of each call, blocking ones (lock, campaign) included.
    timeout: Option<Duration>,
    require_leader: Option<bool>,
    /// The largest request body (JSON) this handle sends; larger ones fail before sending.
    max_request_bytes: Option<usize>,
    /// The largest unary answer (JSON) this handle reads; a larger one fails as
    /// [`Error::MessageTooLarge`].
    max_response_bytes: Option<usize>,
}

struct Inner {
    http: reqwest::Client,
    endpoints: Endpoints,
    auth: Auth,
    config: TransportConfig,
    /// The cluster the answers come from (0 until the first).
    cluster_id: AtomicU64,
    /// The highest revision seen (`ordering.rs`).
    seen: Mutex<i64>,
    /// The gets waiting to go together (`coalesce/`).
    reads: coalesce::Coalescer,
    /// The application's headers and the User-Agent, for every request.
    headers: headers::RequestHeaders,
    /// The WebSockets the watches share, per endpoint (`websocket.rs`).
    sockets: websocket::Sockets,
    /// The watch requests the watches share where no socket is used (`bundle.rs`).
    bundles: bundle::Bundles,
}

/// A transport handle that lets the transport go when the last client does.
#[derive(Clone)]
pub(crate) struct WeakTransport(std::sync::Weak<Inner>);

impl WeakTransport {
    pub(crate) fn upgrade(&self) -> Option<Transport> {
        self.0.upgrade().map(|inner| Transport {
            inner,
            overrides: Overrides::default(),
        })
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("endpoints", &self.inner.endpoints.urls())
            .field("auth", &self.inner.auth)
            .field("request_timeout", &self.request_timeout())
            .field("require_leader", &self.require_leader())
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(endpoints: Vec<Endpoint>, config: TransportConfig) -> Result<Self> {
        if endpoints.is_empty() {
            return Err(Error::invalid("no endpoints given"));
        }
        if config.require_leader && rt::cors_applies() {
            return Err(Error::invalid(
                "with_require_leader is not available where fetch applies CORS (a browser): \
                 etcd's CORS answer does not allow the header that asks for it",
            ));
        }
        let headers = headers::RequestHeaders::new(
            &config.headers,
            config.user_agent.as_deref(),
            config.http.custom.is_client(),
            config.credentials.is_some(),
            rt::cors_applies(),
        )?;
        #[cfg(feature = "__tls")]
        if config.http.custom.is_client() && config.http.tls.is_some() {
            return Err(Error::invalid(
                "with_http_client and with_tls: an HTTP client of your own brings its own TLS \
                 settings; give yours to it, or change etcdgw's client with \
                 with_http_client_builder instead",
            ));
        }
        let http = rt::http_client(&config.http)?;
        metrics::describe();
        Ok(Transport {
            inner: Arc::new(Inner {
                http,
                endpoints: Endpoints::new(endpoints),
                auth: Auth::new(config.credentials.clone(), config.auto_token_refresh),
                reads: coalesce::Coalescer::new(config.read_coalescing),
                config,
                cluster_id: AtomicU64::new(0),
                seen: Mutex::new(0),
                headers,
                sockets: websocket::Sockets::default(),
                bundles: bundle::Bundles::default(),
            }),
            overrides: Overrides::default(),
        })
    }

    /// A transport to `http://127.0.0.1:9` (where nothing listens) with the defaults, for
    /// tests that send nothing.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Transport {
        let config = TransportConfig {
            request_timeout: Duration::from_secs(10),
            require_leader: false,
            max_message_size: framing::DEFAULT_MAX_MESSAGE,
            liveness: (Duration::from_secs(3), Duration::from_secs(2)),
            credentials: None,
            auto_token_refresh: true,
            http: rt::NativeHttpSettings::default(),
            read_coalescing: true,
            headers: HeaderList::new(),
            user_agent: None,
            streams: StreamConfig::default(),
        };
        let endpoint = Endpoint::parse("http://127.0.0.1:9", "http");
        match endpoint.and_then(|e| Transport::new(vec![e], config)) {
            Ok(transport) => transport,
            Err(err) => panic!("{err}"),
        }
    }

    /// The endpoints' URLs, in order.
    pub(crate) fn endpoint_urls(&self) -> Vec<Url> {
        self.inner.endpoints.urls()
    }

    /// Parses an endpoint as the client's own are parsed (for calls aimed at one member).
    pub(crate) fn endpoint(&self, raw: &str) -> Result<Arc<Endpoint>> {
        Endpoint::parse(raw, self.inner.config.http.default_scheme()).map(Arc::new)
    }

    /// Adds an endpoint to the list.
    pub(crate) fn add_endpoint(&self, raw: &str) -> Result<()> {
        let endpoint = Endpoint::parse(raw, self.inner.config.http.default_scheme())?;
        self.inner.endpoints.add(endpoint);
        Ok(())
    }

    /// Removes an endpoint from the list; returns whether it was there.
    pub(crate) fn remove_endpoint(&self, raw: &str) -> Result<bool> {
        let endpoint = Endpoint::parse(raw, self.inner.config.http.default_scheme())?;
        Ok(self.inner.endpoints.remove(endpoint.url()))
    }

    /// Replaces the endpoint list (keeping what is known of the endpoints that stay).
    pub(crate) fn replace_endpoints(&self, raws: &[String]) -> Result<Vec<Url>> {
        let scheme = self.inner.config.http.default_scheme();
        let endpoints = raws
            .iter()
            .map(|r| Endpoint::parse(r, scheme))
            .collect::<Result<Vec<_>>>()?;
        if endpoints.is_empty() {
            return Err(Error::invalid("no endpoints to replace the list with"));
        }
        self.inner.endpoints.replace(endpoints);
        event!(info, "endpoints are now {:?}", self.inner.endpoints.urls());
        Ok(self.inner.endpoints.urls())
    }

    /// Each endpoint with whether it is in rotation (false while it is skipped as down).
    pub(crate) fn endpoint_health(&self) -> Vec<(Url, bool)> {
        self.inner.endpoints.health()
    }

    /// A handle that does not keep the transport alive (for background tasks).
    pub(crate) fn downgrade(&self) -> WeakTransport {
        WeakTransport(Arc::downgrade(&self.inner))
    }

    /// The client's default request deadline.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.overrides
            .timeout
            .unwrap_or(self.inner.config.request_timeout)
    }

    /// The deadline a blocking call (lock, campaign) has: the one its handle was given with
    /// [`with_timeout`](Self::with_timeout), else none (it waits until done, as in Go and
    /// etcd-client).
    pub(crate) fn blocking_timeout(&self) -> Option<Duration> {
        self.overrides.timeout
    }

    /// Whether calls ask for a leader (`Grpc-Metadata-Hasleader`).
    pub(crate) fn require_leader(&self) -> bool {
        self.overrides
            .require_leader
            .unwrap_or(self.inner.config.require_leader)
    }

    /// A handle on the same pool whose calls have this deadline, retries included; blocking
    /// calls (lock, campaign) too, and they tell the server.
    pub(crate) fn with_timeout(&self, timeout: Duration) -> Transport {
        let mut handle = self.clone();
        handle.overrides.timeout = Some(timeout);
        handle
    }

    /// A handle on the same pool whose calls ask for a leader, or not.
    pub(crate) fn with_require_leader(&self, require_leader: bool) -> Transport {
        let mut handle = self.clone();
        handle.overrides.require_leader = Some(require_leader);
        handle
    }

    /// A handle on the same pool whose requests may be at most `limit` bytes of JSON (etcd-client's
    /// `max_encoding_message_size`).
    pub(crate) fn with_max_request_bytes(&self, limit: usize) -> Transport {
        let mut handle = self.clone();
        handle.overrides.max_request_bytes = Some(limit);
        handle
    }

    /// A handle on the same pool whose unary answers may be at most `limit` bytes of JSON
    /// (etcd-client's `max_decoding_message_size`).
    pub(crate) fn with_max_response_bytes(&self, limit: usize) -> Transport {
        let mut handle = self.clone();
        handle.overrides.max_response_bytes = Some(limit);
        handle
    }

    /// A handle with none of this one's own settings but whether it requires a leader (the
    /// one a read batch is sent with: `coalesce/`).
    pub(crate) fn for_class(&self, require_leader: bool) -> Transport {
        Transport {
            inner: self.inner.clone(),
            overrides: Overrides {
                require_leader: Some(require_leader),
                ..Overrides::default()
            },
        }
    }

    /// The largest unary answer this handle reads, if it has a limit.
    pub(crate) fn max_response_bytes(&self) -> Option<usize> {
        self.overrides.max_response_bytes
    }

    /// Encodes a request as JSON, within this handle's request size limit.
    pub(crate) fn encode<Req: serde::Serialize + ?Sized>(&self, request: &Req) -> Result<Bytes> {
        let body = unary::encode(request)?;
        match self.overrides.max_request_bytes {
            Some(limit) if body.len() > limit => Err(Error::invalid(format!(
                "the request is {} bytes of JSON, more than this client's limit of {limit} \
                 (max_encoding_message_size); nothing was sent",
                body.len()
            ))),
            _ => Ok(body),
        }
    }

    /// How many times this client fetched an auth token.
    pub(crate) fn token_refreshes(&self) -> u64 {
        self.inner.auth.refreshes()
    }
}
