//! The only code that touches the network: endpoints, HTTP, headers, deadlines, retries, and
//! the mapping of every answer to a typed result.
//!
//! Every unary request goes through [`Transport::call`]: it encodes the request once, picks an
//! endpoint, sends it with the request's deadline, maps the answer (etcd's error bodies by
//! their `code` and `message`, never by HTTP status, which differs between 3.4 and 3.5), and
//! retries what [`retry::verdict`] allows on the next endpoint, within the same deadline.

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
pub(crate) use event;

pub(crate) mod auth;
pub(crate) mod endpoints;
pub(crate) mod metrics;
pub(crate) mod retry;
pub(crate) mod rt;
pub(crate) mod stream;

#[cfg(test)]
mod proptests;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use crate::error::{Delivery, Error, Result, ServerError, ServerErrorKind};
use crate::wire::{self, status, Streamed};
use auth::{Auth, Credentials};
use endpoints::{Endpoint, Endpoints};
pub(crate) use retry::Idempotency;
use rt::Instant;
use stream::MessageDecoder;

/// The header the gateway turns into gRPC metadata `hasleader=true` (Go's
/// `clientv3.WithRequireLeader`): with no leader, calls fail at once with `no leader`.
const REQUIRE_LEADER_HEADER: &str = "grpc-metadata-hasleader";
/// The server-side deadline, for calls that block on the server: it stops waiting (a blocked
/// lock, a campaign) when the client does (GATEWAY.md 8).
const GRPC_TIMEOUT_HEADER: &str = "grpc-timeout";

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
        }
    }
}

/// The connection to the cluster that a `Client` and all its clones share.
#[derive(Clone)]
pub(crate) struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoints: Endpoints,
    auth: Auth,
    config: TransportConfig,
    /// The cluster the answers come from (0 until the first).
    cluster_id: AtomicU64,
    /// The highest revision seen, and which endpoint (by address) answered it.
    seen: Mutex<(i64, usize)>,
}

fn urls(endpoints: &[Arc<Endpoint>]) -> Vec<Url> {
    endpoints.iter().map(|e| e.url().clone()).collect()
}

/// A transport handle that lets the transport go when the last client does.
#[derive(Clone)]
pub(crate) struct WeakTransport(std::sync::Weak<Inner>);

impl WeakTransport {
    pub(crate) fn upgrade(&self) -> Option<Transport> {
        self.0.upgrade().map(|inner| Transport { inner })
    }
}

