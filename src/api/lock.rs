//! The Lock service (etcd's `v3lock`, a mutex held through a key): `lock`, `unlock`, and a
//! [`LockGuard`] that ties a lock to a lease this client keeps alive.
//!
//! Two facts of the server shape this module (GATEWAY.md 8, pitfall 24): a lock call on a held
//! lock blocks with no answer until the lock is free, so a lock call waits as long as that
//! takes (as in Go and etcd-client) unless the caller gives it a deadline
//! ([`LockOptions::with_timeout`], or a handle's [`Client::with_timeout`](crate::Client::with_timeout)),
//! which the server is told too, so it stops waiting when the caller does; dropping the call
//! stops it on the server as well. And a lock taken without a lease gets a 60 s lease from the
//! server that nobody keeps alive, so it silently expires after about a minute. Take locks
//! with a lease you keep alive: [`LockClient::lock_guard`] does that for you, and if the
//! holder crashes, the lock is released when the lease's TTL runs out.

use std::fmt;
use std::time::Duration;

use super::lease::{LeaseClient, LeaseGrantOptions, ManagedLease};
use super::ResponseHeader;
use crate::error::{Error, Result};
use crate::rt;
use crate::transport::{CallOptions, Idempotency, Transport};
use crate::wire::codec::{B64, I64};
use crate::wire::lock as w;
use crate::wire::paths;

/// The Lock service of a [`Client`](crate::Client).
#[derive(Debug, Clone)]
pub struct LockClient {
    transport: Transport,
}

impl LockClient {
    pub(crate) fn new(transport: Transport) -> Self {
        LockClient { transport }
    }

    /// Takes the lock `name`, waiting while another holder has it: until it is free, unless
    /// [`LockOptions::with_timeout`] or the client handle
    /// ([`Client::with_timeout`](crate::Client::with_timeout)) sets a deadline. While it waits,
    /// the liveness check still moves it off a member that stops answering (with a lease, a lock
    /// sent again takes up the same key). The answer's [`key`](LockResponse::key) is what
    /// [`unlock`](Self::unlock) takes.
    ///
    /// Without [`LockOptions::with_lease`], the server ties the lock to a 60 s lease of its own
    /// that nobody refreshes: the lock silently ends after about a minute. Prefer
    /// [`lock_guard`](Self::lock_guard).
    ///
    /// # Errors
    /// [`Error::Timeout`] (or the server's [`DeadlineExceeded`](crate::ServerErrorKind::DeadlineExceeded))
    /// if the lock was not free in time; [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound)
    /// for a lease that does not exist; [`Error::InvalidArgument`] for an empty name.
    pub async fn lock(
        &self,
        name: impl Into<Vec<u8>>,
        options: Option<LockOptions>,
    ) -> Result<LockResponse> {
        let options = options.unwrap_or_default();
        let name = name.into();
        if name.is_empty() {
            return Err(Error::invalid("the lock name is empty"));
        }
        let request = w::LockRequest {
            name: B64(name),
            lease: I64(options.lease),
        };
        let call = CallOptions {
            timeout: options.timeout,
            server_deadline: true,
            blocks: true,
            ..CallOptions::new(repeatable_with(options.lease))
        };
        let reply: w::LockResponse = self
            .transport
            .call_with(paths::LOCK, &request, call)
            .await?;
        Ok(LockResponse {
            header: Some(ResponseHeader(reply.header)),
            key: reply.key.0,
        })
    }

    /// Releases a lock by the key [`lock`](Self::lock) returned.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty key.
    pub async fn unlock(&self, key: impl Into<Vec<u8>>) -> Result<UnlockResponse> {
        let key = key.into();
        if key.is_empty() {
            return Err(Error::empty_key());
        }
        let reply: w::UnlockResponse = self
            .transport
            .call(
                paths::UNLOCK,
                &w::UnlockRequest { key: B64(key) },
                Idempotency::Write,
            )
            .await?;
        Ok(UnlockResponse::new(Some(reply.header)))
    }

