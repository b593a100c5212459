//! Streaming calls (watch, keep-alive, observe, snapshot): opening one, with the same retries
//! and deadline as a unary read, and reading its messages. What happens when an open stream
//! breaks is `resume.rs`'s business.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::decode::{body_head, decode_response, decode_stream_message};
use super::endpoints::Endpoint;
use super::framing::MessageDecoder;
use super::shared::{NotOpened, Subscription};
use super::stream_mode::{Carriage, DETECT_AFTER};
use super::unary::{encode, grpc_timeout, transport_error, GRPC_TIMEOUT_HEADER};
use super::{CallOptions, Transport};
use crate::error::{Code, Delivery, Error, Result};
use crate::rt;
use crate::wire::paths;

impl Transport {
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
        self.open_encoded(path, encode(request)?, options).await
    }

    /// [`open_stream`](Self::open_stream) with the body encoded already (a resumed stream
    /// encodes its next request itself).
    pub(crate) async fn open_encoded(
        &self,
        path: &'static str,
        body: Bytes,
        mut options: CallOptions,
    ) -> Result<OpenStream> {
        let limit = options
            .max_message_size
            .unwrap_or(self.inner.config.max_message_size);
        let pollable = options.pollable;
        if pollable {
            // Room for a check of the endpoint and a long poll the server ends.
            let base = options.timeout.unwrap_or_else(|| self.request_timeout());
            options.timeout = Some(base.saturating_add(self.open_allowance()));
        }
        let (stream, _) = self
            .with_retries(path, &options, |endpoint, _, token| {
                self.open_carried(endpoint, path, body.clone(), limit, token, pollable)
            })
            .await?;
        Ok(stream)
    }

    /// Opens one stream request on one endpoint the way that endpoint carries streams
    /// (`stream_mode.rs`): streamed, as a long poll, or streamed while its first answer comes
    /// in time, and else as a long poll if the endpoint turns out to hold answers back.
    async fn open_carried(
        &self,
        endpoint: Arc<Endpoint>,
        path: &'static str,
        body: Bytes,
        limit: usize,
        token: Option<Arc<str>>,
        pollable: bool,
    ) -> Result<OpenStream> {
        use futures_util::future::{select, Either};
        if self.on_socket(&endpoint, path, token.is_some()) {
            match self.subscribe(&endpoint, &body, token.clone()).await {
                Ok((subscription, first)) => {
                    return Ok(OpenStream::shared(endpoint, subscription, first, limit))
                }
                Err(NotOpened::UseHttp) => {}
                Err(NotOpened::Failed(err)) => return Err(err),
            }
        }
        // Watches opened together on an endpoint not found out yet wait for the first to find
        // out, then share requests (or go as long polls) as it learned, instead of each taking
        // a connection of its own to find out.
        let detector = endpoint.clone();
        let mut _detecting = None;
        if path == paths::WATCH
            && endpoint.url().scheme() == "http"
            && self.carriage(&endpoint, pollable) == Carriage::Detect
        {
            let guard = detector.detecting.lock().await;
            // Held on only by the watch that finds out; the others go on as it learned.
            if self.carriage(&endpoint, pollable) == Carriage::Detect {
                _detecting = Some(guard);
            }
        }
        if self.in_bundle(&endpoint, path, pollable) {
            match self.bundle_subscribe(&endpoint, &body, token.clone()).await {
                Ok((subscription, first)) => {
                    return Ok(OpenStream::shared(endpoint, subscription, first, limit))
                }
                Err(NotOpened::UseHttp) => {}
                Err(NotOpened::Failed(err)) => return Err(err),
            }
        }
        let poll = match self.carriage(&endpoint, pollable) {
            Carriage::Stream => None,
            Carriage::Poll(interval) => Some(interval),
            Carriage::Detect => {
                let first = async {
                    let mut stream = self
                        .open_attempt(
                            endpoint.clone(),
                            path,
                            body.clone(),
                            limit,
                            token.clone(),
                            None,
                        )
                        .await?;
                    let arrived = stream.peek().await?;
                    Ok::<_, Error>((stream, arrived))
                };
                let first = std::pin::pin!(first);
                let timer = std::pin::pin!(rt::sleep(DETECT_AFTER));
                let first = match select(first, timer).await {
                    Either::Left((opened, _)) => {
                        let (stream, arrived) = opened?;
                        if arrived {
                            self.streams_flow(&endpoint);
                        }
                        return Ok(stream);
                    }
                    Either::Right((_, first)) => first,
                };
                // No first answer in time: something may be holding it back, or there is none
                // yet (an observe before the election has a leader). The check says which.
                if !self.holds_streams_back(&endpoint, token.as_ref()).await? {
                    return first.await.map(|(stream, _)| stream);
                }
                Some(self.inner.config.streams.poll_interval)
            }
        };
        self.open_attempt(endpoint, path, body, limit, token, poll)
            .await
    }

    /// Opens one streaming request on one endpoint; a non-2xx answer is read (bounded) and
    /// mapped like a unary error. `poll`: the request is a long poll the server ends after
    /// this long.
    pub(super) async fn open_attempt(
        &self,
        endpoint: Arc<Endpoint>,
        path: &'static str,
        body: Bytes,
        limit: usize,
        token: Option<Arc<str>>,
        poll: Option<Duration>,
    ) -> Result<OpenStream> {
        let mut request = self.post(&endpoint, path, body, token.as_ref());
        if let Some(interval) = poll {
            request = request.header(GRPC_TIMEOUT_HEADER, grpc_timeout(interval));
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&endpoint, e))?;
        let status = response.status().as_u16();
        let mut body: rt::BoxStream<'static, reqwest::Result<Bytes>> =
            Box::pin(response.bytes_stream());
        let http = |body, endpoint, token| OpenStream {
            source: Source::Http {
                body,
                decoder: MessageDecoder::new(limit),
            },
            endpoint,
            token,
            pending: None,
            ended: false,
            polls: poll.is_some(),
        };
        if (200..300).contains(&status) {
            return Ok(http(body, endpoint, token));
        }
        // An error answer is small; read at most one message's worth of it.
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) if bytes.len() < ERROR_BODY_LIMIT => bytes.extend_from_slice(&chunk),
                Ok(_) => break,
                Err(e) => {
                    return Err(Error::Transport {
                        endpoint: endpoint.url().clone().into(),
                        delivery: Delivery::MaybeSent,
                        source: Box::new(e),
                    })
                }
            }
        }
        let mut stream = http(body, endpoint, token);
        let err =
            decode_response::<serde::de::IgnoredAny>(stream.endpoint.url(), path, status, &bytes)
                .err()
                .unwrap_or_else(|| Error::Decode {
                    endpoint: stream.endpoint.url().clone().into(),
                    status,
                    reason: "a failed stream answered with a JSON body that is not an error".into(),
                    body_head: body_head(&bytes).into(),
                });
        if stream.polls && poll_ended(&err) {
            // A poll the server ended before its first answer (an observe with no leader yet):
            // an empty poll, not a failure.
            stream.ended = true;
            return Ok(stream);
        }
        Err(err)
    }
}

