//! Measurement shared by the bench programs (`examples/bench.rs` and `bench/grpc`): CPU time,
//! peak memory, latency percentiles, concurrency, and the JSON line each measurement is.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// CPU time of a process: the sum over its threads of the nanoseconds each ran
/// (`/proc/<pid>/task/*/schedstat`, first field), precise where `/proc/<pid>/stat` counts
/// in 10 ms ticks.
pub fn process_cpu(pid: &str) -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let text = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += text
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(Duration::from_nanos(total))
}

/// Client CPU time of this process.
pub fn cpu_time() -> Duration {
    process_cpu("self").unwrap_or_default()
}

/// Resets the peak RSS (VmHWM) of this process, so each workload measures its own peak.
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub struct Measure {
    heap_before: usize,
    started: Instant,
    cpu: Duration,
    server: Option<Duration>,
    rss_before: u64,
}

pub fn start_measure(pid: Option<u32>) -> Measure {
    reset_peak();
    crate::HEAP.reset_peak_usage();
    Measure {
        heap_before: crate::HEAP.current_usage(),
        started: Instant::now(),
        cpu: cpu_time(),
        server: pid.and_then(|p| process_cpu(&p.to_string())),
        rss_before: status_kb("VmRSS:"),
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

#[allow(clippy::too_many_arguments)]
pub fn report(
    side: &str,
    round: usize,
    workload: &str,
    ops: usize,
    m: Measure,
    mut lat: Vec<Duration>,
    pid: Option<u32>,
    extra: serde_json::Value,
) {
    let secs = m.started.elapsed().as_secs_f64();
    let cpu = cpu_time().saturating_sub(m.cpu);
    let server = match (pid.and_then(|p| process_cpu(&p.to_string())), m.server) {
        (Some(after), Some(before)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    lat.sort();
    let line = serde_json::json!({
        "side": side,
        "round": round,
        "workload": workload,
        "ops": ops,
        "secs": secs,
        "ops_per_sec": ops as f64 / secs,
        "p50_us": percentile(&lat, 0.50),
        "p99_us": percentile(&lat, 0.99),
        "max_us": lat.last().map(|d| d.as_secs_f64() * 1e6).unwrap_or(0.0),
        "client_cpu_ms_per_10k": cpu.as_secs_f64() * 1e3 * 10_000.0 / ops as f64,
        "peak_rss_kb": status_kb("VmHWM:"),
        "rss_growth_kb": status_kb("VmHWM:").saturating_sub(m.rss_before),
        "peak_heap_growth_kb": crate::HEAP.peak_usage().saturating_sub(m.heap_before) / 1024,
        "server_cpu_ms_per_10k": server.map(|s| s.as_secs_f64() * 1e3 * 10_000.0 / ops as f64),
        "extra": extra,
    });
    println!("{line}");
    eprintln!(
        "  {side:>7} {workload:<4} {:>9.0} ops/s  p50 {:>7.0} us  p99 {:>7.0} us  cpu {:>6.1} ms/10k",
        ops as f64 / secs,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        cpu.as_secs_f64() * 1e3 * 10_000.0 / ops as f64
    );
}

/// Runs `total` operations with `in_flight` workers; returns each operation's latency.
pub async fn concurrent<F, Fut>(total: usize, in_flight: usize, op: F) -> Vec<Duration>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..in_flight {
        let next = next.clone();
        let op = op.clone();
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return lat;
                }
                let t = Instant::now();
                op(i).await;
                lat.push(t.elapsed());
                if i % 2000 == 0 {
                    eprint!("\r    {i}/{total}   ");
                }
            }
        }));
    }
    let mut all = Vec::with_capacity(total);
    for w in workers {
        all.extend(w.await.expect("worker"));
    }
    eprint!("\r");
    all
}

pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

// W7: a thousand watches on one client (issue 23). What both programs share: the keys, the
// writer (the same raw JSON puts for every side, so that the sides differ only in how they
// receive), etcd's auth switched on and off around W7a, the socket count, and the check and
// the JSON line. Each program opens its own watches and reads them.

