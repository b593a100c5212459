//! Mirroring a prefix of one etcd into another, as Go's `client/v3/mirror` and `etcdctl
//! make-mirror`: a [`Syncer`] reads the prefix at one revision ([`Syncer::sync_base`]) and
//! then watches it from the next one ([`Syncer::sync_updates`]); [`Mirror`] drives it and
//! writes into the destination.
//!
//! ```no_run
//! # async fn run(source: etcdgw::Client, destination: etcdgw::Client) -> etcdgw::Result<()> {
//! use etcdgw::mirror::{Mirror, MirrorOptions};
//!
//! let mirror = Mirror::new(&source, &destination, MirrorOptions::new().with_prefix("config/"))?;
//! let progress = mirror.progress();
//! tokio::spawn(async move {
//!     loop {
//!         tokio::time::sleep(std::time::Duration::from_secs(30)).await;
//!         println!("{} keys", progress.keys());
//!     }
//! });
//! mirror.run().await?; // runs until an error it cannot get past
//! # Ok(()) }
//! ```

use std::cmp::Ordering as KeyOrder;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};

use crate::error::{Error, Result};
use crate::{
    Client, DeleteOptions, EventType, GetOptions, GetPages, KeyValue, Txn, TxnOp, WatchOptions,
    WatchStream,
};

/// How many keys a page of [`Syncer::sync_base`] holds (Go's `batchLimit`).
pub const SYNC_PAGE_SIZE: i64 = 1000;

/// etcd's default `--max-txn-ops`, and make-mirror's default batch.
pub const DEFAULT_MAX_TXN_OPS: usize = 128;

/// Reads the state of a prefix at one revision and then its changes from the next revision
/// on (Go's `mirror.Syncer`).
///
/// # Examples
/// ```no_run
/// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
/// use etcdgw::mirror::Syncer;
/// use futures_util::TryStreamExt;
///
/// let mut syncer = Syncer::new(&client, "config/", 0);
/// let mut pages = syncer.sync_base().await?;
/// while let Some(page) = pages.try_next().await? {
///     for kv in page.kvs() {
///         println!("{} = {}", kv.key_str()?, kv.value_str()?);
///     }
/// }
/// let mut updates = syncer.sync_updates().await?; // from the revision after the pages'
/// while let Some(resp) = updates.message().await? {
///     println!("{} events", resp.events().len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Syncer {
    client: Client,
    prefix: Vec<u8>,
    revision: i64,
}

impl Syncer {
    /// A syncer of the keys under `prefix` (every key if it is empty), at `revision` (0: the
    /// latest, chosen by [`sync_base`](Self::sync_base)). Nothing is sent yet.
    pub fn new(client: &Client, prefix: impl Into<Vec<u8>>, revision: i64) -> Syncer {
        Syncer {
            client: client.clone(),
            prefix: prefix.into(),
            revision,
        }
    }

    /// The revision the base is read at and the updates follow (0 until chosen).
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The prefix's keys at the syncer's revision (the latest one if it was 0, which this
    /// fixes), sorted by key, in pages of [`SYNC_PAGE_SIZE`] read one at a time, so memory
    /// holds one page whatever the prefix's size.
    ///
    /// # Errors
    /// The read that picks the revision; each page can fail (e.g.
    /// [`Compacted`](crate::ServerErrorKind::Compacted) if the revision is compacted meanwhile),
    /// after which the stream ends.
    pub async fn sync_base(&mut self) -> Result<GetPages> {
        if self.revision == 0 {
            // Any read tells the latest revision; Go's reads "foo" when there is no prefix.
            let probe = if self.prefix.is_empty() {
                b"foo".to_vec()
            } else {
                self.prefix.clone()
            };
            let resp = self.client.get(probe, None).await?;
            self.revision = resp.header().map_or(0, |h| h.revision());
        }
        self.client.get_pages(
            self.prefix.clone(),
            Some(GetOptions::new().with_prefix().with_revision(self.revision)),
            SYNC_PAGE_SIZE,
        )
    }

    /// The changes to the prefix from the revision after the syncer's: a watch that resumes
    /// after drops with every event exactly once (see [`WatchStream`]). It ends with
    /// [`Error::Compacted`] if the revision to resume from is compacted.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if no revision was chosen yet (call
    /// [`sync_base`](Self::sync_base) first, or give one to [`new`](Self::new)); the watch's
    /// errors.
    pub async fn sync_updates(&self) -> Result<WatchStream> {
        if self.revision == 0 {
            return Err(Error::invalid(
                "no revision to sync updates from: call sync_base first",
            ));
        }
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(self.revision.saturating_add(1));
        self.client.watch(self.prefix.clone(), Some(options)).await
    }
}

/// How a [`Mirror`] runs. Start from [`MirrorOptions::new`]; each setter returns `Self`.
#[derive(Debug, Clone)]
#[must_use]
pub struct MirrorOptions {
    prefix: Vec<u8>,
    dest_prefix: Option<Vec<u8>>,
    max_txn_ops: usize,
    start_revision: i64,
    resync_on_compaction: bool,
}

impl Default for MirrorOptions {
    fn default() -> Self {
        MirrorOptions::new()
    }
}

impl MirrorOptions {
    /// Every key, under the same names, in batches of [`DEFAULT_MAX_TXN_OPS`], starting with
    /// a copy of the current state, resyncing after a compaction.
    pub const fn new() -> Self {
        MirrorOptions {
            prefix: Vec::new(),
            dest_prefix: None,
            max_txn_ops: DEFAULT_MAX_TXN_OPS,
            start_revision: 0,
            resync_on_compaction: true,
        }
    }

