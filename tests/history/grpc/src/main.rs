//! The control of the whole-history check: the workload, nemesis and checker of
//! `etcdgw-history`, with etcd-client 0.21 (gRPC, tonic) as the client under test instead of
//! etcdgw. etcd-client does not send a failed request again, fail over by its own rules, or
//! resume a watch, so this shows what a client without etcdgw's rules does under the same
//! faults; it is reported beside etcdgw's run, not required to pass.
//!
//! `etcdgw-history-grpc DURATION SEED` (`scripts/soak.sh` runs it after etcdgw's soak, with
//! `ETCD_BIN` set to the etcd under test). Errors are classified conservatively: only what
//! etcd refused before proposing anything (no leader, a learner, an invalid argument, a
//! missing lease) is "certainly failed"; everything else (timeouts, transport errors, gRPC's
//! Unavailable) is "unknown outcome", which the checker never holds against a client.

use std::path::PathBuf;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, Error, EventType, GetOptions,
    KeyValue, PutOptions, Txn, TxnOp as EcTxnOp, TxnOpResponse, WatchOptions,
};
use etcdgw_history::check::render;
use etcdgw_history::model::{
    Answer, CmpOp, CmpTarget, Event, EventKind, KeyRange, Kv, Outcome, Request, Rev, TxnOp,
};
use etcdgw_history::run::{run, Config};
use etcdgw_history::target::{Connector, Profile, Target, WatchItem, WatchStream};

struct EtcdClient;

impl Connector for EtcdClient {
    type Client = EcClient;

    fn name(&self) -> &'static str {
        "etcd-client"
    }

    async fn connect(&self, endpoints: Vec<String>, profile: Profile) -> EcClient {
        // etcd-client has no read coalescing: `profile.coalescing` has nothing to turn off.
        let options = ConnectOptions::new()
            .with_timeout(profile.timeout)
            .with_connect_timeout(Duration::from_secs(3))
            .with_keep_alive(Duration::from_secs(1), Duration::from_secs(1))
            .with_require_leader(profile.require_leader);
        EcClient(
            Client::connect(endpoints, Some(options))
                .await
                .expect("connect"),
        )
    }
}

#[derive(Clone)]
struct EcClient(Client);

fn kv(kv: &KeyValue) -> Kv {
    Kv {
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        value: String::from_utf8_lossy(kv.value()).into_owned(),
        create: kv.create_revision(),
        modr: kv.mod_revision(),
        version: kv.version(),
        lease: kv.lease(),
    }
}

/// gRPC codes etcd uses for a request it refused before proposing it.
const CERTAIN: [i32; 6] = [
    3,  // InvalidArgument
    5,  // NotFound (a lease)
    6,  // AlreadyExists
    7,  // PermissionDenied
    9,  // FailedPrecondition
    16, // Unauthenticated
];

fn failure(e: &Error) -> Outcome {
    let certain = match e {
        Error::GRpcStatus(s) => {
            CERTAIN.contains(&(s.code() as i32))
                || s.message().contains("no leader")
                || s.message().contains("not supported for learner")
        }
        Error::InvalidArgs(_) | Error::InvalidUri(_) => true,
        _ => false,
    };
    if certain {
        Outcome::Failed {
            error: e.to_string(),
        }
    } else {
        Outcome::Unknown {
            error: e.to_string(),
        }
    }
}

fn ranged_get(range: &KeyRange) -> GetOptions {
    match &range.end {
        Some(end) => GetOptions::new().with_range(end.as_bytes()),
        None => GetOptions::new(),
    }
}

fn ranged_delete(range: &KeyRange) -> DeleteOptions {
    match &range.end {
        Some(end) => DeleteOptions::new().with_range(end.as_bytes()),
        None => DeleteOptions::new(),
    }
}

