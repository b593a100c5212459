//! Watches sharing a few watch requests per endpoint, where no WebSocket carries them (auth on
//! etcd before 3.5.34, a proxy that refuses the upgrade, a JavaScript host with headers of its
//! own, `with_websocket(false)`).
//!
//! Over HTTP/1.1 a watch request's body is sent whole before etcd answers (GATEWAY.md 4.2), so
//! nothing can be added to an open one; but one body can carry many creates, each with its own
//! id. A carrier here (`shared.rs`) holds one open request carrying every watch it has. A watch
//! added or (after enough cancels) taken away opens a new request carrying every watch, each
//! from the revision after the last one it delivered; the old request is read on until the new
//! one has answered every create, and closed then. What both deliver meanwhile is sorted out by
//! revision: an answer whose events were all delivered already is dropped here, and the watch's
//! state drops the repeats of one that straddles (`api/watch/task.rs`); the new request's
//! `created` answers are not news. Watches added while a new request opens wait for the next.
//!
//! Through an endpoint that holds streamed answers back (a buffering proxy, `stream_mode.rs`)
//! each request is a long poll: the server ends it after the poll interval, and the next one
//! carries every watch on from where it got, so the watches still share the bounded requests.
//!
//! [`ConnectOptions::with_streams_per_endpoint`](crate::ConnectOptions::with_streams_per_endpoint)
//! bounds the requests: the first watches get a request each, later ones join the request with
//! the fewest. A watch asking for fragments goes alone (its answer's pieces are sorted out by
//! the watch itself, not by revision). A new token (after a refresh) opens requests of its own.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::decode::decode_stream_message;
use super::endpoints::Endpoint;
use super::shared::{
    check_quiet, parse_create, Answer, Broken, Carrier, Command, Kind, Liveness, NotOpened, Route,
    RouteAnswer, Subscription,
};
use super::stream_mode::Carriage;
use super::streams::poll_ended;
use super::{OpenStream, Transport, WeakTransport};
use crate::error::Result;
use crate::rt;
use crate::wire::paths;

/// How many watch requests a client holds per endpoint when they are shared, unless
/// [`ConnectOptions::with_streams_per_endpoint`](crate::ConnectOptions::with_streams_per_endpoint)
/// says otherwise: a browser has six connections per host over HTTP/1.1, and this leaves two
/// for the other calls.
pub const DEFAULT_STREAMS_PER_ENDPOINT: usize = 4;

/// How much of a request body Go's HTTP server reads and throws away when the handler answers
/// before reading it all (`maxPostHandlerReadBytes`, 256 KiB), and one more byte.
const UNREAD_BODY_DISCARDED: usize = (256 << 10) + 1;

/// The shared watch requests of one transport, per endpoint.
#[derive(Debug, Default)]
pub(crate) struct Bundles {
    /// Held while a carrier is chosen or opened.
    open: tokio::sync::Mutex<HashMap<u64, Vec<Weak<Carrier>>>>,
}

impl Transport {
    /// Whether a watch request to `endpoint` goes on a shared request: a watch, on `http://`,
    /// to an endpoint known to stream or to hold answers back (not one being found out).
    pub(super) fn in_bundle(&self, endpoint: &Endpoint, path: &str, pollable: bool) -> bool {
        path == paths::WATCH
            && endpoint.url().scheme() == "http"
            && self.carriage(endpoint, pollable) != Carriage::Detect
            && rt::Spawner::current("shared watch requests").is_ok()
    }

    /// Puts a watch (`body`: its create request) on one of `endpoint`'s shared requests for
    /// `token`, and waits for its first answer.
    pub(super) async fn bundle_subscribe(
        &self,
        endpoint: &Arc<Endpoint>,
        body: &Bytes,
        token: Option<Arc<str>>,
    ) -> std::result::Result<(Subscription, Bytes), NotOpened> {
        let create = parse_create(body)?;
        let fragments = create
            .pointer("/create_request/fragment")
            .and_then(serde_json::Value::as_bool);
        if fragments == Some(true) {
            return Err(NotOpened::UseHttp);
        }
        let carrier = self.bundle(endpoint, token).await?;
        self.subscribe_on(carrier, create).await
    }

