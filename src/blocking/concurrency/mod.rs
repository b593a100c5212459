//! The concurrency recipes for scripts: a [`Session`] (a lease kept alive in the background), a
//! [`Mutex`] with [`try_lock`](Mutex::try_lock) and [`try_lock_for`](Mutex::try_lock_for), an
//! [`Election`], and software transactional memory ([`Stm`]), the blocking forms of
//! [`etcdgw::concurrency`](crate::concurrency)'s, in Go's key layout: Go programs, `etcdctl
//! lock` and async programs take the same locks and elections.
//!
//! ```no_run
//! # fn run(client: etcdgw::blocking::Client) -> etcdgw::Result<()> {
//! use etcdgw::blocking::concurrency::{Mutex, Session};
//!
//! let session = Session::new(&client, None)?;
//! match Mutex::new(&session, "jobs/compaction").try_lock()? {
//!     Some(guard) => {
//!         // ... only one process at a time gets here ...
//!         guard.unlock()?;
//!     }
//!     None => println!("someone else runs it"),
//! }
//! session.close()?;
//! # Ok(()) }
//! ```
//!
//! Guards ([`MutexGuard`], [`Leadership`]) release when dropped, a panic unwinding included,
//! and wait until released; a session dropped without [`close`](Session::close) lets its lease
//! expire after its TTL.

use std::fmt;
use std::time::Duration;

use futures_util::StreamExt;

use super::runtime::{released, Held};
use super::Client;
use crate::concurrency::stm::Attempts;
use crate::concurrency::{self as nonblocking, SessionEnd, SessionOptions};
use crate::error::{Error, Result};
use crate::rt;
use crate::{Compare, CompareOp, KeyValue, PutOptions, ResponseHeader};

pub use crate::concurrency::{Isolation, StmOptions, StmResponse};

mod election;
mod stm;

pub use election::{Election, LeaderStream, Leadership};
pub use stm::Stm;

/// A lease kept alive in the background while the session lives (see
/// [`concurrency::Session`](crate::concurrency::Session)); the locks and leaderships taken
/// through it are tied to it, so they end when it does. Cheap to clone.
#[derive(Clone)]
pub struct Session {
    inner: nonblocking::Session,
    client: Client,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Session {
    /// Grants a lease (or takes the one [`SessionOptions::with_lease`] names) and keeps it
    /// alive in the background.
    ///
    /// # Errors
    /// As [`concurrency::Session::new`](crate::concurrency::Session::new);
    /// [`Error::BlockingInAsync`] inside an async runtime.
    pub fn new(client: &Client, options: Option<SessionOptions>) -> Result<Session> {
        let inner = client.runtime().run(
            "etcdgw::blocking::concurrency::Session::new",
            nonblocking::Session::new(client.inner(), options),
        )?;
        Ok(Session {
            inner,
            client: client.clone(),
        })
    }

    /// The client the session was made with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The session's lease id.
    pub fn lease(&self) -> i64 {
        self.inner.lease()
    }

    /// The lease's TTL when the session started, in seconds.
    pub fn ttl(&self) -> i64 {
        self.inner.ttl()
    }

    /// Whether the lease is still kept alive.
    pub fn is_alive(&self) -> bool {
        self.inner.is_alive()
    }

    /// Why the session ended, or `None` while it is alive.
    pub fn end(&self) -> Option<SessionEnd> {
        self.inner.end()
    }

    /// Waits until the session is over and says why; waits forever while it is alive.
    ///
    /// # Errors
    /// [`Error::BlockingInAsync`] inside an async runtime.
    pub fn done(&self) -> Result<SessionEnd> {
        self.client.runtime().block_on(
            "etcdgw::blocking::concurrency::Session::done",
            self.inner.done(),
        )
    }

    /// Stops keeping the lease alive without revoking it: it expires after its TTL (Go's
    /// `Orphan`).
    pub fn orphan(&self) {
        self.inner.orphan();
    }

    /// Stops the keep-alive and revokes the lease: the session's locks are released and its
    /// leaderships resigned at once.
    ///
    /// # Errors
    /// As [`concurrency::Session::close`](crate::concurrency::Session::close);
    /// [`Error::BlockingInAsync`] inside an async runtime.
    pub fn close(&self) -> Result<()> {
        self.client.runtime().run(
            "etcdgw::blocking::concurrency::Session::close",
            self.inner.close(),
        )
    }
}

/// A lock named `name`, taken through a [`Session`] (see
/// [`concurrency::Mutex`](crate::concurrency::Mutex)); its keys are `name/<lease in hex>`.
#[derive(Debug, Clone)]
pub struct Mutex {
    inner: nonblocking::Mutex,
    session: Session,
}

impl Mutex {
    /// A lock named `name` taken through `session`. Nothing is sent yet.
    pub fn new(session: &Session, name: impl Into<Vec<u8>>) -> Mutex {
        Mutex {
            inner: nonblocking::Mutex::new(&session.inner, name),
            session: session.clone(),
        }
    }

