//! The workload: workers that run random operations on a small key space (eight keys under
//! `h/`, so that operations contend), each operation recorded from its invocation to its
//! completion on the run's logical clock; and watches, long-lived or short.
//!
//! A worker's step is one of: a put (of a value no other write writes), a point get
//! (linearizable or serializable), a burst of concurrent point gets (what read coalescing
//! batches), a get of a prefix (with limits, keys only, count only), a delete of a key or a
//! prefix, a compare-and-swap transaction (on the mod revision, the value or the version the
//! worker last saw, with a get in its failure branch), a lease's grant, a put attached to it
//! or its revoke (which deletes its keys), or a short watch from a past revision.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::model::{
    Answer, CmpOp, CmpTarget, Compare, KeyRange, Op, Outcome, Request, Rev, TxnOp, WatchRecord,
};
use crate::rng::Rng;
use crate::target::{Target, WatchItem, WatchStream};

/// The keys.
pub const KEYS: [&str; 8] = [
    "h/a/0", "h/a/1", "h/a/2", "h/a/3", "h/b/0", "h/b/1", "h/b/2", "h/b/3",
];

/// The prefixes ranges and watches cover.
pub const PREFIXES: [&str; 3] = ["h/", "h/a/", "h/b/"];

/// A lease's TTL, in seconds: long enough that a lease outlives its worker's use of it unless
/// its revoke failed.
pub const LEASE_TTL: i64 = 30;

/// The run's logical clock (every invocation and completion takes a tick: real-time order
/// without reading a clock), and the milliseconds since the run began, for showing.
pub struct Clock {
    ticks: AtomicU64,
    start: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            ticks: AtomicU64::new(0),
            start: Instant::now(),
        }
    }
}

impl Clock {
    /// The next tick.
    pub fn tick(&self) -> u64 {
        self.ticks.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Milliseconds since the run began.
    pub fn ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
}

/// Runs one request, recorded from invocation to completion.
pub async fn record<T: Target>(
    target: &T,
    clock: &Clock,
    session: u32,
    label: &str,
    request: Request,
) -> Op {
    let (invoke, t0) = (clock.tick(), clock.ms());
    let outcome = target.run(&request).await;
    let (complete, t1) = (clock.tick(), clock.ms());
    Op {
        id: 0,
        session,
        label: label.to_string(),
        invoke,
        complete,
        at_ms: (t0, t1),
        request,
        outcome,
    }
}

/// One worker's state.
pub struct Worker<T> {
    /// Its client.
    pub target: T,
    /// Its client's number.
    pub session: u32,
    /// Its number in the session.
    pub index: u32,
    /// Its choices.
    pub rng: Rng,
    /// The run's clock.
    pub clock: Arc<Clock>,
    /// The longest pause between steps, in milliseconds.
    pub pace_ms: u64,
    seq: u64,
    lease: Option<i64>,
    /// The highest revision it saw.
    last_rev: Rev,
    /// What it last saw of each key: mod revision and value.
    seen: HashMap<String, (Rev, String)>,
    ops: Vec<Op>,
    watches: Vec<WatchRecord>,
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

impl<T: Target> Worker<T> {
    /// A worker.
    pub fn new(
        target: T,
        session: u32,
        index: u32,
        rng: Rng,
        clock: Arc<Clock>,
        pace_ms: u64,
    ) -> Self {
        Worker {
            target,
            session,
            index,
            rng,
            clock,
            pace_ms,
            seq: 0,
            lease: None,
            last_rev: 1,
            seen: HashMap::new(),
            ops: Vec::new(),
            watches: Vec::new(),
        }
    }

