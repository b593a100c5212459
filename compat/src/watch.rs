//! The Watch service: [`WatchClient`], [`WatchStream`] and its halves, and the answers that hold
//! a [`KeyValue`].
//!
//! A watch here is not resumed when its stream breaks (etcdgw's are, by default:
//! `WatchOptions::with_resume(false)` is set on each): the stream gives the error that broke it,
//! as etcd-client's does, and the caller watches again from the revision it got to; a watch
//! whose start revision was compacted gets etcd's `canceled` answer with the compaction
//! revision, as over gRPC.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytemuck::TransparentWrapper;
use futures_core::Stream;
use futures_util::StreamExt;

use crate::error;
use crate::kv::{header_accessors, wraps};
use crate::{EventType, KeyValue, Result, WatchOptions};

/// One change to a key.
#[derive(Clone, PartialEq, Eq, TransparentWrapper)]
#[repr(transparent)]
pub struct Event(etcdgw::Event);

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Event {
    /// Whether the key was put or deleted.
    pub fn event_type(&self) -> EventType {
        self.0.event_type()
    }

    /// The key after the event: for a delete, only the key and the deleting revision.
    pub fn kv(&self) -> Option<&KeyValue> {
        self.0.kv().map(KeyValue::wrap_ref)
    }

    /// The key before the event, if the watch asked for it and the key existed.
    pub fn prev_kv(&self) -> Option<&KeyValue> {
        self.0.prev_kv().map(KeyValue::wrap_ref)
    }
}

/// One answer on a watch stream: events, or news about a watch.
#[derive(Debug, Clone)]
#[repr(transparent)]
pub struct WatchResponse(etcdgw::WatchResponse);

impl WatchResponse {
    header_accessors!();

    /// The watch this answer belongs to.
    pub const fn watch_id(&self) -> i64 {
        self.0.watch_id()
    }

    /// Whether this answer says the watch was created.
    pub const fn created(&self) -> bool {
        self.0.created()
    }

    /// Whether this answer says the watch ended.
    pub const fn canceled(&self) -> bool {
        self.0.canceled()
    }

    /// The compaction revision, when the watch ended because the revisions it needs are
    /// compacted.
    pub const fn compact_revision(&self) -> i64 {
        self.0.compact_revision()
    }

    /// Why the server cancelled the watch.
    pub fn cancel_reason(&self) -> &str {
        self.0.cancel_reason()
    }

    /// The events, in revision order.
    pub fn events(&self) -> &[Event] {
        Event::wrap_slice(self.0.events())
    }
}

wraps!(WatchResponse);

/// One item of etcdgw's watch stream as etcd-client gives it: a broken stream is tonic's
/// `Unknown` "h2 protocol error".
fn answer(item: etcdgw::Result<etcdgw::WatchResponse>) -> Result<WatchResponse> {
    item.map(WatchResponse).map_err(error::stream)
}

/// The watch options this crate sends: the caller's, with the stream not resumed.
fn unresumed(options: Option<WatchOptions>) -> Option<WatchOptions> {
    Some(options.unwrap_or_default().with_resume(false))
}

/// The Watch service's client.
#[derive(Debug, Clone)]
pub struct WatchClient(etcdgw::WatchClient);

impl WatchClient {
    pub(crate) fn new(inner: etcdgw::WatchClient) -> Self {
        WatchClient(inner)
    }

    /// The largest answer accepted, in bytes of the gateway's JSON.
    pub fn max_decoding_message_size(self, limit: usize) -> Self {
        WatchClient(self.0.max_decoding_message_size(limit))
    }

    /// Watches a key (or a range, with [`WatchOptions`]); the stream's first answer is the
    /// watch's `created`.
    ///
    /// # Errors
    /// What etcd answered, or the failure to reach it, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn watch(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<WatchStream> {
        let stream = self.0.watch(key, unresumed(options)).await?;
        let (sender, responses) = stream.split();
        Ok(WatchStream {
            sender: WatchRequestSender(sender),
            responses: WatchResponseStream(responses),
        })
    }
}

/// A watch stream: more watches, cancels and progress requests go in; answers come out.
#[derive(Debug)]
pub struct WatchStream {
    sender: WatchRequestSender,
    responses: WatchResponseStream,
}

impl WatchStream {
    /// Adds a watch to this stream.
    ///
    /// # Errors
    /// [`Error::WatchError`](crate::Error::WatchError) if the stream is gone.
    pub async fn watch(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<()> {
        self.sender.watch(key, options).await
    }

    /// Cancels a watch; its `canceled` answer comes on the stream.
    ///
    /// # Errors
    /// [`Error::WatchError`](crate::Error::WatchError) if the stream is gone.
    pub async fn cancel(&mut self, watch_id: i64) -> Result<()> {
        self.sender.cancel(watch_id).await
    }

    /// Asks for a progress notification.
    ///
    /// # Errors
    /// [`Error::WatchError`](crate::Error::WatchError) if the stream is gone.
    pub async fn request_progress(&mut self) -> Result<()> {
        self.sender.request_progress().await
    }

    /// The next answer.
    ///
    /// # Errors
    /// The failure that broke a watch, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn message(&mut self) -> Result<Option<WatchResponse>> {
        self.responses.message().await
    }

    /// Splits the stream into its sending half and its answers.
    pub fn split(self) -> (WatchRequestSender, WatchResponseStream) {
        (self.sender, self.responses)
    }
}

impl Stream for WatchStream {
    type Item = Result<WatchResponse>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.responses).poll_next(cx)
    }
}

/// The sending half of a [`WatchStream`].
#[derive(Debug)]
pub struct WatchRequestSender(etcdgw::WatchRequestSender);

impl WatchRequestSender {
    /// Adds a watch to the stream.
    ///
    /// # Errors
    /// [`Error::WatchError`](crate::Error::WatchError) if the answers are gone.
    pub async fn watch(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<()> {
        self.0
            .watch(key, unresumed(options))
            .await
            .map_err(error::watch_send)
    }

    /// Cancels a watch.
    ///
    /// # Errors
    /// [`Error::WatchError`](crate::Error::WatchError) if the answers are gone.
    pub async fn cancel(&mut self, watch_id: i64) -> Result<()> {
        self.0.cancel(watch_id).await.map_err(error::watch_send)
    }

    /// Asks for a progress notification.
    ///
    /// # Errors
    /// [`Error::WatchError`](crate::Error::WatchError) if the answers are gone.
    pub async fn request_progress(&mut self) -> Result<()> {
        self.0.request_progress().await.map_err(error::watch_send)
    }
}

/// The answers of a [`WatchStream`].
#[derive(Debug)]
pub struct WatchResponseStream(etcdgw::WatchResponseStream);

impl WatchResponseStream {
    /// The next answer.
    ///
    /// # Errors
    /// The failure that broke a watch, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn message(&mut self) -> Result<Option<WatchResponse>> {
        self.next().await.transpose()
    }
}

impl Stream for WatchResponseStream {
    type Item = Result<WatchResponse>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_next_unpin(cx).map(|item| item.map(answer))
    }
}
