//! The Watch service: [`WatchStream`] over the gateway, resumed after every drop so that each
//! event arrives exactly once, in revision order.
//!
//! # How a watch travels over HTTP
//! The gateway cannot read a second request from an open HTTP/1.1 body (GATEWAY.md 4.2), so
//! each watch is its own `POST /v3/watch` whose body is one create request, and the answers
//! of all the watches of a [`WatchStream`] are merged into one stream, as on one gRPC stream.
//! Cancelling a watch closes its request; dropping the stream closes them all, and etcd
//! removes the watchers at once (GATEWAY.md 4.3).
//!
//! On plain `http://` endpoints every open watch holds one TCP connection of its own (HTTP/1.1
//! has no multiplexing): 100 watches cost 100 connections to the member. Over `https://`
//! endpoints the gateway speaks HTTP/2, and the watches of a client share one connection.
//!
//! # Recovery
//! When a watch's HTTP stream ends or breaks without the caller asking (the member restarted,
//! was killed or lost its leader, a proxy timed out, an error object then a clean end), the
//! watch is re-created on the same or another endpoint, with backoff, from the revision after
//! the last one delivered, as Go's clientv3 does. Events older than that (a lagging member can
//! send them, etcd issue 20221) are dropped, so the caller sees every event exactly once, in
//! revision order; the `created` answer of a re-created watch is not passed on. Progress
//! notifications move the resume point too. If the revision to resume from has been
//! compacted, the watch ends with [`Error::Compacted`], never with a silent gap. Errors that
//! retrying cannot fix (a message above the size limit, an answer that is not etcd's) end the
//! watch with that error; a cancel by the server is passed on as a canceled [`WatchResponse`]
//! with its reason, and ends the watch.
//!
//! A watch that was never established (its first `created` did not arrive) is not retried
//! beyond the request deadline: the error is reported instead.

mod progress;

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch as signal};

use progress::{Cursor, Probe};

use super::namespace::Namespace;
use super::{KeyRange, KeyValue, ResponseHeader};
use crate::client::Client;
use crate::error::{Code, Error, Result, ServerErrorKind};
use crate::transport::{
    auth, event, metrics, retry, rt, CallOptions, Idempotency, OpenStream, Transport,
};
use crate::wire::codec::{B64, I64};
use crate::wire::paths;
use crate::wire::watch as w;

pub use crate::wire::watch::{EventType, WatchFilterType};

/// The Watch service of a [`Client`].
#[derive(Debug, Clone)]
pub struct WatchClient {
    transport: Transport,
    max_message_size: Option<usize>,
    namespace: Option<Namespace>,
}

impl WatchClient {
    pub(crate) fn new(transport: Transport) -> Self {
        WatchClient {
            transport,
            max_message_size: None,
            namespace: None,
        }
    }

    pub(crate) fn with_namespace(mut self, namespace: Namespace) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// Sets the largest message the watches of this client accept (see
    /// [`ConnectOptions::with_max_message_size`](crate::ConnectOptions::with_max_message_size)).
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.max_message_size = Some(limit);
        self
    }

    /// Watches a key (or a range, with [`WatchOptions`]) and returns the stream of its events.
    ///
    /// It returns once the watch is established: the first message of the stream is its
    /// `created` answer, as with etcd-client. More watches can be added to the same stream
    /// with [`WatchStream::watch`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty key without a prefix or from-key option; a
    /// transport error or [`Error::Timeout`] if no endpoint answered within the request
    /// deadline.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// use etcdgw::{EventType, WatchOptions};
    ///
    /// let mut stream = client.watch("config/", Some(WatchOptions::new().with_prefix())).await?;
    /// while let Some(resp) = stream.message().await? {
    ///     for event in resp.events() {
    ///         let kv = event.kv().expect("an event has a kv");
    ///         match event.event_type() {
    ///             EventType::Put => println!("{} = {}", kv.key_str()?, kv.value_str()?),
    ///             EventType::Delete => println!("{} deleted", kv.key_str()?),
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn watch(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<WatchStream> {
        let (tx, rx) = mpsc::unbounded_channel();
        let sender = WatchRequestSender {
            tx,
            namespace: self.namespace.clone(),
        };
        let (requested_id, request) = sender.request(key.into(), options)?;
        let mut responses = WatchResponseStream::new(
            self.transport.clone(),
            rx,
            self.max_message_size,
            self.namespace.clone(),
        );
        responses.add_watch(requested_id, request);
        // Wait for the first answer: `created`, or the error that kept the watch from starting.
        match responses.next().await {
            Some(Ok(first)) => responses.ready.push_front(Ok(first)),
            Some(Err(err)) => return Err(err),
            None => return Err(Error::StreamClosed),
        }
        Ok(WatchStream { sender, responses })
    }
}

