//! [`Stm`]: software transactional memory over etcd, as Go's `concurrency/stm.go`: a closure
//! reads and writes keys, and its writes are committed in one txn only if what it read is
//! still current, else it runs again.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex, MutexGuard};

use crate::error::{Error, Result};
use crate::{
    Client, Compare, CompareOp, DeleteOptions, GetOptions, KeyValue, PutOptions, Txn, TxnOp,
    TxnOpResponse, TxnResponse,
};

/// How concurrent transactions may interfere, and so what a commit checks (Go's
/// `concurrency.Isolation`, with the same checks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isolation {
    /// Serializable, and the written keys must not have changed since the first read either
    /// (no write skew). Reads come from the snapshot of the first read. The default.
    #[default]
    SerializableSnapshot,
    /// Reads come from the snapshot of the first read; the commit fails if a key read has
    /// changed since.
    Serializable,
    /// A key read twice in one attempt reads the same; the commit fails if a key read has
    /// changed since it was read.
    RepeatableReads,
    /// Reads see whatever is committed when they are made; the commit checks nothing, so
    /// concurrent transactions can overwrite each other's updates.
    ReadCommitted,
}

/// Options for [`Stm::run`]. Start from [`StmOptions::new`]; each setter returns `Self`.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct StmOptions {
    isolation: Isolation,
    prefetch: Vec<Vec<u8>>,
}

impl StmOptions {
    /// Serializable snapshot isolation, no prefetch.
    pub const fn new() -> Self {
        StmOptions {
            isolation: Isolation::SerializableSnapshot,
            prefetch: Vec::new(),
        }
    }

    /// The isolation level (Go's `WithIsolation`).
    pub const fn with_isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Reads these keys in one round trip before each attempt, for a transaction that reads
    /// them anyway (Go's `WithPrefetch`).
    pub fn with_prefetch<K: Into<Vec<u8>>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.prefetch.extend(keys.into_iter().map(Into::into));
        self
    }
}

/// A key as one attempt read it, with the revision of the read.
#[derive(Debug, Clone)]
struct Read {
    kv: Option<KeyValue>,
    revision: i64,
}

/// A pending write: `None` deletes.
#[derive(Debug, Clone)]
struct Write {
    value: Option<Vec<u8>>,
    options: Option<PutOptions>,
}

#[derive(Debug, Default)]
struct State {
    /// What this attempt read (Go's `readSet`).
    reads: BTreeMap<Vec<u8>, Read>,
    /// What this attempt wrote (Go's `writeSet`).
    writes: BTreeMap<Vec<u8>, Write>,
    /// Keys read again by a failed commit, for the next attempt (serializable levels).
    prefetched: BTreeMap<Vec<u8>, Read>,
    /// The revision the serializable levels read at, set by the first read of an attempt.
    snapshot: Option<i64>,
}

/// The transaction handle a [`Stm::run`] closure reads and writes through (Go's `STM`).
///
/// Reads are remembered for the attempt (a key read twice reads the same) and writes are
/// buffered until the commit; a read of a key this attempt wrote returns the written value.
/// Cheap to clone; a clone kept past its attempt reads and writes nothing that counts.
#[derive(Clone)]
pub struct Stm {
    client: Client,
    isolation: Isolation,
    state: Arc<StdMutex<State>>,
}

impl fmt::Debug for Stm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stm")
            .field("isolation", &self.isolation)
            .finish_non_exhaustive()
    }
}

/// What [`Stm::run`] returns: the closure's value and the commit's answer.
#[derive(Debug, Clone)]
pub struct StmResponse<T> {
    value: T,
    txn: TxnResponse,
    attempts: u32,
}

impl<T> StmResponse<T> {
    /// The value the closure returned on the attempt that committed.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Takes the value out.
    pub fn into_value(self) -> T {
        self.value
    }

    /// The commit's answer; its header's revision is the transaction's.
    pub fn txn(&self) -> &TxnResponse {
        &self.txn
    }

