//! The checker catches what it claims: each kind of anomaly, fed to it in a small history,
//! is reported (and a history without one is not).

use super::*;
use crate::model::*;

/// Builds a history operation by operation; each operation takes the next two clock ticks
/// unless given its own.
#[derive(Default)]
struct B {
    h: History,
    clock: u64,
}

impl B {
    fn op(&mut self, session: u32, request: Request, outcome: Outcome) -> u64 {
        let invoke = self.clock + 1;
        let complete = self.clock + 2;
        self.op_at(session, request, outcome, invoke, complete)
    }

    fn op_at(
        &mut self,
        session: u32,
        request: Request,
        outcome: Outcome,
        invoke: u64,
        complete: u64,
    ) -> u64 {
        self.clock = self.clock.max(complete);
        let id = self.h.ops.len() as u64;
        self.h.ops.push(Op {
            id,
            session,
            label: "test".into(),
            invoke,
            complete,
            at_ms: (invoke, complete),
            request,
            outcome,
        });
        id
    }

    fn applied(&mut self, events: Vec<Event>) {
        self.h.end_rev = events.last().map_or(1, Event::rev);
        self.h.applied = events;
    }

    fn check(&self) -> Report {
        check(&self.h)
    }
}

fn kv(key: &str, value: &str, rev: Rev, create: Rev, version: i64) -> Kv {
    Kv {
        key: key.into(),
        value: value.into(),
        create,
        modr: rev,
        version,
        lease: 0,
    }
}

fn put_ev(key: &str, value: &str, rev: Rev, create: Rev, version: i64) -> Event {
    Event {
        kind: EventKind::Put,
        kv: kv(key, value, rev, create, version),
        prev: None,
    }
}

fn del_ev(key: &str, rev: Rev) -> Event {
    Event {
        kind: EventKind::Delete,
        kv: Kv {
            key: key.into(),
            modr: rev,
            ..Kv::default()
        },
        prev: None,
    }
}

fn put(key: &str, value: &str) -> Request {
    Request::Put {
        key: key.into(),
        value: value.into(),
        lease: 0,
        prev_kv: false,
    }
}

fn get(key: &str, serializable: bool) -> Request {
    Request::Range {
        range: KeyRange::key(key),
        serializable,
        keys_only: false,
        count_only: false,
        limit: 0,
    }
}

fn ok(answer: Answer) -> Outcome {
    Outcome::Ok { answer }
}

fn put_ok(rev: Rev) -> Outcome {
    ok(Answer::Put { rev, prev: None })
}

fn got(rev: Rev, kvs: Vec<Kv>) -> Outcome {
    let count = kvs.len() as i64;
    ok(Answer::Range {
        rev,
        kvs,
        count,
        more: false,
    })
}

fn unknown() -> Outcome {
    Outcome::Unknown {
        error: "timed out".into(),
    }
}

fn kinds(report: &Report) -> Vec<AnomalyKind> {
    let mut kinds: Vec<AnomalyKind> = report.anomalies.iter().map(|a| a.kind).collect();
    kinds.dedup();
    kinds
}

fn watch(id: u64, key: &str, start: Rev, events: Vec<Event>) -> WatchRecord {
    WatchRecord {
        id,
        session: 0,
        range: KeyRange::key(key),
        start,
        prev_kv: false,
        progress_notify: false,
        created: Some(start - 1),
        events,
        progress: Vec::new(),
        must_reach: None,
        ended: None,
    }
}

