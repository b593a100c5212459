//! [`Cache`]: a local copy of a prefix that stays consistent with etcd, with a stream of what
//! changes: what kube-runtime's reflector and store are for Kubernetes, and what every config
//! watcher and service registry writes by hand.
//!
//! # How it stays consistent
//! It reads the prefix at one revision (page by page), then watches it from the next
//! revision: the watch resumes after drops with every event exactly once, so the copy is
//! always the prefix as it was at [`Cache::revision`]. When that cannot go on (the revision to
//! resume from was compacted while the client was cut off, or the watch failed for good) it
//! reads the prefix again and passes on the difference as one update: never a silent gap.
//! Reads of the copy are local and never block on the network.
//!
//! # Memory
//! The copy holds each key and value once (plus its key again as the map's key). A snapshot
//! shares the copy until the next change: the first change after it copies the map once
//! (while the snapshot lives). Updates wait for slow subscribers in a buffer of at most
//! [`CacheOptions::with_buffer`] updates; a subscriber that falls further behind gets
//! [`CacheEvent::Lagged`] instead of unbounded memory. A re-read holds the difference until
//! it is applied.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::pin::Pin;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_util::future::{self, Either};
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::error::{Error, Result};
use crate::rt;
use crate::{Client, EventType, GetOptions, KeyValue, WatchOptions, WatchResponse};

mod worker;

use worker::Worker;

/// The default page size of a read of the prefix.
pub const DEFAULT_PAGE_SIZE: i64 = 1000;
/// The default number of updates buffered for slow subscribers.
pub const DEFAULT_BUFFER: usize = 256;
/// The largest buffer [`CacheOptions::with_buffer`] accepts.
const MAX_BUFFER: usize = 1 << 20;
/// The longest pause before trying again after a failure.
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// Options for [`Cache::new`]. Start from [`CacheOptions::new`]; each setter returns `Self`.
#[derive(Debug, Clone)]
#[must_use]
pub struct CacheOptions {
    page_size: i64,
    buffer: usize,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions::new()
    }
}

impl CacheOptions {
    /// Pages of [`DEFAULT_PAGE_SIZE`] keys, a buffer of [`DEFAULT_BUFFER`] updates.
    pub const fn new() -> Self {
        CacheOptions {
            page_size: DEFAULT_PAGE_SIZE,
            buffer: DEFAULT_BUFFER,
        }
    }

    /// How many keys each read of the prefix asks for at a time.
    pub const fn with_page_size(mut self, keys: i64) -> Self {
        self.page_size = keys;
        self
    }

    /// How many updates wait for a slow subscriber before it gets [`CacheEvent::Lagged`].
    pub const fn with_buffer(mut self, updates: usize) -> Self {
        self.buffer = updates;
        self
    }
}

/// One key's change, in a [`CacheUpdate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheChange {
    /// The key was created or changed.
    Put {
        /// The key-value pair now.
        kv: KeyValue,
        /// The pair before, if the key was in the cache.
        prev: Option<KeyValue>,
    },
    /// The key was deleted.
    Delete {
        /// The pair before the delete.
        prev: KeyValue,
        /// The revision of the delete (for a re-read, the revision of the read that found
        /// the key gone).
        revision: i64,
    },
}

impl CacheChange {
    /// The key that changed.
    pub fn key(&self) -> &[u8] {
        match self {
            CacheChange::Put { kv, .. } => kv.key(),
            CacheChange::Delete { prev, .. } => prev.key(),
        }
    }
}

/// What brought an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UpdateCause {
    /// The first read of the prefix: every key, as puts.
    Listed,
    /// Events of the watch.
    Watched,
    /// A new read of the prefix after the watch could not go on (a compaction, a failure):
    /// the difference with what the cache held.
    Relisted,
}

/// A batch of changes after which the cache is consistent at `revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheUpdate {
    cause: UpdateCause,
    revision: i64,
    changes: Vec<CacheChange>,
}

impl CacheUpdate {
    /// What brought it.
    pub fn cause(&self) -> UpdateCause {
        self.cause
    }