/// Watched keys, one watch each.
pub const W7_KEYS: usize = 1_000;
/// Puts per key.
pub const W7_PER_KEY: usize = 20;
/// The writer's puts in flight, and the watches opened at a time.
pub const W7_IN_FLIGHT: usize = 64;
/// W7p's pace: puts per second, well below what either side takes on this machine.
pub const W7P_RATE: u32 = 2_000;

/// The writer's pace for a W7 workload: W7p's, or as fast as the puts go.
pub fn w7_rate(workload: &str) -> Option<u32> {
    (workload == "W7p").then_some(W7P_RATE)
}
/// How long every event may take to arrive, from the first put: past it the workload fails.
pub const W7_TIMEOUT: Duration = Duration::from_secs(180);
/// The password of the user `root` that W7a creates (a throwaway member's).
pub const W7_PASSWORD: &str = "w7-bench-password";

/// The key of watch `i` under `prefix`.
pub fn w7_key(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:04}")
}

/// Nanoseconds since UNIX_EPOCH: what a put's value carries, and what its receipt is
/// compared with (writer and receiver are one process).
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// What one watch received: per event, its mod_revision and its write-to-receipt latency in
/// nanoseconds; `wrong` counts events of another key or with a value that is not a time.
#[derive(Debug, Default)]
pub struct W7Received {
    pub events: Vec<(i64, i64)>,
    pub wrong: usize,
}

