//! Step 2 of the check, for the replay: each answer against the store at its revision, and
//! how answers and events are shown in an anomaly's description.

use super::Replay;
use crate::check::store::Store;
use crate::check::{AnomalyKind, Pos};
use crate::model::{Answer, Event, EventKind, Kv, Outcome, Request, Rev, TxnOp};

impl Replay<'_> {
    /// An answer at its revision, or an answer at a revision the history never had.
    pub(super) fn read_at(&mut self, i: usize, store: &Store) {
        let h = self.h;
        let op = &h.ops[i];
        let Outcome::Ok { answer } = &op.outcome else {
            return;
        };
        let rev = answer.rev();
        let end = self
            .h
            .end_rev
            .max(self.h.applied.last().map_or(1, Event::rev));
        if rev < 1 || rev > end {
            self.anomaly(
                AnomalyKind::RevisionOutOfRange,
                format!(
                    "operation {} answered at revision {rev}, outside the run's 1..={end}",
                    op.id
                ),
                &[i],
                (rev.min(end), rev.max(end)),
            );
            return;
        }
        self.check_read(i, store);
    }

    /// Checks an answer that changed nothing against the store at its revision.
    fn check_read(&mut self, i: usize, store: &Store) {
        let h = self.h;
        let op = &h.ops[i];
        let Outcome::Ok { answer } = &op.outcome else {
            return;
        };
        let rev = answer.rev();
        self.report.stats.answers += 1;
        let wrong = match (&op.request, answer) {
            (
                Request::Range {
                    range,
                    keys_only,
                    count_only,
                    limit,
                    ..
                },
                got,
            ) => {
                let mut want = store.read(range, *keys_only, *count_only, *limit, rev);
                let mut got = got.clone();
                if *keys_only && keys_only_drops_lease(&h.meta.etcd) {
                    for answer in [&mut want, &mut got] {
                        if let Answer::Range { kvs, .. } = answer {
                            kvs.iter_mut().for_each(|kv| kv.lease = 0);
                        }
                    }
                }
                (want != got)
                    .then(|| format!("read {} but the store held {}", show(&got), show(&want)))
            }
            (Request::Delete { range, .. }, _) => {
                let found: Vec<&Kv> = store.range(range).collect();
                (!found.is_empty())
                    .then(|| format!("deleted nothing, but the store held {found:?}"))
            }
            (
                Request::Txn {
                    compares,
                    success,
                    failure,
                },
                Answer::Txn {
                    succeeded,
                    responses,
                    ..
                },
            ) => {
                let holds = compares.iter().all(|c| store.holds(c));
                let branch = if *succeeded { success } else { failure };
                if holds != *succeeded {
                    Some(format!(
                        "its compares {} at revision {rev}, but it answered succeeded = {succeeded}",
                        if holds { "hold" } else { "fail" }
                    ))
                } else {
                    wrong_branch_reads(branch, responses, store, rev)
                }
            }
            (Request::LeaseRevoke { id }, _) => {
                if self.pos[i].is_some() {
                    return; // it made a revision, and was checked there
                }
                let end = self.ended.entry(*id).or_insert(rev);
                *end = (*end).min(rev);
                let keys = store.lease_keys(*id);
                (!keys.is_empty()).then(|| {
                    format!("lease {id} was revoked, but keys {keys:?} are still attached to it")
                })
            }
            _ => None,
        };
        self.pos[i] = Some(Pos::read(rev));
        if let Some(wrong) = wrong {
            let from = match answer {
                Answer::Range { kvs, .. } => kvs.iter().map(|kv| kv.modr).min().unwrap_or(rev),
                _ => rev,
            };
            self.anomaly(
                AnomalyKind::WrongAnswer,
                format!("operation {} at revision {rev}: {wrong}", op.id),
                &[i],
                (from.min(rev), rev),
            );
        }
    }
}

