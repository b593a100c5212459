//! The whole-history checker: is every answer of the run linearizable, and was nothing lost
//! and nothing applied twice?
//!
//! etcd numbers every write: each write transaction that changes the store makes the next
//! revision, and every answer carries the revision of the store it was served from. That
//! makes linearizability checkable in linear time, without searching orders: the revisions
//! *are* the order. The checker
//!
//! 1. **replays the applied history** (every event, from a watch from revision 1 read at the
//!    end: [`History::applied`]) revision by revision, and places each write at the revision
//!    it made. A put's or a transaction's revision is found by its value (every write writes
//!    a value no other write writes); a revision of deletions only by the revision an
//!    acknowledged delete or revoke answered with, or else it is matched to a delete or
//!    revoke whose outcome was unknown, or to a lease's expiry (a bipartite matching of those
//!    few revisions: [`matching`]). At each revision it checks that the write's events are
//!    exactly what etcd's model says the write makes there ([`store`]), that an acknowledged
//!    write is at the revision its answer gave and was applied once, and that a write that
//!    certainly failed was not applied at all;
//! 2. **checks every answer against the store at its revision**: while the replay is at
//!    revision `r`, every read whose header says `r` must have read exactly that store
//!    (values, create and mod revisions, versions, leases, count, `more`), every failed
//!    compare must fail there, a delete that deleted nothing must have found nothing there,
//!    and a revoked lease must have no keys there;
//! 3. **checks real-time order** ([`realtime`]): each operation has a position (a write: its
//!    revision; a read: just after the write of its revision), and if `a` completed before `b`
//!    was invoked (a logical clock, not a wall clock), `b`'s position must not be below
//!    `a`'s. A serializable read is held to this only against its own client's operations
//!    (it may be stale, but must not go back in time for its client); as a predecessor it
//!    counts for everyone (what it saw was committed). A write whose outcome was unknown has
//!    no completion (it may have been applied long after its caller gave up);
//! 4. **checks every watch** ([`watches`]): its events must be exactly the history's events
//!    in its range from its first revision on, in order, each once, with the right previous
//!    values, through every resume; each progress notification's revision must be one up to
//!    which it delivered every event and after which it delivered none; and a watch kept open
//!    all run must have reached the fence written at the end;
//! 5. checks that every member's hash of the store at the end is the same.
//!
//! Cost: one pass over the applied events and one over the operations sorted by revision
//! and by clock, O((E + N) log N) for E events and N operations; watches cost what they
//! delivered plus the events of their range; the matching is over the few revisions of
//! deletions nothing acknowledged.

pub(crate) mod matching;
pub(crate) mod realtime;
mod render;
mod replay;
pub(crate) mod store;
#[cfg(test)]
mod tests;
pub(crate) mod watches;

use serde::Serialize;

use crate::model::{History, Rev};

pub use render::render;

/// What kind of anomaly: each breaks one promise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    /// An acknowledged write is not in the history.
    LostWrite,
    /// A write is in the history twice.
    AppliedTwice,
    /// An acknowledged write is at another revision than its answer gave.
    WrongRevision,
    /// A write that failed (certainly not applied) is in the history.
    FailedWriteApplied,
    /// A revision that no operation made (a value nobody wrote, deletions nobody asked for,
    /// two writes at one revision).
    UnexplainedWrite,
    /// A write's events are not what it makes at its revision (a compare that did not hold,
    /// a wrong version or create revision, a key too many or too few).
    WrongEffect,
    /// An answer that is not the store at its revision (a value, revision, count, a compare's
    /// outcome, a previous key).
    WrongAnswer,
    /// A read below something that completed before it was invoked.
    StaleRead,
    /// A read at or after a write invoked only after the read completed.
    FutureRead,
    /// A write below another that completed before it was invoked.
    WriteOrder,
    /// A serializable read older than its own client's earlier operation.
    SessionWentBack,
    /// An answer at a revision the history never reached.
    RevisionOutOfRange,
    /// The applied history itself has a hole or goes backwards.
    HistoryGap,
    /// A key attached to a lease after the lease ended.
    LeaseAfterEnd,
    /// A watch skipped events.
    WatchGap,
    /// A watch delivered an event again, or went back.
    WatchRepeat,
    /// A watch delivered an event that is not the history's.
    WatchWrongEvent,
    /// A watch kept open all run did not deliver everything up to its fence.
    WatchIncomplete,
    /// A watch's progress notification said it had seen everything up to a revision, but it
    /// had not delivered an event up to there, or had delivered one after it.
    WatchProgress,
    /// The members' stores differ at the end.
    MembersDisagree,
}

