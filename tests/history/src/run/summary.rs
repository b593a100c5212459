//! A run's numbers: operations by kind and outcome, faults injected, watches, what the check
//! placed and found, and the client's own metrics (resumes, read batches) when it has them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::check::Report;
use crate::model::History;

/// A run's numbers; `Display` prints them.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The client under test.
    pub client: String,
    /// The etcd release.
    pub etcd: String,
    /// The seed.
    pub seed: u64,
    /// How long the workload ran.
    pub workload: Duration,
    /// Operations by label: ok, unknown, failed.
    pub ops: BTreeMap<String, [u64; 3]>,
    /// Faults by kind.
    pub faults: BTreeMap<String, u64>,
    /// Connections the client proxies reset midway through an answer.
    pub resets: u64,
    /// Long watches: how many, events delivered, how many ended before the run did.
    pub long_watches: (u64, u64, u64),
    /// Short watches: how many, events delivered.
    pub short_watches: (u64, u64),
    /// The check's counts.
    pub checked: crate::check::Stats,
    /// Anomalies by kind.
    pub anomalies: BTreeMap<String, u64>,
    /// Anomalies in all.
    pub anomaly_total: u64,
    /// The client's own metrics (name, value), filled by the caller.
    pub client_metrics: BTreeMap<String, f64>,
    /// Where the history was written, if it was.
    pub history_file: Option<PathBuf>,
}

impl Summary {
    /// The numbers of a checked run.
    pub fn new(
        history: &History,
        report: &Report,
        workload: Duration,
        resets: u64,
        history_file: Option<PathBuf>,
    ) -> Summary {
        let (long, short): (Vec<_>, Vec<_>) =
            history.watches.iter().partition(|w| w.must_reach.is_some());
        Summary {
            client: history.meta.client.clone(),
            etcd: history.meta.etcd.clone(),
            seed: history.meta.seed,
            workload,
            ops: super::op_counts(&history.ops),
            faults: super::fault_counts(history),
            resets,
            long_watches: (
                long.len() as u64,
                long.iter().map(|w| w.events.len() as u64).sum(),
                long.iter().filter(|w| w.ended.is_some()).count() as u64,
            ),
            short_watches: (
                short.len() as u64,
                short.iter().map(|w| w.events.len() as u64).sum(),
            ),
            checked: report.stats.clone(),
            anomalies: report
                .by_kind()
                .into_iter()
                .map(|(k, n)| (format!("{k:?}"), n))
                .collect(),
            anomaly_total: report.anomalies.len() as u64 + report.suppressed,
            client_metrics: BTreeMap::new(),
            history_file,
        }
    }

    /// Operations in all: ok, unknown, failed.
    pub fn totals(&self) -> [u64; 3] {
        let mut t = [0; 3];
        for c in self.ops.values() {
            for i in 0..3 {
                t[i] += c[i];
            }
        }
        t
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [ok, unknown, failed] = self.totals();
        writeln!(
            f,
            "whole-history check: {} on etcd {}, seed {}, workload {} s",
            self.client,
            self.etcd,
            self.seed,
            self.workload.as_secs()
        )?;
        writeln!(
            f,
            "operations: {} ({ok} ok, {unknown} unknown outcome, {failed} failed)",
            ok + unknown + failed
        )?;
        writeln!(
            f,
            "  {:<18} {:>8} {:>8} {:>8}",
            "", "ok", "unknown", "failed"
        )?;
        for (label, [o, u, x]) in &self.ops {
            writeln!(f, "  {label:<18} {o:>8} {u:>8} {x:>8}")?;
        }
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        writeln!(
            f,
            "faults: {} ({}); {} answers reset midway",
            self.faults.values().sum::<u64>(),
            faults.join(", "),
            self.resets
        )?;
        writeln!(
            f,
            "watches: {} long ({} events, {} ended early), {} short ({} events)",
            self.long_watches.0,
            self.long_watches.1,
            self.long_watches.2,
            self.short_watches.0,
            self.short_watches.1
        )?;
        if !self.client_metrics.is_empty() {
            let metrics: Vec<String> = self
                .client_metrics
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(f, "client metrics: {}", metrics.join(", "))?;
        }
        let c = &self.checked;
        writeln!(
            f,
            "history: {} revisions, {} events; {} acknowledged writes placed, unknown-outcome writes {} applied / {} not, {} lease ends; {} answers and {} watch events checked, {} operations ordered",
            c.revisions, c.events, c.acked_writes, c.unknown_applied, c.unknown_not_applied,
            c.lease_ends, c.answers, c.watch_events, c.ordered
        )?;
        let anomalies: Vec<String> = self
            .anomalies
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        write!(f, "anomalies: {}", self.anomaly_total)?;
        if !anomalies.is_empty() {
            write!(f, " ({})", anomalies.join(", "))?;
        }
        if let Some(path) = &self.history_file {
            write!(f, "\nhistory written to {}", path.display())?;
        }
        Ok(())
    }
}
