//! [`Election`]: leader election through keys of a [`Session`], as Go's
//! `concurrency.Election`, with `etcdctl elect`'s and etcd's election service's key layout.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt;

use super::key::{self, contender_key, first_created, prefix_of, Claim};
use super::Session;
use crate::error::{Error, Result};
use crate::rt;
use crate::{
    Client, Compare, CompareOp, EventType, GetOptions, KeyValue, PutOptions, ResponseHeader, Txn,
    TxnOp, TxnOpResponse, WatchOptions, WatchStream,
};

/// A leader election: the candidate whose key under `name/` was created first leads, and its
/// key's value is the leader's proclamation. Go's `concurrency.Election`, with the keys of
/// `etcdctl elect` and etcd's election service ([`ElectionClient`](crate::ElectionClient)),
/// so Go programs, etcdctl and this crate take part in the same elections.
///
/// # Examples
/// ```no_run
/// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
/// use etcdgw::concurrency::{Election, Session};
///
/// let session = Session::new(&client, None).await?;
/// let election = Election::new(&session, "services/scheduler");
/// let mut leadership = election.campaign("10.0.0.7:8080").await?; // waits until elected
/// // ... lead, until the session ends (session.done()) or we step down:
/// leadership.proclaim("10.0.0.7:8081").await?;
/// leadership.resign().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Election {
    session: Session,
    name: Vec<u8>,
}

impl Election {
    /// The election `name`, taken part in through `session` (Go's `NewElection`); its keys are
    /// `name/<lease in hex>`. Nothing is sent yet.
    pub fn new(session: &Session, name: impl Into<Vec<u8>>) -> Election {
        Election {
            session: session.clone(),
            name: name.into(),
        }
    }

    /// The election's name.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// Stands for leader with `value`, waiting until elected: until every candidate that
    /// stood before this session is gone. If this session already stands, its key is reused
    /// (and its value updated), as in Go.
    ///
    /// It has no deadline of its own: bound it with your runtime's timeout. Dropping the
    /// future, by a timeout or otherwise, withdraws the candidacy (in the background).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty name or a closed session; the session's loss if
    /// it ends while waiting ([`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) or
    /// [`Error::LeaseExpired`]); the errors of the requests it makes. On an error the
    /// candidacy is withdrawn.
    pub async fn campaign(&self, value: impl Into<Vec<u8>>) -> Result<Leadership> {
        let prefix = prefix_of(self.name.clone())?;
        let value = value.into();
        self.session.check()?;
        let client = self.session.client();
        let lease = self.session.lease();
        let my_key = contender_key(&prefix, lease);
        loop {
            // Claimed before the request: whatever happens from here on, dropped or failed,
            // the candidacy does not outlive the campaign.
            let mut claim = Claim::new(&self.session, my_key.clone(), None);
            let txn = Txn::new()
                .when([Compare::create_revision(
                    my_key.clone(),
                    CompareOp::Equal,
                    0,
                )])
                .and_then([TxnOp::put(
                    my_key.clone(),
                    value.clone(),
                    Some(PutOptions::new().with_lease(lease)),
                )])
                .or_else([TxnOp::get(my_key.clone(), None)]);
            let mut resp = match client.txn(txn).await {
                Ok(resp) => resp,
                Err(err) => return Err(claim.fail(err).await),
            };
            let header = resp.take_header().unwrap_or_default();
            let mut rev = header.revision();
            let mut current = value.clone();
            if !resp.succeeded() {
                // This session already stands: take its key over (Go's campaign does).
                let ops = resp.take_op_responses();
                let Some(TxnOpResponse::Get(mine)) = ops.first() else {
                    return Err(claim.fail(unexpected("no key of its own")).await);
                };
                let Some(kv) = mine.kvs().first() else {
                    return Err(claim.fail(unexpected("no key of its own")).await);
                };
                rev = kv.create_revision();
                current = kv.value().to_vec();
            }
            claim.set_rev(rev);
            let mut candidate = Leadership {
                session: self.session.clone(),
                name: self.name.clone(),
                key: my_key.clone(),
                rev,
                header,
                claim: Some(claim),
            };
            if current != value {
                match candidate.proclaim(value.clone()).await {
                    Ok(true) => {}
                    // Deleted meanwhile: stand again.
                    Ok(false) => {
                        self.session.check()?;
                        continue;
                    }
                    Err(err) => return Err(candidate.fail(err).await),
                }
            }
            if let Err(err) = key::wait_deletes(&self.session, &prefix, rev.saturating_sub(1)).await
            {
                return Err(candidate.fail(err).await);
            }
            // Still standing? The session may have ended, or the key been deleted, meanwhile.
            let mine = match client.get(my_key.clone(), Some(GetOptions::new())).await {
                Ok(mine) => mine,
                Err(err) => return Err(candidate.fail(err).await),
            };
            match mine.kvs().first() {
                Some(kv) if kv.create_revision() == rev => return Ok(candidate),
                _ => {
                    candidate.forget();
                    self.session.check()?;
                }
            }
        }
    }