    /// Mirrors only the keys under this prefix (make-mirror's `--prefix`).
    pub fn with_prefix(mut self, prefix: impl Into<Vec<u8>>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Writes them under this prefix instead of the source's (make-mirror's `--dest-prefix`);
    /// an empty one strips the source's prefix (make-mirror's `--no-dest-prefix`).
    pub fn with_dest_prefix(mut self, prefix: impl Into<Vec<u8>>) -> Self {
        self.dest_prefix = Some(prefix.into());
        self
    }

    /// Writes at most this many keys per destination txn (make-mirror's `--max-txn-ops`;
    /// keep it at or below the destination's `--max-txn-ops`). The changes of one source
    /// revision go in one txn when they fit.
    pub const fn with_max_txn_ops(mut self, max: usize) -> Self {
        self.max_txn_ops = max;
        self
    }

    /// Skips the copy of the current state and mirrors the changes from this revision on
    /// (make-mirror's `--rev`; 0, the default, copies first).
    pub const fn with_start_revision(mut self, revision: i64) -> Self {
        self.start_revision = revision;
        self
    }

    /// What to do when the source compacts history the mirror still needs (it fell behind,
    /// e.g. while cut off): `true` (the default) compares the whole prefix at the source's
    /// current revision with the destination and writes the difference, deleting destination
    /// keys under the destination prefix that the source no longer has (with an empty
    /// destination prefix, that is every key of the destination); `false` ends
    /// [`Mirror::run`] with [`Error::Compacted`], as `etcdctl make-mirror` does.
    pub const fn with_resync_on_compaction(mut self, resync: bool) -> Self {
        self.resync_on_compaction = resync;
        self
    }
}

/// How far a [`Mirror`] got; cheap to clone, readable while it runs.
#[derive(Clone, Default)]
pub struct MirrorProgress {
    inner: Arc<ProgressInner>,
}

#[derive(Default)]
struct ProgressInner {
    keys: AtomicU64,
    revision: AtomicI64,
    synced: AtomicBool,
}

impl fmt::Debug for MirrorProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MirrorProgress")
            .field("keys", &self.keys())
            .field("revision", &self.revision())
            .field("synced", &self.is_synced())
            .finish()
    }
}

impl MirrorProgress {
    /// How many keys were written to (or deleted from) the destination so far: make-mirror's
    /// progress count.
    pub fn keys(&self) -> u64 {
        self.inner.keys.load(Ordering::Relaxed)
    }

    /// The source revision the destination is equal to (for the mirrored prefix), 0 before
    /// the first copy is done.
    pub fn revision(&self) -> i64 {
        self.inner.revision.load(Ordering::Acquire)
    }

    /// Whether the first copy is done and the mirror follows the changes.
    pub fn is_synced(&self) -> bool {
        self.inner.synced.load(Ordering::Acquire)
    }

    fn add(&self, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        self.inner.keys.fetch_add(n, Ordering::Relaxed);
    }

    fn reached(&self, revision: i64) {
        self.inner.revision.fetch_max(revision, Ordering::AcqRel);
    }
}

/// Keeps a prefix of a destination cluster equal to a prefix of a source cluster, as
/// `etcdctl make-mirror` does: a copy of the current state, then every change, batched by
/// source revision into destination txns. The destination's keys get no lease (as Go's).
#[derive(Debug)]
pub struct Mirror {
    source: Client,
    dest: Client,
    options: MirrorOptions,
    progress: MirrorProgress,
}

