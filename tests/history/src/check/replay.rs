//! Steps 1 and 2 of the check: the applied history replayed revision by revision, each write
//! placed at its revision and checked there, each answer checked against the store at its
//! revision.

mod answers;

use std::collections::{BTreeMap, HashMap};

use super::matching::{self, Cand, Unexplained};
use super::realtime::Bound;
use super::store::{canonical, steps, written_values, Store};
use super::{Anomaly, AnomalyKind, Pos, Report};
use crate::model::{Answer, Event, EventKind, History, Op, Outcome, Request, Rev, TxnOp};
use answers::{show_events, wrong_write_answer};

/// What the replay found: each operation's position, and the applied events with each one's
/// previous key filled in (for the watches' check).
pub(crate) struct Replayed {
    pub(crate) pos: Vec<Option<Pos>>,
    pub(crate) events: Vec<Event>,
}

/// What an acknowledged answer says about its operation.
enum Claim {
    /// It made the revision.
    Write(Rev),
    /// It changed nothing, and was served at the revision.
    Read(Rev),
    /// A revoke: it made the revision if its lease had keys, else changed nothing.
    Revoke(Rev),
}

fn claim(request: &Request, answer: &Answer) -> Option<Claim> {
    Some(match (request, answer) {
        (Request::Put { .. }, Answer::Put { rev, .. }) => Claim::Write(*rev),
        (Request::Delete { .. }, Answer::Delete { rev, deleted, .. }) if *deleted > 0 => {
            Claim::Write(*rev)
        }
        (Request::Delete { .. }, Answer::Delete { rev, .. }) => Claim::Read(*rev),
        (
            Request::Txn { success, .. },
            Answer::Txn {
                rev,
                succeeded,
                responses,
            },
        ) => {
            let puts = success.iter().any(|op| matches!(op, TxnOp::Put { .. }));
            let deleted = responses
                .iter()
                .any(|a| matches!(a, Answer::Delete { deleted, .. } if *deleted > 0));
            if *succeeded && (puts || deleted) {
                Claim::Write(*rev)
            } else {
                Claim::Read(*rev)
            }
        }
        (Request::Range { .. }, Answer::Range { rev, .. })
        | (Request::LeaseGrant { .. }, Answer::LeaseGrant { rev, .. }) => Claim::Read(*rev),
        (Request::LeaseRevoke { .. }, Answer::LeaseRevoke { rev }) => Claim::Revoke(*rev),
        _ => return None,
    })
}

/// The keys an operation touches, for showing its window.
pub(crate) fn op_keys(op: &Op) -> Vec<String> {
    let mut keys = match &op.request {
        Request::Put { key, .. } => vec![key.clone()],
        Request::Range { range, .. } | Request::Delete { range, .. } => vec![range.key.clone()],
        Request::Txn {
            compares,
            success,
            failure,
        } => {
            let mut keys: Vec<String> = compares.iter().map(|c| c.key.clone()).collect();
            for op in success.iter().chain(failure) {
                keys.push(match op {
                    TxnOp::Put { key, .. } => key.clone(),
                    TxnOp::Range { range } | TxnOp::Delete { range } => range.key.clone(),
                });
            }
            keys
        }
        Request::LeaseGrant { .. } | Request::LeaseRevoke { .. } => Vec::new(),
    };
    if let Outcome::Ok {
        answer: Answer::Range { kvs, .. },
    } = &op.outcome
    {
        keys.extend(kvs.iter().map(|kv| kv.key.clone()));
    }
    keys.sort();
    keys.dedup();
    keys
}

struct Replay<'h> {
    h: &'h History,
    pos: Vec<Option<Pos>>,
    by_value: HashMap<&'h str, usize>,
    claims: BTreeMap<Rev, Vec<usize>>,
    revokes_at: HashMap<Rev, Vec<usize>>,
    unknown_deletes: Vec<usize>,
    unexplained: Vec<Unexplained>,
    /// Where each lease ended (an acknowledged revoke, or a matched expiry).
    ended: HashMap<i64, Rev>,
    report: &'h mut Report,
}