    /// Takes back a leadership won earlier (Go's `ResumeElection`), e.g. by a process that
    /// restarted with the same lease ([`SessionOptions::with_lease`](super::SessionOptions::with_lease)):
    /// `key` and `rev` are its [`Leadership::key`] and [`Leadership::rev`]. Nothing is checked
    /// here; [`Leadership::proclaim`] says whether it still leads.
    pub fn resume(&self, key: impl Into<Vec<u8>>, rev: i64) -> Leadership {
        let key = key.into();
        Leadership {
            session: self.session.clone(),
            name: self.name.clone(),
            claim: Some(Claim::new(&self.session, key.clone(), Some(rev))),
            key,
            rev,
            header: ResponseHeader::default(),
        }
    }

    /// The current leader's key-value pair (its key, value, lease and revisions), or `None`
    /// if nobody is elected (Go's `ErrElectionNoLeader`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty name; the read's errors.
    pub async fn leader(&self) -> Result<Option<KeyValue>> {
        let prefix = prefix_of(self.name.clone())?;
        let mut resp = self
            .session
            .client()
            .get(prefix, Some(first_created()))
            .await?;
        Ok(resp.take_kvs().into_iter().next())
    }

    /// Observes the election: a stream of the leaders' key-value pairs, the current one first
    /// (waiting until there is one), then each new proclamation and each new leader, in
    /// order (Go's `Observe`). It may skip leaders that came and went while it was not
    /// looking, but always reaches the latest. The stream goes on across member restarts and
    /// compactions; it ends after an error that retrying cannot cure.
    pub fn observe(&self) -> LeaderStream {
        let (prefix, phase) = match prefix_of(self.name.clone()) {
            Ok(prefix) => (prefix, Phase::Find),
            Err(err) => (Vec::new(), Phase::Failed(err)),
        };
        let state = Observer {
            client: self.session.client().clone(),
            prefix,
            phase,
            ready: VecDeque::new(),
            last: None,
            failures: 0,
        };
        LeaderStream {
            inner: Box::pin(futures_util::stream::unfold(state, Observer::step)),
        }
    }
}

fn unexpected(what: &str) -> Error {
    Error::invalid(format!("unexpected answer from etcd to a campaign: {what}"))
}

/// This session's candidacy, once elected (from [`Election::campaign`]): the leadership ends
/// with [`resign`](Self::resign), when the guard is dropped (it resigns in the background), or
/// when the session ends.
pub struct Leadership {
    session: Session,
    name: Vec<u8>,
    key: Vec<u8>,
    rev: i64,
    header: ResponseHeader,
    /// `None` once it is known not to lead any more.
    claim: Option<Claim>,
}

