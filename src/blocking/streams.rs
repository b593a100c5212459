//! The blocking forms of the async API's streams and handles: iterators instead of streams,
//! and guards whose drop releases before it returns.

use std::fmt;
use std::io::Write;
use std::path::Path;

use futures_core::Stream;
use futures_util::StreamExt;

use super::runtime::{released, Held};
use crate::error::{Error, Result};
use crate::{
    GetResponse, LeaderResponse, LeaseKeepAliveResponse, LeaseRevokeResponse, SnapshotInfo,
    SnapshotResponse, WatchOptions, WatchResponse,
};

/// The next item of a held stream, waited for.
fn next_of<S>(held: &mut Held<S>, call: &'static str) -> Result<Option<S::Item>>
where
    S: Stream + Unpin,
{
    let rt = held.rt.clone();
    match held.get_mut() {
        Some(stream) => rt.block_on(call, stream.next()),
        None => Ok(None),
    }
}

/// An iterator's next item from what a blocking wait gave: a refusal inside an async runtime
/// is the last item (it would be the same every time).
fn iterate<T>(waited: Result<Option<Result<T>>>, refused: &mut bool) -> Option<Result<T>> {
    if *refused {
        return None;
    }
    match waited {
        Ok(item) => item,
        Err(err) => {
            *refused = true;
            Some(Err(err))
        }
    }
}

/// A blocking watch stream, from [`Client::watch`](super::Client::watch): the async
/// [`WatchStream`](crate::WatchStream)'s calls, and an [`Iterator`] of its answers.
///
/// The first item is the first watch's `created` answer, then come its events (each exactly
/// once, in revision order, across member restarts and broken connections), progress
/// answers, and the answers of the watches [`watch`](Self::watch) adds. Unlike the async
/// stream, which waits for another watch once the last one ended, the iterator ends when no
/// watch is left: after [`cancel`](Self::cancel)'s `canceled` answer, a cancel by the server,
/// or an error that ends a watch ([`Error::Compacted`], ...). Dropping the stream closes its
/// watches.
pub struct WatchStream {
    inner: Held<crate::WatchStream>,
    refused: bool,
}

impl fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl WatchStream {
    pub(super) fn new(inner: Held<crate::WatchStream>) -> Self {
        WatchStream {
            inner,
            refused: false,
        }
    }

    fn stream(&mut self) -> Result<&mut crate::WatchStream> {
        self.inner
            .get_mut()
            .ok_or_else(|| released("the watch stream"))
    }

    /// Adds a watch to this stream, created on the server before this returns; its
    /// `created` answer comes on the stream (see
    /// [`WatchRequestSender::watch`](crate::WatchRequestSender::watch)).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty key without a range option;
    /// [`Error::BlockingInAsync`] inside an async runtime.
    pub fn watch(&mut self, key: impl Into<Vec<u8>>, options: Option<WatchOptions>) -> Result<()> {
        let rt = self.inner.rt.clone();
        let stream = self.stream()?;
        rt.run(
            "etcdgw::blocking::WatchStream::watch",
            stream.watch(key, options),
        )
    }

    /// Cancels a watch: its request is closed and a `canceled` answer comes on the stream; an
    /// unknown id is ignored, as etcd does.
    ///
    /// # Errors
    /// [`Error::BlockingInAsync`] inside an async runtime.
    pub fn cancel(&mut self, watch_id: i64) -> Result<()> {
        let rt = self.inner.rt.clone();
        let stream = self.stream()?;
        rt.run(
            "etcdgw::blocking::WatchStream::cancel",
            stream.cancel(watch_id),
        )
    }

    /// Asks for a progress notification: an answer with `watch_id` -1 whose header revision
    /// says every event up to it has been delivered (see
    /// [`WatchRequestSender::request_progress`](crate::WatchRequestSender::request_progress)).
    ///
    /// # Errors
    /// [`Error::BlockingInAsync`] inside an async runtime.
    pub fn request_progress(&mut self) -> Result<()> {
        let rt = self.inner.rt.clone();
        let stream = self.stream()?;
        rt.run(
            "etcdgw::blocking::WatchStream::request_progress",
            stream.request_progress(),
        )
    }

    /// The next answer, waited for; `None` once no watch is left.
    ///
    /// # Errors
    /// [`Error::Compacted`] when a watch must resume from a compacted revision, and the other
    /// errors that end a watch (see [`WatchClient`](crate::WatchClient)); the other watches go
    /// on. [`Error::BlockingInAsync`] inside an async runtime.
    pub fn message(&mut self) -> Result<Option<WatchResponse>> {
        self.wait()?.transpose()
    }

    fn wait(&mut self) -> Result<Option<Result<WatchResponse>>> {
        let rt = self.inner.rt.clone();
        match self.inner.get_mut() {
            Some(stream) => rt.block_on(
                "etcdgw::blocking::WatchStream::message",
                stream.message_until_idle(),
            ),
            None => Ok(None),
        }
    }
}

impl Iterator for WatchStream {
    type Item = Result<WatchResponse>;

    fn next(&mut self) -> Option<Self::Item> {
        let waited = self.wait();
        iterate(waited, &mut self.refused)
    }
}

/// The leaders of an election, from [`Client::observe`](super::Client::observe): an
/// [`Iterator`] of answers, the current leader first, then one per change (resumed after
/// drops). It ends after an error that reconnecting cannot cure.
pub struct ObserveStream {
    inner: Held<crate::ObserveStream>,
    refused: bool,
}

impl fmt::Debug for ObserveStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObserveStream").finish_non_exhaustive()
    }
}