    /// A carrier for a new watch: a new one while there are fewer than the limit, else the
    /// one with the fewest watches. Its load counts the new watch already.
    async fn bundle(
        &self,
        endpoint: &Arc<Endpoint>,
        token: Option<Arc<str>>,
    ) -> std::result::Result<Arc<Carrier>, NotOpened> {
        let limit = self.inner.config.streams.per_endpoint.max(1);
        let mut open = self.inner.bundles.open.lock().await;
        let list = open.entry(endpoint.id()).or_default();
        list.retain(|c| {
            c.upgrade()
                .is_some_and(|c| !c.closed.load(Ordering::Acquire))
        });
        let mine: Vec<Arc<Carrier>> = list
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|c| c.open_for(&token))
            .collect();
        if mine.len() >= limit {
            if let Some(least) = mine
                .into_iter()
                .min_by_key(|c| c.load.load(Ordering::Relaxed))
            {
                least.load.fetch_add(1, Ordering::Relaxed);
                return Ok(least);
            }
        }
        let spawner =
            rt::Spawner::current("shared watch requests").map_err(|_| NotOpened::UseHttp)?;
        let (carrier, commands) = Carrier::new(Kind::Requests, endpoint.clone(), token.clone());
        carrier.load.fetch_add(1, Ordering::Relaxed);
        let task = BundleTask {
            commands,
            watches: BTreeMap::new(),
            current: None,
            renewal: None,
            added: false,
            gone: 0,
            endpoint: endpoint.clone(),
            token,
            transport: self.downgrade(),
            closed: carrier.closed.clone(),
        };
        spawner.spawn(task.run());
        list.push(Arc::downgrade(&carrier));
        event!(
            debug,
            "a shared watch request to {} ({} now)",
            endpoint.url(),
            list.len()
        );
        Ok(carrier)
    }
}

/// One watch on a shared request.
struct Carried {
    answers: mpsc::UnboundedSender<Answer>,
    /// Its request (`{"create_request": ...}`, with its id).
    request: serde_json::Value,
    /// The first revision it has not delivered: where a new request starts it. 0 for a watch
    /// "from now" that was not created yet.
    next: i64,
    /// Whether its `created` was delivered (a new request's is not news).
    created: bool,
}

/// One open request and what it carries.
struct Body {
    stream: OpenStream,
    /// A long poll: the server ends it after the poll interval, and that is its normal end.
    polls: bool,
    /// Whether it delivered anything (a poll always delivers its creates' answers).
    answered: bool,
    carries: HashSet<i64>,
    /// Its creates not answered yet, in order: etcd answers creates in order, and a refused one
    /// says `watch_id` -1 (GATEWAY.md 4.6).
    unanswered: VecDeque<i64>,
}

impl Body {
    /// Whether it was a long poll that answered before it ended.
    fn polled(&self) -> bool {
        self.polls && self.answered
    }
}

/// The task that owns a carrier of requests.
struct BundleTask {
    commands: mpsc::UnboundedReceiver<Command>,
    watches: BTreeMap<i64, Carried>,
    /// The request the watches are read from.
    current: Option<Body>,
    /// A new request, until it has answered every create: then it is `current`.
    renewal: Option<Body>,
    /// Watches were added since the last request opened.
    added: bool,
    /// Watches `current` carries that were canceled since.
    gone: usize,
    endpoint: Arc<Endpoint>,
    token: Option<Arc<str>>,
    transport: WeakTransport,
    closed: Arc<AtomicBool>,
}

/// What woke the task.
enum Wake {
    Command(Option<Command>),
    Current(Result<Option<Bytes>>),
    Renewal(Result<Option<Bytes>>),
    Quiet,
}

/// Whether `message` is the server ending a long poll at its deadline (GATEWAY.md 8).
fn poll_end(endpoint: &Endpoint, message: &[u8]) -> bool {
    decode_stream_message::<serde::de::IgnoredAny>(endpoint.url(), message)
        .err()
        .is_some_and(|err| poll_ended(&err))
}

/// The next message of a request, if there is one (else never).
async fn read(body: &mut Option<Body>) -> Result<Option<Bytes>> {
    match body {
        Some(body) => body.stream.next_message().await,
        None => std::future::pending().await,
    }
}

impl BundleTask {
    async fn run(mut self) {
        let broken = self.serve().await;
        self.closed.store(true, Ordering::Release);
        self.current = None;
        self.renewal = None;
        for (_, watch) in std::mem::take(&mut self.watches) {
            if let Some(broken) = &broken {
                let _ = watch.answers.send(Err(broken.clone()));
            }
            // Otherwise dropping the sender ends the watch's messages: a normal close.
        }
    }

