//! [`Mutex`]: a lock held through a key of a [`Session`], as Go's `concurrency.Mutex`, with
//! `etcdctl lock`'s and etcd's lock service's key layout, so that all of them exclude each
//! other.

use std::fmt;

use super::key::{self, contender_key, first_created, prefix_of, Claim};
use super::Session;
use crate::error::{Error, Result};
use crate::{
    Compare, CompareOp, GetOptions, KeyValue, PutOptions, ResponseHeader, Txn, TxnOp, TxnOpResponse,
};

/// A distributed lock: the lock `name` is held by the session whose key under `name/` was
/// created first. Go's `concurrency.Mutex`, and the same keys as `etcdctl lock` and etcd's
/// lock service ([`LockClient`](crate::LockClient)), so Go programs, etcdctl and this crate
/// exclude each other.
///
/// A waiter watches only the key created just before its own: a release wakes one waiter,
/// not all of them. The lock belongs to the [`Session`], not to a task: locking it again
/// through the same session returns at once with the same key (as in Go), and the lock is
/// released when the last of the session's guards lets go; so give each contender that must
/// exclude the others its own session. If the session's lease ends (the process died, the
/// lease was revoked), the lock is released.
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
    /// later behind the caller's back (Go's leaves the key if its first request is
    /// cancelled; this one removes it then too, unless that request reaches etcd after the
    /// removal does).
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
            // Claimed before the request: whatever happens from here on, dropped or failed,
            // the key does not outlive the attempt.
            let mut claim = Claim::new(&self.session, my_key.clone(), None);
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
            let mut resp = match client.txn(txn).await {
                Ok(resp) => resp,
                Err(err) => return Err(claim.fail(err).await),
            };
            let header = resp.take_header().unwrap_or_default();
            let ops = resp.take_op_responses();
            let my_rev = if resp.succeeded() {
                header.revision()
            } else {
                match ops.first().and_then(first_kv) {
                    Some(kv) => kv.create_revision(),
                    None => return Err(claim.fail(unexpected("no key of its own")).await),
                }
            };
            claim.set_rev(my_rev);
            let owner = match ops.get(1) {
                Some(TxnOpResponse::Get(owner)) => {
                    owner.kvs().first().map(|kv| kv.create_revision())
                }
                _ => return Err(claim.fail(unexpected("no holder")).await),
            };
            if owner.is_none_or(|rev| rev == my_rev) {
                return Ok(Some(MutexGuard::new(claim, my_rev, header)));
            }
            if !wait {
                // Go's `TryLock`: locked, so leave no key behind.
                claim.release().await?;
                return Ok(None);
            }
            if let Err(err) =
                key::wait_deletes(&self.session, &prefix, my_rev.saturating_sub(1)).await
            {
                return Err(claim.fail(err).await);
            }
            // Make sure the key is still ours: the session may have ended, or someone deleted
            // the key, while we waited.
            let mine = match client.get(my_key.clone(), Some(GetOptions::new())).await {
                Ok(mine) => mine,
                Err(err) => return Err(claim.fail(err).await),
            };
            match mine.kvs().first() {
                Some(kv) if kv.create_revision() == my_rev => {
                    let header = mine.header().cloned().unwrap_or_default();
                    return Ok(Some(MutexGuard::new(claim, my_rev, header)));
                }
                // Gone (Go's `ErrSessionExpired`): with the lease gone, queueing again fails
                // with the server's "lease not found"; with only the key deleted, this session
                // queues again at the back.
                _ => {
                    claim.forget();
                    self.session.check()?;
                }
            }
        }
    }
}

/// The key-value pair of a txn's read, if it found one.
fn first_kv(op: &TxnOpResponse) -> Option<&KeyValue> {
    match op {
        TxnOpResponse::Get(get) => get.kvs().first(),
        _ => None,
    }
}

fn unexpected(what: &str) -> Error {
    Error::invalid(format!("unexpected answer from etcd to a lock: {what}"))
}

/// A held [`Mutex`]: the lock is released by [`unlock`](Self::unlock), or in the background
/// when the guard is dropped, or when the session ends.
pub struct MutexGuard {
    claim: Claim,
    rev: i64,
    header: ResponseHeader,
}

impl fmt::Debug for MutexGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutexGuard")
            .field("key", &self.key().escape_ascii().to_string())
            .field("rev", &self.rev)
            .finish_non_exhaustive()
    }
}

impl MutexGuard {
    fn new(claim: Claim, rev: i64, header: ResponseHeader) -> Self {
        MutexGuard { claim, rev, header }
    }

    /// The key that holds the lock: the lock's name, `/`, the session's lease in hex (Go's
    /// `Key`).
    pub fn key(&self) -> &[u8] {
        self.claim.key()
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
        self.claim.session()
    }

    /// A compare that holds while this guard still holds the lock (Go's `IsOwner`): put it in
    /// a [`Txn`]'s `when` to write only under the lock.
    pub fn is_owner(&self) -> Compare {
        Compare::create_revision(self.key().to_vec(), CompareOp::Equal, self.rev)
    }

    /// Releases the lock now (Go's `Unlock`): the next waiter gets it. If another guard of
    /// the same session holds the same lock, the lock stays held until that one is released
    /// too.
    ///
    /// # Errors
    /// The delete's errors; the lock is then still released when the session ends.
    pub async fn unlock(self) -> Result<()> {
        self.claim.release().await
    }
}
