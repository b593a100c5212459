//! Load generator: etcdgw against a raw HTTP baseline (the same requests as pre-built JSON over
//! the same HTTP client settings, nothing typed), interleaved in rounds on one etcd.
//!
//! ```text
//! cargo run --release --example bench -- --endpoint http://127.0.0.1:2379 --etcd-pid 1234 --rounds 3
//! cargo run --release --example bench -- --report results.jsonl
//! ```
//! `scripts/bench.sh` starts an etcd, runs this and the gRPC comparison (`bench/grpc`)
//! alternately, and prints the report. Each measurement is one JSON line on stdout; progress
//! goes to stderr. See BENCHMARKS.md for the workloads and the figures.

#[path = "../bench/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{concurrent, prefix_end, report, start_measure};

use etcdgw::{Client, ConnectOptions, GetOptions, WatchOptions};
use futures_util::StreamExt;

const VALUE: [u8; 100] = [b'v'; 100];

/// Every workload; a `t` at the end runs the workload of that name over TLS (server-only TLS
/// on the same member, HTTP/2). W7 (a thousand watches on one client) has its own variants:
/// W7a with etcd's auth on, W7t over TLS, W7h without the WebSocket (etcdgw only).
const WORKLOADS: [&str; 18] = [
    "W1", "W2", "W3", "W3s", "W4", "W4d", "W4ds", "W5", "W6", "W1t", "W2t", "W4t", "W5t", "W7",
    "W7p", "W7a", "W7t", "W7h",
];

/// Counts heap bytes, so each workload reports its own peak (RSS keeps freed memory).
#[global_allocator]
static HEAP: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;

#[derive(Debug, Clone)]
struct Args {
    endpoint: String,
    etcd_pid: Option<u32>,
    rounds: usize,
    only_round: Option<usize>,
    sides: Vec<String>,
    workloads: Vec<String>,
    report: Option<String>,
    /// The same member's https URL (server-only TLS), for the TLS workloads (`W1t`, ...).
    tls_endpoint: Option<String>,
    /// The CA that signed the member's certificate (PEM).
    ca_file: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        endpoint: "http://127.0.0.1:2379".into(),
        etcd_pid: None,
        rounds: 1,
        only_round: None,
        sides: vec!["etcdgw".into(), "raw".into()],
        workloads: WORKLOADS.map(String::from).to_vec(),
        report: None,
        tls_endpoint: None,
        ca_file: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--endpoint" => args.endpoint = value(),
            "--etcd-pid" => args.etcd_pid = value().parse().ok(),
            "--rounds" => args.rounds = value().parse().unwrap_or(1),
            "--round" => args.only_round = value().parse().ok(),
            "--sides" => args.sides = value().split(',').map(String::from).collect(),
            "--workloads" => args.workloads = value().split(',').map(String::from).collect(),
            "--report" => args.report = Some(value()),
            "--tls-endpoint" => args.tls_endpoint = Some(value()),
            "--ca-file" => args.ca_file = Some(value()),
            other => {
                eprintln!("unknown flag {other}");
                std::process::exit(2);
            }
        }
    }
    args
}

/// One side of the comparison: the typed client, or pre-built JSON over raw HTTP.
#[derive(Clone)]
enum Side {
    Etcdgw(Client),
    Raw { http: reqwest::Client, base: String },
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Side {
    fn name(&self) -> &'static str {
        match self {
            Side::Etcdgw(_) => "etcdgw",
            Side::Raw { .. } => "raw",
        }
    }

    async fn put(&self, key: &[u8], raw_body: &bytes::Bytes) {
        match self {
            Side::Etcdgw(c) => {
                c.put(key.to_vec(), VALUE.to_vec(), None)
                    .await
                    .expect("put");
            }
            Side::Raw { http, base } => {
                let resp = http
                    .post(format!("{base}/v3/kv/put"))
                    .body(raw_body.clone())
                    .send()
                    .await
                    .expect("put");
                assert!(resp.status().is_success());
                resp.bytes().await.expect("put body");
            }
        }
    }

    async fn get(&self, key: &[u8], serializable: bool, raw_body: &bytes::Bytes) -> usize {
        match self {
            Side::Etcdgw(c) => {
                let options = if serializable {
                    GetOptions::new().with_serializable()
                } else {
                    GetOptions::new()
                };
                c.get(key.to_vec(), Some(options))
                    .await
                    .expect("get")
                    .kvs()
                    .len()
            }
            Side::Raw { http, base } => {
                let resp = http
                    .post(format!("{base}/v3/kv/range"))
                    .body(raw_body.clone())
                    .send()
                    .await
                    .expect("get");
                assert!(resp.status().is_success());
                resp.bytes().await.expect("get body").len()
            }
        }
    }
}