/// How often a down endpoint is probed in the background.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// After attempts that may have reached a server, a final "not sent" does not mean "not
/// applied": say "maybe sent".
fn upgrade_delivery(err: Error, maybe_sent: bool) -> Error {
    match err {
        Error::Transport {
            endpoint,
            delivery: Delivery::NotSent,
            source,
        } if maybe_sent => Error::Transport {
            endpoint,
            delivery: Delivery::MaybeSent,
            source,
        },
        other => other,
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("endpoints", &self.inner.endpoints.urls())
            .field("auth", &self.inner.auth)
            .field("request_timeout", &self.inner.config.request_timeout)
            .field("require_leader", &self.inner.config.require_leader)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(endpoints: Vec<Endpoint>, config: TransportConfig) -> Result<Self> {
        if endpoints.is_empty() {
            return Err(Error::invalid("no endpoints given"));
        }
        if config.require_leader && rt::IN_BROWSER {
            return Err(Error::invalid(
                "with_require_leader is not available in a browser: etcd's CORS answer does not \
                 allow the header that asks for it",
            ));
        }
        let http = rt::http_client(&config.http)?;
        metrics::describe();
        Ok(Transport {
            inner: Arc::new(Inner {
                http,
                endpoints: Endpoints::new(endpoints),
                auth: Auth::new(config.credentials.clone(), config.auto_token_refresh),
                config,
                cluster_id: AtomicU64::new(0),
                seen: Mutex::new((0, 0)),
            }),
        })
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
        if self.inner.endpoints.len() == 1 && self.inner.endpoints.urls()[0] == *endpoint.url() {
            return Err(Error::invalid("cannot remove the last endpoint"));
        }
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
        self.inner.config.request_timeout
    }

    /// How many times this client fetched an auth token.
    pub(crate) fn token_refreshes(&self) -> u64 {
        self.inner.auth.refreshes()
    }

    /// Sends one unary request with the client's default deadline.
    pub(crate) async fn call<Req, Resp>(
        &self,
        path: &'static str,
        request: &Req,
        idempotency: Idempotency,
    ) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned + wire::Answer,
    {
        self.call_with(path, request, CallOptions::new(idempotency))
            .await
    }

    /// Sends one unary request: the one path every unary call takes.
    pub(crate) async fn call_with<Req, Resp>(
        &self,
        path: &'static str,
        request: &Req,
        options: CallOptions,
    ) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned + wire::Answer,
    {
        self.unary(path, request, options)
            .await
            .map(|(resp, _)| resp)
    }

    /// Like [`call_with`](Self::call_with), and says which endpoint answered: for answers whose
    /// meaning is an error the caller must build (a keep-alive of a dead lease).
    pub(crate) async fn call_answered<Req, Resp>(
        &self,
        path: &'static str,
        request: &Req,
        options: CallOptions,
    ) -> Result<(Resp, Url)>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned + wire::Answer,
    {
        let (resp, endpoint) = self.unary(path, request, options).await?;
        Ok((resp, endpoint.url().clone()))
    }

    /// The one unary path: encodes once, then each attempt (within [`with_retries`]) sends
    /// the same bytes; returns the answer and the endpoint that gave it.
    ///
    /// [`with_retries`]: Self::with_retries
    async fn unary<Req, Resp>(
        &self,
        path: &'static str,
        request: &Req,
        options: CallOptions,
    ) -> Result<(Resp, Arc<Endpoint>)>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned + wire::Answer,
    {
        let body = encode(request)?;
        self.with_retries(path, &options, |endpoint, remaining, token| {
            self.attempt::<Resp>(
                endpoint,
                path,
                body.clone(),
                options.server_deadline.then_some(remaining),
                token,
                options.idempotency,
            )
        })
        .await
    }

    /// Opens a streaming call (watch, keep-alive, observe, snapshot) and waits for the
    /// response head, which the gateway sends together with the first message (GATEWAY.md
    /// pitfall 2), so the deadline covers that first message too. Opening is retried like a
    /// read; what happens once the stream is open is the caller's business.
    pub(crate) async fn open_stream<Req>(
        &self,
        path: &'static str,
        request: &Req,
        options: CallOptions,
    ) -> Result<OpenStream>
    where
        Req: Serialize + ?Sized,
    {
        let body = encode(request)?;
        let limit = options
            .max_message_size
            .unwrap_or(self.inner.config.max_message_size);
        let (stream, _) = self
            .with_retries(path, &options, |endpoint, _, token| {
                self.open_attempt(endpoint, path, body.clone(), limit, token)
            })
            .await?;
        Ok(stream)
    }

    /// The one retry loop: picks an endpoint, fetches the token if there is none yet, runs one
    /// attempt within what is left of the deadline (watched by the liveness check), and on
    /// failure asks [`retry::verdict`] whether to try again. A stale token is fetched again and
    /// the attempt repeated, once.
    async fn with_retries<T, F, Fut>(
        &self,
        path: &'static str,
        options: &CallOptions,
        mut attempt: F,
    ) -> Result<(T, Arc<Endpoint>)>
    where
        F: FnMut(Arc<Endpoint>, Duration, Option<Arc<str>>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let timeout = options.timeout.unwrap_or(self.inner.config.request_timeout);
        let deadline = Instant::now() + timeout;
        let max_attempts = match options.endpoint {
            Some(_) => 1,
            None => retry::max_attempts(self.inner.endpoints.len()),
        };
        // Endpoints, not URLs: a URL is copied only if an error needs it.
        let mut tried: Vec<Arc<Endpoint>> = Vec::new();
        let mut attempts = 0u32;
        let mut token_refreshed = false;
        // Whether an earlier attempt may have reached a server: then a later "not sent" does
        // not make the request "not applied".
        let mut maybe_sent = false;
        loop {
            attempts += 1;
            let endpoint = match &options.endpoint {
                Some(pinned) => pinned.clone(),
                None => self
                    .inner
                    .endpoints
                    .pick()
                    .ok_or_else(|| Error::invalid("no endpoints left"))?,
            };
            if tried
                .last()
                .is_none_or(|last| !Arc::ptr_eq(last, &endpoint))
            {
                if let Some(previous) = tried.last() {
                    event!(
                        info,
                        "failing over from {} to {}",
                        previous.url(),
                        endpoint.url()
                    );
                    metrics::failover(path, previous, &endpoint);
                }
                tried.push(endpoint.clone());
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            // An endpoint that never answered yet is checked before it gets a request: a
            // black-holed one then costs one liveness timeout, and no write is sent into it.
            if options.endpoint.is_none() && !self.inner.endpoints.verified(&endpoint) {
                let (_, timeout) = self.inner.config.liveness;
                let probed = rt::timeout(remaining, self.probe(&endpoint, timeout)).await;
                let Ok(probed) = probed else {
                    return Err(Error::Timeout {
                        tried: urls(&tried),
                        after: options.timeout.unwrap_or(self.inner.config.request_timeout),
                        delivery: if maybe_sent {
                            Delivery::MaybeSent
                        } else {
                            Delivery::NotSent
                        },
                    });
                };
                if let Err(err) = probed {
                    self.endpoint_failed(&endpoint, &err);
                    if attempts >= max_attempts || Instant::now() >= deadline {
                        return Err(upgrade_delivery(err, maybe_sent));
                    }
                    metrics::retry(path, &endpoint);
                    continue;
                }
            }
            let counted = metrics::Attempt::start(path, &endpoint);
            let one = async {
                let token = match options.anonymous {
                    true => None,
                    false => self.token().await?,
                };
                let outcome = self
                    .watched(
                        &endpoint,
                        attempt(endpoint.clone(), remaining, token.clone()),
                    )
                    .await;
                Ok::<_, Error>((outcome, token))
            };
            let outcome = rt::timeout(remaining, one).await;
            match &outcome {
                Ok(Ok((result, _))) => counted.finish(result),
                Ok(Err(err)) => counted.failed(err),
                Err(rt::Elapsed) => counted.timed_out(),
            }
            let (err, token) = match outcome {
                Ok(Ok((Ok(value), _))) => {
                    if self.inner.endpoints.report_success(&endpoint) {
                        event!(info, "endpoint {} answers again", endpoint.url());
                    }
                    return Ok((value, endpoint));
                }
                Ok(Ok((Err(err), token))) => (err, token),
                // Authenticating failed (a wrong password, say): that is the answer.
                Ok(Err(err)) => return Err(err),
                Err(rt::Elapsed) => {
                    event!(
                        debug,
                        "no answer within {:?} from {:?}",
                        timeout,
                        urls(&tried)
                    );
                    return Err(Error::Timeout {
                        tried: urls(&tried),
                        after: timeout,
                        delivery: Delivery::MaybeSent,
                    });
                }
            };
            if !token_refreshed
                && !options.anonymous
                && self.inner.auth.auto_refresh
                && auth::is_stale_token(&err)
            {
                token_refreshed = true;
                event!(
                    debug,
                    "token refused by {}: authenticating again",
                    endpoint.url()
                );
                self.refresh_token_after(token.as_ref()).await?;
                metrics::retry(path, &endpoint);
                continue;
            }
            maybe_sent |= err.is_outcome_unknown();
            let verdict = retry::verdict(&err, options.idempotency);
            if verdict.endpoint_failed {
                self.endpoint_failed(&endpoint, &err);
            }
            if !verdict.retry || attempts >= max_attempts {
                return Err(upgrade_delivery(err, maybe_sent));
            }
            let pause = retry::backoff(attempts);
            if Instant::now() + pause >= deadline {
                return Err(upgrade_delivery(err, maybe_sent));
            }
            event!(debug, "retrying after {:?}: {}", pause, err);
            rt::sleep(pause).await;
            metrics::retry(path, &endpoint);
        }
    }

    /// Runs `work` against `endpoint` while checking, every liveness interval without an
    /// answer, that the endpoint still answers at all: a member that accepts connections but
    /// never answers (stopped, black-holed) is given up on after one check, not at the
    /// deadline, so the request can move on.
    pub(crate) async fn watched<T>(
        &self,
        endpoint: &Arc<Endpoint>,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        use futures_util::future::{select, Either};
        let work = std::pin::pin!(work);
        let watchdog = std::pin::pin!(self.watchdog(endpoint));
        match select(work, watchdog).await {
            Either::Left((outcome, _)) => outcome,
            Either::Right((dead, _)) => Err(dead),
        }
    }

    /// Resolves with an error once `endpoint` fails a liveness check; never otherwise.
    async fn watchdog(&self, endpoint: &Arc<Endpoint>) -> Error {
        let (interval, timeout) = self.inner.config.liveness;
        loop {
            rt::sleep(interval).await;
            if self.inner.endpoints.answered_within(endpoint, interval) {
                continue; // another request just got an answer from it
            }
            if let Err(err) = self.probe(endpoint, timeout).await {
                event!(
                    warn,
                    "endpoint {} does not answer a liveness check: {}",
                    endpoint.url(),
                    err
                );
                // The request in flight reached the member: it may still be applied.
                return upgrade_delivery(err, true);
            }
        }
    }

    /// Whether `endpoint` answers a status request (any HTTP answer counts) within `timeout`.
    /// Status needs no token, answers at once even without quorum, and goes where every
    /// gateway call goes (so a proxy in front and a browser's CORS rules let it through).
    async fn probe(&self, endpoint: &Endpoint, timeout: Duration) -> Result<()> {
        let request = self
            .inner
            .http
            .post(endpoint.parsed_url_for(wire::paths::STATUS))
            .body("{}");
        let request = json_content_type(request);
        let answer = rt::timeout(timeout, request.send()).await;
        metrics::liveness_check(endpoint, matches!(answer, Ok(Ok(_))));
        match answer {
            Ok(Ok(_)) => {
                self.inner.endpoints.report_alive(endpoint);
                Ok(())
            }
            // Refused, a TLS failure, a reset: the error says which.
            Ok(Err(e)) => Err(transport_error(endpoint, e)),
            Err(rt::Elapsed) => Err(Error::Transport {
                endpoint: endpoint.url().clone(),
                delivery: Delivery::NotSent,
                source: format!(
                    "no answer to a liveness check within {timeout:?}: the member does not answer"
                )
                .into(),
            }),
        }
    }

    /// Takes an endpoint out of rotation and probes it in the background until it answers.
    pub(crate) fn endpoint_failed(&self, failed: &Arc<Endpoint>, err: &Error) {
        let failure = self.inner.endpoints.report_failure(failed);
        if failure.newly_down {
            event!(warn, "endpoint {} is down: {}", failed.url(), err);
            metrics::endpoint_down(failed);
        }
        let _ = err;
        if failure.start_probe {
            let weak = Arc::downgrade(&self.inner);
            let endpoint = failed.clone();
            let started = rt::try_spawn(async move {
                loop {
                    rt::sleep(PROBE_INTERVAL).await;
                    let Some(inner) = weak.upgrade() else { return };
                    if !inner.endpoints.contains(&endpoint) {
                        return;
                    }
                    let transport = Transport { inner };
                    let timeout = transport.inner.config.liveness.1;
                    if transport.probe(&endpoint, timeout).await.is_ok() {
                        transport.inner.endpoints.report_success(&endpoint);
                        transport.inner.endpoints.probe_done(&endpoint);
                        event!(info, "endpoint {} answers again", endpoint.url());
                        return;
                    }
                    transport.inner.endpoints.still_down(&endpoint);
                }
            });
            if !started {
                self.inner.endpoints.probe_done(failed);
            }
        }
    }

    /// Checks an answer against what was seen before: the same cluster, and for reads no
    /// older revision than one already seen from another endpoint (Go's `ordering` package):
    /// after a failover, a lagging member must not take the caller back in time.
    pub(crate) fn check_answer(
        &self,
        endpoint: &Arc<Endpoint>,
        header: Option<&wire::ResponseHeader>,
        idempotency: Idempotency,
    ) -> Result<()> {
        let Some(header) = header else { return Ok(()) };
        let cluster = header.cluster_id.0;
        if cluster != 0 {
            if let Err(known) = self.inner.cluster_id.compare_exchange(
                0,
                cluster,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                if known != cluster {
                    return Err(Error::ClusterMismatch {
                        endpoint: endpoint.url().clone(),
                        expected: known,
                        got: cluster,
                    });
                }
            }
        }
        let revision = header.revision.0;
        if revision > 0 {
            let mut seen = self.inner.seen.lock().unwrap_or_else(|e| e.into_inner());
            let (max, from) = *seen;
            let same_member = from == Arc::as_ptr(endpoint) as usize;
            if revision < max && !same_member && idempotency == Idempotency::Read {
                return Err(Error::StaleRevision {
                    endpoint: endpoint.url().clone(),
                    seen: max,
                    got: revision,
                });
            }
            if revision >= max {
                *seen = (revision, Arc::as_ptr(endpoint) as usize);
            }
        }
        Ok(())
    }

    /// The token to send: none without credentials, the current one, or a new one.
    async fn token(&self) -> Result<Option<Arc<str>>> {
        let auth = &self.inner.auth;
        if !auth.has_credentials() {
            return Ok(None);
        }
        match auth.token() {
            Some(token) => Ok(Some(token)),
            None => self.refresh_token_after(None).await,
        }
    }

    /// Fetches a new token because `stale` (the one a request used, if any) failed; if another
    /// request already fetched a newer one meanwhile, that one is used instead.
    pub(crate) fn refresh_token_after<'a>(
        &'a self,
        stale: Option<&'a Arc<str>>,
    ) -> rt::BoxFuture<'a, Result<Option<Arc<str>>>> {
        // Boxed: authenticating is itself a call through `with_retries`.
        Box::pin(async move {
            let auth = &self.inner.auth;
            let _one_at_a_time = auth.refreshing.lock().await;
            let current = auth.token();
            if Auth::changed_since(&current, stale) {
                return Ok(current);
            }
            let Some(credentials) = auth.credentials() else {
                auth.set_token(None);
                return Ok(None);
            };
            let request = wire::auth::AuthenticateRequest {
                name: credentials.name,
                password: credentials.password,
            };
            let options = CallOptions {
                anonymous: true,
                ..CallOptions::new(Idempotency::Read)
            };
            let answer: Result<wire::auth::AuthenticateResponse> = self
                .call_with(wire::paths::AUTH_AUTHENTICATE, &request, options)
                .await;
            match answer {
                Ok(answer) => {
                    let token: Arc<str> = Arc::from(answer.token);
                    auth.set_token(Some(token.clone()));
                    Ok(Some(token))
                }
                // Auth was turned off: send no token at all (a stale one is refused).
                Err(err) if err.server_kind() == Some(ServerErrorKind::AuthNotEnabled) => {
                    auth.set_token(None);
                    Ok(None)
                }
                Err(err) => Err(err),
            }
        })
    }

    /// Replaces the credentials and fetches a token for them now (none: no token at all).
    pub(crate) async fn set_credentials(&self, credentials: Option<Credentials>) -> Result<()> {
        self.inner.auth.set_credentials(credentials);
        self.refresh_token_after(None).await.map(|_| ())
    }

    /// Fetches a new token with the stored credentials, or drops the token if there are none.
    pub(crate) async fn refresh_token(&self) -> Result<()> {
        let current = self.inner.auth.token();
        self.refresh_token_after(current.as_ref()).await.map(|_| ())
    }

    /// Whether this client has credentials (and so may fix an auth refusal by re-authenticating).
    pub(crate) fn has_credentials(&self) -> bool {
        self.inner.auth.has_credentials()
    }

    fn post(
        &self,
        endpoint: &Endpoint,
        path: &'static str,
        body: Bytes,
        token: Option<&Arc<str>>,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .inner
            .http
            .post(endpoint.parsed_url_for(path))
            .body(body);
        request = json_content_type(request);
        if self.inner.config.require_leader {
            request = request.header(REQUIRE_LEADER_HEADER, HeaderValue::from_static("true"));
        }
        if let Some(token) = token {
            // The raw token: `Bearer <token>` is refused (GATEWAY.md pitfall 12).
            if let Ok(mut value) = HeaderValue::from_str(token) {
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
        }
        request
    }

    /// One HTTP exchange with one endpoint.
    async fn attempt<Resp: DeserializeOwned + wire::Answer>(
        &self,
        endpoint: Arc<Endpoint>,
        path: &'static str,
        body: Bytes,
        server_deadline: Option<Duration>,
        token: Option<Arc<str>>,
        idempotency: Idempotency,
    ) -> Result<Resp> {
        let mut request = self.post(&endpoint, path, body, token.as_ref());
        // Not from a browser: etcd's CORS answer does not allow the header. There the server
        // stops waiting when the fetch is aborted (the connection closes) instead.
        if let Some(deadline) = server_deadline.filter(|_| !rt::IN_BROWSER) {
            request = request.header(GRPC_TIMEOUT_HEADER, grpc_timeout(deadline));
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&endpoint, e))?;
        let status = response.status().as_u16();
        let bytes = read_body(response).await.map_err(|e| Error::Transport {
            endpoint: endpoint.url().clone(),
            delivery: Delivery::MaybeSent,
            source: Box::new(e),
        })?;
        let answer: Resp = decode_response(endpoint.url(), path, status, &bytes)?;
        self.check_answer(&endpoint, answer.header(), idempotency)?;
        Ok(answer)
    }

    /// Opens one streaming request on one endpoint; a non-2xx answer is read (bounded) and
    /// mapped like a unary error.
    async fn open_attempt(
        &self,
        endpoint: Arc<Endpoint>,
        path: &'static str,
        body: Bytes,
        limit: usize,
        token: Option<Arc<str>>,
    ) -> Result<OpenStream> {
        let response = self
            .post(&endpoint, path, body, token.as_ref())
            .send()
            .await
            .map_err(|e| transport_error(&endpoint, e))?;
        let status = response.status().as_u16();
        let mut stream = OpenStream {
            body: Box::pin(response.bytes_stream()),
            decoder: MessageDecoder::new(limit),
            endpoint,
            token,
        };
        if (200..300).contains(&status) {
            return Ok(stream);
        }
        // An error answer is small; read at most one message's worth of it.
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.body.next().await {
            match chunk {
                Ok(chunk) if bytes.len() < ERROR_BODY_LIMIT => bytes.extend_from_slice(&chunk),
                Ok(_) => break,
                Err(e) => {
                    return Err(Error::Transport {
                        endpoint: stream.endpoint.url().clone(),
                        delivery: Delivery::MaybeSent,
                        source: Box::new(e),
                    })
                }
            }
        }
        Err(
            decode_response::<serde::de::IgnoredAny>(stream.endpoint.url(), path, status, &bytes)
                .err()
                .unwrap_or_else(|| Error::Decode {
                    endpoint: stream.endpoint.url().clone(),
                    status,
                    reason: "a failed stream answered with a JSON body that is not an error".into(),
                    body_head: body_head(&bytes),
                }),
        )
    }
}

