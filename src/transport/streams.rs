//! Streaming calls (watch, keep-alive, observe, snapshot): opening one, with the same retries
//! and deadline as a unary read, and reading its messages. What happens when an open stream
//! breaks is `resume.rs`'s business.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::decode::{body_head, decode_response, decode_stream_message};
use super::endpoints::Endpoint;
use super::framing::MessageDecoder;
use super::unary::{encode, transport_error};
use super::{CallOptions, Transport};
use crate::error::{Delivery, Error, Result};
use crate::rt;

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
        options: CallOptions,
    ) -> Result<OpenStream> {
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
                        endpoint: stream.endpoint.url().clone().into(),
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
                    endpoint: stream.endpoint.url().clone().into(),
                    status,
                    reason: "a failed stream answered with a JSON body that is not an error".into(),
                    body_head: body_head(&bytes).into(),
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
                        endpoint: self.endpoint.url().clone().into(),
                        limit: too_large.limit,
                    })
                }
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.decoder.push(&chunk),
                Some(Err(e)) => {
                    return Err(Error::Transport {
                        endpoint: self.endpoint.url().clone().into(),
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