impl Mirror {
    /// A mirror from `source` to `dest`. Nothing is sent yet.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a `max_txn_ops` of zero or a negative start revision.
    pub fn new(source: &Client, dest: &Client, options: MirrorOptions) -> Result<Mirror> {
        if options.max_txn_ops == 0 {
            return Err(Error::invalid("max_txn_ops must be at least 1"));
        }
        if options.start_revision < 0 {
            return Err(Error::invalid("the start revision cannot be negative"));
        }
        Ok(Mirror {
            source: source.clone(),
            dest: dest.clone(),
            options,
            progress: MirrorProgress::default(),
        })
    }

    /// A handle on the mirror's progress.
    pub fn progress(&self) -> MirrorProgress {
        self.progress.clone()
    }

    fn dest_key(&self, key: &[u8]) -> Vec<u8> {
        rename(
            key,
            &self.options.prefix,
            self.options.dest_prefix.as_deref(),
        )
    }

    fn dest_prefix(&self) -> &[u8] {
        self.options
            .dest_prefix
            .as_deref()
            .unwrap_or(&self.options.prefix)
    }

    /// Copies, then follows the changes, until an error it cannot get past: it runs for as
    /// long as the source can be watched. Watches resume after drops (member restarts,
    /// failovers) with every change exactly once.
    ///
    /// # Errors
    /// The reads' and writes' errors (a failed write ends the run: restart it with
    /// [`MirrorOptions::with_start_revision`] at [`MirrorProgress::revision`] + 1);
    /// [`Error::Compacted`] without [`MirrorOptions::with_resync_on_compaction`].
    pub async fn run(&self) -> Result<()> {
        // The last source revision the destination holds.
        let mut done = match self.options.start_revision {
            0 => {
                let mut syncer = Syncer::new(&self.source, self.options.prefix.clone(), 0);
                self.copy_base(&mut syncer).await?;
                syncer.revision()
            }
            from => from.saturating_sub(1),
        };
        self.progress.reached(done);
        self.progress.inner.synced.store(true, Ordering::Release);
        loop {
            match self.follow(done).await {
                Err(Error::Compacted { .. }) if self.options.resync_on_compaction => {
                    done = self.resync().await?;
                    self.progress.reached(done);
                }
                Err(err) => return Err(err),
                Ok(()) => return Ok(()),
            }
        }
    }

    /// make-mirror's first phase: every key of the base, put into the destination.
    async fn copy_base(&self, syncer: &mut Syncer) -> Result<()> {
        let mut pages = syncer.sync_base().await?;
        let mut batch = Batch::new(self);
        while let Some(mut page) = pages.try_next().await? {
            for kv in page.take_kvs() {
                let (key, value) = kv.into_key_value();
                batch
                    .push(TxnOp::put(self.dest_key(&key), value, None))
                    .await?;
            }
        }
        batch.flush().await
    }

    /// Follows the changes after revision `done` until the watch ends (Go's `SyncUpdates`,
    /// also from revision 1, which Go's cannot).
    async fn follow(&self, done: i64) -> Result<()> {
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(done.saturating_add(1));
        let mut updates = self
            .source
            .watch(self.options.prefix.clone(), Some(options))
            .await?;
        while let Some(resp) = updates.next().await {
            let mut resp = resp?;
            if let Some(err) = resp.cancel_error() {
                return Err(err);
            }
            // One txn per source revision (split at max_txn_ops), as make-mirror does.
            let mut batch = Batch::new(self);
            let mut revision = 0;
            for event in resp.take_events() {
                let Some(kv) = event.kv() else { continue };
                if revision != 0 && kv.mod_revision() != revision {
                    batch.flush().await?;
                    self.progress.reached(revision);
                }
                revision = kv.mod_revision();
                let key = self.dest_key(kv.key());
                let op = match event.event_type() {
                    EventType::Put => TxnOp::put(key, kv.value().to_vec(), None),
                    EventType::Delete => TxnOp::delete(key, Some(DeleteOptions::new())),
                };
                batch.push(op).await?;
            }
            batch.flush().await?;
            self.progress.reached(revision);
        }
        Err(Error::StreamClosed)
    }