impl Client {
    /// The Watch service, sharing this client's connections.
    pub fn watch_client(&self) -> WatchClient {
        WatchClient::new(self.transport.clone())
    }

    /// Watches a key or a range; see [`WatchClient::watch`].
    pub async fn watch(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<WatchStream> {
        self.watch_client().watch(key, options).await
    }
}

/// Options for a watch. Start from [`WatchOptions::new`]; each setter returns `Self`.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct WatchOptions {
    key: Vec<u8>,
    range: KeyRange,
    start_revision: i64,
    progress_notify: bool,
    filters: Vec<WatchFilterType>,
    prev_kv: bool,
    watch_id: Option<i64>,
    fragment: bool,
}

impl WatchOptions {
    /// Options that watch the one key from now on.
    pub const fn new() -> Self {
        WatchOptions {
            key: Vec::new(),
            range: KeyRange::Key,
            start_revision: 0,
            progress_notify: false,
            filters: Vec::new(),
            prev_kv: false,
            watch_id: None,
            fragment: false,
        }
    }

    /// Sets the key; the key argument of `watch` replaces it (as in etcd-client).
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = key.into();
        self
    }

    /// Watches the keys in `[key, end)`.
    pub fn with_range(mut self, end: impl Into<Vec<u8>>) -> Self {
        self.range = KeyRange::Range(end.into());
        self
    }

    /// Watches every key at or after the key (every key, if the key is empty).
    pub fn with_from_key(mut self) -> Self {
        self.range = KeyRange::FromKey;
        self
    }

    /// Watches every key that starts with the key (every key, if the key is empty).
    pub fn with_prefix(mut self) -> Self {
        self.range = KeyRange::Prefix;
        self
    }

    /// Watches every key.
    pub fn with_all_keys(mut self) -> Self {
        self.range = KeyRange::AllKeys;
        self
    }

    /// Starts at this revision, replaying history from there (0: from now on).
    pub const fn with_start_revision(mut self, revision: i64) -> Self {
        self.start_revision = revision;
        self
    }

    /// Asks the server for periodic progress notifications on an idle watch (every 10 minutes
    /// unless the server is configured otherwise); they move the resume point forward.
    pub const fn with_progress_notify(mut self) -> Self {
        self.progress_notify = true;
        self
    }

    /// Leaves out some kinds of events.
    pub fn with_filters(mut self, filters: impl Into<Vec<WatchFilterType>>) -> Self {
        self.filters = filters.into();
        self
    }

    /// Includes the key-value pair before each event ([`Event::prev_kv`]).
    pub const fn with_prev_key(mut self) -> Self {
        self.prev_kv = true;
        self
    }

    /// Uses this watch id instead of the next free one.
    pub const fn with_watch_id(mut self, watch_id: i64) -> Self {
        self.watch_id = Some(watch_id);
        self
    }

    /// Lets the server split answers above its request-size limit into fragments. They are
    /// put back together here, so every revision is still delivered whole.
    pub const fn with_fragment(mut self) -> Self {
        self.fragment = true;
        self
    }

    /// Builds the create request: the one place a watch is encoded.
    pub(crate) fn into_request(self, key: Vec<u8>) -> Result<w::WatchCreateRequest> {
        let key = if key.is_empty() { self.key } else { key };
        let (key, range_end) = self.range.resolve(key)?;
        Ok(w::WatchCreateRequest {
            key: B64(key),
            range_end: B64(range_end),
            start_revision: I64(self.start_revision),
            progress_notify: self.progress_notify,
            filters: self.filters,
            prev_kv: self.prev_kv,
            watch_id: I64(0), // one watcher per request: the server's id is always 0
            fragment: self.fragment,
        })
    }
}

/// One change to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    kind: EventType,
    kv: Option<KeyValue>,
    prev_kv: Option<KeyValue>,
}

impl From<w::Event> for Event {
    fn from(e: w::Event) -> Self {
        Event {
            kind: e.kind,
            kv: e.kv.map(KeyValue),
            prev_kv: e.prev_kv.map(KeyValue),
        }
    }
}

