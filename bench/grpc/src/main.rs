//! The bench workloads through the `etcd-client` crate (gRPC), for comparison with etcdgw over
//! the gateway. Same workloads, same measurement, same JSON lines (side "grpc"); run by
//! `scripts/bench.sh` alternately with `examples/bench.rs`.

#[path = "../../common.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use common::{concurrent, report, start_measure};
use etcd_client::{Client, GetOptions, WatchOptions};

const VALUE: [u8; 100] = [b'v'; 100];

/// The workloads of `examples/bench.rs`; a `t` at the end runs one over TLS. W7h (etcdgw
/// without its WebSocket) has no gRPC counterpart and is skipped.
const WORKLOADS: [&str; 18] = [
    "W1", "W2", "W3", "W3s", "W4", "W4d", "W4ds", "W5", "W6", "W1t", "W2t", "W4t", "W5t", "W7",
    "W7p", "W7a", "W7t", "W7h",
];

/// Counts heap bytes, so each workload reports its own peak (RSS keeps freed memory).
#[global_allocator]
static HEAP: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;

#[tokio::main]
async fn main() {
    let mut endpoint = "http://127.0.0.1:2379".to_string();
    let mut pid = None;
    let mut rounds = 1usize;
    let mut only_round = None;
    let mut workloads: Vec<String> = WORKLOADS.map(String::from).to_vec();
    let mut tls_endpoint: Option<String> = None;
    let mut ca_file: Option<String> = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--endpoint" => endpoint = value,
            "--etcd-pid" => pid = value.parse().ok(),
            "--rounds" => rounds = value.parse().unwrap_or(1),
            "--round" => only_round = value.parse().ok(),
            "--workloads" => workloads = value.split(',').map(String::from).collect(),
            "--tls-endpoint" => tls_endpoint = Some(value),
            "--ca-file" => ca_file = Some(value),
            other => panic!("unknown flag {other}"),
        }
    }
    let w7 = W7Args {
        endpoint: endpoint.clone(),
        tls_endpoint: tls_endpoint.clone(),
        ca_file: ca_file.clone(),
        pid,
    };
    let client = Client::connect([endpoint.as_str()], None)
        .await
        .expect("connect");
    let rounds: Vec<usize> = match only_round {
        Some(r) => vec![r],
        None => (1..=rounds).collect(),
    };
    // The same member over https, as etcd-client is used in production.
    let tls_client = match (tls_endpoint, ca_file) {
        (Some(endpoint), Some(ca_file)) => {
            let pem = std::fs::read(ca_file).expect("the CA file");
            let tls = etcd_client::TlsOptions::new()
                .ca_certificate(etcd_client::Certificate::from_pem(pem));
            let options = etcd_client::ConnectOptions::new().with_tls(tls);
            Some(
                Client::connect([endpoint.as_str()], Some(options))
                    .await
                    .expect("connect over TLS"),
            )
        }
        _ => None,
    };
    for round in rounds {
        for w in &workloads {
            // W7 makes its own client.
            if w.starts_with("W7") {
                if w == "W7h" {
                    eprintln!("W7h: etcdgw only (no WebSocket to turn off), skipped");
                } else {
                    eprintln!("round {round} {w} grpc");
                    run_w7(&w7, w, round).await;
                }
                continue;
            }
            let client = match w.strip_suffix('t') {
                None => &client,
                Some(_) => match &tls_client {
                    Some(c) => c,
                    None => {
                        eprintln!("{w}: no --tls-endpoint/--ca-file, skipped");
                        continue;
                    }
                },
            };
            eprintln!("round {round} {w} grpc");
            run(client, w, round, pid).await;
        }
    }
}

/// What W7 needs of the command line.
#[derive(Clone)]
struct W7Args {
    endpoint: String,
    tls_endpoint: Option<String>,
    ca_file: Option<String>,
    pid: Option<u32>,
}

