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
