//! [`Mutex`]: a lock held through a key of a [`Session`], as Go's `concurrency.Mutex`, with
//! `etcdctl lock`'s and etcd's lock service's key layout, so that all of them exclude each
//! other.

use std::fmt;

use super::key::{self, contender_key, delete_if_created_at, first_created, prefix_of};
use super::Session;
use crate::error::{Error, Result};
use crate::{
    Compare, CompareOp, GetOptions, PutOptions, ResponseHeader, Txn, TxnOp, TxnOpResponse,
};

/// A distributed lock: the lock `name` is held by the session whose key under `name/` was
/// created first. Go's `concurrency.Mutex`, and the same keys as `etcdctl lock` and etcd's
/// lock service ([`LockClient`](crate::LockClient)), so Go programs, etcdctl and this crate
/// exclude each other.
///
/// A waiter watches only the key created just before its own: a release wakes one waiter,
/// not all of them. The lock belongs to the [`Session`], not to a task: locking it again
/// through the same session returns at once (as in Go), so give each contender its own
/// session. If the session's lease ends (the process died, the lease was revoked), the lock
/// is released.
///
/// # Examples
/// ```no_run
/// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
/// use etcdgw::concurrency::{Mutex, Session};
/// use etcdgw::{Txn, TxnOp};
///
/// let session = Session::new(&client, None).await?;
/// let mutex = Mutex::new(&session, "jobs/nightly");
/// match mutex.try_lock().await? {
///     Some(guard) => {
///         // Writes guarded by the lock: they fail if the lock was lost meanwhile.
///         let txn = Txn::new()
///             .when([guard.is_owner()])
///             .and_then([TxnOp::put("jobs/nightly-state", "running", None)]);
///         client.txn(txn).await?;
///         guard.unlock().await?;
///     }
///     None => println!("someone else runs it"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Mutex {
    session: Session,
    name: Vec<u8>,
}

impl Mutex {
    /// A lock named `name` taken through `session` (Go's `NewMutex`); its keys are
    /// `name/<lease in hex>`. Nothing is sent yet.
    pub fn new(session: &Session, name: impl Into<Vec<u8>>) -> Mutex {
        Mutex {
            session: session.clone(),
            name: name.into(),
        }
    }

    /// The lock's name.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The session the lock is taken through.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Takes the lock, waiting as long as it takes while others hold it or queue before
    /// this session.
    ///
    /// It has no deadline of its own: bound it with your runtime's timeout (e.g.
    /// `tokio::time::timeout`). Dropping the future, by a timeout or otherwise, cancels the
    /// wait and removes this session's key (in the background), so it never takes the lock
    /// later behind the caller's back.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty name or a closed session; the session's loss if
    /// it ends while waiting ([`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) or
    /// [`Error::LeaseExpired`]); the errors of the requests it makes. On an error, this
    /// session's key is removed.
    pub async fn lock(&self) -> Result<MutexGuard> {
        match self.acquire(true).await? {
            Some(guard) => Ok(guard),
            // Only a try gives up without an error.
            None => Err(Error::invalid("the lock was not taken")),
        }
    }

    /// Takes the lock if nobody else holds it, without waiting: `None` if another session
    /// holds it (Go's `ErrLocked`), and then this session leaves no key behind.
    ///
    /// # Errors
    /// As [`lock`](Self::lock), except that it never waits.
    pub async fn try_lock(&self) -> Result<Option<MutexGuard>> {
        self.acquire(false).await
    }