    /// The revision the cache is consistent at once the update is applied.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The changes, in revision order (key order for a read).
    pub fn changes(&self) -> &[CacheChange] {
        &self.changes
    }

    /// Takes the changes out.
    pub fn into_changes(self) -> Vec<CacheChange> {
        self.changes
    }
}

/// An item of [`CacheUpdates`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CacheEvent {
    /// The cache changed.
    Update(CacheUpdate),
    /// This subscriber fell more than the buffer behind and missed this many updates: take a
    /// new [`Cache::subscribe`] to start again from a snapshot.
    Lagged {
        /// How many updates were missed.
        missed: u64,
    },
    /// A read or a watch failed; the cache tries again with backoff (it still serves what
    /// it holds, at its revision).
    Error(Arc<Error>),
}

type Map = BTreeMap<Vec<u8>, KeyValue>;

/// The keys of the cache at one revision; cheap to take and to clone.
#[derive(Clone)]
pub struct CacheSnapshot {
    revision: i64,
    data: Arc<Map>,
}

impl fmt::Debug for CacheSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheSnapshot")
            .field("revision", &self.revision)
            .field("len", &self.data.len())
            .finish()
    }
}

impl CacheSnapshot {
    /// The revision the snapshot is consistent at: a read of the prefix at this revision
    /// returns exactly these keys (0 before the first read).
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The key-value pair of `key`, if it exists.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<&KeyValue> {
        self.data.get(key.as_ref())
    }

    /// Every key-value pair, in key order.
    pub fn iter(&self) -> impl Iterator<Item = &KeyValue> + '_ {
        self.data.values()
    }

    /// The key-value pairs whose key starts with `prefix`, in key order.
    pub fn iter_prefix<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = &'a KeyValue> + 'a {
        self.data
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(_, kv)| kv)
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl<'a> IntoIterator for &'a CacheSnapshot {
    type Item = &'a KeyValue;
    type IntoIter = std::collections::btree_map::Values<'a, Vec<u8>, KeyValue>;

    fn into_iter(self) -> Self::IntoIter {
        self.data.values()
    }
}

struct State {
    data: Arc<Map>,
    revision: i64,
    ready: bool,
    last_error: Option<Arc<Error>>,
}

struct Shared {
    state: RwLock<State>,
    /// The revision (0 until ready), for those who wait for one.
    revision: watch::Sender<i64>,
    updates: broadcast::Sender<CacheEvent>,
    progress: mpsc::UnboundedSender<()>,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `changes` and publishes them, atomically for readers and subscribers.
    fn apply(&self, cause: UpdateCause, revision: i64, changes: Vec<CacheChange>) {
        let mut state = self.write();
        let publish = self.updates.receiver_count() > 0;
        let data = Arc::make_mut(&mut state.data);
        let changes = if publish {
            for change in &changes {
                match change {
                    CacheChange::Put { kv, .. } => {
                        data.insert(kv.key().to_vec(), kv.clone());
                    }
                    CacheChange::Delete { prev, .. } => {
                        data.remove(prev.key());
                    }
                }
            }
            Some(changes)
        } else {
            for change in changes {
                match change {
                    CacheChange::Put { kv, .. } => {
                        data.insert(kv.key().to_vec(), kv);
                    }
                    CacheChange::Delete { prev, .. } => {
                        data.remove(prev.key());
                    }
                }
            }
            None
        };
        state.revision = state.revision.max(revision);
        state.ready = true;
        if cause != UpdateCause::Watched {
            state.last_error = None;
        }
        let revision = state.revision;
        if let Some(changes) = changes {
            if !changes.is_empty() || cause != UpdateCause::Watched {
                let _ = self.updates.send(CacheEvent::Update(CacheUpdate {
                    cause,
                    revision,
                    changes,
                }));
            }
        }
        drop(state);
        self.revision.send_replace(revision);
    }

    /// Moves the revision forward without changes (a progress answer).
    fn advance(&self, revision: i64) {
        let mut state = self.write();
        if !state.ready || revision <= state.revision {
            return;
        }
        state.revision = revision;
        drop(state);
        self.revision.send_replace(revision);
    }