fn put_body(key: &[u8]) -> bytes::Bytes {
    bytes::Bytes::from(format!(
        r#"{{"key":"{}","value":"{}"}}"#,
        b64(key),
        b64(&VALUE)
    ))
}

fn get_body(key: &[u8], serializable: bool) -> bytes::Bytes {
    let extra = if serializable {
        r#","serializable":true"#
    } else {
        ""
    };
    bytes::Bytes::from(format!(r#"{{"key":"{}"{extra}}}"#, b64(key)))
}

async fn run_workload(
    side: &Side,
    writer: &Client,
    workload: &str,
    round: usize,
    pid: Option<u32>,
) {
    let tag = format!("bench/{}/{round}/{workload}", side.name());
    let key = |i: usize| format!("{tag}/{i:010}").into_bytes();
    // Over TLS, the same workload under its own name.
    let (workload, name) = match workload.strip_suffix('t') {
        Some(plain) => (plain, workload),
        None => (workload, workload),
    };
    match workload {
        "W1" | "W2" => {
            let (total, in_flight) = if workload == "W1" {
                (5_000, 1)
            } else {
                (20_000, 64)
            };
            let bodies: Arc<Vec<bytes::Bytes>> =
                Arc::new((0..total).map(|i| put_body(&key(i))).collect());
            let keys: Arc<Vec<Vec<u8>>> = Arc::new((0..total).map(key).collect());
            let m = start_measure(pid);
            let s = side.clone();
            let lat = concurrent(total, in_flight, move |i| {
                let (s, bodies, keys) = (s.clone(), bodies.clone(), keys.clone());
                async move { s.put(&keys[i], &bodies[i]).await }
            })
            .await;
            report(
                side.name(),
                round,
                name,
                total,
                m,
                lat,
                pid,
                serde_json::json!({}),
            );
        }
        "W3" | "W3s" | "W4" => {
            let serializable = workload == "W3s";
            let (total, in_flight) = if workload == "W4" {
                (20_000, 64)
            } else {
                (5_000, 1)
            };
            let k = key(0);
            side.put(&k, &put_body(&k)).await;
            let body = get_body(&k, serializable);
            let m = start_measure(pid);
            let s = side.clone();
            let lat = concurrent(total, in_flight, move |_| {
                let (s, k, body) = (s.clone(), k.clone(), body.clone());
                async move {
                    s.get(&k, serializable, &body).await;
                }
            })
            .await;
            report(
                side.name(),
                round,
                name,
                total,
                m,
                lat,
                pid,
                serde_json::json!({}),
            );
        }
        "W4d" | "W4ds" => {
            // 20,000 gets of 1,000 different keys, 64 in flight: linearizable, or serializable
            // (W4ds: those go together only with each other).
            let serializable = workload == "W4ds";
            let (total, keys) = (20_000, 1_000);
            for i in 0..keys {
                side.put(&key(i), &put_body(&key(i))).await;
            }
            let keys: Arc<Vec<(Vec<u8>, bytes::Bytes)>> = Arc::new(
                (0..keys)
                    .map(|i| (key(i), get_body(&key(i), serializable)))
                    .collect(),
            );
            let m = start_measure(pid);
            let s = side.clone();
            let lat = concurrent(total, 64, move |i| {
                let (s, keys) = (s.clone(), keys.clone());
                async move {
                    let (k, body) = &keys[i % keys.len()];
                    // etcdgw: the keys read; raw: the answer's length.
                    assert!(s.get(k, serializable, body).await > 0, "an answer");
                }
            })
            .await;
            report(
                side.name(),
                round,
                name,
                total,
                m,
                lat,
                pid,
                serde_json::json!({}),
            );
        }
        "W5" => run_w5(side, &tag, name, round, pid).await,
        "W6" => run_w6(side, writer, &tag, round, pid).await,
        other => eprintln!("unknown workload {other}"),
    }
}

/// One prefix watch while 20,000 puts (64 in flight) go under it.
async fn run_w5(side: &Side, tag: &str, name: &str, round: usize, pid: Option<u32>) {
    let total = 20_000;
    let prefix = format!("{tag}/");
    let keys: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..total)
            .map(|i| format!("{prefix}{i:010}").into_bytes())
            .collect(),
    );
    let bodies: Arc<Vec<bytes::Bytes>> = Arc::new(keys.iter().map(|k| put_body(k)).collect());
    let started: Arc<Vec<std::sync::OnceLock<Instant>>> =
        Arc::new((0..total).map(|_| std::sync::OnceLock::new()).collect());

    // The receiving side: the key's index comes from the key; the revision from the event.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<(Vec<i64>, Duration)>();
    let receiver_started = started.clone();
    match side {
        Side::Etcdgw(client) => {
            let mut stream = client
                .watch(prefix.clone(), Some(WatchOptions::new().with_prefix()))
                .await
                .expect("watch");
            stream.message().await.expect("created");
            tokio::spawn(async move {
                let mut revisions = Vec::with_capacity(total);
                let mut max_lag = Duration::ZERO;
                while revisions.len() < total {
                    let resp = stream.message().await.expect("watch").expect("open");
                    let now = Instant::now();
                    for e in resp.events() {
                        let kv = e.kv().expect("kv");
                        revisions.push(kv.mod_revision());
                        let i: usize = kv
                            .key_str()
                            .ok()
                            .and_then(|k| k.rsplit('/').next())
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0);
                        if let Some(t) = receiver_started[i].get() {
                            max_lag = max_lag.max(now - *t);
                        }
                    }
                }
                let _ = done_tx.send((revisions, max_lag));
            });
        }
        Side::Raw { http, base } => {
            let body = format!(
                r#"{{"create_request":{{"key":"{}","range_end":"{}"}}}}"#,
                b64(prefix.as_bytes()),
                b64(&prefix_end(prefix.as_bytes()))
            );
            let mut resp = http
                .post(format!("{base}/v3/watch"))
                .body(body)
                .send()
                .await
                .expect("watch")
                .bytes_stream();
            tokio::spawn(async move {
                // No JSON decoding: find each event's mod_revision and key by scanning text.
                let mut revisions = Vec::with_capacity(total);
                let mut max_lag = Duration::ZERO;
                let mut pending = Vec::new();
                while revisions.len() < total {
                    let chunk = resp.next().await.expect("open").expect("chunk");
                    let now = Instant::now();
                    pending.extend_from_slice(&chunk);
                    while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=nl).collect();
                        let text = String::from_utf8_lossy(&line);
                        for ev in text.split("{\"kv\":{\"key\":\"").skip(1) {
                            let key64 = ev.split('"').next().unwrap_or("");
                            use base64::Engine as _;
                            let key = base64::engine::general_purpose::STANDARD
                                .decode(key64)
                                .unwrap_or_default();
                            let i: usize = std::str::from_utf8(&key)
                                .ok()
                                .and_then(|k| k.rsplit('/').next())
                                .and_then(|n| n.parse().ok())
                                .unwrap_or(0);
                            if let Some(t) = receiver_started[i].get() {
                                max_lag = max_lag.max(now - *t);
                            }
                            let rev = ev
                                .split("\"mod_revision\":\"")
                                .nth(1)
                                .and_then(|r| r.split('"').next())
                                .and_then(|r| r.parse().ok())
                                .unwrap_or(0);
                            revisions.push(rev);
                        }
                    }
                }
                let _ = done_tx.send((revisions, max_lag));
            });
        }
    }

    let m = start_measure(pid);
    let s = side.clone();
    let lat = concurrent(total, 64, move |i| {
        let (s, keys, bodies, started) = (s.clone(), keys.clone(), bodies.clone(), started.clone());
        async move {
            let _ = started[i].set(Instant::now());
            s.put(&keys[i], &bodies[i]).await;
        }
    })
    .await;
    let (revisions, max_lag) = tokio::time::timeout(Duration::from_secs(120), done_rx)
        .await
        .expect("all events")
        .expect("receiver");
    let in_order = revisions.windows(2).all(|w| w[0] < w[1]);
    let exactly_once = revisions.len() == total && in_order;
    report(
        side.name(),
        round,
        name,
        total,
        m,
        lat,
        pid,
        serde_json::json!({"events": revisions.len(), "exactly_once_in_order": exactly_once, "max_lag_ms": max_lag.as_secs_f64() * 1e3}),
    );
}