/// A run where every kind of operation behaves: nothing is reported.
#[test]
fn a_correct_history_has_no_anomaly() {
    let mut b = B::default();
    b.op(0, get("a", false), got(1, vec![]));
    b.op(0, put("a", "v1"), put_ok(2));
    b.op(1, get("a", true), got(2, vec![kv("a", "v1", 2, 2, 1)]));
    // A serializable read of another client may be stale.
    b.op(2, get("a", true), got(1, vec![]));
    b.op(
        1,
        Request::Txn {
            compares: vec![Compare {
                key: "a".into(),
                op: CmpOp::Equal,
                target: CmpTarget::Mod(2),
            }],
            success: vec![TxnOp::Put {
                key: "b".into(),
                value: "t1".into(),
                lease: 0,
            }],
            failure: vec![TxnOp::Range {
                range: KeyRange::key("a"),
            }],
        },
        ok(Answer::Txn {
            rev: 3,
            succeeded: true,
            responses: vec![Answer::Put { rev: 3, prev: None }],
        }),
    );
    // A put whose outcome is unknown, applied later; another never applied.
    b.op(2, put("a", "v2"), unknown());
    b.op(2, put("b", "lost"), unknown());
    b.op(
        0,
        Request::Delete {
            range: KeyRange::prefix("b"),
            prev_kv: false,
        },
        ok(Answer::Delete {
            rev: 5,
            deleted: 1,
            prev: vec![],
        }),
    );
    b.op(
        0,
        Request::Range {
            range: KeyRange {
                key: "a".into(),
                end: Some("z".into()),
            },
            serializable: false,
            keys_only: false,
            count_only: false,
            limit: 0,
        },
        got(5, vec![kv("a", "v2", 4, 2, 2)]),
    );
    b.applied(vec![
        put_ev("a", "v1", 2, 2, 1),
        put_ev("b", "t1", 3, 3, 1),
        put_ev("a", "v2", 4, 2, 2),
        del_ev("b", 5),
    ]);
    b.h.watches.push(WatchRecord {
        must_reach: Some(4),
        ..watch(
            0,
            "a",
            2,
            vec![put_ev("a", "v1", 2, 2, 1), put_ev("a", "v2", 4, 2, 2)],
        )
    });
    let report = b.check();
    assert!(report.ok(), "{}", render(&b.h, &report, 10));
    assert_eq!(report.stats.unknown_applied, 1);
    assert_eq!(report.stats.unknown_not_applied, 1);
    assert_eq!(report.stats.acked_writes, 3);
}

#[test]
fn a_lost_acknowledged_write_is_reported() {
    let mut b = B::default();
    b.op(0, put("a", "v1"), put_ok(2));
    b.op(0, put("a", "v2"), put_ok(3));
    b.applied(vec![put_ev("a", "v1", 2, 2, 1)]);
    let report = b.check();
    assert_eq!(kinds(&report), [AnomalyKind::LostWrite], "{report:?}");
    let shown = render(&b.h, &report, 5);
    assert!(
        shown.contains("LostWrite") && shown.contains("put a=\"v2\""),
        "{shown}"
    );
}

#[test]
fn a_write_applied_twice_is_reported() {
    let mut b = B::default();
    b.op(0, put("a", "v1"), unknown());
    b.applied(vec![put_ev("a", "v1", 2, 2, 1), put_ev("a", "v1", 3, 2, 2)]);
    assert_eq!(kinds(&b.check()), [AnomalyKind::AppliedTwice]);
}

#[test]
fn a_failed_write_that_was_applied_is_reported() {
    let mut b = B::default();
    b.op(
        0,
        put("a", "v1"),
        Outcome::Failed {
            error: "no leader".into(),
        },
    );
    b.applied(vec![put_ev("a", "v1", 2, 2, 1)]);
    assert_eq!(kinds(&b.check()), [AnomalyKind::FailedWriteApplied]);
}

#[test]
fn an_acknowledged_write_at_another_revision_is_reported() {
    let mut b = B::default();
    b.op(0, put("a", "v0"), unknown());
    b.op(0, put("a", "v1"), put_ok(2));
    b.applied(vec![put_ev("a", "v0", 2, 2, 1), put_ev("a", "v1", 3, 2, 2)]);
    assert!(kinds(&b.check()).contains(&AnomalyKind::WrongRevision));
}

#[test]
fn a_stale_read_is_reported() {
    let mut b = B::default();
    b.op(0, put("a", "v1"), put_ok(2));
    // Invoked after the put completed, it read the store before it.
    b.op(1, get("a", false), got(1, vec![]));
    b.applied(vec![put_ev("a", "v1", 2, 2, 1)]);
    let report = b.check();
    assert_eq!(kinds(&report), [AnomalyKind::StaleRead]);
    assert_eq!(report.anomalies[0].ops, [0, 1]);
    assert_eq!(report.anomalies[0].revs, (1, 2));
}