impl ObserveStream {
    pub(super) fn new(inner: Held<crate::ObserveStream>) -> Self {
        ObserveStream {
            inner,
            refused: false,
        }
    }

    /// The next leader, waited for.
    ///
    /// # Errors
    /// An error that reconnecting cannot cure; [`Error::BlockingInAsync`] inside an async
    /// runtime.
    pub fn message(&mut self) -> Result<Option<LeaderResponse>> {
        next_of(&mut self.inner, "etcdgw::blocking::ObserveStream::message")?.transpose()
    }
}

impl Iterator for ObserveStream {
    type Item = Result<LeaderResponse>;

    fn next(&mut self) -> Option<Self::Item> {
        let waited = next_of(&mut self.inner, "etcdgw::blocking::ObserveStream::next");
        iterate(waited, &mut self.refused)
    }
}

/// A paged range read, from [`Client::get_pages`](super::Client::get_pages): an [`Iterator`]
/// of pages, each a whole [`GetResponse`], all at the revision of the first.
pub struct GetPages {
    inner: Held<crate::GetPages>,
    refused: bool,
}

impl fmt::Debug for GetPages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetPages").finish_non_exhaustive()
    }
}

impl GetPages {
    pub(super) fn new(inner: Held<crate::GetPages>) -> Self {
        GetPages {
            inner,
            refused: false,
        }
    }
}

impl Iterator for GetPages {
    type Item = Result<GetResponse>;

    fn next(&mut self) -> Option<Self::Item> {
        let waited = next_of(&mut self.inner, "etcdgw::blocking::GetPages::next");
        iterate(waited, &mut self.refused)
    }
}

/// Sends keep-alive refreshes for one lease, one per [`keep_alive`](Self::keep_alive); the
/// answers come on the paired [`LeaseKeepAliveStream`]. From
/// [`Client::lease_keep_alive`](super::Client::lease_keep_alive).
pub struct LeaseKeeper {
    inner: Held<crate::LeaseKeeper>,
}

impl fmt::Debug for LeaseKeeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseKeeper")
            .field("inner", &self.inner)
            .finish()
    }
}

impl LeaseKeeper {
    pub(super) fn new(inner: Held<crate::LeaseKeeper>) -> Self {
        LeaseKeeper { inner }
    }

    /// The lease id.
    pub fn id(&self) -> i64 {
        self.inner.get().map_or(0, crate::LeaseKeeper::id)
    }

    /// Refreshes the lease once; the answer (or the typed error of a dead lease) comes on the
    /// stream.
    ///
    /// # Errors
    /// A transport error or [`Error::Timeout`] if no endpoint answered;
    /// [`Error::StreamClosed`] if the stream was dropped; [`Error::BlockingInAsync`] inside an
    /// async runtime.
    pub fn keep_alive(&mut self) -> Result<()> {
        let rt = self.inner.rt.clone();
        let keeper = self.inner.get_mut().ok_or_else(|| released("the keeper"))?;
        rt.run(
            "etcdgw::blocking::LeaseKeeper::keep_alive",
            keeper.keep_alive(),
        )
    }
}

/// The answers to a [`LeaseKeeper`]'s refreshes, as an [`Iterator`]; it ends when the keeper
/// is dropped.
pub struct LeaseKeepAliveStream {
    inner: Held<crate::LeaseKeepAliveStream>,
    refused: bool,
}

impl fmt::Debug for LeaseKeepAliveStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseKeepAliveStream")
            .finish_non_exhaustive()
    }
}

