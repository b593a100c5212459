//! `check perf` and `check datascale`: etcdctl's load models, verdicts and refusals.

use etcdgw::GetOptions;
use etcdgw_test_support::Etcd;

use crate::{assert_same, error_line, gw, text};

#[tokio::test]
async fn check_perf_runs_the_small_load_and_reports_pass_or_fail() {
    let etcd = Etcd::start().await;
    // etcdctl's load model `s`: 60 s of 150 writes/s from 50 clients (it cannot be shortened;
    // this is the one long test).
    let out = gw(&etcd, &["check", "perf", "--load", "s"]);
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
