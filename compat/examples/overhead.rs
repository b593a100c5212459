//! What etcdgw-compat costs over etcdgw: the same sequential puts (W1) and gets (W3) through
//! `etcdgw::Client` and through `etcdgw_compat::Client` on one member, in paired rounds (which
//! side goes first alternates), reporting the medians (operations per second, p50 µs, client
//! CPU ms per 10,000 operations) and the paired ratios compat/etcdgw.
//!
//! ```text
//! cargo run --release -p etcdgw-compat --example overhead -- http://127.0.0.1:2379 [rounds] [ops]
//! ```

use std::time::{Duration, Instant};

/// CPU time of this process: the sum over its threads of the nanoseconds each ran.
fn cpu_time() -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let text = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

/// One side's run of one workload: operations per second, p50 latency in µs, client CPU µs per
/// operation.
#[derive(Debug, Clone, Copy)]
struct Run {
    ops_per_s: f64,
    p50_us: f64,
    cpu_us: f64,
}

/// Runs `$op` (which may use `$i`, the operation's number) `$ops` times, one after the other.
macro_rules! measure {
    ($ops:expr, |$i:ident| $op:expr) => {{
        let ops: usize = $ops;
        let mut latencies = Vec::with_capacity(ops);
        let (started, cpu) = (Instant::now(), cpu_time());
        for $i in 0..ops {
            let one = Instant::now();
            $op.await.expect("the request");
            latencies.push(one.elapsed());
        }
        let (elapsed, cpu) = (started.elapsed(), cpu_time() - cpu);
        latencies.sort();
        Run {
            ops_per_s: ops as f64 / elapsed.as_secs_f64(),
            p50_us: latencies[ops / 2].as_secs_f64() * 1e6,
            cpu_us: cpu.as_secs_f64() * 1e6 / ops as f64,
        }
    }};
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let endpoint = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:2379".into());
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(16);
    let ops: usize = args.next().and_then(|o| o.parse().ok()).unwrap_or(1000);
    let gw = etcdgw::Client::connect([endpoint.as_str()], None)
        .await
        .expect("connect");
    let mut compat = etcdgw_compat::Client::connect([endpoint.as_str()], None)
        .await
        .expect("connect");
    let value = vec![b'v'; 100];
    gw.put("bench/compat/get", value.clone(), None)
        .await
        .expect("put");

    for workload in ["W1", "W3"] {
        let (mut gw_runs, mut compat_runs) = (Vec::new(), Vec::new());
        for round in 0..=rounds {
            let mut pair = [None, None];
            for side in [round % 2, 1 - round % 2] {
                let run = match (workload, side) {
                    ("W1", 0) => {
                        measure!(ops, |i| gw.put(
                            format!("bench/compat/{i}"),
                            value.clone(),
                            None
                        ))
                    }
                    ("W1", _) => measure!(ops, |i| compat.put(
                        format!("bench/compat/{i}"),
                        value.clone(),
                        None
                    )),
                    (_, 0) => measure!(ops, |_i| gw.get("bench/compat/get", None)),
                    _ => measure!(ops, |_i| compat.get("bench/compat/get", None)),
                };
                pair[side] = Some(run);
            }
            // Round 0 warms both sides up and is not counted.
            if let (true, [Some(g), Some(c)]) = (round > 0, pair) {
                gw_runs.push(g);
                compat_runs.push(c);
            }
        }
        let pick = |runs: &[Run], f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        let ratio = |f: fn(&Run) -> f64| {
            median(
                gw_runs
                    .iter()
                    .zip(&compat_runs)
                    .map(|(g, c)| f(c) / f(g))
                    .collect(),
            )
        };
        for (side, runs) in [("etcdgw", &gw_runs), ("etcdgw-compat", &compat_runs)] {
            println!(
                "| {workload} | {side} | {:.0} | {:.0} | {:.0} |",
                pick(runs, |r| r.ops_per_s),
                pick(runs, |r| r.p50_us),
                pick(runs, |r| r.cpu_us * 10.0),
            );
        }
        println!(
            "| {workload} | compat/etcdgw, paired median of {rounds} rounds | {:.3} | {:.3} | {:.3} |",
            ratio(|r| r.ops_per_s),
            ratio(|r| r.p50_us),
            ratio(|r| r.cpu_us),
        );
    }
}