    /// How many times the closure ran: 1 if the first attempt committed.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl Stm {
    /// Runs `apply` and commits its writes if nothing it depends on changed meanwhile (as
    /// `isolation` defines it), else runs it again, as often as it takes (Go's `NewSTM`).
    ///
    /// `apply` gets a fresh [`Stm`] handle on each attempt and must do all its reads and
    /// writes through it; an `Err` from it aborts the transaction with nothing written. Its
    /// error type only needs `From<etcdgw::Error>`, so `?` works on the handle's calls and the
    /// closure can fail with its own errors. It has no deadline of its own: bound it with
    /// your runtime's timeout (nothing is written before the commit).
    ///
    /// # Errors
    /// The closure's error, or a request's error converted with `From`.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// use etcdgw::concurrency::Stm;
    ///
    /// // Moves 10 from one account to another, atomically, however many transfers run at once.
    /// Stm::run(&client, None, |stm| async move {
    ///     let balance = |v: Option<Vec<u8>>| -> i64 {
    ///         v.and_then(|v| String::from_utf8(v).ok()?.parse().ok()).unwrap_or(0)
    ///     };
    ///     let from = balance(stm.get("accounts/alice").await?);
    ///     let to = balance(stm.get("accounts/bob").await?);
    ///     stm.put("accounts/alice", (from - 10).to_string(), None);
    ///     stm.put("accounts/bob", (to + 10).to_string(), None);
    ///     Ok::<_, etcdgw::Error>(())
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn run<T, E, F, Fut>(
        client: &Client,
        options: Option<StmOptions>,
        mut apply: F,
    ) -> std::result::Result<StmResponse<T>, E>
    where
        F: FnMut(Stm) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        let mut attempts = Attempts::new(client, options);
        loop {
            let stm = attempts.start().await?;
            let value = apply(stm.clone()).await?;
            if let Some(txn) = attempts.commit(&stm).await? {
                return Ok(attempts.done(value, txn));
            }
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of `key` (`None` if it does not exist), as the isolation level reads it: a
    /// value this attempt wrote, else what this attempt read before, else a read now (Go's
    /// `Get`).
    ///
    /// # Errors
    /// The read's errors, which abort the transaction when passed on with `?`.
    pub async fn get(&self, key: impl Into<Vec<u8>>) -> Result<Option<Vec<u8>>> {
        let key = key.into();
        if let Some(write) = self.state().writes.get(&key) {
            return Ok(write.value.clone());
        }
        Ok(self.read(key).await?.kv.map(|kv| kv.into_key_value().1))
    }

    /// The key-value pair of `key` as this attempt read it (ignoring this attempt's own
    /// writes), with its revisions and lease.
    ///
    /// # Errors
    /// The read's errors.
    pub async fn get_kv(&self, key: impl Into<Vec<u8>>) -> Result<Option<KeyValue>> {
        Ok(self.read(key.into()).await?.kv)
    }

    /// The revision of the last write to `key` as this attempt read it, 0 if it does not
    /// exist (Go's `Rev`).
    ///
    /// # Errors
    /// The read's errors.
    pub async fn rev(&self, key: impl Into<Vec<u8>>) -> Result<i64> {
        Ok(self
            .read(key.into())
            .await?
            .kv
            .map_or(0, |kv| kv.mod_revision()))
    }

    /// Writes `key` at the commit (Go's `Put`); later reads of it in this attempt return
    /// `value`.
    pub fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) {
        self.state().writes.insert(
            key.into(),
            Write {
                value: Some(value.into()),
                options,
            },
        );
    }

    /// Deletes `key` at the commit (Go's `Del`); later reads of it in this attempt return
    /// `None`.
    #[doc(alias = "del")]
    pub fn delete(&self, key: impl Into<Vec<u8>>) {
        self.state().writes.insert(
            key.into(),
            Write {
                value: None,
                options: None,
            },
        );
    }