impl fmt::Debug for Leadership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leadership")
            .field("key", &self.key().escape_ascii().to_string())
            .field("rev", &self.rev)
            .field("leading", &self.claim.is_some())
            .finish_non_exhaustive()
    }
}

impl Leadership {
    /// The election's name.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The leader's key: the election's name, `/`, the session's lease in hex (Go's `Key`).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The revision at which the leader's key was created (Go's `Rev`).
    pub fn rev(&self) -> i64 {
        self.rev
    }

    /// The header of the last answer that changed the leadership: the campaign or the last
    /// proclamation (Go's `Header`).
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }

    /// A compare that holds while this is still the leader's key: put it in a [`Txn`]'s
    /// `when` to write only while leading.
    pub fn is_leader(&self) -> Compare {
        Compare::create_revision(self.key.clone(), CompareOp::Equal, self.rev)
    }

    /// The session the leadership is held through.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Announces a new value without a new election (Go's `Proclaim`). Returns `false`, and
    /// writes nothing, if this is no longer the leader (its key was deleted or its session
    /// ended: Go's `ErrElectionNotLeader`); the guard then no longer resigns on drop.
    ///
    /// # Errors
    /// The write's errors.
    #[must_use = "false means this is no longer the leader"]
    pub async fn proclaim(&mut self, value: impl Into<Vec<u8>>) -> Result<bool> {
        if self.claim.is_none() {
            return Ok(false);
        }
        let txn = Txn::new().when([self.is_leader()]).and_then([TxnOp::put(
            self.key.clone(),
            value.into(),
            Some(PutOptions::new().with_lease(self.session.lease())),
        )]);
        let mut resp = self.session.client().txn(txn).await?;
        if !resp.succeeded() {
            self.forget();
            return Ok(false);
        }
        self.header = resp.take_header().unwrap_or_default();
        Ok(true)
    }

    /// Steps down (Go's `Resign`): deletes the leader's key if it is still this one, so the
    /// next candidate is elected. If another leadership of the same session holds the same
    /// key (a second campaign), the key stays until that one resigns too.
    ///
    /// # Errors
    /// The delete's errors; the leadership then still ends with the session.
    pub async fn resign(mut self) -> Result<()> {
        match self.claim.take() {
            Some(claim) => claim.release().await,
            None => Ok(()),
        }
    }

    /// Withdraws (best effort) and returns `err`.
    async fn fail(mut self, err: Error) -> Error {
        match self.claim.take() {
            Some(claim) => claim.fail(err).await,
            None => err,
        }
    }

    /// Lets go of the key without touching it.
    fn forget(&mut self) {
        if let Some(claim) = self.claim.take() {
            claim.forget();
        }
    }
}

/// The leaders of an election, from [`Election::observe`]: a [`Stream`] of their key-value
/// pairs.
pub struct LeaderStream {
    inner: rt::BoxStream<'static, Result<KeyValue>>,
}

impl fmt::Debug for LeaderStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderStream").finish_non_exhaustive()
    }
}

impl LeaderStream {
    /// The next leader (or the leader's next value).
    ///
    /// # Errors
    /// An error that retrying cannot cure; the stream ends after it.
    pub async fn message(&mut self) -> Result<Option<KeyValue>> {
        self.next().await.transpose()
    }
}

impl Stream for LeaderStream {
    type Item = Result<KeyValue>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// The longest pause before looking again after a failure.
const LONGEST_PAUSE: Duration = Duration::from_secs(2);

enum Phase {
    /// Read who leads now (or wait for the first candidate).
    Find,
    /// Watch the leader's key for new values, until it is deleted.
    Follow(Box<WatchStream>),
    /// End with this error.
    Failed(Error),
    Done,
}

struct Observer {
    client: Client,
    prefix: Vec<u8>,
    phase: Phase,
    ready: VecDeque<KeyValue>,
    /// The leader delivered last, as (key, mod revision): looking again after a failure must
    /// not deliver it twice.
    last: Option<(Vec<u8>, i64)>,
    failures: u32,
}

impl Observer {
    /// Failures that looking again cures: the stream ones, a compaction under the watch, a
    /// watch the server ended or cancelled.
    fn is_transient(err: &Error) -> bool {
        err.is_transient() || matches!(err, Error::Compacted { .. } | Error::StreamClosed)
    }

