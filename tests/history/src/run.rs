//! A whole run: the cluster behind its proxies, four clients of the kind under test (each with
//! its own endpoint order and settings, each with a watch kept open all run and three
//! workers), the nemesis, then the end: faults healed, a fence written into every long
//! watch's range and waited for, a final read, the applied history read from a watch from
//! revision 1, every member's hash, and the check.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcdgw::{Client, WatchOptions};

use crate::check::{self, Report};
use crate::cluster::ChaosCluster;
use crate::model::{
    Answer, Event, History, KeyRange, Meta, Op, Outcome, Request, Rev, WatchRecord,
};
use crate::nemesis::{self, Nemesis};
use crate::rng::Rng;
use crate::target::etcdgw::{event, EtcdgwClient};
use crate::target::{Connector, Profile};
use crate::workload::{self, long_watch, Clock, Worker, KEYS};

mod summary;

pub use summary::Summary;

/// The session number of the run's own operations (fences, the final read), made through the
/// admin client, straight to the members.
pub const HARNESS: u32 = 99;

/// What a run does.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long the workload runs (longer if the first round of faults needs it).
    pub duration: Duration,
    /// The seed of every random choice.
    pub seed: u64,
    /// Workers per client.
    pub workers: usize,
    /// The longest pause between a worker's steps, in milliseconds.
    pub pace_ms: u64,
    /// Inject one fault of every kind first (the short run asserts that each happened).
    pub every_kind_first: bool,
    /// Where a failed run's history goes.
    pub history_dir: PathBuf,
    /// Write the history even when the check passes.
    pub keep_history: bool,
    /// How to run it again, written into the history.
    pub reproduce: String,
}

/// What a run gives back.
pub struct RunResult {
    /// Everything recorded.
    pub history: History,
    /// The check's verdict.
    pub report: Report,
    /// The numbers.
    pub summary: Summary,
}

/// The four clients: endpoint orders and settings.
fn sessions() -> Vec<(Vec<usize>, Profile)> {
    let profile = |secs: u64, coalescing: bool, require_leader: bool| Profile {
        timeout: Duration::from_secs(secs),
        coalescing,
        require_leader,
    };
    vec![
        (vec![0, 1, 2], profile(3, true, false)),
        (vec![1, 2, 0], profile(5, true, false)),
        (vec![2, 0, 1], profile(3, false, false)),
        (vec![0, 2, 1], profile(10, true, true)),
    ]
}

/// Each client's long watch: range, start revision (0: from now), previous keys, progress
/// notifications.
fn long_watches() -> Vec<(KeyRange, Rev, bool, bool)> {
    vec![
        (KeyRange::prefix("h/"), 0, true, false),
        (KeyRange::prefix("h/a/"), 1, false, true),
        (KeyRange::key("h/b/0"), 0, false, true),
        (KeyRange::prefix("h/b/"), 1, true, true),
    ]
}

