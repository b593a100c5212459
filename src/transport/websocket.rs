//! Watches multiplexed on one WebSocket per endpoint (the shared carrier is `shared.rs`).
//!
//! Over plain HTTP/1.1 an open watch request holds a connection of its own, and cannot carry
//! a second message (GATEWAY.md 4.2); etcd's gateway also answers `GET /v3/watch` with
//! `Upgrade: websocket`, and one socket then carries creates and cancels both ways, as a gRPC
//! stream does. Here the client's watches on an `http://` endpoint share one socket: each
//! create is sent on it as it comes, a cancel when its subscription is dropped.
//!
//! With a user, the socket carries the token as `Sec-WebSocket-Protocol: Bearer, <token>`,
//! which etcd takes from 3.5.34 on (GATEWAY.md 4.6); a socket serves the token it was opened
//! with, and a new token opens a new socket. An older etcd refuses the socket's first create
//! for its token: the endpoint is then remembered as one whose watches go as HTTP requests
//! (where the token goes in `Authorization`), unless a socket there authenticated before (then
//! the refusal is the token's, and the watch fetches a new one as over HTTP).
//!
//! Where a socket is not used (the watches go as shared HTTP requests, `bundle.rs`, or as
//! requests of their own): an `https://` endpoint (HTTP/2 multiplexes the requests on one
//! connection already), `StreamMode::LongPoll`, a JavaScript host when the client has headers
//! of its own (a host's WebSocket sends none), outside a runtime, an endpoint whose upgrade was
//! refused (a proxy that does not pass WebSockets on) and, with a user, one that cannot
//! authenticate a socket: both remembered for the endpoint.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::auth;
use super::endpoints::Endpoint;
use super::shared::{
    check_quiet, parse_create, Answer, Broken, Carrier, Command, Kind, Liveness, NotOpened, Route,
    RouteId, Subscription,
};
use super::unary::transport_error;
use super::{Transport, WeakTransport};
use crate::rt;
use crate::rt::websocket::{Message, OpenError, WebSocket};
use crate::wire::paths;

/// The sockets of one transport, per endpoint, and the endpoints that refused one.
#[derive(Debug, Default)]
pub(crate) struct Sockets {
    /// Held while a socket is looked up or opened, so that watches opening together share one.
    open: tokio::sync::Mutex<HashMap<u64, Weak<Carrier>>>,
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
        let create = parse_create(body)?;
        let with_token = token.is_some();
        let socket = self.socket(endpoint, token).await?;
        socket.load.fetch_add(1, Ordering::Relaxed);
        let (subscription, first) = self.subscribe_on(socket, create).await?;
        match with_token {
            true => self.took_token(endpoint, subscription, first),
            false => Ok((subscription, first)),
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

    /// The endpoint's open socket for `token`, or a new one.
    async fn socket(
        &self,
        endpoint: &Arc<Endpoint>,
        token: Option<Arc<str>>,
    ) -> std::result::Result<Arc<Carrier>, NotOpened> {
        let mut open = self.inner.sockets.open.lock().await;
        if let Some(socket) = open.get(&endpoint.id()).and_then(Weak::upgrade) {
            if socket.open_for(&token) {
                return Ok(socket);
            }
        }
        open.retain(|_, socket| socket.strong_count() > 0);
        let ws = self.upgrade(endpoint, token.as_deref()).await?;
        let spawner = rt::Spawner::current("a WebSocket").map_err(|_| NotOpened::UseHttp)?;
        let (socket, commands) = Carrier::new(Kind::WebSocket, endpoint.clone(), token);
        let task = SocketTask {
            ws,
            commands,
            watches: HashMap::new(),
            unanswered: VecDeque::new(),
            endpoint: endpoint.clone(),
            transport: self.downgrade(),
            closed: socket.closed.clone(),
        };
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
        let (interval, _) = self.transport.upgrade()?.inner.config.liveness;
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
                Wake::Command(Some(Command::Create {
                    id,
                    request,
                    answers,
                })) => {
                    self.watches.insert(id, answers);
                    self.unanswered.push_back(id);
                    if let Err(e) = self.ws.send(Message::Text(request.to_string())).await {
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
                Wake::Quiet => match check_quiet(&self.transport, &self.endpoint).await {
                    Liveness::Alive => {}
                    Liveness::ClientGone => return None,
                    Liveness::Dead(broken) => return Some(broken),
                },
            }
        }
    }

    /// Hands a message to its watch: a `created` answer to the oldest create not answered
    /// yet, any other `result` by its watch id; etcd's `{"error": ...}`, which ends the stream,
    /// to every watch.
    fn route(&mut self, message: Bytes) {
        match serde_json::from_slice::<Route<RouteId>>(&message) {
            Ok(Route {
                result: Some(RouteId {
                    watch_id, created, ..
                }),
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