fn compare(c: &etcdgw_history::model::Compare) -> Compare {
    let op = match c.op {
        CmpOp::Equal => CompareOp::Equal,
        CmpOp::NotEqual => CompareOp::NotEqual,
        CmpOp::Greater => CompareOp::Greater,
        CmpOp::Less => CompareOp::Less,
    };
    let key = c.key.as_bytes();
    match &c.target {
        CmpTarget::Value(v) => Compare::value(key, op, v.as_bytes()),
        CmpTarget::Version(n) => Compare::version(key, op, *n),
        CmpTarget::Create(n) => Compare::create_revision(key, op, *n),
        CmpTarget::Mod(n) => Compare::mod_revision(key, op, *n),
        CmpTarget::Lease(n) => Compare::lease(key, op, *n),
    }
}

fn txn_op(op: &TxnOp) -> EcTxnOp {
    match op {
        TxnOp::Put { key, value, lease } => EcTxnOp::put(
            key.as_bytes(),
            value.as_bytes(),
            Some(PutOptions::new().with_lease(*lease)),
        ),
        TxnOp::Range { range } => EcTxnOp::get(range.key.as_bytes(), Some(ranged_get(range))),
        TxnOp::Delete { range } => {
            EcTxnOp::delete(range.key.as_bytes(), Some(ranged_delete(range)))
        }
    }
}

async fn answer(c: &mut Client, request: &Request) -> Result<Answer, Error> {
    Ok(match request {
        Request::Put {
            key,
            value,
            lease,
            prev_kv,
        } => {
            let mut options = PutOptions::new().with_lease(*lease);
            if *prev_kv {
                options = options.with_prev_key();
            }
            let resp = c
                .put(key.as_bytes(), value.as_bytes(), Some(options))
                .await?;
            Answer::Put {
                rev: resp.header().map_or(0, |h| h.revision()),
                prev: resp.prev_key().map(kv),
            }
        }
        Request::Range {
            range,
            serializable,
            keys_only,
            count_only,
            limit,
        } => {
            let mut options = ranged_get(range).with_limit(*limit);
            if *serializable {
                options = options.with_serializable();
            }
            if *keys_only {
                options = options.with_keys_only();
            }
            if *count_only {
                options = options.with_count_only();
            }
            let resp = c.get(range.key.as_bytes(), Some(options)).await?;
            Answer::Range {
                rev: resp.header().map_or(0, |h| h.revision()),
                kvs: resp.kvs().iter().map(kv).collect(),
                count: resp.count(),
                more: resp.more(),
            }
        }
        Request::Delete { range, prev_kv } => {
            let mut options = ranged_delete(range);
            if *prev_kv {
                options = options.with_prev_key();
            }
            let resp = c.delete(range.key.as_bytes(), Some(options)).await?;
            Answer::Delete {
                rev: resp.header().map_or(0, |h| h.revision()),
                deleted: resp.deleted(),
                prev: resp.prev_kvs().iter().map(kv).collect(),
            }
        }
        Request::Txn {
            compares,
            success,
            failure,
        } => {
            let txn = Txn::new()
                .when(compares.iter().map(compare).collect::<Vec<_>>())
                .and_then(success.iter().map(txn_op).collect::<Vec<_>>())
                .or_else(failure.iter().map(txn_op).collect::<Vec<_>>());
            let resp = c.txn(txn).await?;
            let rev = resp.header().map_or(0, |h| h.revision());
            let responses = resp
                .op_responses()
                .iter()
                .map(|r| match r {
                    TxnOpResponse::Put(p) => Answer::Put {
                        rev,
                        prev: p.prev_key().map(kv),
                    },
                    TxnOpResponse::Get(g) => Answer::Range {
                        rev,
                        kvs: g.kvs().iter().map(kv).collect(),
                        count: g.count(),
                        more: g.more(),
                    },
                    TxnOpResponse::Delete(d) => Answer::Delete {
                        rev,
                        deleted: d.deleted(),
                        prev: d.prev_kvs().iter().map(kv).collect(),
                    },
                    TxnOpResponse::Txn(t) => Answer::Txn {
                        rev,
                        succeeded: t.succeeded(),
                        responses: Vec::new(),
                    },
                })
                .collect();
            Answer::Txn {
                rev,
                succeeded: resp.succeeded(),
                responses,
            }
        }
        Request::LeaseGrant { ttl } => {
            let resp = c.lease_grant(*ttl, None).await?;
            Answer::LeaseGrant {
                rev: resp.header().map_or(0, |h| h.revision()),
                id: resp.id(),
            }
        }
        Request::LeaseRevoke { id } => {
            let resp = c.lease_revoke(*id).await?;
            Answer::LeaseRevoke {
                rev: resp.header().map_or(0, |h| h.revision()),
            }
        }
    })
}