/// Marks a request's body as JSON, except in a browser (see [`rt::IN_BROWSER`]): the gateway
/// reads the body as JSON whatever the header says.
fn json_content_type(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    if rt::IN_BROWSER {
        return request;
    }
    request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
}

/// How much of a failed stream's body is read for its error.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// An open streaming answer, read message by message.
pub(crate) struct OpenStream {
    endpoint: Arc<Endpoint>,
    body: rt::BoxStream<'static, reqwest::Result<Bytes>>,
    decoder: MessageDecoder,
    /// The token the request carried, to tell a stale one from a fresh one.
    token: Option<Arc<str>>,
}

impl fmt::Debug for OpenStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenStream")
            .field("endpoint", self.endpoint.url())
            .finish_non_exhaustive()
    }
}

impl OpenStream {
    /// The endpoint this stream came from.
    pub(crate) fn endpoint(&self) -> &Url {
        self.endpoint.url()
    }

    /// The token the request carried.
    pub(crate) fn token(&self) -> Option<&Arc<str>> {
        self.token.as_ref()
    }

    /// The endpoint this stream came from, to report or watch it.
    pub(crate) fn endpoint_handle(&self) -> Arc<Endpoint> {
        self.endpoint.clone()
    }

    /// The next whole message, `Ok(None)` when the body ended. A body that breaks is a
    /// transport error; a message past the size limit is [`Error::MessageTooLarge`].
    pub(crate) async fn next_message(&mut self) -> Result<Option<Bytes>> {
        loop {
            match self.decoder.next_message() {
                Ok(Some(message)) => return Ok(Some(message)),
                Ok(None) => {}
                Err(too_large) => {
                    return Err(Error::MessageTooLarge {
                        endpoint: self.endpoint.url().clone(),
                        limit: too_large.limit,
                    })
                }
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.decoder.push(&chunk),
                Some(Err(e)) => {
                    return Err(Error::Transport {
                        endpoint: self.endpoint.url().clone(),
                        delivery: Delivery::MaybeSent,
                        source: Box::new(e),
                    })
                }
                None => return Ok(self.decoder.finish()),
            }
        }
    }