impl Replay<'_> {
    fn anomaly(&mut self, kind: AnomalyKind, what: String, ops: &[usize], revs: (Rev, Rev)) {
        let mut keys = Vec::new();
        for &i in ops {
            keys.extend(op_keys(&self.h.ops[i]));
        }
        keys.sort();
        keys.dedup();
        self.report.anomalies.push(Anomaly {
            kind,
            what,
            ops: ops.iter().map(|&i| self.h.ops[i].id).collect(),
            watch: None,
            revs,
            keys,
        });
    }

    /// Which operation made revision `r`, and is it right? `store` is the store at `r - 1`.
    fn explain(&mut self, r: Rev, group: &[Event], store: &Store) {
        let mut writers: Vec<usize> = Vec::new();
        for e in group.iter().filter(|e| e.kind == EventKind::Put) {
            match self.by_value.get(e.kv.value.as_str()) {
                Some(&i) if !writers.contains(&i) => writers.push(i),
                Some(_) => {}
                None => self.report.anomalies.push(Anomaly {
                    kind: AnomalyKind::UnexplainedWrite,
                    what: format!(
                        "{} = {:?} at revision {r}: no operation wrote that value",
                        e.kv.key, e.kv.value
                    ),
                    ops: Vec::new(),
                    watch: None,
                    revs: (r, r),
                    keys: vec![e.kv.key.clone()],
                }),
            }
        }
        if writers.len() > 1 {
            let ids: Vec<u64> = writers.iter().map(|&i| self.h.ops[i].id).collect();
            self.anomaly(
                AnomalyKind::UnexplainedWrite,
                format!("revision {r} holds the writes of several operations {ids:?}"),
                &writers,
                (r, r),
            );
        }
        if let Some(&i) = writers.first() {
            self.place(i, r, group, store);
            return;
        }
        if group.iter().any(|e| e.kind == EventKind::Put) {
            return; // only values nobody wrote: reported above
        }
        // Deletions only: an acknowledged delete (or a transaction that only deleted) says it
        // made this revision, or an acknowledged revoke of the lease these keys had.
        let claimed = self.claims.get(&r).and_then(|ops| {
            ops.iter().copied().find(|&i| {
                matches!(
                    self.h.ops[i].request,
                    Request::Delete { .. } | Request::Txn { .. }
                )
            })
        });
        if let Some(i) = claimed {
            self.place(i, r, group, store);
            return;
        }
        let mut keys: Vec<String> = group.iter().map(|e| e.kv.key.clone()).collect();
        keys.sort();
        let lease = common_lease(store, &keys);
        let revoke = lease.and_then(|lease| {
            self.revokes_at.get(&r).and_then(|ops| {
                ops.iter().copied().find(|&i| {
                    matches!(self.h.ops[i].request, Request::LeaseRevoke { id } if id == lease)
                })
            })
        });
        if let (Some(i), Some(lease)) = (revoke, lease) {
            self.pos[i] = Some(Pos::write(r));
            self.report.stats.acked_writes += 1;
            let end = self.ended.entry(lease).or_insert(r);
            *end = (*end).min(r);
            return;
        }
        // Left for the matching: a delete or revoke whose outcome was unknown, or an expiry.
        let mut cands: Vec<Cand> = self
            .unknown_deletes
            .iter()
            .copied()
            .filter(|&i| match &self.h.ops[i].request {
                Request::Delete { range, .. } => {
                    store.range(range).map(|kv| &kv.key).eq(keys.iter())
                }
                _ => false,
            })
            .map(Cand::Op)
            .collect();
        if let Some(lease) = lease {
            cands.push(Cand::Lease(lease));
        }
        self.unexplained.push(Unexplained {
            rev: r,
            keys,
            cands,
        });
    }

    /// Places operation `i` at revision `r`, which it made, and checks it there.
    fn place(&mut self, i: usize, r: Rev, group: &[Event], store: &Store) {
        let h = self.h;
        let op = &h.ops[i];
        if let Some(p) = self.pos[i] {
            self.anomaly(
                AnomalyKind::AppliedTwice,
                format!(
                    "operation {} is applied at revision {} and again at {r}",
                    op.id, p.rev
                ),
                &[i],
                (p.rev, r),
            );
            return;
        }
        self.pos[i] = Some(Pos::write(r));
        match &op.outcome {
            Outcome::Failed { error } => self.anomaly(
                AnomalyKind::FailedWriteApplied,
                format!(
                    "operation {} failed ({error}), certainly not applied, but it is at revision {r}",
                    op.id
                ),
                &[i],
                (r, r),
            ),
            Outcome::Unknown { .. } => self.report.stats.unknown_applied += 1,
            Outcome::Ok { answer } if answer.rev() != r => self.anomaly(
                AnomalyKind::WrongRevision,
                format!(
                    "operation {} answered revision {} but is applied at {r}",
                    op.id,
                    answer.rev()
                ),
                &[i],
                (r.min(answer.rev()), r.max(answer.rev())),
            ),
            Outcome::Ok { answer } => {
                self.report.stats.acked_writes += 1;
                if let Some(wrong) = wrong_write_answer(&op.request, answer, store) {
                    self.anomaly(
                        AnomalyKind::WrongAnswer,
                        format!("operation {} at revision {r}: {wrong}", op.id),
                        &[i],
                        (r - 1, r),
                    );
                }
            }
        }
        if let Request::Txn { compares, .. } = &op.request {
            if !compares.iter().all(|c| store.holds(c)) {
                self.anomaly(
                    AnomalyKind::WrongEffect,
                    format!(
                        "transaction {} ran its success branch at revision {r}, but its compares do not hold at {}",
                        op.id,
                        r - 1
                    ),
                    &[i],
                    (r - 1, r),
                );
            }
            if let Outcome::Ok {
                answer: Answer::Txn {
                    succeeded: false, ..
                },
            } = &op.outcome
            {
                self.anomaly(
                    AnomalyKind::FailedWriteApplied,
                    format!(
                        "transaction {} answered that its compares failed, but its success branch is at revision {r}",
                        op.id
                    ),
                    &[i],
                    (r, r),
                );
            }
        }
        let expected = steps(&op.request)
            .map(|steps| store.effect(&steps, r))
            .unwrap_or_default();
        let (want, got) = (canonical(&expected), canonical(group));
        if want != got {
            self.anomaly(
                AnomalyKind::WrongEffect,
                format!(
                    "operation {} at revision {r} should make {} but the history holds {}",
                    op.id,
                    show_events(&want),
                    show_events(&got)
                ),
                &[i],
                (r - 1, r),
            );
        }
    }
}