#[test]
fn a_read_from_the_future_is_reported() {
    let mut b = B::default();
    // The get completed (clock 2) with the value of a put invoked only afterwards (clock 3).
    b.op(1, get("a", false), got(2, vec![kv("a", "v1", 2, 2, 1)]));
    b.op(0, put("a", "v1"), put_ok(2));
    b.applied(vec![put_ev("a", "v1", 2, 2, 1)]);
    assert_eq!(kinds(&b.check()), [AnomalyKind::FutureRead]);
    // A read at a revision the run never reached.
    let mut b = B::default();
    b.op(1, get("a", false), got(7, vec![]));
    b.applied(vec![]);
    assert_eq!(kinds(&b.check()), [AnomalyKind::RevisionOutOfRange]);
}

#[test]
fn a_wrong_answer_is_reported() {
    let mut b = B::default();
    b.op(0, put("a", "v1"), put_ok(2));
    // At revision 2 the key has value v1, version 1; it answered version 2.
    b.op(1, get("a", false), got(2, vec![kv("a", "v1", 2, 2, 2)]));
    b.applied(vec![put_ev("a", "v1", 2, 2, 1)]);
    assert_eq!(kinds(&b.check()), [AnomalyKind::WrongAnswer]);
}

#[test]
fn a_serializable_read_may_be_stale_but_not_go_back_for_its_client() {
    let mut b = B::default();
    b.op(0, put("a", "v1"), put_ok(2));
    b.op(1, get("a", true), got(1, vec![])); // another client's: allowed
    b.op(0, get("a", true), got(1, vec![])); // its own client wrote at 2 before
    b.applied(vec![put_ev("a", "v1", 2, 2, 1)]);
    let report = b.check();
    assert_eq!(kinds(&report), [AnomalyKind::SessionWentBack]);
    assert_eq!(report.anomalies[0].ops, [0, 2]);
}

#[test]
fn an_unknown_write_may_apply_late_but_not_before_its_invocation() {
    let mut b = B::default();
    b.op_at(0, put("a", "late"), unknown(), 1, 2);
    b.op_at(1, put("b", "w"), put_ok(2), 3, 4);
    b.applied(vec![
        put_ev("b", "w", 2, 2, 1),
        put_ev("a", "late", 3, 3, 1),
    ]);
    assert!(b.check().ok());
    // Invoked after the put at revision 3 completed, it cannot be at revision 2.
    let mut b = B::default();
    b.op_at(1, put("b", "w"), put_ok(3), 1, 2);
    b.op_at(0, put("a", "early"), unknown(), 5, 6);
    b.applied(vec![
        put_ev("a", "early", 2, 2, 1),
        put_ev("b", "w", 3, 3, 1),
    ]);
    assert_eq!(kinds(&b.check()), [AnomalyKind::WriteOrder]);
}

#[test]
fn a_watch_gap_and_a_repeated_event_are_reported() {
    let history = vec![
        put_ev("a", "v1", 2, 2, 1),
        put_ev("a", "v2", 3, 2, 2),
        put_ev("a", "v3", 4, 2, 3),
    ];
    let mut b = B::default();
    for (i, v) in ["v1", "v2", "v3"].iter().enumerate() {
        b.op(0, put("a", v), put_ok(i as Rev + 2));
    }
    b.applied(history.clone());
    b.h.watches.push(watch(
        0,
        "a",
        2,
        vec![history[0].clone(), history[2].clone()],
    ));
    let report = b.check();
    assert_eq!(kinds(&report), [AnomalyKind::WatchGap], "{report:?}");
    assert_eq!(report.anomalies[0].watch, Some(0));
    assert_eq!(report.anomalies[0].revs, (3, 4));

    b.h.watches = vec![watch(
        1,
        "a",
        2,
        vec![
            history[0].clone(),
            history[1].clone(),
            history[1].clone(),
            history[2].clone(),
        ],
    )];
    assert_eq!(kinds(&b.check()), [AnomalyKind::WatchRepeat]);

    // An event that is not the history's, and a watch that stops before its fence.
    let mut wrong = history[1].clone();
    wrong.kv.value = "other".into();
    b.h.watches = vec![WatchRecord {
        must_reach: Some(4),
        ended: Some("connection reset".into()),
        ..watch(2, "a", 2, vec![history[0].clone(), wrong])
    }];
    assert_eq!(
        kinds(&b.check()),
        [AnomalyKind::WatchWrongEvent, AnomalyKind::WatchIncomplete]
    );
}

