//! [`Session`]: a lease kept alive for as long as the session lives, with a signal for when it is
//! lost; the base of [`Mutex`](super::Mutex) and [`Election`](super::Election).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures_util::future::{self, Either};
use tokio::sync::{oneshot, watch};

use crate::error::{Error, Result, ServerError, ServerErrorKind};
use crate::rt;
use crate::{Client, LeaseGrantOptions, ManagedLease};

/// The TTL of a session when none is given: 60 s, as Go's `concurrency.NewSession`.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(60);

/// Options for [`Session::new`]. Start from [`SessionOptions::new`]; each setter returns `Self`.
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionOptions {
    ttl: Duration,
    lease: Option<i64>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions::new()
    }
}

impl SessionOptions {
    /// A new lease of [`DEFAULT_SESSION_TTL`].
    pub const fn new() -> Self {
        SessionOptions {
            ttl: DEFAULT_SESSION_TTL,
            lease: None,
        }
    }

    /// The TTL of the lease the session grants, rounded up to whole seconds (etcd's unit; the
    /// server may raise it to its minimum, 2 s on a default single member). Go's `WithTTL`.
    pub const fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Keeps this existing lease alive instead of granting one, e.g. to take back a lock or a
    /// leadership after a restart of the process. Go's `WithLease`.
    pub const fn with_lease(mut self, lease: i64) -> Self {
        self.lease = Some(lease);
        self
    }
}

/// Why a session ended; see [`Session::done`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionEnd {
    /// The server no longer has the lease: it was revoked (by another client or an operator)
    /// or it expired. Its keys are gone.
    LeaseNotFound,
    /// No keep-alive got through within the TTL (the members are down or cut off): the server
    /// has let the lease expire by now, and its keys with it.
    KeepAliveFailed,
    /// This process ended it: [`Session::close`], [`Session::orphan`], or every handle was
    /// dropped.
    Closed,
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionEnd::LeaseNotFound => "the session's lease was revoked or expired",
            SessionEnd::KeepAliveFailed => {
                "no keep-alive of the session's lease got through within its TTL"
            }
            SessionEnd::Closed => "the session was closed",
        })
    }
}

/// What the keep-alive task knows, published to every handle.
#[derive(Debug, Clone)]
enum State {
    Alive,
    /// Revoked or expired on the server: etcd's own answer, to hand back as the error.
    NotFound(ServerError),
    KeepAliveFailed,
    Closed,
}

impl State {
    fn end(&self) -> Option<SessionEnd> {
        match self {
            State::Alive => None,
            State::NotFound(_) => Some(SessionEnd::LeaseNotFound),
            State::KeepAliveFailed => Some(SessionEnd::KeepAliveFailed),
            State::Closed => Some(SessionEnd::Closed),
        }
    }
}

/// A lease kept alive in the background for as long as the session lives: what Go's
/// `concurrency.Session` is, and what [`Mutex`](super::Mutex) and
/// [`Election`](super::Election) tie their keys to. If this process dies, the lease expires
/// after its TTL and every lock and leadership of the session is released.
///
/// Cheap to clone: clones share one lease. The keep-alive stops when [`close`](Self::close)
/// or [`orphan`](Self::orphan) is called on any clone, or when the last clone is dropped (the
/// lease then expires after its TTL; `close` revokes it at once). Go's `WithContext` has no
/// counterpart: end a session by calling one of these.
///
/// # Examples
/// ```no_run
/// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
/// use std::time::Duration;
/// use etcdgw::concurrency::{Session, SessionOptions};
///
/// let session = Session::new(&client, Some(SessionOptions::new().with_ttl(Duration::from_secs(10)))).await?;
/// println!("lease {:x}", session.lease());
/// let end = session.done().await; // waits while the lease is alive
/// eprintln!("session over: {end}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    id: i64,
    ttl: i64,
    state: watch::Receiver<State>,
    /// Dropping or firing it ends the keep-alive.
    stop: StdMutex<Option<oneshot::Sender<()>>>,
    /// The contender keys this process uses through the session, with how many locks,
    /// campaigns and leaderships use each: a key is removed only when the last one ends.
    claims: StdMutex<HashMap<Vec<u8>, usize>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("lease", &self.inner.id)
            .field("ttl", &self.inner.ttl)
            .field("end", &self.end())
            .finish_non_exhaustive()
    }
}

/// Whole seconds, rounded up.
fn whole_seconds(ttl: Duration) -> i64 {
    let secs = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0));
    i64::try_from(secs).unwrap_or(i64::MAX)
}

impl Session {
    /// Grants a lease (or takes the one [`SessionOptions::with_lease`] names) and keeps it
    /// alive in the background (see [`LeaseClient::keep_alive_managed`](crate::LeaseClient::keep_alive_managed)).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a TTL of zero; [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound)
    /// for an existing lease that does not exist; the grant's errors; [`Error::NoRuntime`],
    /// before anything is sent, when called outside a tokio runtime (the keep-alive is a task
    /// of its own).
    pub async fn new(client: &Client, options: Option<SessionOptions>) -> Result<Session> {
        let options = options.unwrap_or_default();
        if options.lease.is_none() && options.ttl.is_zero() {
            return Err(Error::invalid("a session's TTL must be above zero"));
        }
        let spawner = rt::Spawner::current("a session's keep-alive")?;
        let leases = client.lease_client();
        let lease = match options.lease {
            Some(id) => leases.keep_alive_managed(id).await?,
            None => {
                leases
                    .grant_managed(whole_seconds(options.ttl), Some(LeaseGrantOptions::new()))
                    .await?
            }
        };
        let (id, ttl) = (lease.id(), lease.ttl());
        let (state_tx, state_rx) = watch::channel(State::Alive);
        let (stop_tx, stop_rx) = oneshot::channel();
        spawner.spawn(keep(lease, stop_rx, state_tx));
        Ok(Session {
            inner: Arc::new(Inner {
                client: client.clone(),
                id,
                ttl,
                state: state_rx,
                stop: StdMutex::new(Some(stop_tx)),
                claims: StdMutex::new(HashMap::new()),
            }),
        })
    }