impl Event {
    /// Whether the key was put or deleted. Never panics (etcd-client's does on an unknown type).
    pub fn event_type(&self) -> EventType {
        self.kind
    }

    /// The key after the event: for a delete, only the key and the deleting revision.
    pub fn kv(&self) -> Option<&KeyValue> {
        self.kv.as_ref()
    }

    /// The key before the event, if the watch asked for it with
    /// [`WatchOptions::with_prev_key`] and the key existed.
    pub fn prev_kv(&self) -> Option<&KeyValue> {
        self.prev_kv.as_ref()
    }
}

/// One answer on a watch stream: events, or news about a watch.
#[derive(Debug, Clone)]
pub struct WatchResponse {
    header: Option<ResponseHeader>,
    watch_id: i64,
    created: bool,
    canceled: bool,
    compact_revision: i64,
    cancel_reason: String,
    fragment: bool,
    events: Vec<Event>,
}

impl WatchResponse {
    fn from_wire(r: w::WatchResponse, watch_id: i64) -> Self {
        WatchResponse {
            header: Some(ResponseHeader(r.header)),
            watch_id,
            created: r.created,
            canceled: r.canceled,
            compact_revision: r.compact_revision.0,
            cancel_reason: r.cancel_reason,
            fragment: r.fragment,
            events: r.events.into_iter().map(Event::from).collect(),
        }
    }

    /// The response header; its revision is the store's when the answer was sent.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The watch this answer belongs to; -1 for the answer to
    /// [`WatchStream::request_progress`], which speaks for the whole stream.
    pub const fn watch_id(&self) -> i64 {
        self.watch_id
    }

    /// Whether this answer says the watch was created.
    pub const fn created(&self) -> bool {
        self.created
    }

    /// Whether this answer says the watch ended (by [`WatchStream::cancel`] or by the server).
    pub const fn canceled(&self) -> bool {
        self.canceled
    }

    /// The compaction revision, when the server cancelled the watch because its start
    /// revision was compacted. (A watch that was running ends with [`Error::Compacted`].)
    pub const fn compact_revision(&self) -> i64 {
        self.compact_revision
    }

    /// Why the server cancelled the watch.
    pub fn cancel_reason(&self) -> &str {
        &self.cancel_reason
    }

    /// Always false: fragments are put back together before an answer is delivered.
    pub const fn fragment(&self) -> bool {
        self.fragment
    }

    /// The events, in revision order (one answer can hold several revisions when history is
    /// replayed).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Takes the events out, without copying.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Whether this is a progress notification: no events, no news about the watch, only the
    /// revision up to which the watch has seen everything.
    pub fn is_progress_notify(&self) -> bool {
        self.events.is_empty()
            && !self.created
            && !self.canceled
            && self.compact_revision == 0
            && self.header.as_ref().is_some_and(|h| h.revision() != 0)
    }
}

enum Command {
    Watch {
        id: Option<i64>,
        request: w::WatchCreateRequest,
    },
    Cancel(i64),
    Progress,
}

/// The sending half of a [`WatchStream`]: adds watches, cancels them, asks for progress.
#[derive(Clone)]
pub struct WatchRequestSender {
    tx: mpsc::UnboundedSender<Command>,
    namespace: Option<Namespace>,
}

impl fmt::Debug for WatchRequestSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchRequestSender").finish_non_exhaustive()
    }
}

impl WatchRequestSender {
    fn send(&self, command: Command) -> Result<()> {
        self.tx.send(command).map_err(|_| Error::StreamClosed)
    }

    /// The create request of a watch, in this stream's namespace if it has one.
    fn request(
        &self,
        key: Vec<u8>,
        options: Option<WatchOptions>,
    ) -> Result<(Option<i64>, w::WatchCreateRequest)> {
        let options = options.unwrap_or_default();
        let id = options.watch_id;
        let mut request = options.into_request(key)?;
        if let Some(ns) = &self.namespace {
            ns.watch_request(&mut request);
        }
        Ok((id, request))
    }