    async fn acquire(&self, wait: bool) -> Result<Option<MutexGuard>> {
        let prefix = prefix_of(self.name.clone())?;
        self.session.check()?;
        let client = self.session.client();
        let lease = self.session.lease();
        let my_key = contender_key(&prefix, lease);
        loop {
            // Go's `tryAcquire`: queue up (or find this session's key), and read the holder in
            // the same round trip.
            let txn = Txn::new()
                .when([Compare::create_revision(
                    my_key.clone(),
                    CompareOp::Equal,
                    0,
                )])
                .and_then([
                    TxnOp::put(
                        my_key.clone(),
                        "",
                        Some(PutOptions::new().with_lease(lease)),
                    ),
                    TxnOp::get(prefix.clone(), Some(first_created())),
                ])
                .or_else([
                    TxnOp::get(my_key.clone(), None),
                    TxnOp::get(prefix.clone(), Some(first_created())),
                ]);
            let mut resp = client.txn(txn).await?;
            let header = resp.take_header().unwrap_or_default();
            let ops = resp.take_op_responses();
            let my_rev = if resp.succeeded() {
                header.revision()
            } else {
                match ops.first() {
                    Some(TxnOpResponse::Get(mine)) => match mine.kvs().first() {
                        Some(kv) => kv.create_revision(),
                        // Deleted between the compare and the read: impossible in one txn.
                        None => return Err(unexpected("the lock's own key vanished inside a txn")),
                    },
                    _ => return Err(unexpected("a txn answer without the lock's own key")),
                }
            };
            // From here on, this session's key exists: it must not outlive a failure or a
            // cancelled wait.
            let pending = Pending {
                session: self.session.clone(),
                key: my_key.clone(),
                rev: my_rev,
                armed: true,
            };
            let owner = match ops.get(1) {
                Some(TxnOpResponse::Get(owner)) => {
                    owner.kvs().first().map(|kv| kv.create_revision())
                }
                _ => {
                    return Err(pending
                        .fail(unexpected("a txn answer without the lock's holder"))
                        .await)
                }
            };
            if owner.is_none_or(|rev| rev == my_rev) {
                return Ok(Some(pending.into_guard(header)));
            }
            if !wait {
                // Go's `TryLock`: locked, so leave no key behind.
                pending.release().await?;
                return Ok(None);
            }
            if let Err(err) =
                key::wait_deletes(&self.session, &prefix, my_rev.saturating_sub(1)).await
            {
                return Err(pending.fail(err).await);
            }
            // Make sure the key is still ours: the session may have ended, or someone deleted
            // the key, while we waited.
            let mine = match client.get(my_key.clone(), Some(GetOptions::new())).await {
                Ok(mine) => mine,
                Err(err) => return Err(pending.fail(err).await),
            };
            match mine.kvs().first() {
                Some(kv) if kv.create_revision() == my_rev => {
                    let header = mine.header().cloned().unwrap_or_default();
                    return Ok(Some(pending.into_guard(header)));
                }
                // Gone (Go's `ErrSessionExpired`): with the lease gone, queueing again fails
                // with the server's "lease not found"; with only the key deleted, this session
                // queues again at the back.
                _ => {
                    pending.disarm();
                    self.session.check()?;
                }
            }
        }
    }
}

fn unexpected(what: &str) -> Error {
    Error::invalid(format!("unexpected answer from etcd: {what}"))
}

/// This session's key while the lock is being taken: removed if the attempt fails or is
/// dropped.
struct Pending {
    session: Session,
    key: Vec<u8>,
    rev: i64,
    armed: bool,
}

impl Pending {
    fn disarm(mut self) {
        self.armed = false;
    }

    /// Removes the key now.
    async fn release(mut self) -> Result<()> {
        self.armed = false;
        let txn = delete_if_created_at(self.key.clone(), self.rev);
        self.session.client().txn(txn).await.map(|_| ())
    }

    /// Removes the key (best effort, as Go's `Unlock` after a failed wait) and returns `err`.
    /// A lost session's key went with its lease: nothing to wait for then.
    async fn fail(mut self, err: Error) -> Error {
        if self.session.is_alive() {
            let _ = self.release().await;
        } else {
            self.armed = false;
        }
        err
    }

    fn into_guard(mut self, header: ResponseHeader) -> MutexGuard {
        self.armed = false;
        MutexGuard {
            session: self.session.clone(),
            key: std::mem::take(&mut self.key),
            rev: self.rev,
            header,
            held: true,
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.armed {
            key::release_in_background(
                self.session.client(),
                std::mem::take(&mut self.key),
                self.rev,
            );
        }
    }
}

/// A held [`Mutex`]: the lock is released by [`unlock`](Self::unlock), or in the background
/// when the guard is dropped, or when the session ends.
pub struct MutexGuard {
    session: Session,
    key: Vec<u8>,
    rev: i64,
    header: ResponseHeader,
    held: bool,
}

impl fmt::Debug for MutexGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutexGuard")
            .field("key", &self.key.escape_ascii().to_string())
            .field("rev", &self.rev)
            .finish_non_exhaustive()
    }
}

impl MutexGuard {
    /// The key that holds the lock: the lock's name, `/`, the session's lease in hex (Go's
    /// `Key`).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The revision at which the key was created: it grows with every new holder, so it can
    /// serve as a fencing token.
    pub fn rev(&self) -> i64 {
        self.rev
    }

    /// The header of the answer that found the lock taken (Go's `Header`); its revision is
    /// `ETCD_LOCK_REV` for `etcdctl lock`'s command.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }

    /// The session the lock is held through.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// A compare that holds while this guard still holds the lock (Go's `IsOwner`): put it in
    /// a [`Txn`]'s `when` to write only under the lock.
    pub fn is_owner(&self) -> Compare {
        Compare::create_revision(self.key.clone(), CompareOp::Equal, self.rev)
    }

    /// Releases the lock now: the next waiter gets it.
    ///
    /// # Errors
    /// The delete's errors; the lock is then still released when the session ends.
    pub async fn unlock(mut self) -> Result<()> {
        self.held = false;
        let txn = delete_if_created_at(self.key.clone(), self.rev);
        self.session.client().txn(txn).await.map(|_| ())
    }
}

impl Drop for MutexGuard {
    fn drop(&mut self) {
        if self.held {
            key::release_in_background(
                self.session.client(),
                std::mem::take(&mut self.key),
                self.rev,
            );
        }
    }
}