    /// After a compaction: makes the destination prefix equal to the source prefix at the
    /// source's current revision by walking both in key order, one page of each at a time,
    /// and writing only the difference. Returns that revision.
    async fn resync(&self) -> Result<i64> {
        let mut syncer = Syncer::new(&self.source, self.options.prefix.clone(), 0);
        let mut source = syncer.sync_base().await?;
        let mut dest = self.dest.get_pages(
            self.dest_prefix().to_vec(),
            Some(GetOptions::new().with_prefix()),
            SYNC_PAGE_SIZE,
        )?;
        let mut src_page: std::vec::IntoIter<KeyValue> = Vec::new().into_iter();
        let mut dst_page: std::vec::IntoIter<KeyValue> = Vec::new().into_iter();
        let mut src_next: Option<(Vec<u8>, Vec<u8>)> = None;
        let mut dst_next: Option<(Vec<u8>, Vec<u8>)> = None;
        let mut src_done = false;
        let mut dst_done = false;
        let mut batch = Batch::new(self);
        loop {
            // Refill the heads of both walks (a source key as its destination key).
            while src_next.is_none() && !src_done {
                match src_page.next() {
                    Some(kv) => {
                        let (key, value) = kv.into_key_value();
                        src_next = Some((self.dest_key(&key), value));
                    }
                    None => match source.try_next().await? {
                        Some(mut page) => src_page = page.take_kvs().into_iter(),
                        None => src_done = true,
                    },
                }
            }
            while dst_next.is_none() && !dst_done {
                match dst_page.next() {
                    Some(kv) => dst_next = Some(kv.into_key_value()),
                    None => match dest.try_next().await? {
                        Some(mut page) => dst_page = page.take_kvs().into_iter(),
                        None => dst_done = true,
                    },
                }
            }
            let order = match (&src_next, &dst_next) {
                (None, None) => break,
                (Some(_), None) => KeyOrder::Less,
                (None, Some(_)) => KeyOrder::Greater,
                (Some((s, _)), Some((d, _))) => s.cmp(d),
            };
            match order {
                KeyOrder::Less => {
                    if let Some((key, value)) = src_next.take() {
                        batch.push(TxnOp::put(key, value, None)).await?;
                    }
                }
                KeyOrder::Greater => {
                    if let Some((key, _)) = dst_next.take() {
                        batch
                            .push(TxnOp::delete(key, Some(DeleteOptions::new())))
                            .await?;
                    }
                }
                KeyOrder::Equal => {
                    if let (Some((key, value)), Some((_, old))) = (src_next.take(), dst_next.take())
                    {
                        if value != old {
                            batch.push(TxnOp::put(key, value, None)).await?;
                        }
                    }
                }
            }
        }
        batch.flush().await?;
        Ok(syncer.revision())
    }
}

/// The destination key of a source key: the source prefix replaced by the destination prefix,
/// if there is one (Go's `modifyPrefix`).
fn rename(key: &[u8], prefix: &[u8], dest_prefix: Option<&[u8]>) -> Vec<u8> {
    match dest_prefix {
        None => key.to_vec(),
        Some(dest) => {
            let rest = key.strip_prefix(prefix).unwrap_or(key);
            let mut out = dest.to_vec();
            out.extend_from_slice(rest);
            out
        }
    }
}

/// Destination writes, sent as txns of at most `max_txn_ops` operations.
struct Batch<'a> {
    mirror: &'a Mirror,
    ops: Vec<TxnOp>,
}

impl<'a> Batch<'a> {
    fn new(mirror: &'a Mirror) -> Self {
        Batch {
            mirror,
            ops: Vec::new(),
        }
    }

    async fn push(&mut self, op: TxnOp) -> Result<()> {
        if self.ops.len() >= self.mirror.options.max_txn_ops {
            self.flush().await?;
        }
        self.ops.push(op);
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let ops = std::mem::take(&mut self.ops);
        let n = ops.len();
        self.mirror.dest.txn(Txn::new().and_then(ops)).await?;
        self.mirror.progress.add(n);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::rename;

    #[test]
    fn keys_are_renamed_as_make_mirror_does() {
        assert_eq!(rename(b"app/a", b"app/", None), b"app/a");
        assert_eq!(rename(b"app/a", b"app/", Some(b"copy/")), b"copy/a");
        // --no-dest-prefix: the prefix is taken off.
        assert_eq!(rename(b"app/a", b"app/", Some(b"")), b"a");
        // No source prefix: the destination prefix goes in front.
        assert_eq!(rename(b"a", b"", Some(b"copy/")), b"copy/a");
    }
}