/// W7 (issue 23) through etcd-client: a thousand watches (each its own gRPC stream on the
/// client's one channel), then the shared writer's 20,000 puts (`bench/common.rs`). W7a with
/// etcd's auth on (off again and keys deleted, also when the workload fails), W7t over TLS.
async fn run_w7(args: &W7Args, name: &str, round: usize) {
    let prefix = format!("bench/grpc/{round}/{name}/");
    let admin = common::Gateway::new(&args.endpoint, false);
    let auth = name == "W7a";
    if auth {
        admin.enable_auth().await;
    }
    let result = tokio::spawn(w7_grpc(
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

async fn w7_grpc(args: W7Args, name: String, round: usize, prefix: String) {
    let (endpoint, options) = match name.as_str() {
        "W7" | "W7p" => (args.endpoint.clone(), None),
        "W7a" => (
            args.endpoint.clone(),
            Some(etcd_client::ConnectOptions::new().with_user("root", common::W7_PASSWORD)),
        ),
        "W7t" => {
            let (Some(endpoint), Some(ca_file)) = (&args.tls_endpoint, &args.ca_file) else {
                eprintln!("W7t: no --tls-endpoint/--ca-file, skipped");
                return;
            };
            let pem = std::fs::read(ca_file).expect("the CA file");
            let tls = etcd_client::TlsOptions::new()
                .ca_certificate(etcd_client::Certificate::from_pem(pem));
            (
                endpoint.clone(),
                Some(etcd_client::ConnectOptions::new().with_tls(tls)),
            )
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

    let mut m = common::w7_start(&endpoint, args.pid);
    let client = Client::connect([endpoint.as_str()], options)
        .await
        .expect("W7: connect");
    // Every watch confirmed: `watch` returns with the stream open; its first answer is the
    // created one.
    let streams: Vec<etcd_client::WatchStream> = futures_util::stream::iter(keys.clone())
        .map(|key| {
            let mut client = client.clone();
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
    m.report("grpc", round, &name, &written, &received);
    drop(streams);
}

async fn run(client: &Client, workload: &str, round: usize, pid: Option<u32>) {
    let tag = format!("bench/grpc/{round}/{workload}");
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
            let keys: Arc<Vec<Vec<u8>>> = Arc::new((0..total).map(key).collect());
            let m = start_measure(pid);
            let c = client.clone();
            let lat = concurrent(total, in_flight, move |i| {
                let (mut c, keys) = (c.clone(), keys.clone());
                async move {
                    c.put(keys[i].clone(), VALUE.to_vec(), None)
                        .await
                        .expect("put");
                }
            })
            .await;
            report(
                "grpc",
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
            client
                .clone()
                .put(k.clone(), VALUE.to_vec(), None)
                .await
                .expect("put");
            let m = start_measure(pid);
            let c = client.clone();
            let lat = concurrent(total, in_flight, move |_| {
                let (mut c, k) = (c.clone(), k.clone());
                async move {
                    let options = if serializable {
                        GetOptions::new().with_serializable()
                    } else {
                        GetOptions::new()
                    };
                    c.get(k, Some(options)).await.expect("get");
                }
            })
            .await;
            report(
                "grpc",
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
            // 20,000 gets of 1,000 different keys, 64 in flight: linearizable, or serializable.
            let serializable = workload == "W4ds";
            let (total, n) = (20_000, 1_000);
            let keys: Arc<Vec<Vec<u8>>> = Arc::new((0..n).map(key).collect());
            for k in keys.iter() {
                client
                    .clone()
                    .put(k.clone(), VALUE.to_vec(), None)
                    .await
                    .expect("put");
            }
            let m = start_measure(pid);
            let c = client.clone();
            let lat = concurrent(total, 64, move |i| {
                let (mut c, keys) = (c.clone(), keys.clone());
                async move {
                    let options = serializable.then(|| GetOptions::new().with_serializable());
                    let resp = c
                        .get(keys[i % keys.len()].clone(), options)
                        .await
                        .expect("get");
                    assert_eq!(resp.kvs().len(), 1, "the key is there");
                }
            })
            .await;
            report(
                "grpc",
                round,
                name,
                total,
                m,
                lat,
                pid,
                serde_json::json!({}),
            );
        }
        "W5" => {
            let total = 20_000;
            let prefix = format!("{tag}/");
            let keys: Arc<Vec<Vec<u8>>> = Arc::new(
                (0..total)
                    .map(|i| format!("{prefix}{i:010}").into_bytes())
                    .collect(),
            );
            let started: Arc<Vec<std::sync::OnceLock<Instant>>> =
                Arc::new((0..total).map(|_| std::sync::OnceLock::new()).collect());
            let mut stream = client
                .clone()
                .watch(prefix.clone(), Some(WatchOptions::new().with_prefix()))
                .await
                .expect("watch");
            stream.message().await.expect("created");
            let receiver_started = started.clone();
            let receiving = tokio::spawn(async move {
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
                (revisions, max_lag)
            });
            let m = start_measure(pid);
            let c = client.clone();
            let lat = concurrent(total, 64, move |i| {
                let (mut c, keys, started) = (c.clone(), keys.clone(), started.clone());
                async move {
                    let _ = started[i].set(Instant::now());
                    c.put(keys[i].clone(), VALUE.to_vec(), None)
                        .await
                        .expect("put");
                }
            })
            .await;
            let (revisions, max_lag) = receiving.await.expect("receiver");
            let exactly_once =
                revisions.len() == total && revisions.windows(2).all(|w| w[0] < w[1]);
            report(
                "grpc",
                round,
                name,
                total,
                m,
                lat,
                pid,
                serde_json::json!({"events": revisions.len(), "exactly_once_in_order": exactly_once, "max_lag_ms": max_lag.as_secs_f64() * 1e3}),
            );
        }
        "W6" => {
            let total = 10_000;
            let prefix = format!("{tag}/");
            let mut writer = client.clone();
            for chunk in (0..total).collect::<Vec<_>>().chunks(100) {
                let ops: Vec<etcd_client::TxnOp> = chunk
                    .iter()
                    .map(|i| {
                        etcd_client::TxnOp::put(format!("{prefix}{i:010}"), VALUE.to_vec(), None)
                    })
                    .collect();
                writer
                    .txn(etcd_client::Txn::new().and_then(ops))
                    .await
                    .expect("fill");
            }
            let reads = 10;
            let m = start_measure(pid);
            let mut lat = Vec::new();
            for _ in 0..reads {
                let t = Instant::now();
                // etcd-client refuses answers above 4 MiB by default; this one is about 1.6 MB.
                let resp = client
                    .kv_client()
                    .get(prefix.clone(), Some(GetOptions::new().with_prefix()))
                    .await
                    .expect("range");
                lat.push(t.elapsed());
                assert_eq!(resp.kvs().len(), total);
            }
            report(
                "grpc",
                round,
                "W6",
                reads,
                m,
                lat,
                pid,
                serde_json::json!({"keys": total}),
            );
        }
        other => eprintln!("unknown workload {other}"),
    }
}
