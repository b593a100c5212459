//! Watches multiplexed on one WebSocket per endpoint.
//!
//! Over plain HTTP/1.1 an open watch request holds a connection of its own, and cannot carry
//! a second message (GATEWAY.md 4.2); etcd's gateway also answers `GET /v3/watch` with
//! `Upgrade: websocket`, and one socket then carries creates and cancels both ways, as a gRPC
//! stream does. Here the client's watches on an `http://` endpoint share one socket: each is a
//! [`Subscription`], its create sent on the socket with an id the socket numbers, the answers
//! with that id routed to it by the socket's task, a cancel sent when it is dropped. The
//! socket closes when its last subscription goes.
//!
//! What a subscription reads is what an HTTP watch body carries (`{"result": ...}` messages,
//! etcd's `{"error": ...}`), so the resumable stream (`resume.rs`) and the watch's state
//! (`api/watch/task.rs`) read it the same way. When the socket breaks every subscription gets
//! the failure and resumes as a broken HTTP stream does: from the revision after the last one
//! delivered, on a new socket (the first to reopen opens it, the others join).
//!
//! The socket's task checks the member's liveness itself (one status request per idle
//! interval, not one per watch), so a subscription is read without a watchdog of its own.
//!
//! With a user, the socket carries the token as `Sec-WebSocket-Protocol: Bearer, <token>`,
//! which etcd takes from 3.5.34 on (GATEWAY.md 4.6); a socket serves the token it was opened
//! with, and a new token opens a new socket. An older etcd refuses the socket's first create
//! for its token: the endpoint is then remembered as one whose watches go as HTTP requests
//! (where the token goes in `Authorization`), unless a socket there authenticated before (then
//! the refusal is the token's, and the watch fetches a new one as over HTTP).
//!
//! Where a socket is not used (the resumable stream's HTTP requests carry these): an `https://`
//! endpoint (HTTP/2 multiplexes the requests on one connection already),
//! `StreamMode::LongPoll`, a JavaScript host when the client has headers of its own (a host's
//! WebSocket sends none), outside a runtime, an endpoint whose upgrade was refused (a proxy
//! that does not pass WebSockets on) and, with a user, one that cannot authenticate a socket:
//! both remembered for the endpoint.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::auth;
use super::endpoints::Endpoint;
use super::unary::{transport_error, upgrade_delivery};
use super::{Transport, WeakTransport};
use crate::error::{Delivery, Error, Result};
use crate::rt;
use crate::rt::websocket::{Message, OpenError, WebSocket};
use crate::wire::codec::I64;
use crate::wire::paths;

/// The sockets of one transport, per endpoint, and the endpoints that refused one.
#[derive(Debug, Default)]
pub(crate) struct Sockets {
    /// Held while a socket is looked up or opened, so that watches opening together share one.
    open: tokio::sync::Mutex<HashMap<u64, Weak<Socket>>>,
    /// Endpoints whose upgrade was answered with something else than `101`.
    refused: Mutex<HashSet<u64>>,
    /// Endpoints whose sockets took a token (a create went through on one).
    authenticate: Mutex<HashSet<u64>>,
    /// Endpoints that refused a socket's token before any took one (etcd before 3.5.34).
    no_token: Mutex<HashSet<u64>>,
}

impl Sockets {
    fn usable(&self, endpoint: &Endpoint, token: bool) -> bool {
        let refused = lock(&self.refused).contains(&endpoint.id());
        let no_token = token && lock(&self.no_token).contains(&endpoint.id());
        !refused && !no_token
    }