/// One anomaly, with what shows it: the operations, the watch, the revisions and keys of the
/// smallest window of the history that shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// Which promise it breaks.
    pub kind: AnomalyKind,
    /// What was seen and what was expected.
    pub what: String,
    /// The operations involved (ids).
    pub ops: Vec<u64>,
    /// The watch involved (id).
    pub watch: Option<u64>,
    /// The revisions of the window, first and last.
    pub revs: (Rev, Rev),
    /// The keys of the window (none: every key).
    pub keys: Vec<String>,
}

/// Counts of what was checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Revisions replayed.
    pub revisions: u64,
    /// Events replayed.
    pub events: u64,
    /// Acknowledged writes found at their revision.
    pub acked_writes: u64,
    /// Writes of unknown outcome found applied.
    pub unknown_applied: u64,
    /// Writes of unknown outcome not applied (or without effect).
    pub unknown_not_applied: u64,
    /// Revisions explained by a lease's end (its expiry, or a revoke of unknown outcome).
    pub lease_ends: u64,
    /// Answers checked against the store at their revision.
    pub answers: u64,
    /// Operations placed in the real-time check.
    pub ordered: u64,
    /// Watch events checked.
    pub watch_events: u64,
}

/// The checker's verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Every anomaly found (the real-time and watch checks report the first few of each
    /// operation or watch and count the rest in `suppressed`).
    pub anomalies: Vec<Anomaly>,
    /// Anomalies found but not listed.
    pub suppressed: u64,
    /// The anomalies found but not listed, by kind.
    pub suppressed_by_kind: std::collections::BTreeMap<AnomalyKind, u64>,
    /// What was checked.
    pub stats: Stats,
}

impl Report {
    /// Whether no anomaly was found.
    pub fn ok(&self) -> bool {
        self.anomalies.is_empty() && self.suppressed == 0
    }

    /// How many anomalies of each kind, listed or not.
    pub fn by_kind(&self) -> std::collections::BTreeMap<AnomalyKind, u64> {
        let mut counts = self.suppressed_by_kind.clone();
        for a in &self.anomalies {
            *counts.entry(a.kind).or_insert(0) += 1;
        }
        counts
    }

    /// Counts an anomaly found but not listed.
    pub(crate) fn suppress(&mut self, kind: AnomalyKind) {
        self.suppressed += 1;
        *self.suppressed_by_kind.entry(kind).or_insert(0) += 1;
    }
}

/// A position in the total order the revisions give: a write at its revision, a read (or any
/// operation that changed nothing) just after the write of its revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub(crate) rev: Rev,
    pub(crate) after: bool,
}

impl Pos {
    pub(crate) fn write(rev: Rev) -> Pos {
        Pos { rev, after: false }
    }

    pub(crate) fn read(rev: Rev) -> Pos {
        Pos { rev, after: true }
    }
}

/// Checks a whole history; see the module's docs.
pub fn check(history: &History) -> Report {
    let mut report = Report::default();
    let replayed = replay::replay(history, &mut report);
    realtime::check(history, &replayed.pos, &mut report);
    watches::check(history, &replayed.events, &mut report);
    check_hashes(history, &mut report);
    report
}

fn check_hashes(history: &History, report: &mut Report) {
    let hashes: Vec<(&String, u32)> = history
        .hashes
        .iter()
        .filter_map(|(member, hash)| hash.as_ref().ok().map(|h| (member, *h)))
        .collect();
    if hashes.windows(2).any(|w| w[0].1 != w[1].1) {
        report.anomalies.push(Anomaly {
            kind: AnomalyKind::MembersDisagree,
            what: format!(
                "the members' hashes of the store at revision {} differ: {hashes:?}",
                history.end_rev
            ),
            ops: Vec::new(),
            watch: None,
            revs: (history.end_rev, history.end_rev),
            keys: Vec::new(),
        });
    }
}