    fn report(&self, err: Error) {
        let err = Arc::new(err);
        let mut state = self.write();
        state.last_error = Some(err.clone());
        let _ = self.updates.send(CacheEvent::Error(err));
    }
}

/// A local copy of the keys under a prefix, kept consistent with etcd in the background
/// (see the [module docs](self)): local reads ([`get`](Self::get),
/// [`snapshot`](Self::snapshot)), the revision they are consistent at, a stream of changes
/// ([`subscribe`](Self::subscribe)) and a [`ready`](Self::ready) signal after the first read.
///
/// Cheap to clone: clones share one copy. The background work stops when the last clone is
/// dropped.
///
/// # Examples
/// ```no_run
/// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
/// use etcdgw::cache::{Cache, CacheChange, CacheEvent};
///
/// let cache = Cache::new(&client, "config/", None)?;
/// cache.ready().await;
/// let (snapshot, mut updates) = cache.subscribe();
/// for kv in &snapshot {
///     println!("{} = {}", kv.key_str()?, kv.value_str()?);
/// }
/// while let Some(event) = updates.message().await {
///     if let CacheEvent::Update(update) = event {
///         for change in update.changes() {
///             match change {
///                 CacheChange::Put { kv, .. } => println!("{} = {}", kv.key_str()?, kv.value_str()?),
///                 CacheChange::Delete { prev, .. } => println!("{} deleted", prev.key_str()?),
///             }
///         }
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cache {
    shared: Arc<Shared>,
    prefix: Arc<[u8]>,
    /// Dropped with the last clone: stops the background work.
    _stop: Arc<oneshot::Sender<()>>,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.read();
        f.debug_struct("Cache")
            .field("prefix", &self.prefix.escape_ascii().to_string())
            .field("revision", &state.revision)
            .field("len", &state.data.len())
            .field("ready", &state.ready)
            .finish_non_exhaustive()
    }
}