/// What is wrong with an acknowledged write's answer, checked against the store before it.
pub(super) fn wrong_write_answer(
    request: &Request,
    answer: &Answer,
    store: &Store,
) -> Option<String> {
    match (request, answer) {
        (Request::Put { key, prev_kv, .. }, Answer::Put { prev, .. }) => {
            let want = store.get(key).filter(|_| *prev_kv).cloned();
            (*prev != want).then(|| format!("its previous key was {prev:?}, not {want:?}"))
        }
        (Request::Delete { range, prev_kv }, Answer::Delete { deleted, prev, .. }) => {
            let want: Vec<Kv> = store.range(range).cloned().collect();
            if *deleted != want.len() as i64 {
                Some(format!("it deleted {deleted} keys, not {}", want.len()))
            } else if *prev_kv && *prev != want {
                Some(format!("its previous keys were {prev:?}, not {want:?}"))
            } else {
                None
            }
        }
        (Request::Txn { success, .. }, Answer::Txn { responses, .. }) => {
            if responses.len() != success.len() {
                return Some(format!(
                    "{} answers for {} operations",
                    responses.len(),
                    success.len()
                ));
            }
            // The workload's success branches touch distinct keys: each delete found what the
            // store held before the transaction.
            success
                .iter()
                .zip(responses)
                .find_map(|(op, answer)| match (op, answer) {
                    (TxnOp::Delete { range }, Answer::Delete { deleted, .. }) => {
                        let want = store.range(range).count() as i64;
                        (*deleted != want)
                            .then(|| format!("its delete deleted {deleted}, not {want}"))
                    }
                    _ => None,
                })
        }
        _ => None,
    }
}

/// What is wrong with the reads of a branch that changed nothing.
fn wrong_branch_reads(
    branch: &[TxnOp],
    responses: &[Answer],
    store: &Store,
    rev: Rev,
) -> Option<String> {
    if branch.len() != responses.len() {
        return Some(format!(
            "{} answers for {} operations",
            responses.len(),
            branch.len()
        ));
    }
    branch.iter().zip(responses).find_map(|(op, got)| match op {
        TxnOp::Range { range } => {
            let want = store.read(range, false, false, 0, rev);
            (want != *got).then(|| {
                format!(
                    "its get read {} but the store held {}",
                    show(got),
                    show(&want)
                )
            })
        }
        _ => None,
    })
}

fn show(answer: &Answer) -> String {
    match answer {
        Answer::Range {
            kvs, count, more, ..
        } => {
            let kvs: Vec<String> = kvs
                .iter()
                .map(|kv| {
                    format!(
                        "{}={:?}@{}(create {}, version {}, lease {})",
                        kv.key, kv.value, kv.modr, kv.create, kv.version, kv.lease
                    )
                })
                .collect();
            format!(
                "[{}] count {count}{}",
                kvs.join(", "),
                if *more { " more" } else { "" }
            )
        }
        other => format!("{other:?}"),
    }
}

pub(super) fn show_events(events: &[Event]) -> String {
    let shown: Vec<String> = events
        .iter()
        .map(|e| match e.kind {
            EventKind::Put => format!(
                "put {}={:?} (create {}, version {}, lease {})",
                e.kv.key, e.kv.value, e.kv.create, e.kv.version, e.kv.lease
            ),
            EventKind::Delete => format!("delete {}", e.kv.key),
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

/// Whether this etcd leaves the lease out of a keys-only range's keys: 3.7 answers keys-only
/// ranges from its in-memory index, which knows no leases, so every lease there is 0
/// (etcd-io/etcd#22209; seen on 3.7.2 through the gateway, `"lease"` absent). A later 3.7
/// may give them back at the latest revision (etcd-io/etcd#22212), so from 3.7 on a
/// keys-only answer's leases are not compared; everything else in it is.
fn keys_only_drops_lease(etcd: &str) -> bool {
    let mut parts = etcd.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (3, 7)
}
