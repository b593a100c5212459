//! A watch stream: several watches (each on the endpoint's WebSocket, or its own HTTP request:
//! `transport/websocket.rs`), merged into one stream of answers as on one gRPC stream, with
//! the sending half that adds, cancels and queries them.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use futures_util::stream::{FuturesUnordered, SelectAll};
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
    ) -> Result<(Option<i64>, bool, w::WatchCreateRequest)> {
        let options = options.unwrap_or_default();
        let id = options.requested_id();
        let resumes = options.resumes();
        let mut request = options.into_request(key)?;
        if let Some(ns) = &self.namespace {
            ns.watch_request(&mut request);
        }
        Ok((id, resumes, request))
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
        let (requested, resumes, request) = self.request(key.into(), options)?;
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
        )
        .resuming(resumes);
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
///
/// Each watch is resumed on its own (on the endpoint's shared WebSocket where there is one,
/// else as an HTTP request of its own); their answers are merged as they come, none starving
/// the others. A watch's first answer (`created`, or the error that kept it from starting)
/// goes out in the order the watches were added, before anything else of that watch, as on one
/// gRPC stream.
pub struct WatchResponseStream {
    transport: Transport,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    /// The watches, in the order they were added.
    watches: Vec<ActiveWatch>,
    ids: SharedIds,
    /// Answers that go out before any other: first answers in the order their watches were
    /// added, cancels and refusals in the order they were asked for.
    ready: VecDeque<Result<WatchResponse>>,
    /// Every watch's answers after its first, merged.
    answers: SelectAll<Answers>,
    progress: FuturesUnordered<rt::BoxFuture<'static, Result<WatchResponse>>>,
}

struct ActiveWatch {
    id: i64,
    /// Its create request (keys, filters) and how far it got, for progress requests.
    request: w::WatchCreateRequest,
    cursor: signal::Receiver<Cursor>,
    last_header: Option<ResponseHeader>,
}

/// One watch's answers, tagged with its id, with `(id, None)` once when the watch ends by
/// itself. A cancel drops its request at once (etcd then removes the watcher), and the merge
/// lets it go at its next poll, without an end of its own.
struct Answers {
    id: i64,
    stream: Option<rt::BoxStream<'static, Result<WatchResponse>>>,
    /// Wakes the merge to poll it after a cancel, so that it leaves.
    waker: Option<Waker>,
}

impl Answers {
    fn cancel(&mut self) {
        self.stream = None;
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl Stream for Answers {
    type Item = (i64, Option<Result<WatchResponse>>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(stream) = this.stream.as_mut() else {
            return Poll::Ready(None);
        };
        match stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(answer)) => Poll::Ready(Some((this.id, Some(answer)))),
            Poll::Ready(None) => {
                this.stream = None;
                Poll::Ready(Some((this.id, None)))
            }
            Poll::Pending => {
                if !this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    this.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
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
            answers: SelectAll::new(),
            progress: FuturesUnordered::new(),
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

    /// Whether nothing is left to answer: no watch, no progress request, nothing ready. Only
    /// meaningful right after a poll (which took in every command sent before it).
    #[allow(dead_code)] // used by the blocking client only (feature `blocking`, native)
    fn is_idle(&self) -> bool {
        self.watches.is_empty() && self.progress.is_empty() && self.ready.is_empty()
    }

    /// Takes a watch the sender opened: its first answer goes out after those of the watches
    /// added before it, and before the rest of its own.
    fn add_watch(&mut self, watch: NewWatch) {
        let NewWatch {
            id,
            request,
            cursor,
            first,
            rest,
        } = watch;
        let last_header = match &first {
            Some(Ok(resp)) => resp.header().cloned(),
            _ => None,
        };
        self.watches.push(ActiveWatch {
            id,
            request,
            cursor,
            last_header,
        });
        self.ready.extend(first);
        self.answers.push(Answers {
            id,
            stream: Some(rest),
            waker: None,
        });
    }

    fn cancel(&mut self, id: i64) {
        if let Some(i) = self.watches.iter().position(|w| w.id == id) {
            let watch = self.watches.remove(i);
            // Dropping the stream closes its HTTP request: etcd removes the watcher.
            self.answers
                .iter_mut()
                .filter(|a| a.id == id)
                .for_each(Answers::cancel);
            lock(&self.ids).in_use.remove(&id);
            self.ready
                .push_back(Ok(WatchResponse::cancelled(watch.last_header, id)));
        }
    }

    /// A watch ended by itself (its last answer went out): its id is free again.
    fn ended(&mut self, id: i64) {
        if let Some(i) = self.watches.iter().position(|w| w.id == id) {
            self.watches.remove(i);
            lock(&self.ids).in_use.remove(&id);
        }
    }

    fn request_progress(&mut self) {
        let probes = self
            .watches
            .iter()
            .filter(|w| w.cursor.borrow().next > 0)
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
        // Empty, either of them is `Ready(None)`: nothing now, not the end of this stream.
        if let Poll::Ready(Some(item)) = this.progress.poll_next_unpin(cx) {
            return Poll::Ready(Some(item));
        }
        while let Poll::Ready(Some((id, answer))) = this.answers.poll_next_unpin(cx) {
            match answer {
                Some(answer) => {
                    if let (Ok(resp), Some(watch)) =
                        (&answer, this.watches.iter_mut().find(|w| w.id == id))
                    {
                        if let Some(header) = resp.header() {
                            watch.last_header = Some(header.clone());
                        }
                    }
                    return Poll::Ready(Some(answer));
                }
                None => this.ended(id),
            }
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

    /// The next answer, or `None` once no watch is left (cancelled, ended by the server or by
    /// an error) and nothing else is owed: the blocking stream's end, where this one waits for
    /// another [`watch`](Self::watch). Only this stream's own sender adds watches, so nothing
    /// can arrive after that.
    #[allow(dead_code)] // used by the blocking client only (feature `blocking`, native)
    pub(crate) async fn message_until_idle(&mut self) -> Option<Result<WatchResponse>> {
        let responses = &mut self.responses;
        std::future::poll_fn(|cx| match Pin::new(&mut *responses).poll_next(cx) {
            Poll::Pending if responses.is_idle() => Poll::Ready(None),
            polled => polled,
        })
        .await
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

#[cfg(test)]
mod tests;