/// The lease every key had, if they all had the same one and it had no other key.
fn common_lease(store: &Store, keys: &[String]) -> Option<i64> {
    let lease = store.get(keys.first()?)?.lease;
    (lease != 0 && store.lease_keys(lease) == keys).then_some(lease)
}

/// Replays the applied history; see the module's docs.
pub(crate) fn replay(h: &History, report: &mut Report) -> Replayed {
    let mut r = Replay {
        h,
        pos: vec![None; h.ops.len()],
        by_value: HashMap::new(),
        claims: BTreeMap::new(),
        revokes_at: HashMap::new(),
        unknown_deletes: Vec::new(),
        unexplained: Vec::new(),
        ended: HashMap::new(),
        report,
    };
    let mut reads: Vec<(Rev, usize)> = Vec::new();
    for (i, op) in h.ops.iter().enumerate() {
        for (_, value) in written_values(&op.request) {
            let again = r.by_value.insert(value, i);
            assert!(again.is_none(), "the workload wrote {value:?} twice");
        }
        match &op.outcome {
            Outcome::Ok { answer } => match claim(&op.request, answer) {
                Some(Claim::Write(rev)) => r.claims.entry(rev).or_default().push(i),
                Some(Claim::Read(rev)) => reads.push((rev, i)),
                Some(Claim::Revoke(rev)) => {
                    r.revokes_at.entry(rev).or_default().push(i);
                    reads.push((rev, i));
                }
                None => r.anomaly(
                    AnomalyKind::WrongAnswer,
                    format!(
                        "operation {} got an answer of another kind: {answer:?}",
                        op.id
                    ),
                    &[i],
                    (answer.rev(), answer.rev()),
                ),
            },
            Outcome::Unknown { .. } if matches!(op.request, Request::Delete { .. }) => {
                r.unknown_deletes.push(i)
            }
            _ => {}
        }
    }
    reads.sort_unstable();
    let mut reads = reads.into_iter().peekable();
    let mut store = Store::default();
    let mut events = Vec::with_capacity(h.applied.len());
    let mut last: Rev = 1;
    let mut k = 0;
    while k < h.applied.len() {
        let rev = h.applied[k].rev();
        let mut j = k;
        while j < h.applied.len() && h.applied[j].rev() == rev {
            j += 1;
        }
        let group = &h.applied[k..j];
        k = j;
        if rev <= last {
            r.anomaly(
                AnomalyKind::HistoryGap,
                format!("the applied history goes back from revision {last} to {rev}"),
                &[],
                (rev, last),
            );
            continue;
        }
        if rev > last + 1 {
            r.anomaly(
                AnomalyKind::HistoryGap,
                format!(
                    "the applied history has no events at revisions {}..={}",
                    last + 1,
                    rev - 1
                ),
                &[],
                (last, rev),
            );
        }
        while let Some((_, i)) = reads.next_if(|(at, _)| *at < rev) {
            r.read_at(i, &store);
        }
        r.explain(rev, group, &store);
        for e in group {
            let mut e = e.clone();
            e.prev = store.get(&e.kv.key).cloned();
            store.apply(&e);
            events.push(e);
        }
        r.report.stats.revisions += 1;
        r.report.stats.events += group.len() as u64;
        while let Some((_, i)) = reads.next_if(|(at, _)| *at == rev) {
            r.read_at(i, &store);
        }
        last = rev;
    }
    if h.end_rev > last {
        r.anomaly(
            AnomalyKind::HistoryGap,
            format!(
                "the applied history ends at revision {last}, the final read's at {}",
                h.end_rev
            ),
            &[],
            (last, h.end_rev),
        );
    }
    for (_, i) in reads {
        r.read_at(i, &store);
    }
    r.finish();
    Replayed { pos: r.pos, events }
}