    /// Queues `kv` unless it was delivered already.
    fn deliver(&mut self, kv: KeyValue) {
        let id = (kv.key().to_vec(), kv.mod_revision());
        if self.last.as_ref() != Some(&id) {
            self.last = Some(id);
            self.ready.push_back(kv);
        }
    }

    /// Handles a failure: pause and look again if it is transient, else end with it.
    async fn failed(&mut self, err: Error) -> Option<Error> {
        self.phase = Phase::Find;
        if !Self::is_transient(&err) {
            self.phase = Phase::Done;
            return Some(err);
        }
        self.failures = self.failures.saturating_add(1);
        rt::sleep(rt::backoff(self.failures).min(LONGEST_PAUSE)).await;
        None
    }

    async fn step(mut self) -> Option<(Result<KeyValue>, Self)> {
        loop {
            if let Some(kv) = self.ready.pop_front() {
                return Some((Ok(kv), self));
            }
            let prefix = self.prefix.clone();
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Done => return None,
                Phase::Failed(err) => return Some((Err(err), self)),
                Phase::Find => match self.find(&prefix).await {
                    Ok(()) => self.failures = 0,
                    Err(err) => {
                        if let Some(err) = self.failed(err).await {
                            return Some((Err(err), self));
                        }
                    }
                },
                Phase::Follow(mut stream) => match stream.next().await {
                    Some(Ok(resp)) if resp.canceled() => {
                        if let Some(err) = self.failed(Error::StreamClosed).await {
                            return Some((Err(err), self));
                        }
                    }
                    Some(Ok(resp)) => {
                        self.phase = Phase::Follow(stream);
                        for event in resp.events() {
                            if event.event_type() == EventType::Delete {
                                // The leader is gone: find the next one.
                                self.phase = Phase::Find;
                                break;
                            }
                            if let Some(kv) = event.kv() {
                                self.deliver(kv.clone());
                            }
                        }
                    }
                    Some(Err(err)) => {
                        if let Some(err) = self.failed(err).await {
                            return Some((Err(err), self));
                        }
                    }
                    None => {
                        if let Some(err) = self.failed(Error::StreamClosed).await {
                            return Some((Err(err), self));
                        }
                    }
                },
            }
        }
    }

    /// Go's `observe` loop head: the current leader, or the first candidate to come; then
    /// follow the leader's key from the revision after.
    async fn find(&mut self, prefix: &[u8]) -> Result<()> {
        let resp = self.client.get(prefix, Some(first_created())).await?;
        let revision = resp.header().map_or(0, |h| h.revision());
        let (leader, from) = match resp.kvs().first() {
            Some(kv) => (kv.clone(), revision),
            None => {
                // Nobody leads: wait for the first put on the prefix.
                let options = WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(revision);
                let mut stream = self.client.watch(prefix, Some(options)).await?;
                loop {
                    let resp = match stream.next().await {
                        Some(resp) => resp?,
                        None => return Err(Error::StreamClosed),
                    };
                    if resp.canceled() {
                        return Err(Error::StreamClosed);
                    }
                    // Only puts: a delete would make this spin.
                    if let Some(kv) = resp
                        .events()
                        .iter()
                        .find(|e| e.event_type() == EventType::Put)
                        .and_then(|e| e.kv())
                    {
                        break (kv.clone(), kv.mod_revision());
                    }
                }
            }
        };
        let options = WatchOptions::new().with_start_revision(from.saturating_add(1));
        let stream = self.client.watch(leader.key(), Some(options)).await?;
        self.deliver(leader);
        self.phase = Phase::Follow(Box::new(stream));
        Ok(())
    }
}