    /// Reads one key through the read set.
    async fn read(&self, key: Vec<u8>) -> Result<Read> {
        self.fetch(std::slice::from_ref(&key)).await?;
        self.state()
            .reads
            .get(&key)
            .cloned()
            .ok_or_else(|| Error::invalid("unexpected answer from etcd: a read without its key"))
    }

    /// Reads the keys not read yet in one txn, as the isolation level says (Go's `fetch`, and
    /// `stmSerializable.Get` for the snapshot).
    async fn fetch(&self, keys: &[Vec<u8>]) -> Result<()> {
        let (missing, options, first_read) = {
            let mut state = self.state();
            let first_read = state.reads.is_empty();
            if self.is_serializable() {
                // Keys a failed commit read again count as read by this attempt.
                for key in keys {
                    if let Some(read) = state.prefetched.remove(key) {
                        state.reads.insert(key.clone(), read);
                    }
                }
            }
            let missing: Vec<Vec<u8>> = keys
                .iter()
                .filter(|k| !state.reads.contains_key(*k))
                .cloned()
                .collect();
            let options = match (self.isolation, state.snapshot) {
                (Isolation::SerializableSnapshot | Isolation::Serializable, Some(rev)) => {
                    GetOptions::new().with_revision(rev).with_serializable()
                }
                (Isolation::SerializableSnapshot | Isolation::Serializable, None) => {
                    GetOptions::new()
                }
                (Isolation::RepeatableReads | Isolation::ReadCommitted, _) => {
                    GetOptions::new().with_serializable()
                }
            };
            (missing, options, first_read)
        };
        if !missing.is_empty() {
            let ops: Vec<TxnOp> = missing
                .iter()
                .map(|k| TxnOp::get(k.clone(), Some(options.clone())))
                .collect();
            let resp = self.client.txn(Txn::new().and_then(ops)).await?;
            let reads = reads_of(&missing, resp)?;
            self.state().reads.extend(reads);
        }
        if first_read && self.is_serializable() {
            // The attempt's snapshot is the revision of its first read.
            let mut state = self.state();
            if state.snapshot.is_none() {
                let first = keys.first().and_then(|k| state.reads.get(k));
                state.snapshot = first.map(|r| r.revision);
            }
        }
        Ok(())
    }

    fn is_serializable(&self) -> bool {
        matches!(
            self.isolation,
            Isolation::SerializableSnapshot | Isolation::Serializable
        )
    }

    /// The compares that make the commit fail if the attempt's reads are stale (Go's
    /// `conflicts`).
    fn conflicts(&self, state: &State) -> Vec<Compare> {
        // Go's `readSet.cmps`: every key read still has the revision it was read at.
        let reads = || {
            state.reads.iter().map(|(key, read)| {
                let rev = read.kv.as_ref().map_or(0, KeyValue::mod_revision);
                Compare::mod_revision(key.clone(), CompareOp::Equal, rev)
            })
        };
        match self.isolation {
            Isolation::SerializableSnapshot => {
                // Go's `writeSet.cmps(rset.first() + 1)`: no key written was written by
                // anyone since the first read.
                let first = state
                    .reads
                    .values()
                    .map(|r| r.revision)
                    .min()
                    .unwrap_or(i64::MAX - 1);
                let writes = state.writes.keys().map(|key| {
                    Compare::mod_revision(key.clone(), CompareOp::Less, first.saturating_add(1))
                });
                reads().chain(writes).collect()
            }
            Isolation::Serializable | Isolation::RepeatableReads => reads().collect(),
            Isolation::ReadCommitted => Vec::new(),
        }
    }