impl Replay<'_> {
    /// After the replay: the revisions of deletions left are matched, and what was
    /// acknowledged but never found is reported.
    fn finish(&mut self) {
        let bound = Bound::new(self.h, &self.pos);
        // A lease ends once: not before a key is attached to it again.
        let mut last_attached: HashMap<i64, Rev> = HashMap::new();
        for e in self.h.applied.iter().filter(|e| e.kind == EventKind::Put) {
            last_attached.insert(e.kv.lease, e.rev());
        }
        let unexplained = std::mem::take(&mut self.unexplained);
        let matched = matching::assign(&unexplained, |cand, rev| match cand {
            // An operation whose outcome was unknown may be applied long after its caller
            // gave up, but not before it was invoked.
            Cand::Op(i) => self.h.ops[i].invoke < bound.first_completion_after(Pos::write(rev)),
            Cand::Lease(lease) => last_attached.get(&lease).is_none_or(|&last| last <= rev),
        });
        for (u, m) in unexplained.iter().zip(matched) {
            match m {
                Some(Cand::Op(i)) => {
                    self.pos[i] = Some(Pos::write(u.rev));
                    self.report.stats.unknown_applied += 1;
                }
                Some(Cand::Lease(lease)) => {
                    let end = self.ended.entry(lease).or_insert(u.rev);
                    *end = (*end).min(u.rev);
                    self.report.stats.lease_ends += 1;
                }
                None => self.report.anomalies.push(Anomaly {
                    kind: AnomalyKind::UnexplainedWrite,
                    what: format!(
                        "keys {:?} deleted at revision {}: no acknowledged delete says so, and no delete or revoke of unknown outcome, nor a lease's expiry, can have done it",
                        u.keys, u.rev
                    ),
                    ops: Vec::new(),
                    watch: None,
                    revs: (u.rev - 1, u.rev),
                    keys: u.keys.clone(),
                }),
            }
        }
        let claims = std::mem::take(&mut self.claims);
        for (rev, ops) in claims {
            for i in ops {
                if self.pos[i].is_none() {
                    self.anomaly(
                        AnomalyKind::LostWrite,
                        format!(
                            "operation {} was acknowledged at revision {rev} but is not in the history",
                            self.h.ops[i].id
                        ),
                        &[i],
                        (rev, rev),
                    );
                }
            }
        }
        let h = self.h;
        for (i, op) in h.ops.iter().enumerate() {
            if matches!(op.outcome, Outcome::Unknown { .. })
                && op.request.is_write()
                && self.pos[i].is_none()
            {
                self.report.stats.unknown_not_applied += 1;
            }
        }
        self.check_leases();
    }

    /// No key is attached to a lease after the lease ended.
    fn check_leases(&mut self) {
        let late: Vec<(String, i64, Rev, Rev)> = self
            .h
            .applied
            .iter()
            .filter(|e| e.kind == EventKind::Put && e.kv.lease != 0)
            .filter_map(|e| {
                let end = *self.ended.get(&e.kv.lease)?;
                (e.rev() > end).then(|| (e.kv.key.clone(), e.kv.lease, e.rev(), end))
            })
            .collect();
        for (key, lease, rev, end) in late {
            self.report.anomalies.push(Anomaly {
                kind: AnomalyKind::LeaseAfterEnd,
                what: format!(
                    "{key} was attached to lease {lease} at revision {rev}, after the lease ended at {end}"
                ),
                ops: Vec::new(),
                watch: None,
                revs: (end, rev),
                keys: vec![key],
            });
        }
    }
}
