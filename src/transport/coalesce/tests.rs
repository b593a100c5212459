//! The coalescer's decisions, driven by hand: no server, no runtime.

use std::time::Duration;

use super::*;

fn class() -> Class {
    Class {
        serializable: false,
        require_leader: false,
    }
}

fn op(key: &str) -> Bytes {
    Bytes::from(format!(r#"{{"key":"{key}"}}"#))
}

fn far() -> rt::Instant {
    rt::deadline_in(Duration::from_secs(60))
}

/// The one job of a release, a batch.
fn batch(mut jobs: Vec<Job>) -> Batch {
    match (jobs.pop(), jobs.is_empty()) {
        (Some(Job::Batch(batch)), true) => batch,
        _ => panic!("not one batch"),
    }
}

/// The operations of the jobs of a release that send a get again alone.
fn again(jobs: Vec<Job>) -> Vec<Bytes> {
    jobs.into_iter()
        .map(|job| match job {
            Job::Again(again) => again.op,
            Job::Batch(_) => panic!("a batch"),
        })
        .collect()
}

/// Enters gets that wait; their answers' receivers.
fn wait(c: &Coalescer, keys: &[&str]) -> Vec<oneshot::Receiver<Reply>> {
    keys.iter()
        .map(|key| match c.enter(class(), &op(key), far()) {
            Entered::Wait { reply, .. } => reply,
            Entered::Go => panic!("{key} should wait"),
        })
        .collect()
}

#[test]
fn gets_go_alone_until_the_slots_are_taken_then_wait() {
    let c = Coalescer::new(true);
    for _ in 0..IN_FLIGHT {
        assert!(matches!(c.enter(class(), &op("a"), far()), Entered::Go));
    }
    let Entered::Wait { full: None, .. } = c.enter(class(), &op("b"), far()) else {
        panic!("the get should wait")
    };
    // Another class has its own slots.
    let serializable = Class {
        serializable: true,
        ..class()
    };
    assert!(matches!(
        c.enter(serializable, &op("a"), far()),
        Entered::Go
    ));
}

#[test]
fn a_finished_request_takes_everything_waiting_with_identical_gets_shared() {
    let c = Coalescer::new(true);
    for _ in 0..IN_FLIGHT {
        assert!(matches!(c.enter(class(), &op("x"), far()), Entered::Go));
    }
    let mut receivers = Vec::new();
    for key in ["a", "b", "a", "c", "b"] {
        let Entered::Wait { reply, .. } = c.enter(class(), &op(key), far()) else {
            panic!()
        };
        receivers.push(reply);
    }
    let batch = batch(c.release(class()));
    assert_eq!(batch.ops, vec![op("a"), op("b"), op("c")]);
    let ops: Vec<usize> = batch.members.iter().map(|m| m.op).collect();
    assert_eq!(ops, [0, 1, 0, 2, 1]);
    // Nothing waits now: the next release frees the slot.
    assert!(c.release(class()).is_empty());
    assert!(c.release(class()).is_empty());
    assert!(matches!(c.enter(class(), &op("a"), far()), Entered::Go));
    drop(receivers);
}

#[test]
fn batches_stop_at_the_op_limit_and_a_full_queue_sends_at_once() {
    let c = Coalescer::new(true);
    c.max_ops.store(3, Ordering::Relaxed);
    for _ in 0..IN_FLIGHT {
        assert!(matches!(c.enter(class(), &op("x"), far()), Entered::Go));
    }
    let mut receivers = Vec::new();
    for key in ["a", "b"] {
        let Entered::Wait { reply, full, .. } = c.enter(class(), &op(key), far()) else {
            panic!()
        };
        assert!(full.is_none());
        receivers.push(reply);
    }
    let Entered::Wait { full, reply, .. } = c.enter(class(), &op("c"), far()) else {
        panic!()
    };
    receivers.push(reply);
    assert_eq!(full.expect("a full batch").ops.len(), 3);
    drop(receivers);
}

#[test]
fn callers_that_left_are_skipped_and_a_timed_out_one_withdraws() {
    let c = Coalescer::new(true);
    for _ in 0..IN_FLIGHT {
        assert!(matches!(c.enter(class(), &op("x"), far()), Entered::Go));
    }
    let Entered::Wait { reply: gone, .. } = c.enter(class(), &op("a"), far()) else {
        panic!()
    };
    drop(gone);
    let Entered::Wait {
        id, reply: _late, ..
    } = c.enter(class(), &op("b"), far())
    else {
        panic!()
    };
    assert_eq!(c.withdraw(class(), id), Delivery::NotSent);
    assert_eq!(c.withdraw(class(), id), Delivery::MaybeSent);
    assert!(c.release(class()).is_empty(), "nobody is left to batch");
}

#[test]
fn a_failed_batchs_gets_go_again_one_per_free_slot_before_anything_else() {
    let c = Coalescer::new(true);
    for _ in 0..IN_FLIGHT {
        assert!(matches!(c.enter(class(), &op("x"), far()), Entered::Go));
    }
    let _first = wait(&c, &["a", "b", "c", "a"]);
    let failed = batch(c.release(class()));
    // A get that comes now waits behind them.
    let _later = wait(&c, &["d"]);
    c.again(class(), failed);
    // Each release (the failed batch's, then every request after it) starts one, alone:
    // never more requests in flight than the slots.
    for key in ["a", "b", "c", "a"] {
        assert_eq!(again(c.release(class())), [op(key)]);
    }
    assert_eq!(batch(c.release(class())).ops, [op("d")]);
    assert!(c.release(class()).is_empty());
    assert!(c.release(class()).is_empty());
    assert!(matches!(c.enter(class(), &op("e"), far()), Entered::Go));
}

#[test]
fn a_failed_batchs_gets_take_every_free_slot_and_no_more() {
    let c = Coalescer::new(true);
    for _ in 0..IN_FLIGHT {
        assert!(matches!(c.enter(class(), &op("x"), far()), Entered::Go));
    }
    let mut receivers = wait(&c, &["a", "b", "c", "d"]);
    let failed = batch(c.release(class()));
    // The other request ends while the batch is out: nothing waits, its slot stays free.
    assert!(c.release(class()).is_empty());
    // A caller that left is not sent again; one that gives up waiting is taken out.
    drop(receivers.remove(1));
    let id_of_c = failed.members[2].id;
    c.again(class(), failed);
    assert_eq!(c.withdraw(class(), id_of_c), Delivery::MaybeSent);
    assert_eq!(
        again(c.release(class())),
        [op("a"), op("d")],
        "both slots, no more"
    );
    assert!(c.release(class()).is_empty());
    assert!(c.release(class()).is_empty());
    drop(receivers);
}

#[test]
fn a_batch_goes_within_the_latest_deadline_of_the_callers_still_there() {
    let (a, _ra) = oneshot::channel();
    let (b, rb) = oneshot::channel();
    let (c, _rc) = oneshot::channel();
    let soon = rt::deadline_in(Duration::from_secs(1));
    let later = rt::deadline_in(Duration::from_secs(30));
    let latest = rt::deadline_in(Duration::from_secs(60));
    let batched = |id, op, deadline, reply| Batched {
        id,
        op,
        deadline,
        reply,
    };
    let batch = Batch {
        ops: vec![op("a"), op("b")],
        members: vec![
            batched(0, 0, soon, a),
            batched(1, 1, latest, b),
            batched(2, 1, later, c),
        ],
    };
    assert_eq!(batch.deadline(), Some(latest));
    drop(rb);
    assert_eq!(
        batch.deadline(),
        Some(later),
        "the caller that left does not count"
    );
}

#[test]
fn limits_are_learned_from_refusals() {
    let c = Coalescer::new(true);
    let url = url::Url::parse("http://h:1").unwrap();
    let too_many = Error::Server(crate::error::ServerError::new(
        3,
        "etcdserver: too many operations in txn request".into(),
        url.clone(),
    ));
    c.learn(&too_many, 40, 1000);
    assert_eq!(c.max_ops.load(Ordering::Relaxed), 20);
    c.learn(&too_many, 100, 1000);
    assert_eq!(c.max_ops.load(Ordering::Relaxed), 20, "never raised");
    let too_large = Error::Server(crate::error::ServerError::new(
        8,
        "grpc: received message larger than max (3000 vs. 2000)".into(),
        url,
    ));
    c.learn(&too_large, 10, 3000);
    assert_eq!(c.max_bytes.load(Ordering::Relaxed), 1500);
}