/// One range of 10,000 keys with 100-byte values (written with txns of 100 puts first; only
/// the read is measured).
async fn run_w6(side: &Side, writer: &Client, tag: &str, round: usize, pid: Option<u32>) {
    let total = 10_000;
    let prefix = format!("{tag}/");
    for chunk in (0..total).collect::<Vec<_>>().chunks(100) {
        let ops: Vec<etcdgw::TxnOp> = chunk
            .iter()
            .map(|i| etcdgw::TxnOp::put(format!("{prefix}{i:010}"), VALUE.to_vec(), None))
            .collect();
        writer
            .txn(etcdgw::Txn::new().and_then(ops))
            .await
            .expect("fill");
    }
    let body = format!(
        r#"{{"key":"{}","range_end":"{}"}}"#,
        b64(prefix.as_bytes()),
        b64(&prefix_end(prefix.as_bytes()))
    );
    // Read 10 times: one read is too short to time well.
    let reads = 10;
    let m = start_measure(pid);
    let mut lat = Vec::new();
    let mut json_bytes = 0;
    for _ in 0..reads {
        let t = Instant::now();
        let count = match side {
            Side::Etcdgw(c) => {
                let resp = c
                    .get(prefix.clone(), Some(GetOptions::new().with_prefix()))
                    .await
                    .expect("range");
                resp.kvs().len()
            }
            Side::Raw { http, base } => {
                let bytes = http
                    .post(format!("{base}/v3/kv/range"))
                    .body(body.clone())
                    .send()
                    .await
                    .expect("range")
                    .bytes()
                    .await
                    .expect("body");
                json_bytes = bytes.len();
                bytes.windows(6).filter(|w| w == b"\"key\":").count()
            }
        };
        lat.push(t.elapsed());
        assert_eq!(count, total, "the range returned every key");
    }
    report(
        side.name(),
        round,
        "W6",
        reads,
        m,
        lat,
        pid,
        serde_json::json!({"keys": total, "json_bytes": json_bytes}),
    );
}