impl W7Received {
    /// Takes one event of watch `i`: its key, value and mod_revision.
    pub fn take(&mut self, expected_key: &[u8], key: &[u8], value: &[u8], mod_revision: i64) {
        let now = now_nanos();
        let sent = std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.parse::<i64>().ok());
        match sent {
            Some(sent) if key == expected_key => self.events.push((mod_revision, now - sent)),
            _ => self.wrong += 1,
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// etcd's JSON gateway over plain HTTP, with raw JSON: W7's writer and its setup and cleanup.
#[derive(Clone)]
pub struct Gateway {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Gateway {
    /// `pool`: whether connections are kept between requests (the writer's); without, each
    /// request's connection closes after it, so no idle one is counted as the watches'.
    pub fn new(endpoint: &str, pool: bool) -> Self {
        let mut builder = reqwest::Client::builder()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(3));
        if !pool {
            builder = builder.pool_max_idle_per_host(0);
        }
        Gateway {
            http: builder.build().expect("an HTTP client for the W7 writer"),
            base: endpoint.trim_end_matches('/').to_string(),
            token: None,
        }
    }

    /// The same, authenticated as `root` (W7a's writer and cleanup), the token fetched on a
    /// connection that closes after it.
    pub async fn authenticated(mut self) -> Result<Self, String> {
        let answer = Gateway::new(&self.base, false)
            .call(
                "/v3/auth/authenticate",
                serde_json::json!({"name": "root", "password": W7_PASSWORD}).to_string(),
            )
            .await?;
        let token = answer["token"]
            .as_str()
            .ok_or_else(|| format!("no token in {answer}"))?;
        self.token = Some(token.to_string());
        Ok(self)
    }

    /// One request; the answer's JSON, or why not (status and body).
    pub async fn call(&self, path: &str, body: String) -> Result<serde_json::Value, String> {
        let mut request = self.http.post(format!("{}{path}", self.base)).body(body);
        if let Some(token) = &self.token {
            request = request.header("authorization", token.as_str());
        }
        let resp = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| format!("{path}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "{path}: {status} {}",
                String::from_utf8_lossy(&body)
            ));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{path}: {e}"))
    }

    /// The writer: `W7_PER_KEY` puts to each of the `W7_KEYS` keys (put `n` to key `n % keys`),
    /// `W7_IN_FLIGHT` at a time, each value the time it was sent; with a `rate`, put `n` starts
    /// no sooner than `n / rate` seconds after the first (W7p: latency without a queue).
    /// Returns each key's revisions, in increasing order.
    pub async fn write(&self, prefix: &str, rate: Option<u32>) -> Vec<Vec<i64>> {
        let total = W7_KEYS * W7_PER_KEY;
        let keys: Arc<Vec<String>> = Arc::new(
            (0..W7_KEYS)
                .map(|i| b64(w7_key(prefix, i).as_bytes()))
                .collect(),
        );
        let next = Arc::new(AtomicUsize::new(0));
        let start = tokio::time::Instant::now();
        let mut workers = Vec::new();
        for _ in 0..W7_IN_FLIGHT {
            let (this, keys, next) = (self.clone(), keys.clone(), next.clone());
            workers.push(tokio::spawn(async move {
                let mut written = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return written;
                    }
                    if let Some(rate) = rate {
                        let due = Duration::from_secs_f64(n as f64 / f64::from(rate.max(1)));
                        tokio::time::sleep_until(start + due).await;
                    }
                    let i = n % W7_KEYS;
                    let body = format!(
                        r#"{{"key":"{}","value":"{}"}}"#,
                        keys[i],
                        b64(now_nanos().to_string().as_bytes())
                    );
                    let answer = this
                        .call("/v3/kv/put", body)
                        .await
                        .unwrap_or_else(|e| panic!("W7 writer: {e}"));
                    let revision = answer["header"]["revision"]
                        .as_str()
                        .and_then(|r| r.parse::<i64>().ok())
                        .unwrap_or_else(|| panic!("W7 writer: no revision in {answer}"));
                    written.push((n, i, revision));
                }
            }));
        }
        let mut all = Vec::with_capacity(total);
        for w in workers {
            all.extend(w.await.expect("a W7 writer task"));
        }
        all.sort_unstable();
        let mut per_key: Vec<Vec<i64>> = (0..W7_KEYS)
            .map(|_| Vec::with_capacity(W7_PER_KEY))
            .collect();
        for (_, i, revision) in all {
            per_key[i].push(revision);
        }
        // Commit order: a put can overtake an earlier one to the same key that is still in
        // flight, and a watch delivers in revision order.
        for revisions in &mut per_key {
            revisions.sort_unstable();
        }
        per_key
    }

    /// Deletes every key under `prefix`.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), String> {
        let body = format!(
            r#"{{"key":"{}","range_end":"{}"}}"#,
            b64(prefix.as_bytes()),
            b64(&prefix_end(prefix.as_bytes()))
        );
        self.call("/v3/kv/deleterange", body).await.map(|_| ())
    }

    /// W7a's setup: role and user `root` (password `W7_PASSWORD`), then auth on.
    pub async fn enable_auth(&self) {
        // The role may be there from an earlier run that could not clean up.
        if let Err(e) = self
            .call("/v3/auth/role/add", r#"{"name":"root"}"#.into())
            .await
        {
            eprintln!("W7a: role root: {e}");
        }
        let steps = [
            (
                "/v3/auth/user/add",
                serde_json::json!({"name": "root", "password": W7_PASSWORD}),
            ),
            (
                "/v3/auth/user/grant",
                serde_json::json!({"user": "root", "role": "root"}),
            ),
            ("/v3/auth/enable", serde_json::json!({})),
        ];
        for (path, body) in steps {
            self.call(path, body.to_string())
                .await
                .unwrap_or_else(|e| panic!("W7a: auth setup: {e}"));
        }
    }

    /// W7's cleanup, also after a failure: the keys deleted and, after W7a (`auth`), auth
    /// off and user and role `root` gone. Says what failed rather than failing.
    pub async fn clean_up(&self, prefix: &str, auth: bool) {
        let writer = if auth {
            match tokio::time::timeout(Duration::from_secs(10), self.clone().authenticated()).await
            {
                Ok(Ok(root)) => root,
                Ok(Err(e)) => {
                    eprintln!("W7a cleanup: authenticate as root: {e}: auth stays on");
                    return;
                }
                Err(_) => {
                    eprintln!("W7a cleanup: no token within 10 s: auth stays on");
                    return;
                }
            }
        } else {
            self.clone()
        };
        if let Err(e) = writer.delete_prefix(prefix).await {
            eprintln!("W7 cleanup: deleting {prefix}: {e}");
        }
        if auth {
            if let Err(e) = writer.call("/v3/auth/disable", "{}".into()).await {
                eprintln!("W7a cleanup: {e}");
            }
            // Without a token: auth is off, and etcd 3.4 refuses one it gave out before.
            let steps = [
                ("/v3/auth/user/delete", r#"{"name":"root"}"#),
                ("/v3/auth/role/delete", r#"{"role":"root"}"#),
            ];
            for (path, body) in steps {
                if let Err(e) = self.call(path, body.into()).await {
                    eprintln!("W7a cleanup: {e}");
                }
            }
        }
    }
}

/// The port of `http://host:port` or `https://host:port`.
pub fn port_of(endpoint: &str) -> u16 {
    endpoint
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {endpoint}"))
}

/// The established TCP connections this process holds to `port` (any host), by socket
/// inode, from its own socket table (`/proc/self/net/tcp{,6}` and `/proc/self/fd`; Linux).
pub fn connections_to(port: u16) -> std::collections::HashSet<u64> {
    let mine: std::collections::HashSet<u64> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd (Linux), to count sockets")
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inode| inode.parse().ok())
        })
        .collect();
    let mut found = std::collections::HashSet::new();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(state), Some(inode)) =
                (fields.get(2), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let remote_port = remote
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            let Ok(inode) = inode.parse::<u64>() else {
                continue;
            };
            // 01: ESTABLISHED.
            if *state == "01" && remote_port == Some(port) && mine.contains(&inode) {
                found.insert(inode);
            }
        }
    }
    found
}