    /// The next message decoded: the `result` of a `{"result": ...}` message, etcd's error for
    /// an `{"error": ...}` one. `Ok(None)` when the body ended.
    pub(crate) async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        match self.next_message().await? {
            Some(message) => decode_stream_message(self.endpoint.url(), &message).map(Some),
            None => Ok(None),
        }
    }
}

/// Reads one stream message.
pub(crate) fn decode_stream_message<T: DeserializeOwned>(
    endpoint: &Url,
    message: &[u8],
) -> Result<T> {
    if status::looks_like_error(message) {
        if let Some(s) = status::parse(message) {
            return Err(Error::Server(ServerError::new(
                s.code,
                s.message,
                endpoint.clone(),
            )));
        }
    }
    serde_json::from_slice::<Streamed<T>>(message)
        .map(|e| e.result)
        .map_err(|e| Error::Decode {
            endpoint: endpoint.clone(),
            status: 200,
            reason: format!("not an etcd stream message: {e}"),
            body_head: body_head(message),
        })
}

/// The most memory set aside up front from a `Content-Length` (more grows as it arrives).
const PREALLOCATE_LIMIT: usize = 64 * 1024 * 1024;

/// Reads a whole unary body into one buffer sized from `Content-Length`: collecting the
/// chunks first and joining them after would hold a large answer twice.
async fn read_body(response: reqwest::Response) -> reqwest::Result<Vec<u8>> {
    let expected = response.content_length().unwrap_or(0);
    let mut body = Vec::with_capacity(
        usize::try_from(expected)
            .unwrap_or(0)
            .min(PREALLOCATE_LIMIT),
    );
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(&chunk?);
    }
    Ok(body)
}