/// W7 (issue 23): a thousand watches on distinct keys on one client of its own, then 20,000
/// puts over them from the shared writer (`bench/common.rs`). W7a runs with etcd's auth on
/// (switched off again, keys deleted, also when the workload fails); W7t watches over https;
/// W7h without the WebSocket (a watch per HTTP connection).
async fn run_w7(args: &Args, name: &str, round: usize) {
    let prefix = format!("bench/etcdgw/{round}/{name}/");
    let admin = common::Gateway::new(&args.endpoint, false);
    let auth = name == "W7a";
    if auth {
        admin.enable_auth().await;
    }
    let result = tokio::spawn(w7_etcdgw(
        args.clone(),
        name.to_string(),
        round,
        prefix.clone(),
    ))
    .await;
    admin.clean_up(&prefix, auth).await;
    if let Err(e) = result {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("W7: {e}"),
        }
    }
}

async fn w7_etcdgw(args: Args, name: String, round: usize, prefix: String) {
    let options = ConnectOptions::new().with_timeout(Duration::from_secs(30));
    let (endpoint, options) = match name.as_str() {
        "W7" | "W7p" => (args.endpoint.clone(), options),
        "W7a" => (
            args.endpoint.clone(),
            options.with_user("root", common::W7_PASSWORD),
        ),
        "W7h" => (args.endpoint.clone(), options.with_websocket(false)),
        "W7t" => {
            let (Some(endpoint), Some(ca_file)) = (&args.tls_endpoint, &args.ca_file) else {
                eprintln!("W7t: no --tls-endpoint/--ca-file, skipped");
                return;
            };
            let pem = std::fs::read(ca_file).expect("the CA file");
            let tls = etcdgw::TlsOptions::new().ca_certificate(etcdgw::Certificate::from_pem(&pem));
            (endpoint.clone(), options.with_tls(tls))
        }
        other => {
            eprintln!("unknown workload {other}");
            return;
        }
    };
    let mut writer = common::Gateway::new(&args.endpoint, true);
    if name == "W7a" {
        writer = writer
            .authenticated()
            .await
            .expect("W7a: the writer's token");
    }
    let keys: Vec<String> = (0..common::W7_KEYS)
        .map(|i| common::w7_key(&prefix, i))
        .collect();

    let mut m = common::w7_start(&endpoint, args.etcd_pid);
    let client = Client::connect([endpoint.as_str()], Some(options))
        .await
        .expect("W7: connect");
    // ETCDGW_BENCH_W7_WARM=1: one request answered before the watches (its connection still
    // counted, the clock started after it), so that the first watches do not each check the
    // endpoint first: a fresh client checks an endpoint that never answered before each
    // request it sends there until one is answered, each check on a connection of its own.
    if std::env::var_os("ETCDGW_BENCH_W7_WARM").is_some() {
        client.status().await.expect("W7: a first request");
        m.restart_clock();
    }
    // Every watch confirmed: `watch` returns after the created answer, the stream's first.
    let streams: Vec<etcdgw::WatchStream> = futures_util::stream::iter(keys.clone())
        .map(|key| {
            let client = client.clone();
            async move {
                let mut stream = client.watch(key, None).await.expect("W7: watch");
                let first = stream
                    .message()
                    .await
                    .expect("W7: the created answer")
                    .expect("W7: a watch stream open");
                assert!(
                    first.created() && !first.canceled(),
                    "W7: the first answer says created"
                );
                stream
            }
        })
        .buffered(common::W7_IN_FLIGHT)
        .collect()
        .await;
    m.established();

    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let receivers: Vec<_> = streams
        .into_iter()
        .zip(keys)
        .map(|(mut stream, key)| {
            let count = count.clone();
            tokio::spawn(async move {
                let key = key.into_bytes();
                let mut got = common::W7Received::default();
                while got.events.len() + got.wrong < common::W7_PER_KEY {
                    let resp = stream
                        .message()
                        .await
                        .expect("W7: a watch failed")
                        .expect("W7: a watch stream ended");
                    assert!(
                        !resp.canceled(),
                        "W7: a watch canceled: {}",
                        resp.cancel_reason()
                    );
                    for e in resp.events() {
                        let kv = e.kv().expect("W7: an event's kv");
                        got.take(&key, kv.key(), kv.value(), kv.mod_revision());
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                (stream, got)
            })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + common::W7_TIMEOUT;
    let written = writer.write(&prefix, common::w7_rate(&name)).await;
    let done = tokio::time::timeout_at(deadline, futures_util::future::join_all(receivers))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "W7 {name}: {} of {} events within {:?}",
                count.load(std::sync::atomic::Ordering::Relaxed),
                common::W7_KEYS * common::W7_PER_KEY,
                common::W7_TIMEOUT
            )
        });
    let (streams, received): (Vec<_>, Vec<_>) = done
        .into_iter()
        .map(|r| r.expect("W7: a receiving task"))
        .unzip();
    m.report("etcdgw", round, &name, &written, &received);
    drop(streams);
}

/// W7 and W7p through the gateway with nothing but a WebSocket: the thousand creates sent on
/// one socket (ids 1..1000), each answer read with the fields the check needs, no state kept
/// per watch beyond that. The floor of any client of etcd's gateway on this machine.
async fn w7_raw(args: &Args, name: &str, round: usize) {
    use futures_util::SinkExt;
    use reqwest_websocket::{Message, Upgrade};

    #[derive(serde::Deserialize)]
    struct Answer {
        result: Option<Result>,
    }
    #[derive(serde::Deserialize)]
    struct Result {
        #[serde(default)]
        watch_id: String,
        #[serde(default)]
        created: bool,
        #[serde(default)]
        events: Vec<Event>,
    }
    #[derive(serde::Deserialize)]
    struct Event {
        kv: Kv,
    }
    #[derive(serde::Deserialize)]
    struct Kv {
        key: String,
        value: String,
        mod_revision: String,
    }
    let unb64 = |text: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .expect("W7 raw: base64 from etcd")
    };

    let prefix = format!("bench/raw/{round}/{name}/");
    let keys: Vec<Vec<u8>> = (0..common::W7_KEYS)
        .map(|i| common::w7_key(&prefix, i).into_bytes())
        .collect();
    let writer = common::Gateway::new(&args.endpoint, true);
    let mut m = common::w7_start(&args.endpoint, args.etcd_pid);
    let url = format!("{}/v3/watch", args.endpoint.trim_end_matches('/'));
    let mut ws = reqwest::Client::new()
        .get(url)
        .upgrade()
        .send()
        .await
        .expect("W7 raw: the upgrade")
        .into_websocket()
        .await
        .expect("W7 raw: a WebSocket");
    for (i, key) in keys.iter().enumerate() {
        let create = format!(
            r#"{{"create_request":{{"key":"{}","watch_id":"{}"}}}}"#,
            b64(key),
            i + 1
        );
        ws.send(Message::Text(create))
            .await
            .expect("W7 raw: a create sent");
    }
    let mut created = 0;
    while created < common::W7_KEYS {
        if let Some(Ok(Message::Text(text))) = ws.next().await {
            let answer: Answer = serde_json::from_str(&text).expect("W7 raw: an answer");
            created += usize::from(answer.result.is_some_and(|r| r.created));
        } else {
            panic!("W7 raw: the socket ended before every create was answered");
        }
    }
    m.established();
    let total = common::W7_KEYS * common::W7_PER_KEY;
    let reader = tokio::spawn(async move {
        let mut received: Vec<common::W7Received> = (0..common::W7_KEYS)
            .map(|_| common::W7Received::default())
            .collect();
        let mut count = 0;
        while count < total {
            let Some(Ok(Message::Text(text))) = ws.next().await else {
                panic!("W7 raw: the socket ended after {count} events");
            };
            let answer: Answer = serde_json::from_str(&text).expect("W7 raw: an answer");
            let Some(result) = answer.result else {
                continue;
            };
            let Some(i) = result
                .watch_id
                .parse::<usize>()
                .ok()
                .and_then(|id| id.checked_sub(1))
                .filter(|&i| i < keys.len())
            else {
                continue;
            };
            for event in result.events {
                let revision = event.kv.mod_revision.parse().expect("W7 raw: a revision");
                received[i].take(
                    &keys[i],
                    &unb64(&event.kv.key),
                    &unb64(&event.kv.value),
                    revision,
                );
                count += 1;
            }
        }
        (ws, received)
    });
    let written = writer.write(&prefix, common::w7_rate(name)).await;
    let (ws, received) = tokio::time::timeout(common::W7_TIMEOUT, reader)
        .await
        .expect("W7 raw: every event in time")
        .expect("W7 raw: the reader");
    m.report("raw", round, name, &written, &received);
    drop(ws);
    let _ = common::Gateway::new(&args.endpoint, false)
        .delete_prefix(&prefix)
        .await;
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

/// Reads JSON lines of results and prints medians over rounds, with etcdgw's ratios to the
/// raw baseline and to the gRPC client (and to an earlier etcdgw, side `etcdgw-before`, when
/// the results have one).
fn print_report(path: &str) {
    let text = std::fs::read_to_string(path).expect("results file");
    let mut by: BTreeMap<(String, String), Vec<serde_json::Value>> = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        by.entry((
            v["workload"].as_str().unwrap_or("").to_string(),
            v["side"].as_str().unwrap_or("").to_string(),
        ))
        .or_default()
        .push(v);
    }
    let med = |w: &str, side: &str, field: &str| -> Option<f64> {
        let rows = by.get(&(w.to_string(), side.to_string()))?;
        Some(median(
            rows.iter().filter_map(|r| r[field].as_f64()).collect(),
        ))
    };
    let label = |w: &str| match w.strip_suffix('t') {
        Some(plain) => format!("{plain} TLS"),
        None => w.to_string(),
    };
    if by.keys().all(|(w, _)| w.starts_with("W7")) {
        print_w7_report(&by);
        return;
    }
    println!("| workload | side | ops/s | p50 µs | p99 µs | max µs | client CPU ms/10k | peak RSS MB | server CPU ms/10k | rounds |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for w in WORKLOADS.into_iter().filter(|w| !w.starts_with("W7")) {
        for side in ["etcdgw", "etcdgw-before", "raw", "grpc"] {
            let Some(rows) = by.get(&(w.to_string(), side.to_string())) else {
                continue;
            };
            println!(
                "| {} | {side} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {} | {} |",
                label(w),
                med(w, side, "ops_per_sec").unwrap_or(0.0),
                med(w, side, "p50_us").unwrap_or(0.0),
                med(w, side, "p99_us").unwrap_or(0.0),
                med(w, side, "max_us").unwrap_or(0.0),
                med(w, side, "client_cpu_ms_per_10k").unwrap_or(0.0),
                med(w, side, "peak_rss_kb").unwrap_or(0.0) / 1024.0,
                med(w, side, "server_cpu_ms_per_10k")
                    .map(|v| format!("{v:.0}"))
                    .unwrap_or_else(|| "-".into()),
                rows.len()
            );
        }
    }
    println!();
    println!("| workload | etcdgw/raw throughput | etcdgw/gRPC throughput | etcdgw/raw client CPU | etcdgw/gRPC client CPU | server CPU etcdgw/raw | server CPU etcdgw/gRPC | p50 etcdgw/before | W5 exactly once in order | W5 max lag ms (etcdgw) | W6 peak heap growth / JSON size |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|");
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    };
    for w in WORKLOADS.into_iter().filter(|w| !w.starts_with("W7")) {
        if !by.contains_key(&(w.to_string(), "etcdgw".to_string())) {
            continue;
        }
        let is_w5 = w.starts_with("W5");
        let exact = match by.get(&(w.to_string(), "etcdgw".to_string())) {
            Some(rows) if is_w5 => rows
                .iter()
                .all(|r| {
                    r["extra"]["exactly_once_in_order"]
                        .as_bool()
                        .unwrap_or(false)
                })
                .to_string(),
            _ => "-".into(),
        };
        let lag = match by.get(&(w.to_string(), "etcdgw".to_string())) {
            Some(rows) if is_w5 => format!(
                "{:.0}",
                median(
                    rows.iter()
                        .filter_map(|r| r["extra"]["max_lag_ms"].as_f64())
                        .collect()
                )
            ),
            _ => "-".into(),
        };
        let growth = if w == "W6" {
            let json = by.get(&(w.to_string(), "raw".to_string())).map(|rows| {
                median(
                    rows.iter()
                        .filter_map(|r| r["extra"]["json_bytes"].as_f64())
                        .collect(),
                )
            });
            ratio(
                med(w, "etcdgw", "peak_heap_growth_kb").map(|kb| kb * 1024.0),
                json,
            )
        } else {
            "-".into()
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {exact} | {lag} | {growth} |",
            label(w),
            ratio(
                med(w, "etcdgw", "ops_per_sec"),
                med(w, "raw", "ops_per_sec")
            ),
            ratio(
                med(w, "etcdgw", "ops_per_sec"),
                med(w, "grpc", "ops_per_sec")
            ),
            ratio(
                med(w, "etcdgw", "client_cpu_ms_per_10k"),
                med(w, "raw", "client_cpu_ms_per_10k")
            ),
            ratio(
                med(w, "etcdgw", "client_cpu_ms_per_10k"),
                med(w, "grpc", "client_cpu_ms_per_10k")
            ),
            ratio(
                med(w, "etcdgw", "server_cpu_ms_per_10k"),
                med(w, "raw", "server_cpu_ms_per_10k")
            ),
            ratio(
                med(w, "etcdgw", "server_cpu_ms_per_10k"),
                med(w, "grpc", "server_cpu_ms_per_10k")
            ),
            ratio(
                med(w, "etcdgw", "p50_us"),
                med(w, "etcdgw-before", "p50_us")
            ),
        );
    }
    print_w7_report(&by);
}

