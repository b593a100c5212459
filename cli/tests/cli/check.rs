//! `check perf` and `check datascale`: etcdctl's load models, verdicts and refusals.

use std::time::Duration;

use etcdgw::GetOptions;
use etcdgw_test_support::{wait_until, Etcd};

use crate::{assert_same, error_line, etcdgw, gw, text};

/// What `check perf` printed, read by etcdctl's sentences: each figure with the verdict
/// printed beside it (`true` for PASS), whether the writes had errors, and the final verdict.
#[derive(Debug)]
struct PerfReport {
    errors: bool,
    /// `int(writes per second) + 1`, as etcdctl prints it.
    throughput: (bool, u64),
    /// The slowest write, in seconds (`%f`: six decimals).
    slowest: (bool, f64),
    /// The standard deviation of the writes' latencies, in seconds (`%f`).
    stddev: (bool, f64),
    pass: bool,
}

impl PerfReport {
    /// Reads the lines etcdctl 3.5's `check perf` prints, in its order; panics on any other.
    fn parse(printed: &str) -> PerfReport {
        let mut lines = printed.lines().peekable();
        let mut errors = false;
        if lines.peek() == Some(&"FAIL: too many errors") {
            errors = true;
            lines.next();
            while lines.peek().is_some_and(|l| l.starts_with("FAIL: ERROR(")) {
                lines.next();
            }
        }
        let mut next = || {
            lines
                .next()
                .unwrap_or_else(|| panic!("too few lines: {printed}"))
        };
        let seconds = |s: &str| -> f64 {
            let (whole, decimals) = s.split_once('.').unwrap_or_else(|| panic!("{s}"));
            assert!(
                decimals.len() == 6 && whole.bytes().all(|b| b.is_ascii_digit()),
                "%f prints six decimals: {s}"
            );
            s.parse().unwrap()
        };
        let line = next();
        let throughput = match (
            line.strip_prefix("PASS: Throughput is "),
            line.strip_prefix("FAIL: Throughput too low: "),
        ) {
            (Some(rate), _) => (true, rate),
            (_, Some(rate)) => (false, rate),
            _ => panic!("not a throughput line: {line}\n{printed}"),
        };
        let rate = throughput
            .1
            .strip_suffix(" writes/s")
            .unwrap_or_else(|| panic!("{line}"));
        let throughput = (throughput.0, rate.parse().unwrap());
        let line = next();
        let slowest = match (
            line.strip_prefix("PASS: Slowest request took "),
            line.strip_prefix("Slowest request took too long: "),
        ) {
            (Some(s), _) => (true, s),
            (_, Some(s)) => (false, s),
            _ => panic!("not a slowest-request line: {line}\n{printed}"),
        };
        let slowest = (slowest.0, seconds(slowest.1.strip_suffix('s').unwrap()));
        let line = next();
        let stddev = match (
            line.strip_prefix("PASS: Stddev is "),
            line.strip_prefix("Stddev too high: "),
        ) {
            (Some(s), _) => (true, s),
            (_, Some(s)) => (false, s),
            _ => panic!("not a stddev line: {line}\n{printed}"),
        };
        let stddev = (stddev.0, seconds(stddev.1.strip_suffix('s').unwrap()));
        let pass = match next() {
            "PASS" => true,
            "FAIL" => false,
            other => panic!("not a verdict: {other}\n{printed}"),
        };
        assert_eq!(lines.next(), None, "nothing after the verdict: {printed}");
        PerfReport {
            errors,
            throughput,
            slowest,
            stddev,
            pass,
        }
    }
}

/// etcdctl's rule for a figure printed with six decimals against its bound (`> bound` fails):
/// whether it passes, or `None` when the printed figure is the bound itself (the figure
/// before rounding may have been either side).
fn passes_at_most(printed: f64, bound: f64) -> Option<bool> {
    if (printed - bound).abs() < 1e-9 {
        None
    } else {
        Some(printed < bound)
    }
}

/// etcdctl's throughput rule for load `s` (150 writes/s): it passes when writes/s / 150 > 0.9.
/// It prints `int(writes/s) + 1`, so a printed 136 means 135 <= writes/s < 136: `None`,
/// either (135 exactly fails).
fn throughput_passes(printed: u64) -> Option<bool> {
    match printed {
        0..=135 => Some(false),
        136 => None,
        _ => Some(true),
    }
}