    /// The client the session was made with.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The session's lease id, which the keys of its locks and leaderships are tied to (and
    /// named after, in hex).
    pub fn lease(&self) -> i64 {
        self.inner.id
    }

    /// The lease's TTL when the session started, in seconds (as the server granted it).
    pub fn ttl(&self) -> i64 {
        self.inner.ttl
    }

    /// Whether the lease is still kept alive (false once the session is known to be over).
    pub fn is_alive(&self) -> bool {
        self.end().is_none()
    }

    /// Why the session ended, or `None` while it is alive.
    pub fn end(&self) -> Option<SessionEnd> {
        self.inner.state.borrow().end()
    }

    /// Waits until the session is over and says why: its lease was revoked or expired on the
    /// server (seen at the next keep-alive, at most a third of the TTL later), no keep-alive
    /// got through within the TTL, or it was closed here. Waits forever while it is alive; any
    /// number of tasks can wait.
    pub async fn done(&self) -> SessionEnd {
        let mut state = self.inner.state.clone();
        let ended = state.wait_for(|s| !matches!(s, State::Alive)).await;
        match ended {
            Ok(s) => s.end().unwrap_or(SessionEnd::Closed),
            // The keep-alive task is gone without a word: it was stopped.
            Err(_) => SessionEnd::Closed,
        }
    }

    /// The error a lock or a campaign on this session fails with once the session is over:
    /// etcd's own [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound), or
    /// [`Error::LeaseExpired`] when no keep-alive got through, or [`Error::InvalidArgument`]
    /// for a session this process closed. `None` while it is alive.
    pub(crate) fn error(&self) -> Option<Error> {
        let id = self.inner.id;
        match &*self.inner.state.borrow() {
            State::Alive => None,
            State::NotFound(e) => Some(Error::Server(e.clone())),
            State::KeepAliveFailed => Some(Error::LeaseExpired { id }),
            State::Closed => Some(Error::invalid(format!("session of lease {id:x} is closed"))),
        }
    }

    /// Fails with [`error`](Self::error) if the session is over.
    pub(crate) fn check(&self) -> Result<()> {
        match self.error() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Resolves with the session's error once it is over (never while it is alive).
    pub(crate) async fn lost(&self) -> Error {
        self.done().await;
        self.error()
            .unwrap_or_else(|| Error::invalid("the session is over"))
    }

    /// Counts one more user of `key` in this process.
    pub(crate) fn claim(&self, key: &[u8]) {
        let mut claims = self.inner.claims.lock().unwrap_or_else(|e| e.into_inner());
        let count = claims.entry(key.to_vec()).or_insert(0);
        *count = count.saturating_add(1);
    }

    /// Counts one user of `key` fewer; true if it was the last.
    pub(crate) fn unclaim(&self, key: &[u8]) -> bool {
        let mut claims = self.inner.claims.lock().unwrap_or_else(|e| e.into_inner());
        match claims.get_mut(key) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            Some(_) => {
                claims.remove(key);
                true
            }
            None => true,
        }
    }

    /// Stops keeping the lease alive without revoking it: it expires after its TTL, with
    /// every key tied to it (Go's `Orphan`). For handing the lease to another process, or
    /// when the cluster cannot be reached to revoke it.
    pub fn orphan(&self) {
        let stop = self
            .inner
            .stop
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
    }

    /// Stops the keep-alive and revokes the lease, deleting every key tied to it at once:
    /// the session's locks are released and its leaderships resigned. Closing a session
    /// whose lease is already gone succeeds.
    ///
    /// # Errors
    /// The revoke's errors other than [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound)
    /// (the lease then expires after its TTL).
    pub async fn close(&self) -> Result<()> {
        self.orphan();
        // Wait until no refresh can run any more, so none follows the revoke.
        self.done().await;
        match self.inner.client.lease_revoke(self.inner.id).await {
            Ok(_) => Ok(()),
            Err(e) if e.server_kind() == Some(ServerErrorKind::LeaseNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Keeps `lease` alive until it is lost or the session is stopped, and says which.
async fn keep(mut lease: ManagedLease, stop: oneshot::Receiver<()>, state: watch::Sender<State>) {
    let ended = {
        let lost = std::pin::pin!(lease.lost());
        match future::select(lost, stop).await {
            Either::Left((Error::Server(e), _)) => State::NotFound(e.clone()),
            Either::Left((_, _)) => State::KeepAliveFailed,
            Either::Right(_) => State::Closed,
        }
    };
    // The refreshes stop here, before anyone hears the session is over.
    drop(lease);
    state.send_replace(ended);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(10)), 10);
        assert_eq!(whole_seconds(Duration::from_millis(10_001)), 11);
        assert_eq!(whole_seconds(Duration::MAX), i64::MAX);
    }

    /// Outside a tokio runtime (`block_on` is not one) a session, whose keep-alive is a task of
    /// its own, is refused before its lease is granted: nothing listens on port 9.
    #[test]
    fn outside_a_runtime_a_session_is_refused_before_anything_is_sent() {
        futures_executor::block_on(async {
            let client = Client::connect(["http://127.0.0.1:9"], None).await.unwrap();
            let session = Session::new(&client, None).await;
            assert!(
                matches!(
                    session,
                    Err(Error::NoRuntime {
                        task: "a session's keep-alive"
                    })
                ),
                "{session:?}"
            );
        });
    }
}