#[test]
fn a_transaction_s_compare_outcome_is_checked_both_ways() {
    let cas = |value: &str| Request::Txn {
        compares: vec![Compare {
            key: "a".into(),
            op: CmpOp::Equal,
            target: CmpTarget::Version(0),
        }],
        success: vec![TxnOp::Put {
            key: "a".into(),
            value: value.into(),
            lease: 0,
        }],
        failure: vec![TxnOp::Range {
            range: KeyRange::key("a"),
        }],
    };
    let mut b = B::default();
    b.op(0, put("a", "v1"), put_ok(2));
    // "Create if absent" ran although the key existed.
    b.op(
        1,
        cas("c1"),
        ok(Answer::Txn {
            rev: 3,
            succeeded: true,
            responses: vec![Answer::Put { rev: 3, prev: None }],
        }),
    );
    b.applied(vec![put_ev("a", "v1", 2, 2, 1), put_ev("a", "c1", 3, 2, 2)]);
    assert_eq!(kinds(&b.check()), [AnomalyKind::WrongEffect]);
    // It said its compare failed on an empty store.
    let mut b = B::default();
    b.op(
        1,
        cas("c2"),
        ok(Answer::Txn {
            rev: 1,
            succeeded: false,
            responses: vec![Answer::Range {
                rev: 1,
                kvs: vec![],
                count: 0,
                more: false,
            }],
        }),
    );
    b.applied(vec![]);
    assert_eq!(kinds(&b.check()), [AnomalyKind::WrongAnswer]);
}

#[test]
fn deletions_are_explained_by_an_unknown_delete_or_a_lease_or_reported() {
    let lease_put = |key: &str, value: &str| Request::Put {
        key: key.into(),
        value: value.into(),
        lease: 9,
        prev_kv: false,
    };
    let mut b = B::default();
    b.op(0, lease_put("a", "v1"), put_ok(2));
    b.op(0, lease_put("b", "v2"), put_ok(3));
    b.op(0, put("c", "v3"), put_ok(4));
    b.op(
        1,
        Request::Delete {
            range: KeyRange::key("c"),
            prev_kv: false,
        },
        unknown(),
    );
    let lease_kv = |e: Event| Event {
        kv: Kv { lease: 9, ..e.kv },
        ..e
    };
    b.applied(vec![
        lease_kv(put_ev("a", "v1", 2, 2, 1)),
        lease_kv(put_ev("b", "v2", 3, 3, 1)),
        put_ev("c", "v3", 4, 4, 1),
        del_ev("c", 5),
        // The lease's keys, together: its expiry.
        del_ev("a", 6),
        del_ev("b", 6),
    ]);
    let report = b.check();
    assert!(report.ok(), "{}", render(&b.h, &report, 5));
    assert_eq!(report.stats.lease_ends, 1);
    // One of the lease's keys alone, deleted by nothing anyone asked for.
    b.h.applied.pop();
    assert_eq!(kinds(&b.check()), [AnomalyKind::UnexplainedWrite]);
}

#[test]
fn a_hole_in_the_history_and_disagreeing_members_are_reported() {
    let mut b = B::default();
    b.op(0, put("a", "v1"), put_ok(2));
    b.op(0, put("a", "v2"), put_ok(4));
    b.applied(vec![put_ev("a", "v1", 2, 2, 1), put_ev("a", "v2", 4, 2, 2)]);
    b.h.hashes = vec![("n0".into(), Ok(1)), ("n1".into(), Ok(2))];
    assert_eq!(
        kinds(&b.check()),
        [AnomalyKind::HistoryGap, AnomalyKind::MembersDisagree]
    );
}