/// A member that stalls for a second while `check perf` writes: whatever the machine's speed,
/// a write waits out the stall, longer than etcdctl's bound on the slowest one (0.5 s), so the
/// check must fail, say why, and exit 1. Each of its lines must carry the verdict etcdctl's
/// rules give for the figure printed on it, the verdict must follow from them, the figures
/// must agree with what the member applied (at most the model's 150 writes/s), and nothing
/// written may be left.
#[tokio::test]
async fn check_perf_fails_on_a_member_that_stalls_and_follows_etcdctls_rules() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let prefix = "/etcdctl-check-perf/";
    let before = client.status().await.unwrap().header().unwrap().revision();
    // etcdctl's load model `s`: 60 s of 150 writes/s from 50 clients (it cannot be shortened;
    // this is the one long test).
    let endpoint = etcd.endpoint();
    let check = tokio::task::spawn_blocking(move || {
        etcdgw(&endpoint, &["check", "perf", "--load", "s"], None)
    });
    let writing = || async {
        let resp = client
            .get(
                prefix,
                Some(GetOptions::new().with_prefix().with_count_only()),
            )
            .await
            .unwrap();
        resp.count() > 0
    };
    wait_until("the check to be writing", Duration::from_secs(30), writing).await;
    etcd.member.signal("STOP");
    // Time is the point: a stall longer than etcdctl's 0.5 s bound on the slowest write.
    tokio::time::sleep(Duration::from_secs(1)).await;
    etcd.member.signal("CONT");
    let out = check.await.unwrap();
    let printed = text(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    let verdict = *lines.last().unwrap_or(&"");
    assert!(
        verdict == "PASS" || verdict == "FAIL",
        "{printed}\n{}",
        text(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(if verdict == "PASS" { 0 } else { 1 })
    );
    assert!(
        lines.iter().any(|l| l.starts_with("PASS: Throughput is ")
            || l.starts_with("FAIL: Throughput too low: ")),
        "{printed}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("PASS: Slowest request took ")
                || l.starts_with("Slowest request took too long: ")),
        "{printed}"
    );

    // The stall decides: the slowest write is over the bound, so the check fails, exit 1.
    let report = PerfReport::parse(&printed);
    assert!(
        report.slowest.1 > 0.5 && !report.slowest.0,
        "a 1 s stall makes a write slower than 0.5 s: {report:?}"
    );
    assert!(!report.pass, "{printed}");
    assert_eq!(out.status.code(), Some(1), "etcdctl's ExitError");

    // Each line's verdict is what etcdctl's rules give for its figure.
    if let Some(pass) = throughput_passes(report.throughput.1) {
        assert_eq!(report.throughput.0, pass, "{printed}");
    }
    if let Some(pass) = passes_at_most(report.slowest.1, 0.5) {
        assert_eq!(report.slowest.0, pass, "{printed}");
    }
    if let Some(pass) = passes_at_most(report.stddev.1, 0.1) {
        assert_eq!(report.stddev.0, pass, "{printed}");
    }
    // The verdict follows from the lines: PASS only with no error and three passes.
    assert_eq!(
        report.pass,
        !report.errors && report.throughput.0 && report.slowest.0 && report.stddev.0,
        "{printed}"
    );
    // Latencies lie between 0 and the slowest, so their deviation is at most half of it.
    assert!(
        report.stddev.1 <= report.slowest.1 / 2.0 + 1e-6,
        "{printed}"
    );

    // The figures agree with what the member applied: every put a revision, then one for the
    // delete of the prefix. The throughput counts successes over at least the 60 s, and the
    // load never goes above the model's 150 writes/s (9,000 in 60 s, and one at the start).
    let after = client.status().await.unwrap().header().unwrap().revision();
    let applied = u64::try_from(after - before - 1).unwrap();
    assert!(
        (report.throughput.1 - 1) * 60 <= applied,
        "{} writes/s printed, {applied} writes applied",
        report.throughput.1
    );
    assert!(applied <= 150 * 60 + 1, "{applied} writes in 60 s");

    // Not a terminal: no progress bar.
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    // What it wrote is gone.
    assert_same(
        &etcd,
        &["get", "/etcdctl-check-perf/", "--prefix", "--keys-only"],
    );
    let left = etcd
        .client()
        .await
        .get(
            "/etcdctl-check-perf/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .unwrap();
    assert_eq!(left.count(), 0);
}

#[tokio::test]
async fn check_refusals_and_datascale() {
    let etcd = Etcd::start().await;
    // A load etcdctl does not know: 4, its message.
    assert_same(&etcd, &["check", "perf", "--load", "huge"]);
    assert_same(&etcd, &["check", "datascale", "--load", "huge"]);
    // A prefix that holds keys is refused (3) before anything is written.
    etcd.etcdctl(&["put", "/etcdctl-check-perf/mine", "keep"]);
    let out = gw(&etcd, &["check", "perf"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(
        error_line(&out).as_deref(),
        Some("Error: prefix \"/etcdctl-check-perf/\" has keys. Delete with 'etcdgw del --prefix /etcdctl-check-perf/' first")
    );
    assert_eq!(
        etcd.etcdctl_raw(&["check", "perf"], None).status.code(),
        Some(3)
    );
    assert_same(&etcd, &["get", "/etcdctl-check-perf/", "--prefix"]);

    // datascale `s`: 10,000 writes of 1 KiB, then the member's memory growth.
    let out = gw(&etcd, &["check", "datascale", "--auto-compact"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines[0],
        "Start data scale check for work load [10000 key-value pairs, 1024 bytes per key-value, 50 concurrent clients].",
        "{printed}"
    );
    assert!(
        lines[1].starts_with("Compacting with revision "),
        "{printed}"
    );
    let used = lines
        .last()
        .and_then(|l| l.strip_prefix("PASS: Approximate system memory used : "))
        .and_then(|l| l.strip_suffix(" MB."))
        .unwrap_or_else(|| panic!("{printed}"));
    assert!(used.parse::<f64>().is_ok(), "{printed}");
    assert_same(
        &etcd,
        &[
            "get",
            "/etcdctl-check-datascale/",
            "--prefix",
            "--keys-only",
        ],
    );
}