/// The W7 table (a thousand watches on one client): medians over rounds per workload and side.
fn print_w7_report(by: &BTreeMap<(String, String), Vec<serde_json::Value>>) {
    let rows: Vec<_> = by
        .iter()
        .filter(|((w, _), _)| w.starts_with("W7"))
        .collect();
    if rows.is_empty() {
        return;
    }
    println!();
    println!("| workload | side | connections | establish ms | client RSS MB +established / +end | peak heap MB | etcd RSS MB established / end | etcd CPU s | events/s | p50 ms | p99 ms | exactly once, in order | rounds |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|");
    for w in WORKLOADS.into_iter().filter(|w| w.starts_with("W7")) {
        for side in ["etcdgw", "raw", "grpc"] {
            let Some(rows) = by.get(&(w.to_string(), side.to_string())) else {
                continue;
            };
            let med = |field: &str| {
                median(
                    rows.iter()
                        .filter_map(|r| r["extra"][field].as_f64().or_else(|| r[field].as_f64()))
                        .collect(),
                )
            };
            let mb = |field: &str| med(field) / 1024.0;
            let label = match w {
                "W7p" => "W7 paced, 2,000 puts/s",
                "W7a" => "W7 auth",
                "W7t" => "W7 TLS",
                "W7h" => "W7 no WebSocket",
                _ => "W7",
            };
            let exact = rows
                .iter()
                .filter(|r| r["extra"]["exactly_once_in_order"].as_bool() == Some(true))
                .count();
            println!(
                "| {label} | {side} | {:.0} | {:.0} | {:.1} / {:.1} | {:.1} | {:.1} / {:.1} | {:.2} | {:.0} | {:.1} | {:.1} | {} | {} |",
                med("connections"),
                med("establish_ms"),
                mb("rss_established_growth_kb"),
                mb("rss_end_growth_kb"),
                mb("peak_heap_growth_kb"),
                mb("etcd_rss_established_kb"),
                mb("etcd_rss_end_kb"),
                med("etcd_cpu_s"),
                med("ops_per_sec"),
                med("p50_ms"),
                med("p99_ms"),
                if exact == rows.len() { "yes, every round".to_string() } else { format!("{exact} of {} rounds", rows.len()) },
                rows.len()
            );
        }
    }
}