    fn refuse(&self, endpoint: &Endpoint) {
        lock(&self.refused).insert(endpoint.id());
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// One open socket: the way to its task.
pub(crate) struct Socket {
    endpoint: Arc<Endpoint>,
    /// The token the socket was opened with: its watches are the token's.
    token: Option<Arc<str>>,
    commands: mpsc::UnboundedSender<Command>,
    /// The next watch id on this socket (etcd's ids are per stream; 0 is never used, since
    /// etcd's answers leave a zero id out).
    next_id: AtomicI64,
    /// Set by the task when the socket ended: a new watch opens a new socket.
    closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for Socket {
    /// Without the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("endpoint", self.endpoint.url())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum Command {
    Create {
        id: i64,
        text: String,
        answers: mpsc::UnboundedSender<Answer>,
    },
    Cancel(i64),
}

/// What the task hands a subscription: a message, or why the socket broke.
type Answer = std::result::Result<Bytes, Broken>;

/// Why a socket broke, for each subscription's own error.
#[derive(Debug, Clone)]
enum Broken {
    /// The connection failed or closed abnormally.
    Failed(String),
    /// The member did not answer a liveness check.
    Dead(String),
}

/// One watch on a socket: its answers in order; dropping it cancels the watch.
#[derive(Debug)]
pub(crate) struct Subscription {
    socket: Arc<Socket>,
    id: i64,
    answers: mpsc::UnboundedReceiver<Answer>,
}

impl Subscription {
    /// The token the socket carries.
    pub(crate) fn token(&self) -> Option<&Arc<str>> {
        self.socket.token.as_ref()
    }

    /// The next message of this watch; `Ok(None)` once the socket closed normally (the member
    /// went away: the watch resumes, as after a watch body's end).
    ///
    /// # Errors
    /// [`Error::Transport`] (may have been sent) when the socket broke or its member stopped
    /// answering.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>> {
        match self.answers.recv().await {
            Some(Ok(message)) => Ok(Some(message)),
            Some(Err(broken)) => Err(Error::Transport {
                endpoint: self.socket.endpoint.url().clone().into(),
                delivery: Delivery::MaybeSent,
                source: match broken {
                    Broken::Failed(reason) => format!("the WebSocket broke: {reason}"),
                    Broken::Dead(reason) => reason,
                }
                .into(),
            }),
            None => Ok(None),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // The task may be gone already (the socket ended): nothing to cancel then.
        let _ = self.socket.commands.send(Command::Cancel(self.id));
    }
}

/// Why a watch could not be put on a socket.
pub(crate) enum NotOpened {
    /// Not on a socket: send it as an HTTP request (the upgrade was refused, or a JavaScript
    /// host's WebSocket failed without saying why).
    UseHttp,
    /// The endpoint did not answer: the request's failure.
    Failed(Error),
}

impl Transport {
    /// Whether a watch to `endpoint` goes on its socket (see the module docs for when not);
    /// `token`: whether it carries one.
    pub(super) fn on_socket(&self, endpoint: &Endpoint, path: &str, token: bool) -> bool {
        let config = &self.inner.config;
        path == paths::WATCH
            && config.streams.websocket
            && config.streams.mode != super::StreamMode::LongPoll
            && endpoint.url().scheme() == "http"
            && rt::websocket_usable(!config.headers.is_empty())
            && self.inner.sockets.usable(endpoint, token)
            && rt::Spawner::current("a WebSocket").is_ok()
    }

    /// Puts a watch (`body`: its create request) on `endpoint`'s socket for `token`, opening
    /// the socket if there is none, and waits for the watch's first answer.
    pub(super) async fn subscribe(
        &self,
        endpoint: &Arc<Endpoint>,
        body: &Bytes,
        token: Option<Arc<str>>,
    ) -> std::result::Result<(Subscription, Bytes), NotOpened> {
        let mut create: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| NotOpened::Failed(Error::invalid(format!("a watch request: {e}"))))?;
        let with_token = token.is_some();
        let socket = self.socket(endpoint, token).await?;
        let id = socket.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(request) = create.get_mut("create_request") {
            request["watch_id"] = serde_json::Value::String(id.to_string());
        }
        let (tx, answers) = mpsc::unbounded_channel();
        let mut subscription = Subscription {
            socket: socket.clone(),
            id,
            answers,
        };
        let text = create.to_string();
        if socket
            .commands
            .send(Command::Create {
                id,
                text,
                answers: tx,
            })
            .is_err()
        {
            return Err(NotOpened::Failed(self.socket_gone(endpoint)));
        }
        match subscription.next().await {
            Ok(Some(first)) if with_token => self.took_token(endpoint, subscription, first),
            Ok(Some(first)) => Ok((subscription, first)),
            Ok(None) => Err(NotOpened::Failed(self.socket_gone(endpoint))),
            Err(err) => Err(NotOpened::Failed(err)),
        }
    }

    /// A watch's first answer on a socket with a token: whether the socket took the token.
    /// A refusal for the token where no socket took one yet says that this etcd does not read
    /// a token on a socket (before 3.5.34): the watch goes as an HTTP request, and so do the
    /// endpoint's later ones.
    fn took_token(
        &self,
        endpoint: &Endpoint,
        subscription: Subscription,
        first: Bytes,
    ) -> std::result::Result<(Subscription, Bytes), NotOpened> {
        let sockets = &self.inner.sockets;
        let answer = serde_json::from_slice::<First>(&first)
            .ok()
            .and_then(|f| f.result);
        match answer {
            Some(a) if a.created && !a.canceled => {
                lock(&sockets.authenticate).insert(endpoint.id());
            }
            Some(a)
                if a.created
                    && a.canceled
                    && auth::is_auth_cancel(&a.cancel_reason)
                    && !lock(&sockets.authenticate).contains(&endpoint.id()) =>
            {
                event!(
                    info,
                    "{} takes no token on a WebSocket: its watches go as HTTP requests",
                    endpoint.url()
                );
                lock(&sockets.no_token).insert(endpoint.id());
                return Err(NotOpened::UseHttp);
            }
            _ => {}
        }
        Ok((subscription, first))
    }

    fn socket_gone(&self, endpoint: &Endpoint) -> Error {
        Error::Transport {
            endpoint: endpoint.url().clone().into(),
            delivery: Delivery::MaybeSent,
            source: "the WebSocket closed before the watch's first answer".into(),
        }
    }

    /// The endpoint's open socket for `token`, or a new one.
    async fn socket(
        &self,
        endpoint: &Arc<Endpoint>,
        token: Option<Arc<str>>,
    ) -> std::result::Result<Arc<Socket>, NotOpened> {
        let mut open = self.inner.sockets.open.lock().await;
        if let Some(socket) = open.get(&endpoint.id()).and_then(Weak::upgrade) {
            if !socket.closed.load(Ordering::Acquire) && socket.token == token {
                return Ok(socket);
            }
        }
        open.retain(|_, socket| socket.strong_count() > 0);
        let ws = self.upgrade(endpoint, token.as_deref()).await?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let closed = Arc::new(AtomicBool::new(false));
        let socket = Arc::new(Socket {
            endpoint: endpoint.clone(),
            token,
            commands,
            next_id: AtomicI64::new(1),
            closed: closed.clone(),
        });
        let task = SocketTask {
            ws,
            commands: receiver,
            watches: HashMap::new(),
            unanswered: VecDeque::new(),
            endpoint: endpoint.clone(),
            transport: self.downgrade(),
            closed,
        };
        let spawner = rt::Spawner::current("a WebSocket").map_err(|_| NotOpened::UseHttp)?;
        spawner.spawn(task.run());
        open.insert(endpoint.id(), Arc::downgrade(&socket));
        event!(debug, "watches on {} share a WebSocket", endpoint.url());
        Ok(socket)
    }

    /// The upgrade itself, with the application's headers and User-Agent, and the token as
    /// etcd's gateway reads one on a socket.
    async fn upgrade(
        &self,
        endpoint: &Arc<Endpoint>,
        token: Option<&str>,
    ) -> std::result::Result<WebSocket, NotOpened> {
        let request = self.inner.http.get(endpoint.parsed_url_for(paths::WATCH));
        let request = self.inner.headers.apply(request, token.is_some());
        let protocols = match token {
            Some(token) => vec!["Bearer".to_string(), token.to_string()],
            None => Vec::new(),
        };
        // The request's deadline (the caller's retry loop) covers the upgrade.
        match rt::websocket::open(request, protocols).await {
            Ok(ws) => Ok(ws),
            Err(OpenError::Failed(e)) => Err(NotOpened::Failed(transport_error(endpoint, e))),
            Err(OpenError::Refused(refusal)) => {
                // Answered, but not with a WebSocket: nothing in between passes them on.
                event!(
                    info,
                    "{} refused a WebSocket ({}): its watches go as HTTP requests",
                    endpoint.url(),
                    refusal
                );
                let _ = refusal;
                self.inner.sockets.refuse(endpoint);
                Err(NotOpened::UseHttp)
            }
            Err(OpenError::Unknown(why)) => {
                event!(debug, "no WebSocket to {}: {}", endpoint.url(), why);
                let _ = why;
                Err(NotOpened::UseHttp)
            }
        }
    }
}

/// What [`Transport::took_token`] reads of a first answer.
#[derive(Deserialize)]
struct First {
    #[serde(default)]
    result: Option<FirstAnswer>,
}

#[derive(Deserialize)]
struct FirstAnswer {
    #[serde(default)]
    created: bool,
    #[serde(default)]
    canceled: bool,
    #[serde(default)]
    cancel_reason: String,
}

/// What the socket's task reads of a message to route it: the watch id of a `result`.
#[derive(Deserialize)]
struct Route {
    #[serde(default)]
    result: Option<RouteId>,
}

#[derive(Deserialize)]
struct RouteId {
    #[serde(default)]
    watch_id: I64,
    #[serde(default)]
    created: bool,
}

/// The task that owns a socket: sends creates and cancels, routes answers by watch id, and
/// checks the member when the socket has been quiet for a liveness interval.
struct SocketTask {
    ws: WebSocket,
    commands: mpsc::UnboundedReceiver<Command>,
    watches: HashMap<i64, mpsc::UnboundedSender<Answer>>,
    /// The creates sent and not answered yet, oldest first: etcd answers creates in order, and
    /// a refused one (for its token, its permission) says `watch_id` -1 (GATEWAY.md 4.6).
    unanswered: VecDeque<i64>,
    endpoint: Arc<Endpoint>,
    transport: WeakTransport,
    closed: Arc<AtomicBool>,
}

/// What woke the socket's task.
enum Wake {
    Command(Option<Command>),
    Frame(Option<std::result::Result<Message, reqwest_websocket::Error>>),
    Quiet,
}

impl SocketTask {
    async fn run(mut self) {
        let broken = self.serve().await;
        self.closed.store(true, Ordering::Release);
        for (_, watch) in self.watches.drain() {
            if let Some(broken) = &broken {
                let _ = watch.send(Err(broken.clone()));
            }
            // Otherwise dropping the sender ends the watch's messages: a normal close.
        }
    }

    /// Serves the socket until it ends: `None` for a normal close (by the member, or because
    /// no watch is left), else why it broke.
    async fn serve(&mut self) -> Option<Broken> {
        use futures_util::future::{select, Either};
        let (interval, timeout) = self.transport.upgrade()?.inner.config.liveness;
        loop {
            let wake = {
                let command = std::pin::pin!(self.commands.recv());
                let frame = std::pin::pin!(self.ws.next());
                let quiet = std::pin::pin!(rt::sleep(interval));
                match select(select(command, frame), quiet).await {
                    Either::Left((Either::Left((command, _)), _)) => Wake::Command(command),
                    Either::Left((Either::Right((frame, _)), _)) => Wake::Frame(frame),
                    Either::Right(_) => Wake::Quiet,
                }
            };
            match wake {
                Wake::Command(None) => {
                    // No watch can be added any more and none is left: close.
                    let _ = SinkExt::close(&mut self.ws).await;
                    return None;
                }
                Wake::Command(Some(Command::Create { id, text, answers })) => {
                    self.watches.insert(id, answers);
                    self.unanswered.push_back(id);
                    if let Err(e) = self.ws.send(Message::Text(text)).await {
                        return Some(Broken::Failed(e.to_string()));
                    }
                }
                Wake::Command(Some(Command::Cancel(id))) => {
                    if self.watches.remove(&id).is_some() {
                        let cancel = format!(r#"{{"cancel_request":{{"watch_id":"{id}"}}}}"#);
                        if let Err(e) = self.ws.send(Message::Text(cancel)).await {
                            return Some(Broken::Failed(e.to_string()));
                        }
                    }
                }
                Wake::Frame(Some(Ok(Message::Text(text)))) => self.route(Bytes::from(text)),
                Wake::Frame(Some(Ok(Message::Binary(bytes)))) => self.route(bytes),
                Wake::Frame(Some(Ok(Message::Close { .. }))) | Wake::Frame(None) => return None,
                Wake::Frame(Some(Ok(_))) => {} // ping, pong
                Wake::Frame(Some(Err(e))) => return Some(Broken::Failed(e.to_string())),
                Wake::Quiet => {
                    let transport = self.transport.upgrade()?;
                    if transport
                        .inner
                        .endpoints
                        .answered_within(&self.endpoint, interval)
                    {
                        continue;
                    }
                    if let Err(err) = transport.probe(&self.endpoint, timeout).await {
                        event!(
                            warn,
                            "endpoint {} does not answer a liveness check: {}",
                            self.endpoint.url(),
                            err
                        );
                        let err = upgrade_delivery(err, true);
                        return Some(Broken::Dead(err.to_string()));
                    }
                }
            }
        }
    }

    /// Hands a message to its watch: a `created` answer to the oldest create not answered
    /// yet, any other `result` by its watch id; etcd's `{"error": ...}`, which ends the stream,
    /// to every watch.
    fn route(&mut self, message: Bytes) {
        match serde_json::from_slice::<Route>(&message) {
            Ok(Route {
                result: Some(RouteId { watch_id, created }),
            }) => {
                let id = match created {
                    true => self.unanswered.pop_front().unwrap_or(watch_id.0),
                    false => watch_id.0,
                };
                // A watch canceled since (its last answers), or a progress answer (-1): no one's.
                if let Some(watch) = self.watches.get(&id) {
                    let _ = watch.send(Ok(message));
                }
            }
            _ => {
                for watch in self.watches.values() {
                    let _ = watch.send(Ok(message.clone()));
                }
            }
        }
    }
}