    /// Takes the lock `name` tied to a new lease of `ttl` seconds that this client keeps alive
    /// in the background (beyond etcd-client). The lock is held until
    /// [`LockGuard::unlock`], or until the guard is dropped (the lease is then revoked in the
    /// background), or until the lease is lost ([`LockGuard::lost`] says when), e.g. because
    /// this process stopped: then the server releases the lock once the TTL runs out.
    ///
    /// # Errors
    /// As [`lock`](Self::lock); [`Error::InvalidArgument`] if the options name a lease (the
    /// guard makes its own). If the lock is not taken, the lease is revoked.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// use std::time::Duration;
    /// use etcdgw::LockOptions;
    ///
    /// let guard = client
    ///     .lock_client()
    ///     .lock_guard("jobs/nightly", 10, Some(LockOptions::new().with_timeout(Duration::from_secs(30))))
    ///     .await?;
    /// // ... do the work only one process may do ...
    /// guard.unlock().await?;
    /// # Ok(()) }
    /// ```
    pub async fn lock_guard(
        &self,
        name: impl Into<Vec<u8>>,
        ttl: i64,
        options: Option<LockOptions>,
    ) -> Result<LockGuard> {
        let options = options.unwrap_or_default();
        if options.lease != 0 {
            return Err(Error::invalid(
                "lock_guard makes its own lease; do not pass one",
            ));
        }
        let leases = LeaseClient::new(self.transport.clone());
        let lease = leases
            .grant_managed(ttl, Some(LeaseGrantOptions::new()))
            .await?;
        let lease_id = lease.id();
        match self.lock(name, Some(options.with_lease(lease_id))).await {
            Ok(resp) => Ok(LockGuard {
                key: resp.key,
                lease: Some(lease),
                transport: self.transport.clone(),
            }),
            Err(err) => {
                // Best effort: the lease would expire anyway.
                let _ = lease.revoke().await;
                Err(err)
            }
        }
    }
}

/// Options for [`LockClient::lock`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct LockOptions {
    lease: i64,
    timeout: Option<Duration>,
}

impl LockOptions {
    /// Options without a lease, waiting until the lock is free.
    pub const fn new() -> Self {
        LockOptions {
            lease: 0,
            timeout: None,
        }
    }

    /// Ties the lock to a lease: the lock ends when the lease does.
    pub const fn with_lease(mut self, lease: i64) -> Self {
        self.lease = lease;
        self
    }

    /// Waits at most this long for the lock (the server is told the same deadline).
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// The answer to a lock: the key that holds it.
#[derive(Debug, Clone, Default)]
pub struct LockResponse {
    header: Option<ResponseHeader>,
    key: Vec<u8>,
}

impl LockResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The key that holds the lock (the lock name, `/`, the lease id in hex); pass it to
    /// [`LockClient::unlock`].
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

header_response! {
    /// The answer to an unlock.
    UnlockResponse
}

/// A lock held through a lease this client keeps alive; see [`LockClient::lock_guard`].
pub struct LockGuard {
    key: Vec<u8>,
    lease: Option<ManagedLease>,
    transport: Transport,
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("key", &self.key.escape_ascii().to_string())
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl LockGuard {
    /// The key that holds the lock.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The id of the lease the lock is tied to.
    pub fn lease_id(&self) -> i64 {
        self.lease
            .as_ref()
            .map(ManagedLease::id)
            .unwrap_or_default()
    }

    /// Waits until the lock is lost with its lease, and says why (see
    /// [`ManagedLease::lost`]). Work that needs the lock should stop when this returns.
    pub async fn lost(&mut self) -> &Error {
        match self.lease.as_mut() {
            Some(lease) => lease.lost().await,
            None => &Error::StreamClosed,
        }
    }

    /// Releases the lock and revokes its lease.
    ///
    /// # Errors
    /// The unlock's error; the lease is revoked in any case.
    pub async fn unlock(mut self) -> Result<()> {
        let unlocked = LockClient::new(self.transport.clone())
            .unlock(self.key.clone())
            .await;
        if let Some(lease) = self.lease.take() {
            let _ = lease.revoke().await;
        }
        unlocked.map(|_| ())
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            // Revoking the lease deletes the lock's key: the next waiter gets the lock now
            // rather than after the TTL. If no runtime is left, the TTL does it.
            rt::try_spawn(async move {
                let _ = lease.revoke().await;
            });
        }
    }
}

/// A lock or a campaign under a lease may be sent again (after its member died, say): it takes
/// up the key `<name>/<lease id>` the first attempt made. Without a lease the server grants
/// one per attempt, so it is sent again only when the first certainly did not arrive.
pub(crate) fn repeatable_with(lease: i64) -> Idempotency {
    if lease != 0 {
        Idempotency::Repeatable
    } else {
        Idempotency::Write
    }
}