#[test]
fn a_lease_used_again_did_not_end_before_so_another_deletion_explains_its_key_s() {
    let lease_put = |key: &str, value: &str, lease: i64| Request::Put {
        key: key.into(),
        value: value.into(),
        lease,
        prev_kv: false,
    };
    let with_lease = |e: Event, lease: i64| Event {
        kv: Kv { lease, ..e.kv },
        ..e
    };
    let mut b = B::default();
    b.op(0, lease_put("a", "v1", 9), put_ok(2));
    b.op(
        1,
        Request::Delete {
            range: KeyRange::key("a"),
            prev_kv: false,
        },
        unknown(),
    );
    b.op(0, lease_put("b", "v2", 9), put_ok(4));
    b.op(0, lease_put("a", "v3", 7), put_ok(5));
    b.applied(vec![
        with_lease(put_ev("a", "v1", 2, 2, 1), 9),
        // The unknown delete (lease 9 is used again at 4, so it had not ended).
        del_ev("a", 3),
        with_lease(put_ev("b", "v2", 4, 4, 1), 9),
        with_lease(put_ev("a", "v3", 5, 5, 1), 7),
        // Lease 7's expiry (the delete was used up at 3).
        del_ev("a", 6),
    ]);
    let report = b.check();
    assert!(report.ok(), "{}", render(&b.h, &report, 5));
    assert_eq!(
        (report.stats.unknown_applied, report.stats.lease_ends),
        (1, 1)
    );
}

#[test]
fn a_progress_notification_must_come_after_every_event_up_to_its_revision_and_none_after() {
    let history = vec![
        put_ev("a", "v1", 2, 2, 1),
        put_ev("a", "v2", 3, 2, 2),
        put_ev("b", "w", 4, 4, 1),
    ];
    let mut b = B::default();
    b.op(0, put("a", "v1"), put_ok(2));
    b.op(0, put("a", "v2"), put_ok(3));
    b.op(0, put("b", "w"), put_ok(4));
    b.applied(history.clone());
    let with_progress = |progress: Vec<(u64, Rev)>| WatchRecord {
        progress_notify: true,
        progress,
        ..watch(0, "a", 2, vec![history[0].clone(), history[1].clone()])
    };
    // Up to date at 2 after one event, at 4 after both (b's event is not its range's).
    b.h.watches = vec![with_progress(vec![(1, 2), (2, 4)])];
    assert!(b.check().ok(), "{:?}", b.check());
    // Progress at 3 before the event at 3: it overtook an event.
    b.h.watches = vec![with_progress(vec![(1, 3)])];
    assert_eq!(kinds(&b.check()), [AnomalyKind::WatchProgress]);
    // Progress at 2 after the event at 3: it went back.
    b.h.watches = vec![with_progress(vec![(2, 2)])];
    assert_eq!(kinds(&b.check()), [AnomalyKind::WatchProgress]);
}

#[test]
fn a_keys_only_read_without_its_lease_is_wrong_before_etcd_3_7_and_right_from_it() {
    let mut b = B::default();
    let lease = 5;
    let request = Request::Put {
        key: "a".into(),
        value: "v1".into(),
        lease,
        prev_kv: false,
    };
    b.op(0, request, put_ok(2));
    let keys_only = Request::Range {
        range: KeyRange::key("a"),
        serializable: false,
        keys_only: true,
        count_only: false,
        limit: 0,
    };
    // etcd 3.7 answers keys-only ranges from its index, without leases (etcd-io/etcd#22209).
    b.op(1, keys_only, got(2, vec![kv("a", "", 2, 2, 1)]));
    let mut event = put_ev("a", "v1", 2, 2, 1);
    event.kv.lease = lease;
    b.applied(vec![event]);
    b.h.meta.etcd = "3.6.15".into();
    assert_eq!(kinds(&b.check()), [AnomalyKind::WrongAnswer]);
    b.h.meta.etcd = "3.7.2".into();
    assert!(b.check().ok(), "{:?}", b.check());
    // Everything else in the answer is still compared.
    if let Outcome::Ok {
        answer: Answer::Range { kvs, .. },
    } = &mut b.h.ops[1].outcome
    {
        kvs[0].version = 2;
    }
    assert_eq!(kinds(&b.check()), [AnomalyKind::WrongAnswer]);
}
