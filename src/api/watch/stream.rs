//! A watch stream: several watches, each its own HTTP request, merged into one stream of
//! answers as on one gRPC stream, with the sending half that adds, cancels and queries them.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch as signal};

use super::progress::{self, Cursor, Probe};
use super::task::WatchTask;
use super::{WatchOptions, WatchResponse};
use crate::api::namespace::Namespace;
use crate::api::ResponseHeader;
use crate::error::{Error, Result};
use crate::rt;
use crate::transport::{resume, Transport};
use crate::wire::watch as w;

enum Command {
    /// A watch, opened already: its first answer came, or the error that kept it from
    /// starting.
    Watch(Box<NewWatch>),
    /// A create refused before it was sent: its id is in use on the stream.
    Refused(i64),
    Cancel(i64),
    Progress,
}

struct NewWatch {
    id: i64,
    request: w::WatchCreateRequest,
    cursor: signal::Receiver<Cursor>,
    first: Option<Result<WatchResponse>>,
    rest: rt::BoxStream<'static, Result<WatchResponse>>,
}

/// The watch ids in use on one stream, shared by its two halves: the sender numbers new
/// watches as etcd does, the answers free ids as watches end.
#[derive(Debug, Default)]
struct Ids {
    in_use: BTreeSet<i64>,
    next: i64,
}

/// The ids of a stream.
type SharedIds = Arc<Mutex<Ids>>;

fn lock(ids: &SharedIds) -> MutexGuard<'_, Ids> {
    ids.lock().unwrap_or_else(|e| e.into_inner())
}

/// The sending half of a [`WatchStream`]: adds watches, cancels them, asks for progress.
#[derive(Clone)]
pub struct WatchRequestSender {
    tx: mpsc::UnboundedSender<Command>,
    transport: Transport,
    max_message_size: Option<usize>,
    namespace: Option<Namespace>,
    ids: SharedIds,
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
        let id = options.requested_id();
        let mut request = options.into_request(key)?;
        if let Some(ns) = &self.namespace {
            ns.watch_request(&mut request);
        }
        Ok((id, request))
    }

    /// Adds a watch to the stream; its `created` answer comes on the stream.
    ///
    /// The watch is created on the server before this returns (as a gRPC client sends its
    /// create at once), so a watch "from now" sees every change made after the call, whether
    /// or not the stream was read in between. Its `created` answer, or the error that kept it
    /// from starting, comes on the stream.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty key without a range option;
    /// [`Error::StreamClosed`] if the response stream was dropped.
    pub async fn watch(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<()> {
        let (requested, request) = self.request(key.into(), options)?;
        let id = {
            let mut ids = lock(&self.ids);
            match requested {
                Some(id) if ids.in_use.contains(&id) => None,
                Some(id) => Some(id),
                None => {
                    while ids.in_use.contains(&ids.next) {
                        ids.next += 1;
                    }
                    let id = ids.next;
                    ids.next += 1;
                    Some(id)
                }
            }
            .inspect(|&id| {
                ids.in_use.insert(id);
            })
        };
        let Some(id) = id else {
            return self.send(Command::Refused(requested.unwrap_or_default()));
        };
        let task = WatchTask::new(
            id,
            request.clone(),
            self.max_message_size,
            self.namespace.clone(),
        );
        let cursor = task.cursor.subscribe();
        let mut rest = resume::resumable(self.transport.clone(), task);
        let first = rest.next().await;
        let sent = self.send(Command::Watch(Box::new(NewWatch {
            id,
            request,
            cursor,
            first,
            rest,
        })));
        if sent.is_err() {
            lock(&self.ids).in_use.remove(&id);
        }
        sent
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
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    watches: Vec<ActiveWatch>,
    ids: SharedIds,
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
        ids: SharedIds,
    ) -> Self {
        WatchResponseStream {
            transport,
            commands,
            commands_open: true,
            watches: Vec::new(),
            ids,
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

    /// Takes a watch the sender opened: its first answer goes out before the rest.
    fn add_watch(&mut self, watch: NewWatch) {
        let NewWatch {
            id,
            request,
            cursor,
            first,
            rest,
        } = watch;
        self.watches.push(ActiveWatch {
            id,
            request,
            cursor,
            last_header: None,
            stream: Box::pin(futures_util::stream::iter(first).chain(rest)),
            announced: false,
            held: None,
        });
    }

    fn cancel(&mut self, id: i64) {
        if let Some(i) = self.watches.iter().position(|w| w.id == id) {
            // Dropping the stream closes its HTTP request: etcd removes the watcher.
            let watch = self.watches.remove(i);
            lock(&self.ids).in_use.remove(&id);
            self.ready
                .push_back(Ok(WatchResponse::cancelled(watch.last_header, id)));
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
                    Some(Command::Watch(watch)) => this.add_watch(*watch),
                    Some(Command::Refused(id)) => this
                        .ready
                        .push_back(Ok(WatchResponse::refused(id, DUPLICATE_ID.to_string()))),
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
                        if let Some(header) = resp.header() {
                            watch.last_header = Some(header.clone());
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
            let watch = this.watches.remove(i);
            lock(&this.ids).in_use.remove(&watch.id);
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
    /// Starts a stream with its first watch and waits for that watch's first answer:
    /// `created`, or the error that kept it from starting.
    pub(super) async fn open(
        transport: Transport,
        namespace: Option<Namespace>,
        max_message_size: Option<usize>,
        key: Vec<u8>,
        options: Option<WatchOptions>,
    ) -> Result<WatchStream> {
        let (tx, rx) = mpsc::unbounded_channel();
        let ids = SharedIds::default();
        let sender = WatchRequestSender {
            tx,
            transport: transport.clone(),
            max_message_size,
            namespace,
            ids: ids.clone(),
        };
        let mut responses = WatchResponseStream::new(transport, rx, ids);
        sender.watch(key, options).await?;
        match responses.next().await {
            Some(Ok(first)) => responses.ready.push_front(Ok(first)),
            Some(Err(err)) => return Err(err),
            None => return Err(Error::StreamClosed),
        }
        Ok(WatchStream { sender, responses })
    }

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