    /// Runs steps until `stop`; returns its operations and short watches.
    pub async fn run(mut self, stop: Arc<AtomicBool>) -> (Vec<Op>, Vec<WatchRecord>) {
        while !stop.load(Ordering::SeqCst) {
            self.step().await;
            let pause = self.rng.below(self.pace_ms + 1);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        (self.ops, self.watches)
    }

    fn value(&mut self) -> String {
        self.seq += 1;
        format!("{}.{}.{}", self.session, self.index, self.seq)
    }

    fn key(&mut self) -> String {
        self.rng.pick(&KEYS).to_string()
    }

    /// Learns revisions and values from an answer.
    fn learn(&mut self, op: &Op) {
        let Outcome::Ok { answer } = &op.outcome else {
            return;
        };
        self.last_rev = self.last_rev.max(answer.rev());
        let mut reads = vec![answer];
        if let Answer::Txn { responses, .. } = answer {
            reads.extend(responses);
        }
        for a in reads {
            if let Answer::Range { kvs, .. } = a {
                for kv in kvs {
                    self.seen
                        .insert(kv.key.clone(), (kv.modr, kv.value.clone()));
                }
            }
        }
        if let (Request::Put { key, value, .. }, Answer::Put { rev, .. }) = (&op.request, answer) {
            self.seen.insert(key.clone(), (*rev, value.clone()));
        }
    }

    async fn one(&mut self, label: &str, request: Request) -> Outcome {
        let op = record(&self.target, &self.clock, self.session, label, request).await;
        self.learn(&op);
        let outcome = op.outcome.clone();
        self.ops.push(op);
        outcome
    }

    async fn step(&mut self) {
        let weights = [16, 16, 8, 5, 8, 5, 1, 14, 8, 1];
        match self.rng.weighted(&weights) {
            0 => {
                let (key, value, prev_kv) = (self.key(), self.value(), self.rng.chance(300));
                let request = Request::Put {
                    key,
                    value,
                    lease: 0,
                    prev_kv,
                };
                self.one("put", request).await;
            }
            1 => {
                let key = self.key();
                self.one("get", get(&key, false)).await;
            }
            2 => {
                let key = self.key();
                self.one("get-serializable", get(&key, true)).await;
            }
            3 => self.burst().await,
            4 => {
                let prefix = *self.rng.pick(&PREFIXES);
                let request = Request::Range {
                    range: KeyRange::prefix(prefix),
                    serializable: self.rng.chance(300),
                    keys_only: self.rng.chance(200),
                    count_only: self.rng.chance(100),
                    limit: if self.rng.chance(300) {
                        self.rng.between(1, 4) as i64
                    } else {
                        0
                    },
                };
                self.one("range", request).await;
            }
            5 => {
                let key = self.key();
                let request = Request::Delete {
                    range: KeyRange::key(key),
                    prev_kv: self.rng.chance(300),
                };
                self.one("delete", request).await;
            }
            6 => {
                let prefix = *self.rng.pick(&PREFIXES[1..]);
                let request = Request::Delete {
                    range: KeyRange::prefix(prefix),
                    prev_kv: self.rng.chance(500),
                };
                self.one("delete-range", request).await;
            }
            7 => {
                let request = self.cas();
                self.one("cas", request).await;
            }
            8 => self.lease_step().await,
            _ => self.short_watch().await,
        }
    }

    /// Several point gets at once, from one client: what read coalescing sends together.
    async fn burst(&mut self) {
        let n = self.rng.between(3, 8);
        let serializable = self.rng.chance(300);
        let keys: Vec<String> = (0..n).map(|_| self.key()).collect();
        let (target, clock, session) = (&self.target, &self.clock, self.session);
        let ops = join_all(
            keys.iter()
                .map(|key| record(target, clock, session, "get-burst", get(key, serializable))),
        )
        .await;
        for op in ops {
            self.learn(&op);
            self.ops.push(op);
        }
    }

    /// A compare-and-swap on what the worker last saw of a key.
    fn cas(&mut self) -> Request {
        let key = self.key();
        let value = self.value();
        let other = self.key();
        let seen = self.seen.get(&key).cloned();
        let (compare, success) = match (self.rng.below(3), seen) {
            (0, Some((_, last))) => (
                // The value it saw, then move it on and delete another key.
                Compare {
                    key: key.clone(),
                    op: CmpOp::Equal,
                    target: CmpTarget::Value(last),
                },
                if other != key {
                    vec![
                        TxnOp::Put {
                            key: key.clone(),
                            value,
                            lease: 0,
                        },
                        TxnOp::Delete {
                            range: KeyRange::key(other.clone()),
                        },
                    ]
                } else {
                    vec![TxnOp::Put {
                        key: key.clone(),
                        value,
                        lease: 0,
                    }]
                },
            ),
            (1, _) => (
                Compare {
                    key: key.clone(),
                    op: *self
                        .rng
                        .pick(&[CmpOp::Greater, CmpOp::NotEqual, CmpOp::Less]),
                    target: CmpTarget::Version(self.rng.below(3) as i64),
                },
                vec![TxnOp::Put {
                    key: key.clone(),
                    value,
                    lease: 0,
                }],
            ),
            (_, seen) => (
                // The mod revision it saw (0: create it if absent).
                Compare {
                    key: key.clone(),
                    op: CmpOp::Equal,
                    target: CmpTarget::Mod(seen.map_or(0, |(m, _)| m)),
                },
                vec![TxnOp::Put {
                    key: key.clone(),
                    value,
                    lease: 0,
                }],
            ),
        };
        let mut failure = vec![TxnOp::Range {
            range: KeyRange::key(key.clone()),
        }];
        if self.rng.chance(300) && other != key {
            failure.push(TxnOp::Range {
                range: KeyRange::key(other),
            });
        }
        Request::Txn {
            compares: vec![compare],
            success,
            failure,
        }
    }

    /// A lease's grant, a put attached to it, or its revoke.
    async fn lease_step(&mut self) {
        match self.lease {
            None => {
                let outcome = self
                    .one("lease-grant", Request::LeaseGrant { ttl: LEASE_TTL })
                    .await;
                if let Outcome::Ok {
                    answer: Answer::LeaseGrant { id, .. },
                } = outcome
                {
                    self.lease = Some(id);
                }
            }
            Some(id) if self.rng.chance(700) => {
                let (key, value) = (self.key(), self.value());
                let request = Request::Put {
                    key,
                    value,
                    lease: id,
                    prev_kv: false,
                };
                if let Outcome::Failed { .. } = self.one("lease-put", request).await {
                    self.lease = None; // expired, most likely: a new one next time
                }
            }
            Some(id) => {
                self.one("lease-revoke", Request::LeaseRevoke { id }).await;
                self.lease = None;
            }
        }
    }

    /// A watch from a past revision (or from now), read for a while, then dropped: its events
    /// must be the history's from its first revision on, without a gap.
    async fn short_watch(&mut self) {
        let range = if self.rng.chance(500) {
            KeyRange::key(self.key())
        } else {
            KeyRange::prefix(*self.rng.pick(&PREFIXES))
        };
        let start = if self.rng.chance(200) {
            0
        } else {
            (self.last_rev - self.rng.below(30) as Rev).max(1)
        };
        let prev_kv = self.rng.chance(500);
        let progress_notify = self.rng.chance(500);
        let record = Arc::new(Mutex::new(WatchRecord {
            id: 0,
            session: self.session,
            range: range.clone(),
            start,
            prev_kv,
            progress_notify,
            created: None,
            events: Vec::new(),
            progress: Vec::new(),
            must_reach: None,
            ended: None,
        }));
        let opened = self
            .target
            .watch(&range, start, prev_kv, progress_notify)
            .await;
        match opened {
            Ok(mut stream) => {
                let want = self.rng.between(1, 40) as usize;
                let filled = record.clone();
                let read = async move {
                    loop {
                        let item = stream.next().await;
                        let mut r = filled.lock().unwrap();
                        if !apply_item(&mut r, item) || r.events.len() >= want {
                            return;
                        }
                    }
                };
                // Read for a while at most; what it delivered by then is checked.
                let _ = tokio::time::timeout(Duration::from_millis(1500), read).await;
            }
            Err(e) => record.lock().unwrap().ended = Some(e),
        }
        let done = record.lock().unwrap().clone();
        self.watches.push(done);
    }
}

/// Adds what a watch delivered to its record; `false` once it ended.
pub fn apply_item(record: &mut WatchRecord, item: WatchItem) -> bool {
    match item {
        WatchItem::Created(rev) => {
            if record.created.is_none() {
                record.created = Some(rev);
            }
        }
        WatchItem::Events(events) => record.events.extend(events),
        WatchItem::Progress(rev) => record.progress.push((record.events.len() as u64, rev)),
        WatchItem::End(why) => {
            record.ended = Some(why);
            return false;
        }
    }
    true
}

/// A watch kept open all run: its events go into `record` until it ends or is dropped.
pub async fn long_watch<T: Target>(target: T, record: Arc<Mutex<WatchRecord>>) {
    let (range, start, prev_kv, progress) = {
        let r = record.lock().unwrap();
        (r.range.clone(), r.start, r.prev_kv, r.progress_notify)
    };
    let mut stream = match target.watch(&range, start, prev_kv, progress).await {
        Ok(stream) => stream,
        Err(e) => {
            record.lock().unwrap().ended = Some(e);
            return;
        }
    };
    loop {
        let item = stream.next().await;
        if !apply_item(&mut record.lock().unwrap(), item) {
            return;
        }
    }
}