fn encode<Req: Serialize + ?Sized>(request: &Req) -> Result<Bytes> {
    serde_json::to_vec(request)
        .map(Bytes::from)
        .map_err(|e| Error::invalid(format!("cannot encode the request: {e}")))
}

/// Maps a failed `send` to a transport error; only a connection that was never made is
/// certainly "not sent".
fn transport_error(endpoint: &Endpoint, err: reqwest::Error) -> Error {
    let delivery = if rt::never_connected(&err) {
        Delivery::NotSent
    } else {
        Delivery::MaybeSent
    };
    Error::Transport {
        endpoint: endpoint.url().clone(),
        delivery,
        source: Box::new(err),
    }
}

/// The `Grpc-Timeout` value for a duration: whole milliseconds, rounded up, at most 8 digits.
fn grpc_timeout(d: Duration) -> HeaderValue {
    let millis = d
        .as_millis()
        .saturating_add(u128::from(d.subsec_nanos() % 1_000_000 != 0));
    let text = if millis < 100_000_000 {
        format!("{millis}m")
    } else {
        format!("{}S", d.as_secs().min(99_999_999))
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("99999999S"))
}

/// How many bytes of an unreadable body an error shows.
const BODY_HEAD: usize = 200;

pub(crate) fn body_head(body: &[u8]) -> String {
    body[..body.len().min(BODY_HEAD)].escape_ascii().to_string()
}

