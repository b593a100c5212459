//! How long a watch event takes to arrive through a reverse proxy: streamed through nginx
//! without buffering, against long polls through nginx at its defaults (which holds streamed
//! answers back), and directly from etcd for reference. `scripts/bench-proxy.sh` runs it
//! (etcd 3.6; the proxies of `test-support/proxies/`); BENCHMARKS.md has the figures.
//!
//! ```text
//! ETCD_BIN=... cargo run --release --example proxy_latency -- [events] [gap-ms]
//! ```
//! For each setup, one watch on a prefix and `events` puts, one every `gap-ms` (default 200
//! and 37: gaps that do not divide the poll interval, so events land all over it); an event's
//! latency is from the start of its put to its arrival on the watch. Prints one JSON line per
//! setup and a Markdown table; every event must arrive exactly once (else it says so).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcdgw::{Client, ConnectOptions, StreamMode, WatchOptions};
use etcdgw_test_support::reverse_proxy::{Kind, ReverseProxy};
use etcdgw_test_support::Etcd;

struct Setup {
    label: &'static str,
    proxy: Option<Kind>,
    mode: StreamMode,
    poll: Duration,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let gap = Duration::from_millis(args.next().and_then(|a| a.parse().ok()).unwrap_or(37));
    let setups = [
        Setup {
            label: "direct to etcd, streamed",
            proxy: None,
            mode: StreamMode::Auto,
            poll: Duration::from_secs(1),
        },
        Setup {
            label: "nginx, proxy_buffering off: streamed",
            proxy: Some(Kind::NginxStreaming),
            mode: StreamMode::Auto,
            poll: Duration::from_secs(1),
        },
        Setup {
            label: "nginx at its defaults: long polls of 1 s (found out)",
            proxy: Some(Kind::NginxDefaults),
            mode: StreamMode::Auto,
            poll: Duration::from_secs(1),
        },
        Setup {
            label: "nginx at its defaults: long polls of 250 ms",
            proxy: Some(Kind::NginxDefaults),
            mode: StreamMode::LongPoll,
            poll: Duration::from_millis(250),
        },
    ];
    let etcd = Etcd::start().await;
    let mut rows = Vec::new();
    for (i, setup) in setups.iter().enumerate() {
        let proxy = match setup.proxy {
            Some(kind) => Some(ReverseProxy::start(kind, etcd.member.client_port).await),
            None => None,
        };
        let (endpoint, options) = match &proxy {
            Some(p) => (p.endpoint(), p.connect_options()),
            None => (etcd.endpoint(), ConnectOptions::new()),
        };
        let options = options
            .with_stream_mode(setup.mode)
            .with_long_poll_interval(setup.poll);
        let client = Client::connect([endpoint], Some(options))
            .await
            .expect("connect");
        let prefix = format!("lat/{i}/");
        let mut stream = client
            .watch(prefix.as_str(), Some(WatchOptions::new().with_prefix()))
            .await
            .expect("watch");
        let created = stream.message().await.expect("created").expect("open");
        assert!(created.created());

        let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let writer = {
            let (client, sent, prefix) = (client.clone(), sent.clone(), prefix.clone());
            tokio::spawn(async move {
                for n in 0..events {
                    let key = format!("{prefix}{n:05}");
                    sent.lock().unwrap().insert(key.clone(), Instant::now());
                    client.put(key, "v", None).await.expect("put");
                    tokio::time::sleep(gap).await;
                }
            })
        };
        let mut latencies = Vec::with_capacity(events);
        let mut seen = std::collections::HashSet::new();
        let mut repeats = 0;
        while seen.len() < events {
            let answer = tokio::time::timeout(Duration::from_secs(30), stream.message())
                .await
                .expect("an event within 30 s")
                .expect("no watch error")
                .expect("the watch is open");
            let now = Instant::now();
            for event in answer.events() {
                let key = event.kv().and_then(|kv| kv.key_str().ok()).unwrap_or("");
                if !seen.insert(key.to_string()) {
                    repeats += 1;
                    continue;
                }
                let started = sent.lock().unwrap().get(key).copied();
                if let Some(started) = started {
                    latencies.push(now.duration_since(started));
                }
            }
        }
        writer.await.expect("writer");
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
        let (median, p99, worst) = (ms(pick(0.5)), ms(pick(0.99)), ms(pick(1.0)));
        println!(
            "{{\"setup\":{:?},\"events\":{events},\"gap_ms\":{},\"median_ms\":{median:.1},\"p99_ms\":{p99:.1},\"max_ms\":{worst:.1},\"repeats\":{repeats}}}",
            setup.label,
            gap.as_millis()
        );
        rows.push((setup.label, median, p99, worst, repeats));
    }
    println!();
    println!("| setup | median ms | p99 ms | worst ms | events | repeated |");
    println!("|---|---|---|---|---|---|");
    for (label, median, p99, worst, repeats) in rows {
        println!("| {label} | {median:.1} | {p99:.1} | {worst:.1} | {events} | {repeats} |");
    }
}