impl Cache {
    /// Starts caching the keys under `prefix` (every key if it is empty) in the background.
    /// It returns at once; [`ready`](Self::ready) says when the first read is in.
    ///
    /// Failures (an unreachable cluster, a permission denied) are retried with backoff for
    /// as long as the cache lives, and reported as [`CacheEvent::Error`] and by
    /// [`last_error`](Self::last_error).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a page size below 1, or a buffer of 0 or above 2^20;
    /// [`Error::NoRuntime`] when called outside a tokio runtime (natively; in a browser it runs
    /// on the page's).
    pub fn new(
        client: &Client,
        prefix: impl Into<Vec<u8>>,
        options: Option<CacheOptions>,
    ) -> Result<Cache> {
        let options = options.unwrap_or_default();
        if options.page_size < 1 {
            return Err(Error::invalid("the page size must be at least 1"));
        }
        if options.buffer == 0 || options.buffer > MAX_BUFFER {
            return Err(Error::invalid(format!(
                "the update buffer must hold 1 to {MAX_BUFFER} updates"
            )));
        }
        let spawner = rt::Spawner::current("a cache's reads and watch")?;
        let prefix: Vec<u8> = prefix.into();
        let (progress_tx, progress_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            state: RwLock::new(State {
                data: Arc::new(Map::new()),
                revision: 0,
                ready: false,
                last_error: None,
            }),
            revision: watch::Sender::new(0),
            updates: broadcast::Sender::new(options.buffer),
            progress: progress_tx,
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let worker = Worker {
            shared: shared.clone(),
            client: client.clone(),
            prefix: prefix.clone(),
            page_size: options.page_size,
            progress: progress_rx,
            failures: 0,
        };
        spawner.spawn(async move {
            let work = std::pin::pin!(worker.run());
            let _ = future::select(work, stop_rx).await;
        });
        Ok(Cache {
            shared,
            prefix: prefix.into(),
            _stop: Arc::new(stop_tx),
        })
    }

    /// The prefix it caches.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Waits until the first read of the prefix is in (at once if it is).
    pub async fn ready(&self) {
        let mut revision = self.shared.revision.subscribe();
        let _ = revision.wait_for(|r| *r > 0).await;
    }

    /// Whether the first read of the prefix is in.
    pub fn is_ready(&self) -> bool {
        self.shared.read().ready
    }

    /// The revision the cache is consistent at: a read of the prefix at this revision
    /// returns exactly what it holds (0 before the first read). It moves with each change
    /// to the prefix (not with changes elsewhere, unless [`wait_for_revision`](Self::wait_for_revision)
    /// asks).
    pub fn revision(&self) -> i64 {
        self.shared.read().revision
    }

    /// The key-value pair of `key` as the cache holds it (a copy).
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<KeyValue> {
        self.shared.read().data.get(key.as_ref()).cloned()
    }

    /// How many keys the cache holds.
    pub fn len(&self) -> usize {
        self.shared.read().data.len()
    }

    /// Whether the cache holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key at the cache's current revision, without copying (see the module docs on
    /// memory).
    pub fn snapshot(&self) -> CacheSnapshot {
        let state = self.shared.read();
        CacheSnapshot {
            revision: state.revision,
            data: state.data.clone(),
        }
    }

    /// A snapshot and the stream of the updates after it: applying the updates, in order, to
    /// the snapshot gives the cache. Subscribed before [`ready`](Self::ready), the snapshot is
    /// empty and the first update is the [`Listed`](UpdateCause::Listed) one.
    pub fn subscribe(&self) -> (CacheSnapshot, CacheUpdates) {
        let state = self.shared.read();
        // Updates are sent under the write lock: none falls between the two.
        let rx = self.shared.updates.subscribe();
        let snapshot = CacheSnapshot {
            revision: state.revision,
            data: state.data.clone(),
        };
        drop(state);
        (snapshot, CacheUpdates::new(rx))
    }

    /// The stream of updates from now on (see [`subscribe`](Self::subscribe)).
    pub fn updates(&self) -> CacheUpdates {
        CacheUpdates::new(self.shared.updates.subscribe())
    }

    /// The last failure, until the next successful read of the prefix.
    pub fn last_error(&self) -> Option<Arc<Error>> {
        self.shared.read().last_error.clone()
    }

    /// Waits until the cache is consistent at `revision` or later, e.g. the revision of one's
    /// own write: it asks the watch for a progress answer (see
    /// [`WatchStream::request_progress`](crate::WatchStream::request_progress)), again every
    /// second, until the cache's revision gets there. It has no deadline of its own.
    pub async fn wait_for_revision(&self, revision: i64) {
        let mut current = self.shared.revision.subscribe();
        loop {
            if *current.borrow_and_update() >= revision {
                return;
            }
            let _ = self.shared.progress.send(());
            let _ = rt::timeout(Duration::from_secs(1), current.changed()).await;
        }
    }
}

/// The updates of a [`Cache`]: a [`Stream`] of [`CacheEvent`]s. It ends when the cache is
/// gone.
pub struct CacheUpdates {
    inner: rt::BoxStream<'static, CacheEvent>,
}

impl fmt::Debug for CacheUpdates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheUpdates").finish_non_exhaustive()
    }
}

impl CacheUpdates {
    fn new(rx: broadcast::Receiver<CacheEvent>) -> Self {
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(event) => Some((event, rx)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Some((CacheEvent::Lagged { missed }, rx))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        CacheUpdates {
            inner: Box::pin(stream),
        }
    }

    /// The next event; `None` once the cache is gone.
    pub async fn message(&mut self) -> Option<CacheEvent> {
        self.next().await
    }
}

impl Stream for CacheUpdates {
    type Item = CacheEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outside a tokio runtime (`block_on` is not one) a cache, which reads and watches from a
    /// task of its own, is refused: nothing listens on port 9, and nothing panics.
    #[test]
    fn outside_a_runtime_a_cache_is_refused() {
        futures_executor::block_on(async {
            let client = Client::connect(["http://127.0.0.1:9"], None).await.unwrap();
            let cache = Cache::new(&client, "p/", None);
            assert!(
                matches!(
                    cache,
                    Err(Error::NoRuntime {
                        task: "a cache's reads and watch"
                    })
                ),
                "{cache:?}"
            );
        });
    }
}