    /// Adds a watch to the stream; its `created` answer comes on the stream.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty key without a range option;
    /// [`Error::StreamClosed`] if the response stream was dropped.
    pub async fn watch(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<()> {
        let (id, request) = self.request(key.into(), options)?;
        self.send(Command::Watch { id, request })
    }

    /// Cancels a watch: its request is closed and a `canceled` answer comes on the stream. An
    /// unknown id is ignored, as etcd does.
    ///
    /// # Errors
    /// [`Error::StreamClosed`] if the response stream was dropped.
    pub async fn cancel(&self, watch_id: i64) -> Result<()> {
        self.send(Command::Cancel(watch_id))
    }

    /// Asks for a progress notification: an answer with `watch_id` -1 whose header revision
    /// says that every event up to it, on every watch of this stream, has been delivered
    /// before it, as over gRPC (since etcd issue 15220).
    ///
    /// Over HTTP/1.1 an open watch request cannot carry another message, so each watch is
    /// confirmed from the side: a short watch on the same keys replays from the last event it
    /// delivered (or the newest key in its range), and the server's catch-up batch tells up to
    /// which revision nothing else is owed; the answer waits until the watch delivered what it
    /// owes. It is the same answer on every etcd version (3.4's and 3.5.1's own progress
    /// answers can overtake events; this does not use them). A watch with no key in its range
    /// and no event delivered yet is confirmed through a watch on all keys when the store moved
    /// fewer than 1000 revisions since, and the user may read all keys; otherwise its share of
    /// the answer is the revision it has delivered up to (true, but behind the store). It does
    /// not move any watch's resume point.
    ///
    /// # Errors
    /// [`Error::StreamClosed`] if the response stream was dropped. A failure of the progress
    /// request itself comes on the stream.
    pub async fn request_progress(&self) -> Result<()> {
        self.send(Command::Progress)
    }
}

/// The stream of answers of one or more watches: `created`, events, progress, cancels.
pub struct WatchResponseStream {
    transport: Transport,
    max_message_size: Option<usize>,
    namespace: Option<Namespace>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    watches: Vec<ActiveWatch>,
    next_id: i64,
    ready: VecDeque<Result<WatchResponse>>,
    progress: Vec<rt::BoxFuture<'static, Result<WatchResponse>>>,
    turn: usize,
}

struct ActiveWatch {
    id: i64,
    /// Its create request (keys, filters) and how far it got, for progress requests.
    request: w::WatchCreateRequest,
    cursor: signal::Receiver<Cursor>,
    last_header: Option<ResponseHeader>,
    stream: rt::BoxStream<'static, Result<WatchResponse>>,
    /// Whether its first answer (`created`, or the error that kept it from starting) was
    /// delivered. First answers go out in the order the watches were added, as on one gRPC
    /// stream, although each watch is its own HTTP request.
    announced: bool,
    /// A first answer that came before an earlier watch's.
    held: Option<Result<WatchResponse>>,
}

impl fmt::Debug for WatchResponseStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchResponseStream")
            .field(
                "watches",
                &self.watches.iter().map(|w| w.id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// etcd's answer to a create with an id already in use on the stream.
const DUPLICATE_ID: &str = "mvcc: duplicate watch ID provided on the WatchStream";

impl WatchResponseStream {
    fn new(
        transport: Transport,
        commands: mpsc::UnboundedReceiver<Command>,
        max_message_size: Option<usize>,
        namespace: Option<Namespace>,
    ) -> Self {
        WatchResponseStream {
            transport,
            max_message_size,
            namespace,
            commands,
            commands_open: true,
            watches: Vec::new(),
            next_id: 0,
            ready: VecDeque::new(),
            progress: Vec::new(),
            turn: 0,
        }
    }

    /// The next answer, `None` once the sender is gone and no watch is left.
    ///
    /// # Errors
    /// [`Error::Compacted`] when a watch must resume from a compacted revision, and the errors
    /// that end a watch (see the module docs); the other watches go on.
    pub async fn message(&mut self) -> Result<Option<WatchResponse>> {
        self.next().await.transpose()
    }

    fn id_in_use(&self, id: i64) -> bool {
        self.watches.iter().any(|w| w.id == id)
    }

    /// Starts a watch with the requested id or the next free one, as etcd numbers them.
    fn add_watch(&mut self, requested: Option<i64>, request: w::WatchCreateRequest) {
        let id = match requested {
            Some(id) if self.id_in_use(id) => {
                self.ready.push_back(Ok(WatchResponse {
                    header: None,
                    watch_id: id,
                    created: true,
                    canceled: true,
                    compact_revision: 0,
                    cancel_reason: DUPLICATE_ID.to_string(),
                    fragment: false,
                    events: Vec::new(),
                }));
                return;
            }
            Some(id) => id,
            None => {
                while self.id_in_use(self.next_id) {
                    self.next_id += 1;
                }
                let id = self.next_id;
                self.next_id += 1;
                id
            }
        };
        let mut task = WatchTask::new(
            id,
            self.transport.clone(),
            request.clone(),
            self.max_message_size,
        );
        task.namespace = self.namespace.clone();
        let cursor = task.cursor.subscribe();
        self.watches.push(ActiveWatch {
            id,
            request,
            cursor,
            last_header: None,
            stream: Box::pin(futures_util::stream::unfold(task, WatchTask::step)),
            announced: false,
            held: None,
        });
    }

    fn cancel(&mut self, id: i64) {
        if let Some(i) = self.watches.iter().position(|w| w.id == id) {
            // Dropping the stream closes its HTTP request: etcd removes the watcher.
            let watch = self.watches.remove(i);
            self.ready.push_back(Ok(WatchResponse {
                header: watch.last_header,
                watch_id: id,
                created: false,
                canceled: true,
                compact_revision: 0,
                cancel_reason: String::new(),
                fragment: false,
                events: Vec::new(),
            }));
        }
    }

    fn request_progress(&mut self) {
        let probes = self
            .watches
            .iter()
            .filter(|w| w.announced && w.cursor.borrow().next > 0)
            .map(|w| Probe {
                request: w.request.clone(),
                cursor: w.cursor.clone(),
            })
            .collect();
        self.progress
            .push(Box::pin(progress::request(self.transport.clone(), probes)));
    }
}

impl Stream for WatchResponseStream {
    type Item = Result<WatchResponse>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.commands_open {
            while let Poll::Ready(command) = this.commands.poll_recv(cx) {
                match command {
                    Some(Command::Watch { id, request }) => this.add_watch(id, request),
                    Some(Command::Cancel(id)) => this.cancel(id),
                    Some(Command::Progress) => this.request_progress(),
                    None => {
                        this.commands_open = false;
                        break;
                    }
                }
            }
        }
        if let Some(item) = this.ready.pop_front() {
            return Poll::Ready(Some(item));
        }
        for i in 0..this.progress.len() {
            if let Poll::Ready(item) = this.progress[i].as_mut().poll(cx) {
                drop(this.progress.remove(i));
                return Poll::Ready(Some(item));
            }
        }
        // Poll every watch, starting after the one served last, so none starves.
        let n = this.watches.len();
        let first_unannounced = this.watches.iter().position(|w| !w.announced);
        let mut ended = Vec::new();
        let mut item = None;
        for k in 0..n {
            let i = (this.turn + k) % n;
            let watch = &mut this.watches[i];
            if watch.held.is_some() {
                if Some(i) == first_unannounced {
                    watch.announced = true;
                    this.turn = i + 1;
                    item = watch.held.take();
                    break;
                }
                continue;
            }
            match watch.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(next)) => {
                    if let Ok(resp) = &next {
                        if resp.header.is_some() {
                            watch.last_header = resp.header.clone();
                        }
                    }
                    if !watch.announced {
                        if Some(i) != first_unannounced {
                            watch.held = Some(next);
                            continue;
                        }
                        watch.announced = true;
                    }
                    this.turn = i + 1;
                    item = Some(next);
                    break;
                }
                Poll::Ready(None) => ended.push(i),
                Poll::Pending => {}
            }
        }
        let removed = !ended.is_empty();
        for i in ended.into_iter().rev() {
            this.watches.remove(i);
        }
        if let Some(item) = item {
            return Poll::Ready(Some(item));
        }
        if removed && this.watches.iter().any(|w| w.held.is_some()) {
            // A held first answer may be next in line now: look again.
            cx.waker().wake_by_ref();
        }
        if !this.commands_open && this.watches.is_empty() && this.progress.is_empty() {
            return Poll::Ready(None);
        }
        Poll::Pending
    }
}