    async fn commit(&self) -> Result<Commit> {
        let (txn, read_keys) = {
            let state = self.state();
            let writes: Vec<TxnOp> = state
                .writes
                .iter()
                .map(|(key, write)| match &write.value {
                    Some(value) => TxnOp::put(key.clone(), value.clone(), write.options.clone()),
                    None => TxnOp::delete(key.clone(), Some(DeleteOptions::new())),
                })
                .collect();
            let mut txn = Txn::new().when(self.conflicts(&state)).and_then(writes);
            let read_keys: Vec<Vec<u8>> = state.reads.keys().cloned().collect();
            if self.is_serializable() {
                // Read the keys again if it fails, to save the next attempt a round trip.
                txn = txn.or_else(
                    read_keys
                        .iter()
                        .map(|k| TxnOp::get(k.clone(), None))
                        .collect::<Vec<_>>(),
                );
            }
            (txn, read_keys)
        };
        let resp = self.client.txn(txn).await?;
        if resp.succeeded() {
            return Ok(Commit::Done(resp));
        }
        if self.is_serializable() {
            return Ok(Commit::Retry(reads_of(&read_keys, resp)?));
        }
        Ok(Commit::Retry(BTreeMap::new()))
    }
}

/// The attempts of one transaction, which [`Stm::run`] and the blocking client's `Stm::run`
/// drive alike: each starts with a fresh handle (and the prefetch), runs the caller's code,
/// and commits, until a commit succeeds.
pub(crate) struct Attempts {
    client: Client,
    options: StmOptions,
    /// What the last failed commit read again, for the next attempt.
    prefetched: BTreeMap<Vec<u8>, Read>,
    attempts: u32,
}

impl Attempts {
    pub(crate) fn new(client: &Client, options: Option<StmOptions>) -> Self {
        Attempts {
            client: client.clone(),
            options: options.unwrap_or_default(),
            prefetched: BTreeMap::new(),
            attempts: 0,
        }
    }

    /// Starts the next attempt: a fresh read and write set (Go's `reset`), the prefetch read.
    ///
    /// # Errors
    /// The prefetch's errors.
    pub(crate) async fn start(&mut self) -> Result<Stm> {
        self.attempts = self.attempts.saturating_add(1);
        let stm = Stm {
            client: self.client.clone(),
            isolation: self.options.isolation,
            state: Arc::new(StdMutex::new(State {
                prefetched: std::mem::take(&mut self.prefetched),
                ..State::default()
            })),
        };
        if !self.options.prefetch.is_empty() {
            stm.fetch(&self.options.prefetch).await?;
        }
        Ok(stm)
    }

    /// Commits the attempt: the txn's answer if it committed, `None` if it must run again.
    ///
    /// # Errors
    /// The commit's errors.
    pub(crate) async fn commit(&mut self, stm: &Stm) -> Result<Option<TxnResponse>> {
        match stm.commit().await? {
            Commit::Done(txn) => Ok(Some(txn)),
            Commit::Retry(next) => {
                self.prefetched = next;
                Ok(None)
            }
        }
    }

    /// The answer of the attempt that committed.
    pub(crate) fn done<T>(&self, value: T, txn: TxnResponse) -> StmResponse<T> {
        StmResponse {
            value,
            txn,
            attempts: self.attempts,
        }
    }
}

enum Commit {
    Done(TxnResponse),
    /// Conflict: run again, with these keys already read.
    Retry(BTreeMap<Vec<u8>, Read>),
}

/// The reads of a txn made of one get per key, in order.
fn reads_of(keys: &[Vec<u8>], mut resp: TxnResponse) -> Result<BTreeMap<Vec<u8>, Read>> {
    let revision = resp.header().map_or(0, |h| h.revision());
    let answers = resp.take_op_responses();
    if answers.len() != keys.len() {
        return Err(Error::invalid(
            "unexpected answer from etcd: a txn with a different number of answers than reads",
        ));
    }
    keys.iter()
        .zip(answers)
        .map(|(key, answer)| match answer {
            TxnOpResponse::Get(mut get) => {
                // A read-only txn happens at the store's revision, which its header carries.
                let revision = get
                    .header()
                    .map(|h| h.revision())
                    .filter(|r| *r > 0)
                    .unwrap_or(revision);
                let kv = get.take_kvs().into_iter().next();
                Ok((key.clone(), Read { kv, revision }))
            }
            _ => Err(Error::invalid(
                "unexpected answer from etcd: a txn read that is not a range",
            )),
        })
        .collect()
}
