//! Checks a history written by a failed run again: `history-check FILE [MAX]` prints each
//! anomaly (at most MAX, 20 by default) with its window, and the counts; exits 1 if there is
//! one. For working on the checker, or on a bug, without running the cluster again.

use std::path::PathBuf;
use std::process::ExitCode;

use etcdgw_history::check::{check, render};
use etcdgw_history::model::History;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: history-check FILE [MAX]");
        return ExitCode::from(2);
    };
    let max = args.next().and_then(|m| m.parse().ok()).unwrap_or(20);
    let history = match History::read_jsonl(&path) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    println!(
        "{} on etcd {}, seed {}: {} operations, {} watches, {} applied events; to run it again: {}",
        history.meta.client,
        history.meta.etcd,
        history.meta.seed,
        history.ops.len(),
        history.watches.len(),
        history.applied.len(),
        history.meta.reproduce
    );
    let report = check(&history);
    print!("{}", render(&history, &report, max));
    println!("{:?}", report.stats);
    println!(
        "anomalies: {} {:?}",
        report.anomalies.len() as u64 + report.suppressed,
        report.by_kind()
    );
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
