//! Watches that share a carrier: one WebSocket per endpoint (`websocket.rs`), or, where a socket
//! cannot be used, a few watch requests per endpoint whose bodies carry many creates each
//! (`bundle.rs`). Both hand each watch a [`Subscription`]: its create sent with an id the
//! carrier numbers, the answers with that id routed to it by the carrier's task, a cancel when
//! it is dropped. A carrier ends when its last subscription goes.
//!
//! What a subscription reads is what an HTTP watch body carries (`{"result": ...}` messages,
//! etcd's `{"error": ...}`), so the resumable stream (`resume.rs`) and the watch's state
//! (`api/watch/task.rs`) read it the same way. When a carrier breaks every subscription gets
//! the failure and resumes as a broken HTTP stream does: from the revision after the last one
//! delivered, on a new carrier (the first to reopen opens it, the others join). The carrier's
//! task checks the member's liveness itself (one status request per idle interval, not one per
//! watch), so a subscription is read without a watchdog of its own.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::endpoints::Endpoint;
use super::unary::upgrade_delivery;
use super::{Transport, WeakTransport};
use crate::error::{Delivery, Error, Result};
use crate::wire::codec::I64;

/// What carries a group of watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A WebSocket: creates and cancels go as they come.
    WebSocket,
    /// Watch requests whose bodies carry every create: a change opens a new one.
    Requests,
}

/// One carrier: the way to its task.
pub(super) struct Carrier {
    pub(super) kind: Kind,
    pub(super) endpoint: Arc<Endpoint>,
    /// The token its watches were created with.
    pub(super) token: Option<Arc<str>>,
    pub(super) commands: mpsc::UnboundedSender<Command>,
    /// The next watch id (etcd's ids are per stream; 0 is never used, since etcd's answers
    /// leave a zero id out).
    next_id: AtomicI64,
    /// Set by the task when the carrier ended: a new watch opens a new one.
    pub(super) closed: Arc<AtomicBool>,
    /// How many watches it carries, to put a new one on the least loaded.
    pub(super) load: AtomicUsize,
}