    /// The lock's name.
    pub fn name(&self) -> &[u8] {
        self.inner.name()
    }

    /// The session the lock is taken through.
    pub fn session(&self) -> &Session {
        &self.session
    }

    fn guard(&self, guard: nonblocking::MutexGuard) -> MutexGuard {
        MutexGuard {
            key: guard.key().to_vec(),
            rev: guard.rev(),
            header: guard.header().clone(),
            inner: Held::new(guard, self.session.client.runtime().clone()),
        }
    }

    /// Takes the lock, waiting as long as it takes while others hold it or queue before this
    /// session; [`try_lock_for`](Self::try_lock_for) waits at most a while.
    ///
    /// # Errors
    /// As [`concurrency::Mutex::lock`](crate::concurrency::Mutex::lock);
    /// [`Error::BlockingInAsync`] inside an async runtime.
    pub fn lock(&self) -> Result<MutexGuard> {
        let guard = self.session.client.runtime().run(
            "etcdgw::blocking::concurrency::Mutex::lock",
            self.inner.lock(),
        )?;
        Ok(self.guard(guard))
    }

    /// Takes the lock if nobody else holds it, without waiting: `None` if another session
    /// holds it, and then this session leaves no key behind.
    ///
    /// # Errors
    /// As [`lock`](Self::lock), except that it never waits.
    pub fn try_lock(&self) -> Result<Option<MutexGuard>> {
        let guard = self.session.client.runtime().run(
            "etcdgw::blocking::concurrency::Mutex::try_lock",
            self.inner.try_lock(),
        )?;
        Ok(guard.map(|g| self.guard(g)))
    }

    /// Takes the lock, waiting at most `timeout` for it: `None` if it was not free in time,
    /// and then this session's key is removed (in the background), so the lock is never taken
    /// later behind the caller's back.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn try_lock_for(&self, timeout: Duration) -> Result<Option<MutexGuard>> {
        let rt = self.session.client.runtime();
        // Awaited inside an async block, so that a wait given up on is dropped inside the
        // runtime, where its key's removal can start.
        let waited = rt.block_on(
            "etcdgw::blocking::concurrency::Mutex::try_lock_for",
            async { rt::timeout(timeout, self.inner.lock()).await },
        )?;
        match waited {
            Ok(guard) => Ok(Some(self.guard(guard?))),
            Err(_elapsed) => Ok(None),
        }
    }
}

/// A held [`Mutex`]: released by [`unlock`](Self::unlock), or when dropped (the drop waits
/// until the key is deleted; dropped inside an async runtime, it deletes it in the
/// background), or when the session ends.
pub struct MutexGuard {
    inner: Held<nonblocking::MutexGuard>,
    key: Vec<u8>,
    rev: i64,
    header: ResponseHeader,
}

impl fmt::Debug for MutexGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutexGuard")
            .field("inner", &self.inner)
            .finish()
    }
}

impl MutexGuard {
    /// The key that holds the lock: the lock's name, `/`, the session's lease in hex.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The revision at which the key was created, usable as a fencing token.
    pub fn rev(&self) -> i64 {
        self.rev
    }

    /// The header of the answer that found the lock taken.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }

    /// A compare that holds while this guard still holds the lock, for a [`Txn`](crate::Txn)'s
    /// `when`.
    pub fn is_owner(&self) -> Compare {
        Compare::create_revision(self.key.clone(), CompareOp::Equal, self.rev)
    }

    /// Releases the lock now: the next waiter gets it.
    ///
    /// # Errors
    /// The delete's errors (the lock is then still released when the session ends);
    /// [`Error::BlockingInAsync`] inside an async runtime, when it is released in the
    /// background instead.
    pub fn unlock(mut self) -> Result<()> {
        let rt = self.inner.rt.clone();
        let guard = self.inner.take().ok_or_else(|| released("the lock"))?;
        if !rt.may_block() {
            rt.enter(|| drop(guard));
            return Err(Error::BlockingInAsync {
                call: "etcdgw::blocking::concurrency::MutexGuard::unlock",
            });
        }
        rt.run(
            "etcdgw::blocking::concurrency::MutexGuard::unlock",
            guard.unlock(),
        )
    }
}

impl Drop for MutexGuard {
    fn drop(&mut self) {
        let Some(guard) = self.inner.take() else {
            return;
        };
        let rt = self.inner.rt.clone();
        if rt.may_block() {
            let _ = rt.block_on(
                "etcdgw::blocking::concurrency::MutexGuard::drop",
                guard.unlock(),
            );
        } else {
            // The async guard's drop deletes the key in the background.
            rt.enter(|| drop(guard));
        }
    }
}
