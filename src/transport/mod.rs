//! The only code that touches the network: endpoints, HTTP, headers, deadlines, retries, and
//! the mapping of every answer to a typed result.
//!
//! Every unary request goes through [`Transport::call`]: it encodes the request once, picks an
//! endpoint, sends it with the request's deadline, maps the answer (etcd's error bodies by
//! their `code` and `message`, never by HTTP status, which differs between 3.4 and 3.5), and
//! retries what [`retry::verdict`] allows on the next endpoint, within the same deadline.

pub(crate) mod endpoints;
pub(crate) mod retry;
pub(crate) mod rt;
pub(crate) mod stream;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use crate::error::{Delivery, Error, Result, ServerError};
use crate::wire::{status, Streamed};
use endpoints::{Endpoint, Endpoints};
pub(crate) use retry::Idempotency;
use rt::Instant;
use stream::MessageDecoder;

/// The header the gateway turns into gRPC metadata `hasleader=true` (Go's
/// `clientv3.WithRequireLeader`): with no leader, calls fail at once with `no leader`.
const REQUIRE_LEADER_HEADER: &str = "grpc-metadata-hasleader";
/// The server-side deadline; the server stops waiting (a blocked lock, a stuck proposal) when
/// the client does (GATEWAY.md 8).
const GRPC_TIMEOUT_HEADER: &str = "grpc-timeout";

/// How a transport is set up; built by `ConnectOptions`.
#[derive(Debug, Clone)]
pub(crate) struct TransportConfig {
    pub(crate) request_timeout: Duration,
    pub(crate) require_leader: bool,
    pub(crate) max_message_size: usize,
    pub(crate) http: rt::NativeHttpSettings,
}

/// Per-call settings beyond the defaults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallOptions {
    pub(crate) idempotency: Idempotency,
    /// Overrides the client's request timeout for this call.
    pub(crate) timeout: Option<Duration>,
    /// Overrides the client's largest stream message for this call.
    pub(crate) max_message_size: Option<usize>,
}

