//! The unary call path, the one every request/answer call takes: encode once, pick an
//! endpoint, send with the call's deadline, read the answer, and on failure ask
//! [`retry::verdict`] whether and where to try again, within the same deadline.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::decode::{decode_response, read_body};
use super::endpoints::Endpoint;
use super::{auth, metrics, retry, CallOptions, Idempotency, Transport};
use crate::error::{Delivery, Error, Result};
use crate::rt;
use crate::wire;

/// The header the gateway turns into gRPC metadata `hasleader=true` (Go's
/// `clientv3.WithRequireLeader`): with no leader, calls fail at once with `no leader`.
const REQUIRE_LEADER_HEADER: &str = "grpc-metadata-hasleader";
/// The server-side deadline, for calls that block on the server: it stops waiting (a blocked
/// lock, a campaign) when the client does (GATEWAY.md 8).
pub(super) const GRPC_TIMEOUT_HEADER: &str = "grpc-timeout";

impl Transport {
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
        let body = self.encode(request)?;
        let floor = self.revision_floor();
        let idempotency = options.idempotency;
        self.with_retries(path, &options, |endpoint, server_deadline, token| {
            let body = body.clone();
            async move {
                let answer: Resp = self
                    .attempt(endpoint.clone(), path, body, server_deadline, token)
                    .await?;
                self.check_answer(&endpoint, answer.header(), idempotency, floor)?;
                Ok(answer)
            }
        })
        .await
    }

    /// The one retry loop: each turn picks an endpoint ([`Call::next_endpoint`]), checks an
    /// endpoint that never answered before sending to it ([`Transport::preflight`]), runs one
    /// attempt within what is left of the deadline, watched by the liveness check
    /// ([`Transport::run_attempt`]), and on failure decides whether and when to go again
    /// ([`Transport::after_failure`]): a stale token is fetched again and the attempt repeated,
    /// once; anything else as [`retry::verdict`] says, with backoff, within the deadline.
    pub(super) async fn with_retries<T, F, Fut>(
        &self,
        path: &'static str,
        options: &CallOptions,
        mut attempt: F,
    ) -> Result<(T, Arc<Endpoint>)>
    where
        F: FnMut(Arc<Endpoint>, Option<Duration>, Option<Arc<str>>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        if self.require_leader() && rt::cors_applies() {
            return Err(Error::invalid(
                "with_require_leader is not available where fetch applies CORS (a browser): \
                 etcd's CORS answer does not allow the header that asks for it",
            ));
        }
        let mut call = Call::new(self, path, options);
        loop {
            let endpoint = call.next_endpoint(self).await?;
            if let Err(err) = self.preflight(&mut call, &endpoint).await? {
                if !call.budget_left() {
                    return Err(call.final_error(err));
                }
                metrics::retry(path, &endpoint);
                continue;
            }
            let (err, token) = match self.run_attempt(&call, &endpoint, &mut attempt).await? {
                Ok(value) => return Ok((value, endpoint)),
                Err(failed) => failed,
            };
            self.after_failure(&mut call, &endpoint, err, token.as_ref())
                .await?;
            metrics::retry(path, &endpoint);
        }
    }

    /// Checks an endpoint that never answered before it gets a request: a black-holed one then
    /// costs one liveness timeout, and no write is sent into it. `Ok(Err(_))` is a failed check
    /// (the endpoint is marked down); `Err(_)` ends the call (its deadline passed).
    async fn preflight(&self, call: &mut Call<'_>, endpoint: &Arc<Endpoint>) -> Result<Result<()>> {
        if call.options.endpoint.is_some() || self.inner.endpoints.verified(endpoint) {
            return Ok(Ok(()));
        }
        // Calls arriving together (a thousand watches opened at once) wait for one check.
        let failed_before = endpoint.failed_checks.load(Ordering::Acquire);
        let Ok(_checking) = rt::timeout(call.remaining(), endpoint.first_check.lock()).await else {
            return Err(call.timed_out(call.timeout, call.sent_delivery()));
        };
        if self.inner.endpoints.verified(endpoint) {
            return Ok(Ok(()));
        }
        if endpoint.failed_checks.load(Ordering::Acquire) != failed_before {
            // The check this call waited for failed: on to the next endpoint, as after its own.
            return Ok(Err(Error::Transport {
                endpoint: endpoint.url().clone().into(),
                delivery: Delivery::NotSent,
                source: "the endpoint failed the check before its first request".into(),
            }));
        }
        let (_, probe_timeout) = self.inner.config.liveness;
        match rt::timeout(call.remaining(), self.probe(endpoint, probe_timeout)).await {
            Err(rt::Elapsed) => Err(call.timed_out(call.timeout, call.sent_delivery())),
            Ok(Ok(())) => Ok(Ok(())),
            Ok(Err(err)) => {
                endpoint.failed_checks.fetch_add(1, Ordering::AcqRel);
                self.endpoint_failed(endpoint, &err);
                Ok(Err(err))
            }
        }
    }

    /// One attempt on `endpoint` within what is left of the deadline: the token (fetched if
    /// there is none yet), the request, and the liveness check while it waits. `Ok(Ok(_))` is
    /// the answer; `Ok(Err((error, token)))` a failed attempt with the token it carried; `Err`
    /// ends the call (authenticating failed, or the deadline passed).
    async fn run_attempt<T, F, Fut>(
        &self,
        call: &Call<'_>,
        endpoint: &Arc<Endpoint>,
        attempt: &mut F,
    ) -> Result<std::result::Result<T, (Error, Option<Arc<str>>)>>
    where
        F: FnMut(Arc<Endpoint>, Option<Duration>, Option<Arc<str>>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let remaining = call.remaining();
        let counted = metrics::Attempt::start(call.path, endpoint);
        let one = async {
            let token = match call.options.anonymous {
                true => None,
                false => self.token().await?,
            };
            let outcome = self
                .watched(
                    endpoint,
                    attempt(endpoint.clone(), call.server_deadline(), token.clone()),
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
        match outcome {
            Ok(Ok((Ok(value), _))) => {
                if self.inner.endpoints.report_success(endpoint) {
                    event!(info, "endpoint {} answers again", endpoint.url());
                }
                Ok(Ok(value))
            }
            Ok(Ok((Err(err), token))) => Ok(Err((err, token))),
            // Authenticating failed (a wrong password, say): that is the answer.
            Ok(Err(err)) => Err(err),
            Err(rt::Elapsed) => {
                event!(
                    debug,
                    "no answer within {:?} from {:?}",
                    call.timeout,
                    call.tried_urls()
                );
                Err(call.timed_out(call.timeout, Delivery::MaybeSent))
            }
        }
    }

    /// What a failed attempt means: `Ok(())` to go again (after a backoff pause where one is
    /// due), `Err` to end the call with that error.
    async fn after_failure(
        &self,
        call: &mut Call<'_>,
        endpoint: &Arc<Endpoint>,
        err: Error,
        token: Option<&Arc<str>>,
    ) -> Result<()> {
        if !call.token_refreshed
            && !call.options.anonymous
            && self.inner.auth.auto_refresh
            && auth::is_stale_token(&err)
        {
            call.token_refreshed = true;
            event!(
                debug,
                "token refused by {}: authenticating again",
                endpoint.url()
            );
            self.refresh_token_after(token).await?;
            return Ok(());
        }
        call.maybe_sent |= err.is_outcome_unknown();
        let verdict = retry::verdict(&err, call.options.idempotency);
        if verdict.endpoint_failed {
            self.endpoint_failed(endpoint, &err);
        }
        let pause = rt::backoff(call.attempts);
        if !verdict.retry || call.attempts >= call.max_attempts || call.remaining() <= pause {
            return Err(call.final_error(err));
        }
        event!(debug, "retrying after {:?}: {}", pause, err);
        rt::sleep(pause).await;
        Ok(())
    }

    pub(super) fn post(
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
        request = self.inner.headers.apply(request, token.is_some());
        if self.require_leader() {
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

    /// One HTTP exchange with one endpoint; the caller checks the answer's header
    /// ([`Transport::check_answer`]).
    async fn attempt<Resp: DeserializeOwned + wire::Answer>(
        &self,
        endpoint: Arc<Endpoint>,
        path: &'static str,
        body: Bytes,
        server_deadline: Option<Duration>,
        token: Option<Arc<str>>,
    ) -> Result<Resp> {
        let mut request = self.post(&endpoint, path, body, token.as_ref());
        // Not from a browser: etcd's CORS answer does not allow the header. There the server
        // stops waiting when the fetch is aborted (the connection closes) instead. Node.js,
        // Deno and workerd send it, as a native client does.
        if let Some(deadline) = server_deadline.filter(|_| !rt::cors_applies()) {
            request = request.header(GRPC_TIMEOUT_HEADER, grpc_timeout(deadline));
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&endpoint, e))?;
        let status = response.status().as_u16();
        let bytes = read_body(endpoint.url(), response, self.max_response_bytes()).await?;
        decode_response(endpoint.url(), path, status, &bytes)
    }
}

/// Marks a request's body as JSON, except in a browser (see [`rt::cors_applies`]), where a
/// request without it (and without a token) needs no CORS preflight: the gateway reads the
/// body as JSON whatever the header says.
pub(super) fn json_content_type(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    if rt::cors_applies() {
        return request;
    }
    request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
}

pub(super) fn encode<Req: Serialize + ?Sized>(request: &Req) -> Result<Bytes> {
    serde_json::to_vec(request)
        .map(Bytes::from)
        .map_err(|e| Error::invalid(format!("cannot encode the request: {e}")))
}

/// Maps a failed `send` to a transport error; only a connection that was never made is
/// certainly "not sent".
pub(super) fn transport_error(endpoint: &Endpoint, err: reqwest::Error) -> Error {
    let delivery = if rt::never_connected(&err) {
        Delivery::NotSent
    } else {
        Delivery::MaybeSent
    };
    Error::Transport {
        endpoint: endpoint.url().clone().into(),
        delivery,
        source: Box::new(err),
    }
}

/// After attempts that may have reached a server, a final "not sent" does not mean "not
/// applied": say "maybe sent".
pub(super) fn upgrade_delivery(err: Error, maybe_sent: bool) -> Error {
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

/// The `Grpc-Timeout` value for a duration: at most 8 digits (gRPC's limit) in the finest unit
/// that holds it (milliseconds, seconds, minutes, hours), rounded up, so that the server never
/// stops waiting before the client does; beyond 99,999,999 hours (11,000 years) it says that.
pub(super) fn grpc_timeout(d: Duration) -> HeaderValue {
    const MOST: u128 = 99_999_999;
    let nanos = d.as_nanos();
    let text = [
        (1_000_000u128, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ]
    .iter()
    .map(|&(per, unit)| (nanos.div_ceil(per), unit))
    .find(|&(n, _)| n <= MOST)
    .map_or_else(|| format!("{MOST}H"), |(n, unit)| format!("{n}{unit}"));
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("99999999H"))
}

/// One call's retry budget, and what its attempts found so far.
pub(super) struct Call<'a> {
    path: &'static str,
    options: &'a CallOptions,
    /// The whole call's deadline, retries included; [`Duration::MAX`] for a call that waits
    /// until done.
    timeout: Duration,
    /// When the deadline passes; `None` for a call without one, which then sets no timer.
    deadline: Option<rt::Instant>,
    max_attempts: u32,
    attempts: u32,
    /// The endpoints tried, in order (endpoints, not URLs: a URL is copied only if an error
    /// needs it).
    tried: Vec<Arc<Endpoint>>,
    token_refreshed: bool,
    /// Whether an earlier attempt may have reached a server: then a later "not sent" does not
    /// make the request "not applied".
    maybe_sent: bool,
}

impl<'a> Call<'a> {
    fn new(transport: &Transport, path: &'static str, options: &'a CallOptions) -> Self {
        let timeout = match options.timeout {
            Some(timeout) => timeout,
            None if options.blocks => transport.blocking_timeout().unwrap_or(Duration::MAX),
            None => transport.request_timeout(),
        };
        Call {
            path,
            options,
            timeout,
            deadline: (timeout != Duration::MAX).then(|| rt::deadline_in(timeout)),
            max_attempts: match options.endpoint {
                Some(_) => 1,
                // A call that waits until done has no budget but its deadline, if any.
                None if options.blocks => u32::MAX,
                None => retry::max_attempts(transport.inner.endpoints.len()),
            },
            attempts: 0,
            tried: Vec::new(),
            token_refreshed: false,
            maybe_sent: false,
        }
    }

    /// The deadline to tell the server (`Grpc-Timeout`) for a call that blocks there: what is
    /// left of ours, if ours is one (a call without one waits on the server until it is done or
    /// the connection goes away).
    fn server_deadline(&self) -> Option<Duration> {
        (self.options.server_deadline && self.deadline.is_some()).then(|| self.remaining())
    }

    /// What is left of the deadline; [`Duration::MAX`] (no timer: `rt::timeout`) without one.
    fn remaining(&self) -> Duration {
        self.deadline.map_or(Duration::MAX, |deadline| {
            deadline.saturating_duration_since(rt::Instant::now())
        })
    }

    /// The endpoint for the next attempt: the pinned one, or the transport's pick (noting a
    /// failover when it is not the one tried last).
    async fn next_endpoint(&mut self, transport: &Transport) -> Result<Arc<Endpoint>> {
        self.attempts = self.attempts.saturating_add(1);
        let endpoint = match &self.options.endpoint {
            Some(pinned) => pinned.clone(),
            None => self.pick(transport).await?,
        };
        if self
            .tried
            .last()
            .is_none_or(|last| last.id() != endpoint.id())
        {
            if let Some(previous) = self.tried.last() {
                event!(
                    info,
                    "failing over from {} to {}",
                    previous.url(),
                    endpoint.url()
                );
                metrics::failover(self.path, previous, &endpoint);
            }
            self.tried.push(endpoint.clone());
        }
        Ok(endpoint)
    }

    /// The transport's pick; with no endpoint in the list (all removed), waits for one to be
    /// added until the deadline.
    async fn pick(&self, transport: &Transport) -> Result<Arc<Endpoint>> {
        let endpoints = &transport.inner.endpoints;
        loop {
            let added = endpoints.added();
            if let Some(endpoint) = endpoints.pick() {
                return Ok(endpoint);
            }
            if rt::timeout(self.remaining(), added).await.is_err() {
                return Err(self.timed_out(self.timeout, self.sent_delivery()));
            }
        }
    }

    /// Whether another attempt fits in the call's budget of attempts and time.
    fn budget_left(&self) -> bool {
        self.attempts < self.max_attempts && !self.remaining().is_zero()
    }

    /// The error the call ends with: a final "not sent" after attempts that may have reached a
    /// server says "maybe sent".
    fn final_error(&self, err: Error) -> Error {
        upgrade_delivery(err, self.maybe_sent)
    }

    fn sent_delivery(&self) -> Delivery {
        if self.maybe_sent {
            Delivery::MaybeSent
        } else {
            Delivery::NotSent
        }
    }

    fn tried_urls(&self) -> Vec<Url> {
        self.tried.iter().map(|e| e.url().clone()).collect()
    }

    fn timed_out(&self, after: Duration, delivery: Delivery) -> Error {
        Error::Timeout {
            tried: self.tried_urls(),
            after,
            delivery,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_is_whole_milliseconds_rounded_up() {
        assert_eq!(grpc_timeout(Duration::from_millis(1500)), "1500m");
        assert_eq!(grpc_timeout(Duration::from_micros(1)), "1m");
        assert_eq!(grpc_timeout(Duration::from_secs(200_000)), "200000S");
        // Past 8 digits of seconds (3.2 years) in minutes, then hours: never shorter.
        assert_eq!(grpc_timeout(Duration::from_secs(100_000_000)), "1666667M");
        assert_eq!(
            grpc_timeout(Duration::from_secs(10 * 365 * 24 * 3600)),
            "5256000M"
        );
        assert_eq!(grpc_timeout(Duration::from_secs(6_000_000_000)), "1666667H");
        assert_eq!(grpc_timeout(Duration::MAX), "99999999H");
    }
}