/// Whether an error is the server ending a long poll at its deadline (`Grpc-Timeout`): 3.4 and
/// 3.5 say "context deadline exceeded", 3.7 "stream terminated by RST_STREAM", all with code 4
/// (GATEWAY.md 8).
pub(super) fn poll_ended(err: &Error) -> bool {
    matches!(err, Error::Server(e) if e.code() == Code::DeadlineExceeded)
}

/// How much of a failed stream's body is read for its error.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// An open streaming answer, read message by message.
pub(crate) struct OpenStream {
    endpoint: Arc<Endpoint>,
    source: Source,
    /// The token the request carried, to tell a stale one from a fresh one.
    token: Option<Arc<str>>,
    /// A message read ahead (the first one, while finding out how the endpoint carries streams).
    pending: Option<Bytes>,
    /// The body ended (or, for a poll, the server ended it at its deadline).
    ended: bool,
    /// A long poll: the server ends it at its deadline, and that is its normal end.
    polls: bool,
}

/// Where a stream's messages come from.
enum Source {
    /// An HTTP answer's body, split into messages.
    Http {
        body: rt::BoxStream<'static, reqwest::Result<Bytes>>,
        decoder: MessageDecoder,
    },
    /// A watch on a shared carrier (`shared.rs`: a WebSocket, or a request carrying many
    /// watches), each message whole.
    Shared {
        subscription: Subscription,
        limit: usize,
    },
}