impl LeaseKeepAliveStream {
    pub(super) fn new(inner: Held<crate::LeaseKeepAliveStream>) -> Self {
        LeaseKeepAliveStream {
            inner,
            refused: false,
        }
    }

    /// The next answer, waited for; `None` once the keeper is dropped.
    ///
    /// # Errors
    /// [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) when the lease is gone;
    /// [`Error::BlockingInAsync`] inside an async runtime.
    pub fn message(&mut self) -> Result<Option<LeaseKeepAliveResponse>> {
        next_of(
            &mut self.inner,
            "etcdgw::blocking::LeaseKeepAliveStream::message",
        )?
        .transpose()
    }
}

impl Iterator for LeaseKeepAliveStream {
    type Item = Result<LeaseKeepAliveResponse>;

    fn next(&mut self) -> Option<Self::Item> {
        let waited = next_of(
            &mut self.inner,
            "etcdgw::blocking::LeaseKeepAliveStream::next",
        );
        iterate(waited, &mut self.refused)
    }
}

/// A lease kept alive in the background, from
/// [`Client::lease_grant_managed`](super::Client::lease_grant_managed) (see
/// [`ManagedLease`](crate::ManagedLease)). Dropping it stops the refreshes: the lease then
/// expires after its TTL, and its keys with it; [`revoke`](Self::revoke) ends it at once.
pub struct ManagedLease {
    inner: Held<crate::ManagedLease>,
}

impl fmt::Debug for ManagedLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedLease")
            .field("inner", &self.inner)
            .finish()
    }
}

impl ManagedLease {
    pub(super) fn new(inner: Held<crate::ManagedLease>) -> Self {
        ManagedLease { inner }
    }

    /// The lease id.
    pub fn id(&self) -> i64 {
        self.inner.get().map_or(0, crate::ManagedLease::id)
    }

    /// The TTL the last refresh reported, in seconds.
    pub fn ttl(&self) -> i64 {
        self.inner.get().map_or(0, crate::ManagedLease::ttl)
    }

    /// Whether the lease is still being kept alive (false once it is known to be lost).
    pub fn is_alive(&mut self) -> bool {
        self.inner
            .get_mut()
            .is_some_and(crate::ManagedLease::is_alive)
    }

    /// Waits until the lease is lost and returns why (see
    /// [`ManagedLease::lost`](crate::ManagedLease::lost)); waits forever while it is alive.
    ///
    /// # Errors
    /// [`Error::BlockingInAsync`] inside an async runtime (the outer error: the lease may
    /// well be alive).
    pub fn lost(&mut self) -> Result<&Error> {
        let rt = self.inner.rt.clone();
        let lease = self.inner.get_mut().ok_or_else(|| released("the lease"))?;
        rt.block_on("etcdgw::blocking::ManagedLease::lost", lease.lost())
    }

    /// Stops the refreshes and revokes the lease, deleting its keys at once.
    ///
    /// # Errors
    /// [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) if it was already gone;
    /// [`Error::BlockingInAsync`] inside an async runtime (then the lease is dropped: it
    /// expires after its TTL).
    pub fn revoke(mut self) -> Result<LeaseRevokeResponse> {
        let rt = self.inner.rt.clone();
        let lease = self.inner.take().ok_or_else(|| released("the lease"))?;
        rt.run("etcdgw::blocking::ManagedLease::revoke", lease.revoke())
    }
}

/// A lock held through a lease kept alive in the background, from
/// [`Client::lock_guard`](super::Client::lock_guard). The lock is released by
/// [`unlock`](Self::unlock), or when the guard is dropped (a panic unwinding included): the
/// drop waits until the lock is released and its lease revoked, so the next holder can take
/// it at once. Dropped inside an async runtime, where it cannot wait, it releases in the
/// background instead.
pub struct LockGuard {
    inner: Held<crate::LockGuard>,
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("inner", &self.inner)
            .finish()
    }
}

impl LockGuard {
    pub(super) fn new(inner: Held<crate::LockGuard>) -> Self {
        LockGuard { inner }
    }

    /// The key that holds the lock.
    pub fn key(&self) -> &[u8] {
        self.inner.get().map_or(&[], crate::LockGuard::key)
    }

    /// The id of the lease the lock is tied to.
    pub fn lease_id(&self) -> i64 {
        self.inner.get().map_or(0, crate::LockGuard::lease_id)
    }