impl CallOptions {
    pub(crate) fn new(idempotency: Idempotency) -> Self {
        CallOptions {
            idempotency,
            timeout: None,
            max_message_size: None,
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
    config: TransportConfig,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("endpoints", &self.inner.endpoints.urls())
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
        let http = rt::http_client(&config.http).map_err(|e| Error::InvalidArgument {
            reason: format!("cannot build the HTTP client: {e}"),
        })?;
        Ok(Transport {
            inner: Arc::new(Inner {
                http,
                endpoints: Endpoints::new(endpoints),
                config,
            }),
        })
    }

    /// The endpoints' URLs, in order.
    pub(crate) fn endpoint_urls(&self) -> Vec<Url> {
        self.inner.endpoints.urls()
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
        Resp: DeserializeOwned,
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
        Resp: DeserializeOwned,
    {
        let body = encode(request)?;
        let (resp, _) = self
            .with_retries(options, |endpoint, remaining| {
                self.attempt::<Resp>(endpoint, path, body.clone(), remaining)
            })
            .await?;
        Ok(resp)
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
        Resp: DeserializeOwned,
    {
        let body = encode(request)?;
        let (resp, endpoint) = self
            .with_retries(options, |endpoint, remaining| {
                self.attempt::<Resp>(endpoint, path, body.clone(), remaining)
            })
            .await?;
        Ok((resp, endpoint.url().clone()))
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
            .with_retries(options, |endpoint, _| {
                self.open_attempt(endpoint, path, body.clone(), limit)
            })
            .await?;
        Ok(stream)
    }

    /// The one retry loop: picks an endpoint, runs one attempt within what is left of the
    /// deadline, and on failure asks [`retry::verdict`] whether to try again.
    async fn with_retries<T, F, Fut>(
        &self,
        options: CallOptions,
        mut attempt: F,
    ) -> Result<(T, Arc<Endpoint>)>
    where
        F: FnMut(Arc<Endpoint>, Duration) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let timeout = options.timeout.unwrap_or(self.inner.config.request_timeout);
        let deadline = Instant::now() + timeout;
        let max_attempts = retry::max_attempts(self.inner.endpoints.len());
        let mut tried: Vec<Url> = Vec::new();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let endpoint = self
                .inner
                .endpoints
                .pick()
                .ok_or_else(|| Error::invalid("no endpoints left"))?;
            if tried.last() != Some(endpoint.url()) {
                tried.push(endpoint.url().clone());
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let err = match rt::timeout(remaining, attempt(endpoint.clone(), remaining)).await {
                Ok(Ok(value)) => {
                    self.inner.endpoints.report_success(&endpoint);
                    return Ok((value, endpoint));
                }
                Ok(Err(err)) => err,
                Err(rt::Elapsed) => {
                    return Err(Error::Timeout {
                        tried,
                        after: timeout,
                        delivery: Delivery::MaybeSent,
                    })
                }
            };
            let verdict = retry::verdict(&err, options.idempotency);
            if verdict.endpoint_failed {
                self.inner.endpoints.report_failure(&endpoint);
            }
            if !verdict.retry || attempts >= max_attempts {
                return Err(err);
            }
            let pause = retry::backoff(attempts);
            if Instant::now() + pause >= deadline {
                return Err(err);
            }
            rt::sleep(pause).await;
        }
    }

    fn post(&self, endpoint: &Endpoint, path: &str, body: Bytes) -> reqwest::RequestBuilder {
        let mut request = self
            .inner
            .http
            .post(endpoint.url_for(path))
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        if self.inner.config.require_leader {
            request = request.header(REQUIRE_LEADER_HEADER, HeaderValue::from_static("true"));
        }
        request
    }

    /// One HTTP exchange with one endpoint.
    async fn attempt<Resp: DeserializeOwned>(
        &self,
        endpoint: Arc<Endpoint>,
        path: &str,
        body: Bytes,
        remaining: Duration,
    ) -> Result<Resp> {
        let response = self
            .post(&endpoint, path, body)
            .header(GRPC_TIMEOUT_HEADER, grpc_timeout(remaining))
            .send()
            .await
            .map_err(|e| transport_error(&endpoint, e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| Error::Transport {
            endpoint: endpoint.url().clone(),
            delivery: Delivery::MaybeSent,
            source: Box::new(e),
        })?;
        decode_response(endpoint.url(), status, &bytes)
    }

    /// Opens one streaming request on one endpoint; a non-2xx answer is read (bounded) and
    /// mapped like a unary error.
    async fn open_attempt(
        &self,
        endpoint: Arc<Endpoint>,
        path: &str,
        body: Bytes,
        limit: usize,
    ) -> Result<OpenStream> {
        let response = self
            .post(&endpoint, path, body)
            .send()
            .await
            .map_err(|e| transport_error(&endpoint, e))?;
        let status = response.status().as_u16();
        let mut stream = OpenStream {
            body: Box::pin(response.bytes_stream()),
            decoder: MessageDecoder::new(limit),
            endpoint,
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
            decode_response::<serde::de::IgnoredAny>(stream.endpoint.url(), status, &bytes)
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

/// How much of a failed stream's body is read for its error.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// An open streaming answer, read message by message.
pub(crate) struct OpenStream {
    endpoint: Arc<Endpoint>,
    body: rt::BoxStream<'static, reqwest::Result<Bytes>>,
    decoder: MessageDecoder,
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
        Some(s) => Err(Error::Server(ServerError::new(
            s.code,
            s.message,
            endpoint.clone(),
        ))),
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
                http: rt::NativeHttpSettings {
                    connect_timeout: Duration::from_secs(1),
                    tcp_keepalive: None,
                    http2_keep_alive: None,
                    keep_alive_while_idle: false,
                },
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
            let err = decode_response::<kv::PutResponse>(&url(), ex[0].status, &ex[0].body())
                .unwrap_err();
            assert_eq!(err.server_kind(), Some(ServerErrorKind::LeaseExist), "{v}");
        }
    }

    #[test]
    fn a_non_etcd_server_reads_as_a_decode_error_with_its_status() {
        for name in [
            "83-discovery-non-etcd-post-range.txt",
            "34-err-wrong-path.v35.txt",
        ] {
            let ex = &fixtures::capture(name)[0];
            match decode_response::<kv::RangeResponse>(&url(), ex.status, &ex.body()) {
                Err(Error::Decode {
                    status, body_head, ..
                }) => {
                    assert_eq!(status, ex.status, "{name}");
                    assert!(!body_head.is_empty(), "{name}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_error_object_in_a_200_body_is_an_error() {
        let body = br#"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}"#;
        let err = decode_response::<kv::RangeResponse>(&url(), 200, body).unwrap_err();
        assert_eq!(err.server_kind(), Some(ServerErrorKind::NoLeader));
    }

    #[test]
    fn json_from_something_else_is_a_decode_error() {
        let err = decode_response::<kv::RangeResponse>(&url(), 200, br#"{"ok":true}"#).unwrap_err();
        assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
        let err = decode_response::<kv::RangeResponse>(&url(), 500, br#"{"message":"boom"}"#)
            .unwrap_err();
        assert!(matches!(err, Error::Decode { status: 500, .. }), "{err:?}");
    }
}