    /// Serves the watches until the carrier ends: `None` for a normal end (the member closed
    /// a request, or no watch can come any more), else why it broke.
    async fn serve(&mut self) -> Option<Broken> {
        use futures_util::future::{select, Either};
        let (interval, _) = self.transport.upgrade()?.inner.config.liveness;
        loop {
            if self.renewal.is_none() && self.wants_renewal() {
                match self.open_body().await {
                    Ok(body) => self.renewal = Some(body),
                    Err(broken) => return Some(broken),
                }
            }
            let wake = {
                let command = std::pin::pin!(self.commands.recv());
                let current = std::pin::pin!(read(&mut self.current));
                let renewal = std::pin::pin!(read(&mut self.renewal));
                let quiet = std::pin::pin!(rt::sleep(interval));
                match select(select(command, quiet), select(current, renewal)).await {
                    Either::Left((Either::Left((command, _)), _)) => Wake::Command(command),
                    Either::Left((Either::Right(_), _)) => Wake::Quiet,
                    Either::Right((Either::Left((message, _)), _)) => Wake::Current(message),
                    Either::Right((Either::Right((message, _)), _)) => Wake::Renewal(message),
                }
            };
            match wake {
                Wake::Command(None) => return None,
                Wake::Command(Some(command)) => {
                    self.command(command);
                    while let Ok(command) = self.commands.try_recv() {
                        self.command(command);
                    }
                    if self.watches.is_empty() {
                        // Nothing left to carry: close the requests until a watch comes.
                        self.current = None;
                        self.renewal = None;
                        self.added = false;
                        self.gone = 0;
                    }
                }
                Wake::Current(Ok(Some(message))) => self.route(message, false),
                Wake::Renewal(Ok(Some(message))) => {
                    self.route(message, true);
                    if self
                        .renewal
                        .as_ref()
                        .is_some_and(|b| b.unanswered.is_empty())
                    {
                        self.switch();
                    }
                }
                // The member ended a request: every watch resumes, as after an HTTP watch's end.
                // A long poll's end: the next one carries the watches on from where they got.
                // (One that ended without answering anything failed: the watches resume, after
                // the resumes' backoff, rather than polling again at once.)
                Wake::Current(Ok(None)) if self.current.as_ref().is_some_and(Body::polled) => {
                    self.current = None;
                }
                Wake::Renewal(Ok(None)) if self.renewal.as_ref().is_some_and(Body::polled) => {
                    self.renewal = None;
                    self.added = true;
                }
                Wake::Current(Ok(None)) | Wake::Renewal(Ok(None)) => return None,
                Wake::Current(Err(e)) | Wake::Renewal(Err(e)) => {
                    return Some(Broken::Failed(e.to_string()))
                }
                Wake::Quiet => match check_quiet(&self.transport, &self.endpoint).await {
                    Liveness::Alive => {}
                    Liveness::ClientGone => return None,
                    Liveness::Dead(broken) => return Some(broken),
                },
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Create {
                id,
                request,
                answers,
            } => {
                let next = request
                    .pointer("/create_request/start_revision")
                    .and_then(|r| match r {
                        serde_json::Value::String(s) => s.parse().ok(),
                        other => other.as_i64(),
                    })
                    .unwrap_or(0);
                self.watches.insert(
                    id,
                    Carried {
                        answers,
                        request,
                        next,
                        created: false,
                    },
                );
                self.added = true;
            }
            Command::Cancel(id) => {
                let carried = self
                    .current
                    .as_ref()
                    .is_some_and(|b| b.carries.contains(&id));
                if self.watches.remove(&id).is_some() && carried {
                    self.gone = self.gone.saturating_add(1);
                }
            }
        }
    }

    /// Whether to open a new request: one carries no watch yet, or half of what the current
    /// one carries was canceled.
    fn wants_renewal(&self) -> bool {
        if self.watches.is_empty() {
            return false;
        }
        match &self.current {
            None => true,
            Some(body) => self.added || (self.gone > 0 && self.gone * 2 >= body.carries.len()),
        }
    }

    /// Opens a request carrying every watch, each from the revision after its last one.
    async fn open_body(&mut self) -> std::result::Result<Body, Broken> {
        let transport = self
            .transport
            .upgrade()
            .ok_or_else(|| Broken::Failed("the client is gone".into()))?;
        let mut text = String::new();
        let mut carries = HashSet::with_capacity(self.watches.len());
        let mut unanswered = VecDeque::with_capacity(self.watches.len());
        for (id, watch) in &self.watches {
            if watch.next > 0 {
                let mut request = watch.request.clone();
                if let Some(create) = request.get_mut("create_request") {
                    create["start_revision"] = serde_json::Value::String(watch.next.to_string());
                }
                text.push_str(&request.to_string());
            } else {
                text.push_str(&watch.request.to_string());
            }
            text.push('\n');
            carries.insert(*id);
            unanswered.push_back(*id);
        }
        self.added = false;
        if carries.len() > 1 {
            // Go's HTTP server throws away what its handler has not read of a request body
            // when the first answer goes out, if less than 256 KiB are left: creates the
            // gateway had not read yet would be lost (GATEWAY.md 4.2). Spaces after the creates
            // (whitespace between JSON values) leave either 256 KiB or more unread, which Go
            // then leaves to the handler, or only spaces.
            text.extend(std::iter::repeat_n(' ', UNREAD_BODY_DISCARDED));
        }
        let limit = transport.inner.config.max_message_size;
        let poll = match transport.carriage(&self.endpoint, true) {
            Carriage::Poll(interval) => Some(interval),
            Carriage::Stream | Carriage::Detect => None,
        };
        // A poll's answers may all come at its end: room for it.
        let deadline = transport
            .request_timeout()
            .saturating_add(poll.unwrap_or_default());
        let open = transport.open_attempt(
            self.endpoint.clone(),
            paths::WATCH,
            Bytes::from(text),
            limit,
            self.token.clone(),
            poll,
        );
        match rt::timeout(deadline, open).await {
            Ok(Ok(stream)) => Ok(Body {
                stream,
                polls: poll.is_some(),
                answered: false,
                carries,
                unanswered,
            }),
            Ok(Err(err)) => Err(Broken::Failed(err.to_string())),
            Err(_) => Err(Broken::Failed(format!(
                "a watch request was not answered within {deadline:?}"
            ))),
        }
    }

    /// The new request answered every create: read the watches from it, close the old one.
    fn switch(&mut self) {
        self.current = self.renewal.take();
        self.gone = self.current.as_ref().map_or(0, |body| {
            body.carries
                .iter()
                .filter(|id| !self.watches.contains_key(id))
                .count()
        });
    }

    /// Hands a message to its watch, unless it was delivered already: a `created` answer to
    /// the oldest create of its request not answered yet, any other `result` by its watch id;
    /// etcd's `{"error": ...}`, which ends the request, to every watch.
    fn route(&mut self, message: Bytes, from_renewal: bool) {
        let mut body = match from_renewal {
            true => self.renewal.as_mut(),
            false => self.current.as_mut(),
        };
        if let Some(body) = body.as_mut() {
            body.answered = true;
        }
        let polls = body.as_ref().is_some_and(|b| b.polls);
        let Ok(Route {
            result: Some(answer),
        }) = serde_json::from_slice::<Route<RouteAnswer>>(&message)
        else {
            if polls && poll_end(&self.endpoint, &message) {
                return; // the server ending the poll: the body's end comes next
            }
            for watch in self.watches.values() {
                let _ = watch.answers.send(Ok(message.clone()));
            }
            return;
        };
        let id = match answer.created {
            true => body
                .and_then(|b| b.unanswered.pop_front())
                .unwrap_or(answer.watch_id.0),
            false => answer.watch_id.0,
        };
        // A watch canceled since (its last answers): no one's.
        let Some(watch) = self.watches.get_mut(&id) else {
            return;
        };
        if answer.created {
            if watch.created && !answer.canceled {
                return; // a new request's create of a watch that goes on
            }
            watch.created = true;
            if watch.next == 0 {
                // Created "now": everything after the header's revision is news.
                watch.next = answer.revision().saturating_add(1);
            }
        } else if let Some(last) = answer.last_event() {
            if last < watch.next {
                return; // delivered already, by the other request
            }
            watch.next = last.saturating_add(1);
        } else if !answer.canceled {
            // A progress notification: everything up to its revision was delivered.
            let covered = answer.revision().saturating_add(1);
            if covered < watch.next {
                return; // an older one than what was delivered
            }
            watch.next = covered;
        }
        let _ = watch.answers.send(Ok(message));
    }
}