    /// Waits until the lock is lost with its lease, and returns why (see
    /// [`LockGuard::lost`](crate::LockGuard::lost)).
    ///
    /// # Errors
    /// [`Error::BlockingInAsync`] inside an async runtime (the outer error: the lock may well
    /// be held).
    pub fn lost(&mut self) -> Result<&Error> {
        let rt = self.inner.rt.clone();
        let guard = self.inner.get_mut().ok_or_else(|| released("the lock"))?;
        rt.block_on("etcdgw::blocking::LockGuard::lost", guard.lost())
    }

    /// Releases the lock and revokes its lease.
    ///
    /// # Errors
    /// The unlock's error (the lease is revoked in any case); [`Error::BlockingInAsync`]
    /// inside an async runtime, when the lock is released in the background instead.
    pub fn unlock(mut self) -> Result<()> {
        let rt = self.inner.rt.clone();
        let guard = self.inner.take().ok_or_else(|| released("the lock"))?;
        if !rt.may_block() {
            // The async guard's drop releases it in the background.
            rt.enter(|| drop(guard));
            return Err(Error::BlockingInAsync {
                call: "etcdgw::blocking::LockGuard::unlock",
            });
        }
        rt.run("etcdgw::blocking::LockGuard::unlock", guard.unlock())
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let Some(guard) = self.inner.take() else {
            return;
        };
        let rt = self.inner.rt.clone();
        if rt.may_block() {
            // Waits, so that the lock is free when the drop (or the unwinding) goes on.
            let _ = rt.block_on("etcdgw::blocking::LockGuard::drop", guard.unlock());
        } else {
            // The async guard's drop revokes the lease in the background.
            rt.enter(|| drop(guard));
        }
    }
}

/// A snapshot as it streams in, from [`Client::snapshot`](super::Client::snapshot): its
/// pieces as an [`Iterator`], or written whole by [`save_to`](Self::save_to) or
/// [`save_to_file`](Self::save_to_file), which check etcd's SHA-256.
pub struct SnapshotStreaming {
    inner: Held<crate::SnapshotStreaming>,
    /// Whether an error ended the iteration.
    ended: bool,
}

impl fmt::Debug for SnapshotStreaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotStreaming")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl SnapshotStreaming {
    pub(super) fn new(inner: Held<crate::SnapshotStreaming>) -> Self {
        SnapshotStreaming {
            inner,
            ended: false,
        }
    }

    /// The next piece, `None` after the last (see
    /// [`SnapshotStreaming::message`](crate::SnapshotStreaming::message)).
    ///
    /// # Errors
    /// [`Error::Timeout`] if the member stalls; a transport error if the stream breaks;
    /// [`Error::BlockingInAsync`] inside an async runtime.
    pub fn message(&mut self) -> Result<Option<SnapshotResponse>> {
        let rt = self.inner.rt.clone();
        match self.inner.get_mut() {
            Some(stream) => rt.run(
                "etcdgw::blocking::SnapshotStreaming::message",
                stream.message(),
            ),
            None => Ok(None),
        }
    }

    /// Writes the whole snapshot to `writer` and checks the SHA-256 etcd appends to it (see
    /// [`SnapshotStreaming::save_to`](crate::SnapshotStreaming::save_to)).
    ///
    /// # Errors
    /// As [`message`](Self::message); [`Error::Decode`] if the hash does not match;
    /// [`Error::Io`] if writing fails.
    pub fn save_to<W: Write>(mut self, writer: W) -> Result<SnapshotInfo> {
        let rt = self.inner.rt.clone();
        let stream = self.inner.take().ok_or_else(|| released("the snapshot"))?;
        rt.run(
            "etcdgw::blocking::SnapshotStreaming::save_to",
            stream.save_to(writer),
        )
    }

    /// Writes the snapshot to a new file at `path`; on an error the partial file is removed
    /// (see [`save_to`](Self::save_to)).
    ///
    /// # Errors
    /// As [`save_to`](Self::save_to).
    pub fn save_to_file(mut self, path: impl AsRef<Path>) -> Result<SnapshotInfo> {
        let rt = self.inner.rt.clone();
        let stream = self.inner.take().ok_or_else(|| released("the snapshot"))?;
        rt.run(
            "etcdgw::blocking::SnapshotStreaming::save_to_file",
            stream.save_to_file(path),
        )
    }
}

impl Iterator for SnapshotStreaming {
    type Item = Result<SnapshotResponse>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        match self.message() {
            Ok(piece) => piece.map(Ok),
            // A broken or stalled snapshot cannot go on.
            Err(err) => {
                self.ended = true;
                Some(Err(err))
            }
        }
    }
}