impl Target for EcClient {
    type Watch = EcWatch;

    async fn run(&self, request: &Request) -> Outcome {
        let mut client = self.0.clone();
        match answer(&mut client, request).await {
            Ok(answer) => Outcome::Ok { answer },
            Err(e) => failure(&e),
        }
    }

    async fn watch(
        &self,
        range: &KeyRange,
        start: Rev,
        prev_kv: bool,
        progress_notify: bool,
    ) -> Result<EcWatch, String> {
        let mut options = WatchOptions::new().with_start_revision(start);
        if progress_notify {
            options = options.with_progress_notify();
        }
        if let Some(end) = &range.end {
            options = options.with_range(end.as_bytes());
        }
        if prev_kv {
            options = options.with_prev_key();
        }
        let mut client = self.0.clone();
        client
            .watch(range.key.as_bytes(), Some(options))
            .await
            .map(EcWatch)
            .map_err(|e| e.to_string())
    }
}

struct EcWatch(etcd_client::WatchStream);

impl WatchStream for EcWatch {
    async fn next(&mut self) -> WatchItem {
        match self.0.message().await {
            Ok(Some(resp)) if resp.created() && !resp.canceled() => {
                WatchItem::Created(resp.header().map_or(0, |h| h.revision()))
            }
            Ok(Some(resp)) if resp.canceled() => {
                WatchItem::End(format!("canceled: {}", resp.cancel_reason()))
            }
            Ok(Some(resp)) if resp.events().is_empty() => {
                WatchItem::Progress(resp.header().map_or(0, |h| h.revision()))
            }
            Ok(Some(resp)) => WatchItem::Events(
                resp.events()
                    .iter()
                    .map(|e| Event {
                        kind: match e.event_type() {
                            EventType::Put => EventKind::Put,
                            EventType::Delete => EventKind::Delete,
                        },
                        kv: e.kv().map(kv).unwrap_or_default(),
                        prev: e.prev_kv().map(kv),
                    })
                    .collect(),
            ),
            Ok(None) => WatchItem::End("the stream ended".to_string()),
            Err(e) => WatchItem::End(e.to_string()),
        }
    }
}

/// `90`, `90s`, `20m`, `1h`.
fn parse_duration(text: &str) -> Duration {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number.parse().expect("DURATION: a number of s, m or h");
    match unit {
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => panic!("DURATION: unknown unit in {text:?} (s, m or h)"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(duration), Some(seed)) = (args.next(), args.next()) else {
        eprintln!("usage: etcdgw-history-grpc DURATION SEED (ETCD_BIN: the etcd under test)");
        std::process::exit(2);
    };
    let duration = parse_duration(&duration);
    let seed: u64 = seed.parse().expect("SEED: a number");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let config = Config {
        duration,
        seed,
        workers: 3,
        pace_ms: 20,
        every_kind_first: true,
        history_dir: root.join("target/history"),
        keep_history: false,
        reproduce: format!(
            "scripts/soak.sh {}s {seed} <version> (the control)",
            duration.as_secs()
        ),
    };
    let result = run(&EtcdClient, &config).await;
    if !result.report.ok() {
        println!("{}", render(&result.history, &result.report, 10));
    }
    println!("{}", result.summary);
}