impl std::fmt::Debug for Carrier {
    /// Without the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carrier")
            .field("kind", &self.kind)
            .field("endpoint", self.endpoint.url())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .field("load", &self.load.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Carrier {
    /// A new carrier, with the receiving end of its commands for its task.
    pub(super) fn new(
        kind: Kind,
        endpoint: Arc<Endpoint>,
        token: Option<Arc<str>>,
    ) -> (Arc<Carrier>, mpsc::UnboundedReceiver<Command>) {
        let (commands, receiver) = mpsc::unbounded_channel();
        let carrier = Arc::new(Carrier {
            kind,
            endpoint,
            token,
            commands,
            next_id: AtomicI64::new(1),
            closed: Arc::new(AtomicBool::new(false)),
            load: AtomicUsize::new(0),
        });
        (carrier, receiver)
    }

    /// Whether a new watch with `token` may join.
    pub(super) fn open_for(&self, token: &Option<Arc<str>>) -> bool {
        !self.closed.load(Ordering::Acquire) && self.token == *token
    }
}

#[derive(Debug)]
pub(super) enum Command {
    /// A new watch: its request (`{"create_request": ...}`, with its id) and where its answers
    /// go.
    Create {
        id: i64,
        request: serde_json::Value,
        answers: mpsc::UnboundedSender<Answer>,
    },
    Cancel(i64),
}

/// What the task hands a subscription: a message, or why the carrier broke.
pub(super) type Answer = std::result::Result<Bytes, Broken>;

/// Why a carrier broke, for each subscription's own error.
#[derive(Debug, Clone)]
pub(super) enum Broken {
    /// The connection failed or closed abnormally.
    Failed(String),
    /// The member did not answer a liveness check.
    Dead(String),
}

/// One watch on a carrier: its answers in order; dropping it cancels the watch.
#[derive(Debug)]
pub(crate) struct Subscription {
    carrier: Arc<Carrier>,
    id: i64,
    answers: mpsc::UnboundedReceiver<Answer>,
}

impl Subscription {
    /// The token the carrier carries.
    pub(crate) fn token(&self) -> Option<&Arc<str>> {
        self.carrier.token.as_ref()
    }

    /// The next message of this watch; `Ok(None)` once the carrier closed normally (the
    /// member went away: the watch resumes, as after a watch body's end).
    ///
    /// # Errors
    /// [`Error::Transport`] (may have been sent) when the carrier broke or its member stopped
    /// answering.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>> {
        match self.answers.recv().await {
            Some(Ok(message)) => Ok(Some(message)),
            Some(Err(broken)) => Err(Error::Transport {
                endpoint: self.carrier.endpoint.url().clone().into(),
                delivery: Delivery::MaybeSent,
                source: match broken {
                    Broken::Failed(reason) => match self.carrier.kind {
                        Kind::WebSocket => format!("the WebSocket broke: {reason}"),
                        Kind::Requests => format!("the shared watch request broke: {reason}"),
                    },
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
        self.carrier.load.fetch_sub(1, Ordering::Relaxed);
        // The task may be gone already (the carrier ended): nothing to cancel then.
        let _ = self.carrier.commands.send(Command::Cancel(self.id));
    }
}

/// Why a watch could not be put on a shared carrier.
pub(crate) enum NotOpened {
    /// Not on one: send it as an HTTP request of its own (a socket's upgrade was refused, a
    /// JavaScript host's WebSocket failed without saying why, the watch asks for fragments).
    UseHttp,
    /// The endpoint did not answer: the request's failure.
    Failed(Error),
}

/// A watch request (`{"create_request": ...}`) as JSON, to give it an id.
pub(super) fn parse_create(body: &Bytes) -> std::result::Result<serde_json::Value, NotOpened> {
    serde_json::from_slice(body)
        .map_err(|e| NotOpened::Failed(Error::invalid(format!("a watch request: {e}"))))
}

impl Transport {
    /// Puts a watch (`create`: its request) on `carrier`, whose load counts it already, and
    /// waits for its first answer.
    pub(super) async fn subscribe_on(
        &self,
        carrier: Arc<Carrier>,
        mut create: serde_json::Value,
    ) -> std::result::Result<(Subscription, Bytes), NotOpened> {
        let id = carrier.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(request) = create.get_mut("create_request") {
            request["watch_id"] = serde_json::Value::String(id.to_string());
        }
        let (tx, answers) = mpsc::unbounded_channel();
        let mut subscription = Subscription {
            carrier: carrier.clone(),
            id,
            answers,
        };
        let sent = carrier.commands.send(Command::Create {
            id,
            request: create,
            answers: tx,
        });
        let gone = || Error::Transport {
            endpoint: carrier.endpoint.url().clone().into(),
            delivery: Delivery::MaybeSent,
            source: "the shared watch stream closed before the watch's first answer".into(),
        };
        if sent.is_err() {
            return Err(NotOpened::Failed(gone()));
        }
        match subscription.next().await {
            Ok(Some(first)) => Ok((subscription, first)),
            Ok(None) => Err(NotOpened::Failed(gone())),
            Err(err) => Err(NotOpened::Failed(err)),
        }
    }
}

/// What a quiet carrier's liveness check found.
pub(super) enum Liveness {
    /// The member answered (or answered something else lately).
    Alive,
    /// The client is gone: the carrier ends.
    ClientGone,
    /// The member did not answer.
    Dead(Broken),
}

/// Checks `endpoint` when a carrier has been quiet for the liveness interval: spared if the
/// member answered anything within it.
pub(super) async fn check_quiet(transport: &WeakTransport, endpoint: &Endpoint) -> Liveness {
    let Some(transport) = transport.upgrade() else {
        return Liveness::ClientGone;
    };
    let (interval, timeout) = transport.inner.config.liveness;
    if transport
        .inner
        .endpoints
        .answered_within(endpoint, interval)
    {
        return Liveness::Alive;
    }
    match transport.probe(endpoint, timeout).await {
        Ok(()) => Liveness::Alive,
        Err(err) => {
            event!(
                warn,
                "endpoint {} does not answer a liveness check: {}",
                endpoint.url(),
                err
            );
            let err = upgrade_delivery(err, true);
            Liveness::Dead(Broken::Dead(err.to_string()))
        }
    }
}

/// What a carrier's task reads of a message to route it (`A`: how much of the answer).
#[derive(Deserialize)]
pub(super) struct Route<A> {
    #[serde(default = "none")]
    pub(super) result: Option<A>,
}

fn none<A>() -> Option<A> {
    None
}

/// A socket's routing: the watch id, and whether it is a `created` answer.
#[derive(Deserialize)]
pub(super) struct RouteId {
    #[serde(default)]
    pub(super) watch_id: I64,
    #[serde(default)]
    pub(super) created: bool,
}

/// A shared request's routing: also what the watch has delivered (`bundle.rs`).
#[derive(Deserialize)]
pub(super) struct RouteAnswer {
    #[serde(default)]
    pub(super) watch_id: I64,
    #[serde(default)]
    pub(super) created: bool,
    #[serde(default)]
    pub(super) canceled: bool,
    #[serde(default)]
    pub(super) header: Option<RouteHeader>,
    #[serde(default)]
    pub(super) events: Vec<RouteEvent>,
}

#[derive(Deserialize)]
pub(super) struct RouteHeader {
    #[serde(default)]
    pub(super) revision: I64,
}

#[derive(Deserialize)]
pub(super) struct RouteEvent {
    #[serde(default)]
    pub(super) kv: Option<RouteKv>,
}

#[derive(Deserialize)]
pub(super) struct RouteKv {
    #[serde(default)]
    pub(super) mod_revision: I64,
}

impl RouteAnswer {
    /// The header's revision (0 without one).
    pub(super) fn revision(&self) -> i64 {
        self.header.as_ref().map_or(0, |h| h.revision.0)
    }

    /// The revision of the last event, if any.
    pub(super) fn last_event(&self) -> Option<i64> {
        self.events
            .iter()
            .rev()
            .find_map(|e| e.kv.as_ref().map(|kv| kv.mod_revision.0))
    }
}