/// Runs the workload with clients from `connector` under faults, and checks the history.
pub async fn run<C: Connector>(connector: &C, config: &Config) -> RunResult {
    let clock = Arc::new(Clock::default());
    let mut cluster = ChaosCluster::start(3, config.seed).await;
    let mut targets = Vec::new();
    for (order, profile) in sessions() {
        targets.push(connector.connect(cluster.endpoints(&order), profile).await);
    }
    let mut long = Vec::new();
    for (session, (range, start, prev_kv, progress_notify)) in
        long_watches().into_iter().enumerate()
    {
        let record = Arc::new(Mutex::new(WatchRecord {
            id: 0,
            session: session as u32,
            range,
            start,
            prev_kv,
            progress_notify,
            created: None,
            events: Vec::new(),
            progress: Vec::new(),
            must_reach: None,
            ended: None,
        }));
        let task = tokio::spawn(long_watch(targets[session].clone(), record.clone()));
        long.push((record, task));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for (session, target) in targets.iter().enumerate() {
        for index in 0..config.workers {
            let stream = (session * 100 + index) as u64;
            let worker = Worker::new(
                target.clone(),
                session as u32,
                index as u32,
                Rng::derive(config.seed, stream),
                clock.clone(),
                config.pace_ms,
            );
            workers.push(tokio::spawn(worker.run(stop.clone())));
        }
    }
    let started = Instant::now();
    let (stop_faults, stop_rx) = tokio::sync::watch::channel(false);
    let (first_round, mut first_round_rx) = tokio::sync::watch::channel(false);
    let nemesis = Nemesis {
        rng: Rng::derive(config.seed, 7),
        clock: clock.clone(),
        every_kind_first: config.every_kind_first,
    };
    let timer = async {
        tokio::time::sleep(config.duration).await;
        let _ = first_round_rx.wait_for(|done| *done).await;
        let _ = stop_faults.send(true);
    };
    let (faults, ()) = tokio::join!(nemesis.run(&mut cluster, stop_rx, first_round), timer);
    stop.store(true, Ordering::SeqCst);
    let mut ops: Vec<Op> = Vec::new();
    let mut watches: Vec<WatchRecord> = Vec::new();
    for worker in workers {
        let (o, w) = worker.await.expect("a worker");
        ops.extend(o);
        watches.extend(w);
    }
    let workload_time = started.elapsed();
    cluster.wait_healthy().await;

    let admin = EtcdgwClient(cluster.admin.clone());
    let fences = fence(&admin, &clock, &long).await;
    ops.extend(fences);
    for (record, task) in long {
        task.abort();
        let _ = task.await;
        watches.push(record.lock().unwrap().clone());
    }
    let (final_read, end_rev) = final_read(&admin, &clock).await;
    ops.push(final_read);
    let applied = reference(&cluster.admin, end_rev).await;
    let hashes = hashes(&cluster, end_rev).await;

    ops.sort_by_key(|op| op.invoke);
    for (id, op) in ops.iter_mut().enumerate() {
        op.id = id as u64;
    }
    for (id, w) in watches.iter_mut().enumerate() {
        w.id = id as u64;
    }
    let (major, minor, patch) = etcdgw_test_support::etcd::etcd_release();
    let history = History {
        meta: Meta {
            seed: config.seed,
            client: connector.name().to_string(),
            etcd: format!("{major}.{minor}.{patch}"),
            duration_s: workload_time.as_secs(),
            reproduce: config.reproduce.clone(),
        },
        ops,
        watches,
        applied,
        end_rev,
        hashes,
        faults,
    };
    let report = check::check(&history);
    let history_file = (config.keep_history || !report.ok()).then(|| {
        let path = config.history_dir.join(format!(
            "{}-etcd{}-seed{}.jsonl",
            history.meta.client, history.meta.etcd, config.seed
        ));
        history
            .write_jsonl(&path)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    });
    let summary = Summary::new(
        &history,
        &report,
        workload_time,
        cluster.resets(),
        history_file,
    );
    RunResult {
        history,
        report,
        summary,
    }
}

/// Writes a fence into each long watch's range (a put through the admin client, recorded
/// like any operation) and waits until the watch delivered it; the watch must then have
/// delivered everything up to it. A watch that does not get there within a minute is left
/// as it is, and the check says what it lacks.
async fn fence(
    admin: &EtcdgwClient,
    clock: &Clock,
    long: &[(Arc<Mutex<WatchRecord>>, tokio::task::JoinHandle<()>)],
) -> Vec<Op> {
    let mut ops = Vec::new();
    for (i, (record, _)) in long.iter().enumerate() {
        let range = record.lock().unwrap().range.clone();
        let key = KEYS
            .iter()
            .find(|k| range.contains(k))
            .expect("a key in the watch's range");
        let mut reached = None;
        for attempt in 0..5 {
            let request = Request::Put {
                key: key.to_string(),
                value: format!("fence.{i}.{attempt}"),
                lease: 0,
                prev_kv: false,
            };
            let op = workload::record(admin, clock, HARNESS, "fence", request).await;
            let outcome = op.outcome.clone();
            ops.push(op);
            if let Outcome::Ok {
                answer: Answer::Put { rev, .. },
            } = outcome
            {
                reached = Some(rev);
                break;
            }
        }
        let fence = reached.expect("the cluster took none of five fences");
        record.lock().unwrap().must_reach = Some(fence);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for (record, _) in long {
        while Instant::now() < deadline {
            let done = {
                let r = record.lock().unwrap();
                let there = r
                    .events
                    .last()
                    .is_some_and(|e| Some(e.rev()) >= r.must_reach);
                there || r.ended.is_some()
            };
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    ops
}

/// A linearizable read of every key, recorded; its revision is the run's last.
async fn final_read(admin: &EtcdgwClient, clock: &Clock) -> (Op, Rev) {
    for _ in 0..5 {
        let request = Request::Range {
            range: KeyRange::prefix("h/"),
            serializable: false,
            keys_only: false,
            count_only: false,
            limit: 0,
        };
        let op = workload::record(admin, clock, HARNESS, "final-read", request).await;
        if let Outcome::Ok { answer } = &op.outcome {
            let rev = answer.rev();
            return (op, rev);
        }
    }
    panic!("the final read failed five times");
}

/// The applied history: every event from revision 1 to `end_rev`, from a watch of every key,
/// on a healthy cluster.
async fn reference(admin: &Client, end_rev: Rev) -> Vec<Event> {
    let options = WatchOptions::new().with_all_keys().with_start_revision(1);
    let mut stream = admin
        .watch("", Some(options))
        .await
        .expect("the reference watch");
    let mut events = Vec::new();
    let read = async {
        while events.last().is_none_or(|e: &Event| e.rev() < end_rev) {
            match stream.message().await {
                Ok(Some(resp)) => events.extend(resp.events().iter().map(event)),
                Ok(None) => break,
                Err(e) => panic!("the reference watch failed: {e}"),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .is_err()
    {
        eprintln!("the reference watch did not reach revision {end_rev} within 2 minutes");
    }
    events.retain(|e| e.rev() <= end_rev);
    events
}

/// Each member's hash of the store at `end_rev`.
async fn hashes(cluster: &ChaosCluster, end_rev: Rev) -> Vec<(String, Result<u32, String>)> {
    let mut hashes = Vec::new();
    for member in &cluster.cluster.members {
        let at = cluster.admin.maintenance_client().at(member.endpoint());
        let mut hash = Err("not asked".to_string());
        for _ in 0..60 {
            hash = match &at {
                Ok(m) => m
                    .hash_kv(end_rev)
                    .await
                    .map(|h| h.hash())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            // A member still catching up answers "future revision": ask again.
            if !hash.as_ref().is_err_and(|e| e.contains("future revision")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        hashes.push((member.name.clone(), hash));
    }
    hashes
}

/// Operations by label and outcome.
pub fn op_counts(ops: &[Op]) -> BTreeMap<String, [u64; 3]> {
    let mut counts: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    for op in ops {
        let slot = match op.outcome {
            Outcome::Ok { .. } => 0,
            Outcome::Unknown { .. } => 1,
            Outcome::Failed { .. } => 2,
        };
        counts.entry(op.label.clone()).or_default()[slot] += 1;
    }
    counts
}

/// How many faults of each kind the history holds.
pub fn fault_counts(history: &History) -> BTreeMap<String, u64> {
    nemesis::counts(&history.faults)
}
