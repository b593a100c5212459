//! The whole-history check under faults (issue 27; `tests/history/`, `RELIABILITY.md`): four
//! etcdgw clients run a concurrent workload against a three-member cluster behind fault
//! proxies while the nemesis kills, stops, partitions, delays, resets and moves the leader;
//! then the whole history is checked against etcd's model: every answer linearizable,
//! nothing acknowledged lost, nothing applied twice, every watch exactly the history.
//!
//! `scripts/test.sh` runs it once, for 60 s on etcd 3.6 (every kind of fault at least once,
//! asserted); `scripts/soak.sh DURATION SEED [VERSION]` runs it longer, with the same code.
//! `ETCDGW_HISTORY_DURATION` (`90s`, `20m`) and `ETCDGW_HISTORY_SEED` set them here; a failed
//! run prints the smallest window of the history that shows each anomaly, and writes the
//! whole history as JSON lines (with the seed) under `target/history/`. A binary of its own:
//! the metrics recorder it reads resumes and read batches from is process-wide.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use etcdgw_history::check::render;
use etcdgw_history::nemesis::FaultKind;
use etcdgw_history::run::{run, Config};
use etcdgw_history::target::etcdgw::Etcdgw;
use metrics_exporter_prometheus::PrometheusBuilder;

/// `90`, `90s`, `20m`, `1h`.
fn parse_duration(text: &str) -> Duration {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .unwrap_or_else(|_| panic!("ETCDGW_HISTORY_DURATION: not a duration: {text:?}"));
    match unit {
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => panic!("ETCDGW_HISTORY_DURATION: unknown unit in {text:?} (s, m or h)"),
    }
}

/// The sum of a counter's samples in Prometheus' text, by the value of one label.
fn counter(text: &str, name: &str, label: Option<&str>) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (metric, labels) = series.split_once('{').unwrap_or((series, ""));
        if metric != name {
            continue;
        }
        let key = label
            .and_then(|l| {
                let start = labels.find(&format!("{l}=\""))? + l.len() + 2;
                let end = labels[start..].find('"')? + start;
                Some(labels[start..end].to_string())
            })
            .unwrap_or_default();
        *sums.entry(key).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    sums
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_history_under_faults() {
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .expect("the metrics recorder");
    let duration = std::env::var("ETCDGW_HISTORY_DURATION")
        .map(|d| parse_duration(&d))
        .unwrap_or(Duration::from_secs(60));
    let seed = std::env::var("ETCDGW_HISTORY_SEED")
        .ok()
        .map(|s| s.parse::<u64>().expect("ETCDGW_HISTORY_SEED: a number"))
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            nanos.as_nanos() as u64 % 1_000_000_000
        });
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = Config {
        duration,
        seed,
        workers: 3,
        pace_ms: 20,
        every_kind_first: true,
        history_dir: root.join("target/history"),
        keep_history: std::env::var_os("ETCDGW_HISTORY_KEEP").is_some(),
        reproduce: format!(
            "ETCDGW_HISTORY_SEED={seed} ETCDGW_HISTORY_DURATION={}s ETCDGW_MATRIX=<version> scripts/test.sh whole_history",
            duration.as_secs()
        ),
    };
    eprintln!("whole-history check: seed {seed}, {duration:?}");
    let mut result = run(&Etcdgw, &config).await;

    let scrape = metrics.render();
    let summary = &mut result.summary;
    for (name, label, shown) in [
        ("etcdgw_read_batches_total", Some("outcome"), "read batches"),
        (
            "etcdgw_coalesced_gets_total",
            Some("outcome"),
            "coalesced gets",
        ),
        ("etcdgw_watch_resumes_total", None, "watch resumes"),
        ("etcdgw_retries_total", None, "retries"),
        ("etcdgw_failovers_total", None, "failovers"),
    ] {
        for (value, n) in counter(&scrape, name, label) {
            let key = if value.is_empty() {
                shown.to_string()
            } else {
                format!("{shown} ({value})")
            };
            summary.client_metrics.insert(key, n);
        }
    }
    eprintln!("{}", result.summary);
    assert!(
        result.report.ok(),
        "{}\n{}",
        render(&result.history, &result.report, 20),
        result.summary
    );
    // The run did what it is for: every fault, a real workload, batched gets, watches.
    for kind in FaultKind::ALL {
        assert!(
            result.summary.faults.get(kind.name()).copied().unwrap_or(0) >= 1,
            "no {} fault: {:?}",
            kind.name(),
            result.summary.faults
        );
    }
    let [ok, unknown, _] = result.summary.totals();
    assert!(ok > 1000, "only {ok} operations succeeded");
    assert!(
        result.summary.checked.acked_writes > 300 && result.summary.checked.answers > 300,
        "{:?}",
        result.summary.checked
    );
    let batches = result
        .summary
        .client_metrics
        .get("read batches (ok)")
        .copied()
        .unwrap_or(0.0);
    assert!(
        batches > 0.0,
        "no read batch: {:?}",
        result.summary.client_metrics
    );
    assert!(
        result.summary.long_watches.1 > 100,
        "{:?}",
        result.summary.long_watches
    );
    eprintln!("{unknown} operations ended with an unknown outcome");
}

#[test]
fn durations_read_as_the_soak_script_writes_them() {
    assert_eq!(parse_duration("90"), Duration::from_secs(90));
    assert_eq!(parse_duration("20m"), Duration::from_secs(1200));
    assert_eq!(parse_duration("1h"), Duration::from_secs(3600));
}