fn main() {
    let args = parse_args();
    if let Some(path) = &args.report {
        print_report(path);
        return;
    }
    // With feature `metrics`, ETCDGW_BENCH_METRICS=1 installs a Prometheus recorder, to
    // measure what the instrumentation costs (BENCHMARKS.md, "Metrics").
    #[cfg(feature = "metrics")]
    if std::env::var_os("ETCDGW_BENCH_METRICS").is_some() {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("a Prometheus recorder");
        eprintln!("metrics: Prometheus recorder installed");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let options = ConnectOptions::new().with_timeout(Duration::from_secs(30));
        let client = Client::connect([args.endpoint.as_str()], Some(options.clone()))
            .await
            .expect("connect");
        // The raw baseline gets the same HTTP client settings etcdgw uses.
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .expect("http client");
        let base = args.endpoint.trim_end_matches('/').to_string();
        let sides = |client: &Client, http: &reqwest::Client, base: &str| -> Vec<Side> {
            args.sides
                .iter()
                .filter_map(|s| match s.as_str() {
                    "etcdgw" => Some(Side::Etcdgw(client.clone())),
                    "raw" => Some(Side::Raw {
                        http: http.clone(),
                        base: base.to_string(),
                    }),
                    _ => None,
                })
                .collect()
        };
        let plain_sides = sides(&client, &http, &base);
        // The same member over https (HTTP/2), trusting the CA the script made.
        let tls_sides = match (&args.tls_endpoint, &args.ca_file) {
            (Some(endpoint), Some(ca_file)) => {
                let pem = std::fs::read(ca_file).expect("the CA file");
                let tls =
                    etcdgw::TlsOptions::new().ca_certificate(etcdgw::Certificate::from_pem(&pem));
                let tls_client = Client::connect([endpoint.as_str()], Some(options.with_tls(tls)))
                    .await
                    .expect("connect over TLS");
                let https = reqwest::Client::builder()
                    .tcp_nodelay(true)
                    .pool_idle_timeout(Duration::from_secs(60))
                    .connect_timeout(Duration::from_secs(3))
                    .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("a PEM CA")])
                    .build()
                    .expect("https client");
                sides(&tls_client, &https, endpoint.trim_end_matches('/'))
            }
            _ => Vec::new(),
        };
        let rounds: Vec<usize> = match args.only_round {
            Some(r) => vec![r],
            None => (1..=args.rounds).collect(),
        };
        for round in rounds {
            // Alternate which side goes first, so neither always runs on a warmer server.
            for workload in &args.workloads {
                // W7 makes its own client; raw is one WebSocket of its own, for W7 and W7p.
                if workload.starts_with("W7") {
                    if args.sides.iter().any(|s| s == "etcdgw") {
                        eprintln!("round {round} {workload} etcdgw");
                        run_w7(&args, workload, round).await;
                    }
                    if args.sides.iter().any(|s| s == "raw")
                        && matches!(workload.as_str(), "W7" | "W7p")
                    {
                        eprintln!("round {round} {workload} raw");
                        w7_raw(&args, workload, round).await;
                    }
                    continue;
                }
                let tls = workload.ends_with('t');
                let mut order: Vec<&Side> =
                    if tls { &tls_sides } else { &plain_sides }.iter().collect();
                if tls && order.is_empty() {
                    eprintln!("{workload}: no --tls-endpoint/--ca-file, skipped");
                    continue;
                }
                if round % 2 == 0 {
                    order.reverse();
                }
                for side in &order {
                    eprintln!("round {round} {workload} {}", side.name());
                    run_workload(side, &client, workload, round, args.etcd_pid).await;
                }
            }
        }
    });
}