/// A field (in kB) of `/proc/<pid>/status`, e.g. `VmRSS:`.
pub fn status_kb_of(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One W7 measurement, from before the watch client exists to the last event.
pub struct W7Measure {
    watch_port: u16,
    pid: Option<u32>,
    sockets_before: std::collections::HashSet<u64>,
    rss_before: u64,
    heap_before: usize,
    etcd_rss_before: u64,
    etcd_cpu_before: Option<Duration>,
    started: Instant,
    established: Option<W7Established>,
}

struct W7Established {
    at: Instant,
    connections: usize,
    connections_total: usize,
    rss_kb: u64,
    heap_kb: usize,
    etcd_rss_kb: u64,
    cpu: Duration,
    etcd_cpu: Option<Duration>,
}

/// Before the watch client is made: `watch_endpoint` is what it connects to (its port is the
/// one whose connections count).
pub fn w7_start(watch_endpoint: &str, pid: Option<u32>) -> W7Measure {
    reset_peak();
    crate::HEAP.reset_peak_usage();
    let port = port_of(watch_endpoint);
    let etcd = pid.map(|p| p.to_string());
    W7Measure {
        watch_port: port,
        pid,
        sockets_before: connections_to(port),
        rss_before: status_kb("VmRSS:"),
        heap_before: crate::HEAP.current_usage(),
        etcd_rss_before: etcd.as_deref().map_or(0, |p| status_kb_of(p, "VmRSS:")),
        etcd_cpu_before: etcd.as_deref().and_then(process_cpu),
        started: Instant::now(),
        established: None,
    }
}

impl W7Measure {
    /// Starts the clock of the watches' establishment again (after a warm-up whose sockets
    /// and memory still count).
    pub fn restart_clock(&mut self) {
        self.started = Instant::now();
    }

    /// Every watch confirmed created: the sockets the client opened since `w7_start`, its
    /// memory, etcd's.
    pub fn established(&mut self) {
        let at = Instant::now();
        let now = connections_to(self.watch_port);
        self.established = Some(W7Established {
            at,
            connections: now.difference(&self.sockets_before).count(),
            connections_total: now.len(),
            rss_kb: status_kb("VmRSS:"),
            heap_kb: crate::HEAP.current_usage() / 1024,
            etcd_rss_kb: self
                .pid
                .map_or(0, |p| status_kb_of(&p.to_string(), "VmRSS:")),
            cpu: cpu_time(),
            etcd_cpu: self.pid.and_then(|p| process_cpu(&p.to_string())),
        });
        let e = self.established.as_ref().expect("just set");
        eprintln!(
            "    {W7_KEYS} watches in {:.0} ms, {} connection(s)",
            (at - self.started).as_secs_f64() * 1e3,
            e.connections
        );
    }

    /// Every event in (or the timeout): checks them against what was written and prints the
    /// JSON line. `received[i]` is watch `i`'s.
    pub fn report(
        self,
        side: &str,
        round: usize,
        workload: &str,
        written: &[Vec<i64>],
        received: &[W7Received],
    ) {
        let end = Instant::now();
        let e = self.established.expect("W7: established() before report()");
        let total = W7_KEYS * W7_PER_KEY;
        let mut lat: Vec<Duration> = received
            .iter()
            .flat_map(|r| r.events.iter())
            .map(|&(_, ns)| Duration::from_nanos(ns.max(0) as u64))
            .collect();
        lat.sort();
        let events = lat.len();
        let wrong: usize = received.iter().map(|r| r.wrong).sum();
        // Exactly once and in order: each watch got precisely the revisions written to its
        // key, in increasing order, and nothing else.
        let exactly_once = wrong == 0
            && events == total
            && received.len() == written.len()
            && received.iter().zip(written).all(|(r, w)| {
                r.events.len() == W7_PER_KEY
                    && r.events.windows(2).all(|p| p[0].0 < p[1].0)
                    && r.events.iter().map(|&(rev, _)| rev).eq(w.iter().copied())
            });
        let secs = (end - e.at).as_secs_f64();
        let cpu = cpu_time().saturating_sub(e.cpu);
        let etcd = self.pid.map(|p| p.to_string());
        let etcd_cpu_now = etcd.as_deref().and_then(process_cpu);
        let server = match (etcd_cpu_now, e.etcd_cpu) {
            (Some(after), Some(before)) => Some(after.saturating_sub(before)),
            _ => None,
        };
        let etcd_cpu_run = match (etcd_cpu_now, self.etcd_cpu_before) {
            (Some(after), Some(before)) => Some(after.saturating_sub(before).as_secs_f64()),
            _ => None,
        };
        let rss_end = status_kb("VmRSS:");
        let etcd_rss_end = etcd.as_deref().map_or(0, |p| status_kb_of(p, "VmRSS:"));
        let ms = |p: f64| percentile(&lat, p) / 1e3;
        let line = serde_json::json!({
            "side": side,
            "round": round,
            "workload": workload,
            "ops": total,
            "secs": secs,
            "ops_per_sec": events as f64 / secs,
            "p50_us": percentile(&lat, 0.50),
            "p99_us": percentile(&lat, 0.99),
            "max_us": lat.last().map(|d| d.as_secs_f64() * 1e6).unwrap_or(0.0),
            "client_cpu_ms_per_10k": cpu.as_secs_f64() * 1e3 * 10_000.0 / total as f64,
            "peak_rss_kb": status_kb("VmHWM:"),
            "rss_growth_kb": status_kb("VmHWM:").saturating_sub(self.rss_before),
            "peak_heap_growth_kb": crate::HEAP.peak_usage().saturating_sub(self.heap_before) / 1024,
            "server_cpu_ms_per_10k": server.map(|s| s.as_secs_f64() * 1e3 * 10_000.0 / total as f64),
            "extra": {
                "watches": W7_KEYS,
                "events": events,
                "wrong_events": wrong,
                "exactly_once_in_order": exactly_once,
                "connections": e.connections,
                "connections_total": e.connections_total,
                "establish_ms": (e.at - self.started).as_secs_f64() * 1e3,
                "rss_before_kb": self.rss_before,
                "rss_established_growth_kb": e.rss_kb.saturating_sub(self.rss_before),
                "rss_end_growth_kb": rss_end.saturating_sub(self.rss_before),
                "heap_established_growth_kb": e.heap_kb.saturating_sub(self.heap_before / 1024),
                "etcd_rss_before_kb": self.etcd_rss_before,
                "etcd_rss_established_kb": e.etcd_rss_kb,
                "etcd_rss_end_kb": etcd_rss_end,
                "etcd_cpu_s": etcd_cpu_run,
                "p50_ms": ms(0.50),
                "p99_ms": ms(0.99),
            },
        });
        println!("{line}");
        eprintln!(
            "  {side:>7} {workload:<4} {:>7.0} events/s  p50 {:>6.1} ms  p99 {:>6.1} ms  {} conn  exactly once: {exactly_once}",
            events as f64 / secs,
            ms(0.5),
            ms(0.99),
            e.connections
        );
    }
}