/// Reads a unary answer: the response on 2xx, etcd's error by its code and message on any
/// status, and a decode error naming the endpoint for anything else.
pub(crate) fn decode_response<Resp: DeserializeOwned>(
    endpoint: &Url,
    path: &str,
    status: u16,
    body: &[u8],
) -> Result<Resp> {
    let success = (200..300).contains(&status);
    if success && !status::looks_like_error(body) {
        return serde_json::from_slice(body).map_err(|e| Error::Decode {
            endpoint: endpoint.clone(),
            status,
            reason: format!("not an etcd answer: {e}"),
            body_head: body_head(body),
        });
    }
    match status::parse(body) {
        // The gateway's own answer for a /v3 path this version does not serve: text up to 3.5,
        // JSON from 3.6 on (a real NotFound from etcd has etcd's message, not this one).
        Some(s) if status == 404 && s.code == 5 && s.message == "Not Found" => {
            Err(Error::Unsupported {
                endpoint: endpoint.clone(),
                path: path.to_string(),
            })
        }
        Some(s) => Err(Error::Server(ServerError::new(
            s.code,
            s.message,
            endpoint.clone(),
        ))),
        None if status == 404 && body == b"Not Found\n" => Err(Error::Unsupported {
            endpoint: endpoint.clone(),
            path: path.to_string(),
        }),
        None => Err(Error::Decode {
            endpoint: endpoint.clone(),
            status,
            reason: if status == 404 {
                "no such path: not an etcd gateway, or one without this call".to_string()
            } else {
                "not an etcd error body".to_string()
            },
            body_head: body_head(body),
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A transport for unit tests that never reach the network.
    pub(crate) fn transport_for_tests() -> Transport {
        let endpoint = Endpoint::parse("127.0.0.1:9", "http").unwrap();
        Transport::new(
            vec![endpoint],
            TransportConfig {
                request_timeout: Duration::from_secs(1),
                require_leader: false,
                max_message_size: 1024,
                liveness: (Duration::from_secs(1), Duration::from_secs(1)),
                credentials: None,
                auto_token_refresh: true,
                http: rt::NativeHttpSettings::default(),
            },
        )
        .unwrap()
    }
    use crate::error::ServerErrorKind;
    use crate::wire::{fixtures, kv};

    fn url() -> Url {
        Url::parse("http://127.0.0.1:2379").unwrap()
    }

    #[test]
    fn grpc_timeout_is_whole_milliseconds_rounded_up() {
        assert_eq!(grpc_timeout(Duration::from_millis(1500)), "1500m");
        assert_eq!(grpc_timeout(Duration::from_micros(1)), "1m");
        assert_eq!(grpc_timeout(Duration::from_secs(200_000)), "200000S");
    }

    #[test]
    fn captured_errors_map_by_code_whatever_the_http_status() {
        // 412 on 3.4, 400 on 3.5: the same kind either way.
        for (v, ex) in fixtures::both("33-err-lease-grant-duplicate-id") {
            let err = decode_response::<kv::PutResponse>(
                &url(),
                "/v3/lease/grant",
                ex[0].status,
                &ex[0].body(),
            )
            .unwrap_err();
            assert_eq!(err.server_kind(), Some(ServerErrorKind::LeaseExist), "{v}");
        }
    }

    #[test]
    fn a_non_etcd_server_reads_as_a_decode_error_with_its_status() {
        let ex = &fixtures::capture("83-discovery-non-etcd-post-range.txt")[0];
        match decode_response::<kv::RangeResponse>(&url(), "/v3/kv/range", ex.status, &ex.body()) {
            Err(Error::Decode {
                status, body_head, ..
            }) => {
                assert_eq!(status, ex.status);
                assert!(!body_head.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_path_the_gateway_does_not_serve_is_unsupported() {
        for (v, ex) in fixtures::every("34-err-wrong-path") {
            let err = decode_response::<kv::RangeResponse>(
                &url(),
                "/v3/kv/nope",
                ex[0].status,
                &ex[0].body(),
            )
            .unwrap_err();
            assert!(
                matches!(&err, Error::Unsupported { path, .. } if path == "/v3/kv/nope"),
                "{v}: {err:?}"
            );
        }
        for (v, ex) in fixtures::both("13-path-maintenance-hashkv") {
            // 3.4 and 3.5.1; 3.5.34 and later serve it.
            let err = decode_response::<kv::RangeResponse>(
                &url(),
                "/v3/maintenance/hashkv",
                ex[0].status,
                &ex[0].body(),
            )
            .unwrap_err();
            assert!(matches!(err, Error::Unsupported { .. }), "{v}: {err:?}");
        }
    }

    #[test]
    fn every_version_s_error_bodies_map_to_the_same_kind() {
        for (name, path, kind) in [
            (
                "30-err-compacted-range",
                "/v3/kv/range",
                ServerErrorKind::Compacted,
            ),
            (
                "33-err-lease-not-found-revoke",
                "/v3/lease/revoke",
                ServerErrorKind::LeaseNotFound,
            ),
            (
                "74-auth-token-garbage",
                "/v3/kv/range",
                ServerErrorKind::InvalidAuthToken,
            ),
            (
                "87-auth-nonadmin-hashkv",
                "/v3/maintenance/hashkv",
                ServerErrorKind::PermissionDenied,
            ),
        ] {
            for (v, ex) in fixtures::every(name) {
                let err =
                    decode_response::<kv::RangeResponse>(&url(), path, ex[0].status, &ex[0].body())
                        .unwrap_err();
                if name.starts_with("87") && (v == "v34" || v == "v35") {
                    // No HashKV on the gateway of 3.4 and 3.5.1.
                    assert!(matches!(err, Error::Unsupported { .. }), "{v}: {err:?}");
                    continue;
                }
                assert_eq!(err.server_kind(), Some(kind), "{name} {v}: {err:?}");
            }
        }
    }

    #[test]
    fn hash_kv_answers_decode_where_the_gateway_serves_it() {
        for (v, ex) in fixtures::every("13-path-maintenance-hashkv") {
            let answer = decode_response::<crate::wire::maintenance::HashKvResponse>(
                &url(),
                "/v3/maintenance/hashkv",
                ex[0].status,
                &ex[0].body(),
            );
            match v {
                "v34" | "v35" => assert!(matches!(answer, Err(Error::Unsupported { .. })), "{v}"),
                _ => assert!(answer.unwrap().hash != 0, "{v}"),
            }
        }
    }

    #[test]
    fn an_error_object_in_a_200_body_is_an_error() {
        let body = br#"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}"#;
        let err =
            decode_response::<kv::RangeResponse>(&url(), "/v3/kv/range", 200, body).unwrap_err();
        assert_eq!(err.server_kind(), Some(ServerErrorKind::NoLeader));
    }

    #[test]
    fn json_from_something_else_is_a_decode_error() {
        let err =
            decode_response::<kv::RangeResponse>(&url(), "/v3/kv/range", 200, br#"{"ok":true}"#)
                .unwrap_err();
        assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
        let err = decode_response::<kv::RangeResponse>(
            &url(),
            "/v3/kv/range",
            500,
            br#"{"message":"boom"}"#,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Decode { status: 500, .. }), "{err:?}");
    }
}