/// A watch stream: the answers of its watches as a [`Stream`], and the requests that add,
/// cancel and query them. [`split`](Self::split) it to send from one task and read in another.
pub struct WatchStream {
    sender: WatchRequestSender,
    responses: WatchResponseStream,
}

impl fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream")
            .field("responses", &self.responses)
            .finish_non_exhaustive()
    }
}

impl WatchStream {
    /// Adds a watch to this stream; see [`WatchRequestSender::watch`].
    pub async fn watch(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<()> {
        self.sender.watch(key, options).await
    }

    /// Cancels a watch; see [`WatchRequestSender::cancel`].
    pub async fn cancel(&mut self, watch_id: i64) -> Result<()> {
        self.sender.cancel(watch_id).await
    }

    /// Asks for a progress notification; see [`WatchRequestSender::request_progress`].
    pub async fn request_progress(&mut self) -> Result<()> {
        self.sender.request_progress().await
    }

    /// The next answer. The stream stays open while it can still get watches, as a gRPC watch
    /// stream does: after the last watch ends, this waits for [`watch`](Self::watch).
    ///
    /// # Errors
    /// See [`WatchResponseStream::message`].
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

/// One watch's life: connect, read, put fragments together, drop what was already delivered,
/// and resume after a drop. Driven by `stream::unfold`, one answer at a time.
struct WatchTask {
    id: i64,
    transport: Transport,
    request: w::WatchCreateRequest,
    max_message_size: Option<usize>,
    namespace: Option<Namespace>,
    /// The first revision not yet delivered; 0 until the first `created` says where "now" is.
    next_revision: i64,
    open: Option<OpenStream>,
    /// Fragments of an answer being put back together.
    partial: Option<w::WatchResponse>,
    /// Whether a `created` arrived once: only then are failures resumed rather than reported.
    established: bool,
    /// Whether the token was fetched again after an auth refusal (once per creation).
    auth_retried: bool,
    failures: u32,
    done: bool,
    /// Counts the watch as open while it is established and not ended.
    counted: Option<metrics::OpenWatch>,
    /// How far the watch got, for progress requests (`next_revision` and the last event).
    cursor: signal::Sender<Cursor>,
}

/// The longest pause between two attempts to resume a watch.
const LONGEST_RESUME_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

impl WatchTask {
    fn new(
        id: i64,
        transport: Transport,
        request: w::WatchCreateRequest,
        max_message_size: Option<usize>,
    ) -> Self {
        WatchTask {
            id,
            transport,
            next_revision: request.start_revision.0,
            request,
            max_message_size,
            namespace: None,
            open: None,
            partial: None,
            established: false,
            auth_retried: false,
            failures: 0,
            done: false,
            counted: None,
            cursor: signal::Sender::new(Cursor::default()),
        }
    }

    /// Publishes how far the watch got: called whenever the resume point moves.
    fn publish(&self, last_event: Option<i64>) {
        let next = self.next_revision;
        self.cursor.send_modify(|c| {
            c.next = next;
            if let Some(event) = last_event {
                c.last_event = event;
            }
        });
    }

    /// Ends the watch: nothing more is read or resumed.
    fn end(&mut self) {
        self.done = true;
        self.open = None;
        self.counted = None;
    }

    /// Ends the watch with `err`.
    fn fail(mut self, err: Error) -> Option<(Result<WatchResponse>, Self)> {
        self.end();
        Some((Err(err), self))
    }

    /// Whether a failure of an established watch is one that reconnecting can cure.
    fn is_transient(err: &Error) -> bool {
        match err {
            Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::Server(e) => {
                matches!(
                    e.code(),
                    Code::Unavailable
                        | Code::DeadlineExceeded
                        | Code::Canceled
                        | Code::Unknown
                        | Code::Aborted
                ) || e.kind() == ServerErrorKind::NoLeader
            }
            _ => false,
        }
    }

    async fn step(mut self) -> Option<(Result<WatchResponse>, Self)> {
        loop {
            if self.done {
                return None;
            }
            if self.open.is_none() {
                if self.failures > 0 {
                    rt::sleep(retry::backoff(self.failures).min(LONGEST_RESUME_PAUSE)).await;
                }
                let mut request = self.request.clone();
                if self.next_revision > 0 {
                    request.start_revision = I64(self.next_revision);
                }
                if self.established {
                    metrics::watch_resumed();
                }
                let options = CallOptions {
                    max_message_size: self.max_message_size,
                    ..CallOptions::new(Idempotency::Read)
                };
                match self
                    .transport
                    .open_stream(paths::WATCH, &w::WatchRequest::Create(request), options)
                    .await
                {
                    Ok(stream) => {
                        self.open = Some(stream);
                        self.partial = None;
                    }
                    Err(err) if self.established && Self::is_transient(&err) => {
                        self.failures = self.failures.saturating_add(1);
                        continue;
                    }
                    Err(err) => return self.fail(err),
                }
            }
            let Some(stream) = self.open.as_mut() else {
                continue;
            };
            // A member that stops answering (stopped, cut off) is found by the liveness check.
            let endpoint = stream.endpoint_handle();
            let answer = match self
                .transport
                .watched(&endpoint, stream.next::<w::WatchResponse>())
                .await
            {
                Ok(Some(answer)) => answer,
                Ok(None) => {
                    // A watch body never ends by itself: the member went away. Resume.
                    self.open = None;
                    self.failures = self.failures.saturating_add(1);
                    if !self.established {
                        return self.fail(Error::Decode {
                            endpoint: endpoint.url().clone(),
                            status: 200,
                            reason: "the watch stream ended before the watch was created".into(),
                            body_head: String::new(),
                        });
                    }
                    continue;
                }
                Err(err) if self.established && Self::is_transient(&err) => {
                    // Resume elsewhere: this member broke the stream or stopped answering.
                    self.transport.endpoint_failed(&endpoint, &err);
                    event!(
                        info,
                        "watch {} resumes from revision {}: {}",
                        self.id,
                        self.next_revision,
                        err
                    );
                    self.open = None;
                    self.failures = self.failures.saturating_add(1);
                    continue;
                }
                Err(err) => return self.fail(err),
            };
            if answer.created
                && answer.canceled
                && !self.auth_retried
                && self.transport.has_credentials()
                && auth::is_auth_cancel(&answer.cancel_reason)
            {
                // Refused for its token (3.5 says "permission denied" even for an expired
                // one): fetch a new token and create the watch again, once.
                self.auth_retried = true;
                let used = stream.token().cloned();
                self.open = None;
                if let Err(err) = self.transport.refresh_token_after(used.as_ref()).await {
                    return self.fail(err);
                }
                continue;
            }
            if answer.created && !answer.canceled {
                self.auth_retried = false;
            }
            if let Some(delivered) = self.handle(answer) {
                return Some((delivered, self));
            }
        }
    }

    /// What one answer from the server means for the caller, if anything.
    fn handle(&mut self, answer: w::WatchResponse) -> Option<Result<WatchResponse>> {
        if answer.created {
            let first = !self.established;
            self.established = true;
            self.failures = 0;
            if self.next_revision == 0 {
                // Created "now": everything after the header's revision is news.
                self.next_revision = answer.header.revision.0 + 1;
            }
            self.publish(None);
            if answer.canceled {
                // Refused at creation (auth, duplicate id): pass it on and stop.
                self.end();
                return Some(Ok(WatchResponse::from_wire(answer, self.id)));
            }
            if first {
                self.counted = Some(metrics::OpenWatch::new());
            }
            return first.then(|| Ok(WatchResponse::from_wire(answer, self.id)));
        }
        if answer.canceled {
            self.end();
            if answer.compact_revision.0 > 0 {
                return Some(Err(Error::Compacted {
                    watch_id: self.id,
                    compact_revision: answer.compact_revision.0,
                }));
            }
            return Some(Ok(WatchResponse::from_wire(answer, self.id)));
        }
        let mut answer = match self.partial.take() {
            Some(mut partial) => {
                partial.events.extend(answer.events);
                partial.header = answer.header;
                partial.fragment = answer.fragment;
                partial
            }
            None => answer,
        };
        if answer.fragment {
            self.partial = Some(answer);
            return None;
        }
        self.failures = 0;
        if answer.events.is_empty() {
            // A progress notification: everything up to its revision has been seen.
            self.next_revision = self.next_revision.max(answer.header.revision.0 + 1);
            self.publish(None);
            return Some(Ok(WatchResponse::from_wire(answer, self.id)));
        }
        // Drop what was delivered before a resume (a lagging member may resend it).
        let next = self.next_revision;
        answer
            .events
            .retain(|e| e.kv.as_ref().is_none_or(|kv| kv.mod_revision.0 >= next));
        let last = answer
            .events
            .iter()
            .filter_map(|e| e.kv.as_ref())
            .map(|kv| kv.mod_revision.0)
            .max();
        match last {
            Some(last) => {
                self.next_revision = last + 1;
                self.publish(Some(last));
                if let Some(ns) = &self.namespace {
                    ns.watch_response(&mut answer);
                }
                metrics::watch_events(answer.events.len());
                Some(Ok(WatchResponse::from_wire(answer, self.id)))
            }
            None => None, // every event was a repeat
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    fn task() -> WatchTask {
        let transport = crate::transport::tests::transport_for_tests();
        WatchTask::new(7, transport, w::WatchCreateRequest::default(), None)
    }

    fn answers(name: &str) -> Vec<(&'static str, Vec<w::WatchResponse>)> {
        fixtures::bodies(name)
            .into_iter()
            .map(|(v, body)| {
                let list = body
                    .split(|&b| b == b'\n')
                    .filter(|m| !m.is_empty() && m.starts_with(b"{\"result\""))
                    .map(|m| serde_json::from_slice::<serde_json::Value>(m).unwrap())
                    .map(|v| serde_json::from_value(v["result"].clone()).unwrap())
                    .collect();
                (v, list)
            })
            .collect()
    }

    #[test]
    fn created_is_delivered_once_and_sets_the_resume_point() {
        for (v, list) in answers("42-watch-basic-events") {
            let mut t = task();
            let created = t.handle(list[0].clone()).unwrap().unwrap();
            assert!(created.created() && created.watch_id() == 7, "{v}");
            assert_eq!(t.next_revision, list[0].header.revision.0 + 1, "{v}");
            // The created answer of a resumed watch is not news.
            assert!(t.handle(list[0].clone()).is_none(), "{v}");
            let put = t.handle(list[1].clone()).unwrap().unwrap();
            assert_eq!(put.events().len(), 1, "{v}");
            // The same answer again (a resumed watch replaying) is dropped.
            assert!(t.handle(list[1].clone()).is_none(), "{v}");
            for later in &list[2..] {
                assert!(t.handle(later.clone()).is_some(), "{v}");
            }
        }
    }

    #[test]
    fn a_compacted_start_ends_the_watch_with_the_typed_error() {
        for (v, list) in answers("45-watch-compacted-start-revision") {
            let mut t = task();
            assert!(t.handle(list[0].clone()).unwrap().is_ok(), "{v}");
            match t.handle(list[1].clone()) {
                Some(Err(Error::Compacted {
                    watch_id: 7,
                    compact_revision,
                })) => {
                    assert_eq!(compact_revision, list[1].compact_revision.0, "{v}")
                }
                other => panic!("{v}: {other:?}"),
            }
            assert!(t.done, "{v}");
        }
    }

    #[test]
    fn fragments_are_delivered_as_one_answer() {
        let mut t = task();
        t.established = true;
        t.next_revision = 5;
        let ev = |rev: i64| w::Event {
            kv: Some(crate::wire::KeyValue {
                mod_revision: I64(rev),
                ..Default::default()
            }),
            ..Default::default()
        };
        let piece = |events: Vec<w::Event>, fragment: bool| w::WatchResponse {
            fragment,
            events,
            ..Default::default()
        };
        assert!(t.handle(piece(vec![ev(5), ev(5)], true)).is_none());
        assert!(t.handle(piece(vec![ev(5)], true)).is_none());
        let whole = t.handle(piece(vec![ev(6)], false)).unwrap().unwrap();
        assert_eq!(whole.events().len(), 4);
        assert!(!whole.fragment());
        assert_eq!(t.next_revision, 7);
    }

    #[test]
    fn progress_notifications_move_the_resume_point_and_are_recognised() {
        for (v, list) in answers("43-watch-progress-notify") {
            let mut t = task();
            t.handle(list[0].clone());
            let progress = t.handle(list.last().unwrap().clone()).unwrap().unwrap();
            assert!(progress.is_progress_notify(), "{v}");
            assert_eq!(
                t.next_revision,
                list.last().unwrap().header.revision.0 + 1,
                "{v}"
            );
        }
    }

    #[test]
    fn a_cancel_by_the_server_is_passed_on_with_its_reason() {
        for (v, list) in answers("76-auth-watch-permission-denied") {
            let mut t = task();
            let refused = t.handle(list[0].clone()).unwrap().unwrap();
            assert!(
                refused.canceled() && refused.cancel_reason().contains("permission denied"),
                "{v}"
            );
            assert_eq!(refused.watch_id(), 7, "{v}");
            assert!(t.done, "{v}");
        }
    }
}