impl fmt::Debug for OpenStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenStream")
            .field("endpoint", self.endpoint.url())
            .finish_non_exhaustive()
    }
}

impl OpenStream {
    /// A watch on a shared carrier, with its first answer.
    fn shared(
        endpoint: Arc<Endpoint>,
        subscription: Subscription,
        first: Bytes,
        limit: usize,
    ) -> OpenStream {
        OpenStream {
            token: subscription.token().cloned(),
            endpoint,
            source: Source::Shared {
                subscription,
                limit,
            },
            pending: Some(first),
            ended: false,
            polls: false,
        }
    }

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

    /// Whether the stream's liveness is checked for it already: a watch on a shared carrier,
    /// which checks the member (one check per carrier, not one per watch).
    pub(crate) fn supervised(&self) -> bool {
        matches!(self.source, Source::Shared { .. })
    }

    /// Whether this is a long poll, whose end is normal (`stream_mode.rs`).
    pub(crate) fn polls(&self) -> bool {
        self.polls
    }

    /// Reads the first message ahead; returns whether one came (not the body's end).
    async fn peek(&mut self) -> Result<bool> {
        if self.pending.is_none() {
            self.pending = self.next_message().await?;
        }
        Ok(self.pending.is_some())
    }

    /// The next whole message, `Ok(None)` when the body ended. A body that breaks is a
    /// transport error; a message past the size limit is [`Error::MessageTooLarge`].
    pub(crate) async fn next_message(&mut self) -> Result<Option<Bytes>> {
        if let Some(message) = self.pending.take() {
            return Ok(Some(message));
        }
        if self.ended {
            return Ok(None);
        }
        let (body, decoder) = match &mut self.source {
            Source::Http { body, decoder } => (body, decoder),
            Source::Shared {
                subscription,
                limit,
            } => {
                return match subscription.next().await? {
                    Some(message) if message.len() > *limit => Err(Error::MessageTooLarge {
                        endpoint: self.endpoint.url().clone().into(),
                        limit: *limit,
                    }),
                    Some(message) => Ok(Some(message)),
                    None => {
                        self.ended = true;
                        Ok(None)
                    }
                };
            }
        };
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => return Ok(Some(message)),
                Ok(None) => {}
                Err(too_large) => {
                    return Err(Error::MessageTooLarge {
                        endpoint: self.endpoint.url().clone().into(),
                        limit: too_large.limit,
                    })
                }
            }
            match body.next().await {
                Some(Ok(chunk)) => decoder.push(&chunk),
                Some(Err(e)) => {
                    return Err(Error::Transport {
                        endpoint: self.endpoint.url().clone().into(),
                        delivery: Delivery::MaybeSent,
                        source: Box::new(e),
                    })
                }
                None => {
                    self.ended = true;
                    return Ok(decoder.finish());
                }
            }
        }
    }

    /// The next message decoded: the `result` of a `{"result": ...}` message, etcd's error for
    /// an `{"error": ...}` one. `Ok(None)` when the body ended, and when a long poll ended at
    /// its deadline.
    pub(crate) async fn next<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        match self.next_message().await? {
            Some(message) => match decode_stream_message(self.endpoint.url(), &message) {
                Ok(answer) => Ok(Some(answer)),
                Err(err) if self.polls && poll_ended(&err) => {
                    self.ended = true;
                    Ok(None)
                }
                Err(err) => Err(err),
            },
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::decode::decode_response;
    use crate::wire::{election as e, fixtures, watch as w};
    use crate::wire::{status, Streamed};

    fn url() -> Url {
        Url::parse("http://127.0.0.1:2379").unwrap()
    }

    /// The messages of a captured stream body, split as the framing does.
    fn messages(body: &[u8]) -> Vec<Bytes> {
        let mut decoder = MessageDecoder::new(1 << 20);
        decoder.push(body);
        let mut out = Vec::new();
        while let Ok(Some(m)) = decoder.next_message() {
            out.push(m);
        }
        out.extend(decoder.finish());
        out
    }

    #[test]
    fn a_long_poll_s_closing_message_is_its_end_on_every_version() {
        for (v, body) in fixtures::every_body("90-hdr-grpc-timeout-watch-2s") {
            let all = messages(&body);
            let (last, answers) = all.split_last().unwrap();
            for m in answers {
                decode_stream_message::<w::WatchResponse>(&url(), m).unwrap();
            }
            let end = decode_stream_message::<w::WatchResponse>(&url(), last).unwrap_err();
            assert!(poll_ended(&end), "{v}: {end:?}");
        }
        for (v, body) in fixtures::every_body("90-hdr-grpc-timeout-observe") {
            let all = messages(&body);
            let end = decode_stream_message::<e::LeaderResponse>(&url(), all.last().unwrap());
            assert!(poll_ended(&end.unwrap_err()), "{v}");
        }
        // 3.7 has also been seen to end such a stream with the gRPC stream's reset.
        let reset = br#"{"error":{"code":4,"message":"stream terminated by RST_STREAM with error code: CANCEL"}}"#;
        let err = decode_stream_message::<w::WatchResponse>(&url(), reset).unwrap_err();
        assert!(poll_ended(&err));
        assert!(status::looks_like_error(reset));
    }

    #[test]
    fn an_observe_poll_with_nobody_elected_ends_empty_on_every_version() {
        for (v, ex) in fixtures::every("90-hdr-grpc-timeout-observe-no-leader") {
            let err = decode_response::<Streamed<e::LeaderResponse>>(
                &url(),
                "/v3/election/observe",
                ex[0].status,
                &ex[0].body(),
            )
            .unwrap_err();
            assert_eq!(ex[0].status, 504, "{v}");
            assert!(poll_ended(&err), "{v}: {err:?}");
        }
    }

    #[test]
    fn a_proxy_s_own_pages_are_not_etcd_s_answers() {
        for (name, status, delivery) in [
            (
                "95-proxy-nginx-defaults-etcd-down",
                502,
                Delivery::MaybeSent,
            ),
            ("95-proxy-caddyfile-etcd-down", 502, Delivery::MaybeSent),
            (
                "95-proxy-haproxy-short-timeout-etcd-down",
                503,
                Delivery::MaybeSent,
            ),
            (
                "95-proxy-nginx-short-timeout-lock-held",
                504,
                Delivery::MaybeSent,
            ),
            (
                "95-proxy-haproxy-short-timeout-lock-held",
                504,
                Delivery::MaybeSent,
            ),
            (
                "95-proxy-nginx-defaults-put-over-body-limit",
                413,
                Delivery::NotSent,
            ),
        ] {
            for (v, ex) in fixtures::every(name) {
                let err = decode_response::<Streamed<e::LeaderResponse>>(
                    &url(),
                    "/v3/kv/range",
                    ex[0].status,
                    &ex[0].body(),
                )
                .unwrap_err();
                match &err {
                    Error::NotEtcd {
                        status: s,
                        delivery: d,
                        ..
                    } => assert_eq!((*s, *d), (status, delivery), "{name} {v}"),
                    other => panic!("{name} {v}: {other:?}"),
                }
                assert_eq!(err.is_transient(), status != 413, "{name}");
            }
        }
    }
}
