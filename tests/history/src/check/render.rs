//! A failed check, shown: each anomaly with the operations involved and the smallest window
//! of the history that shows it (the revisions between what was seen and what was expected,
//! on the keys involved).

use std::collections::HashMap;
use std::fmt::Write;

use super::store::written_values;
use super::Report;
use crate::model::{Answer, EventKind, History, Op, Outcome, Request};

/// Lines of history shown per anomaly, at most.
const WINDOW_LINES: usize = 40;

fn show_request(r: &Request) -> String {
    match r {
        Request::Put {
            key, value, lease, ..
        } => format!("put {key}={value:?}{}", lease_text(*lease)),
        Request::Range {
            range,
            serializable,
            limit,
            ..
        } => format!(
            "get {}{}{}",
            range_text(range),
            if *serializable { " serializable" } else { "" },
            if *limit > 0 {
                format!(" limit {limit}")
            } else {
                String::new()
            }
        ),
        Request::Delete { range, .. } => format!("delete {}", range_text(range)),
        Request::Txn {
            compares,
            success,
            failure,
        } => format!("txn if {compares:?} then {success:?} else {failure:?}"),
        Request::LeaseGrant { ttl } => format!("lease grant ttl {ttl}"),
        Request::LeaseRevoke { id } => format!("lease revoke {id}"),
    }
}

fn lease_text(lease: i64) -> String {
    if lease == 0 {
        String::new()
    } else {
        format!(" lease {lease}")
    }
}

fn range_text(r: &crate::model::KeyRange) -> String {
    match &r.end {
        None => r.key.clone(),
        Some(end) => format!("[{}, {})", r.key, end),
    }
}

fn show_outcome(o: &Outcome) -> String {
    match o {
        Outcome::Ok { answer } => match answer {
            Answer::Range {
                rev, kvs, count, ..
            } => {
                let kvs: Vec<String> = kvs
                    .iter()
                    .map(|kv| format!("{}={:?}@{}", kv.key, kv.value, kv.modr))
                    .collect();
                format!("ok at {rev}: [{}] count {count}", kvs.join(", "))
            }
            Answer::Txn { rev, succeeded, .. } => format!("ok at {rev}, succeeded {succeeded}"),
            Answer::Delete { rev, deleted, .. } => format!("ok at {rev}, deleted {deleted}"),
            other => format!("ok at {}", other.rev()),
        },
        Outcome::Unknown { error } => format!("UNKNOWN: {error}"),
        Outcome::Failed { error } => format!("FAILED: {error}"),
    }
}

/// One line for an operation.
pub fn show_op(op: &Op) -> String {
    format!(
        "op {} (client {}, {}) clock {}..{}, {}..{} ms: {} -> {}",
        op.id,
        op.session,
        op.label,
        op.invoke,
        op.complete,
        op.at_ms.0,
        op.at_ms.1,
        show_request(&op.request),
        show_outcome(&op.outcome)
    )
}

/// Shows the first `max` anomalies of a report, each with its window of the history.
pub fn render(h: &History, report: &Report, max: usize) -> String {
    let mut out = String::new();
    let ops: HashMap<u64, &Op> = h.ops.iter().map(|op| (op.id, op)).collect();
    let writer: HashMap<&str, u64> = h
        .ops
        .iter()
        .flat_map(|op| {
            written_values(&op.request)
                .into_iter()
                .map(move |(_, v)| (v, op.id))
        })
        .collect();
    let total = report.anomalies.len() as u64 + report.suppressed;
    for (n, a) in report.anomalies.iter().take(max).enumerate() {
        let _ = writeln!(
            out,
            "anomaly {} of {total}: {:?}: {}",
            n + 1,
            a.kind,
            a.what
        );
        for id in &a.ops {
            if let Some(op) = ops.get(id) {
                let _ = writeln!(out, "    {}", show_op(op));
            }
        }
        let (from, to) = (a.revs.0.min(a.revs.1), a.revs.0.max(a.revs.1));
        let _ = writeln!(
            out,
            "  history, revisions {from}..={to}{}:",
            if a.keys.is_empty() {
                String::new()
            } else {
                format!(", keys {:?}", a.keys)
            }
        );
        let lines: Vec<String> = h
            .applied
            .iter()
            .filter(|e| e.rev() >= from && e.rev() <= to)
            .filter(|e| a.keys.is_empty() || a.keys.contains(&e.kv.key))
            .map(|e| match e.kind {
                EventKind::Put => format!(
                    "    {:>7} put {}={:?} version {} lease {} (op {})",
                    e.rev(),
                    e.kv.key,
                    e.kv.value,
                    e.kv.version,
                    e.kv.lease,
                    writer
                        .get(e.kv.value.as_str())
                        .map_or("none".to_string(), |id| id.to_string())
                ),
                EventKind::Delete => format!("    {:>7} delete {}", e.rev(), e.kv.key),
            })
            .collect();
        push_capped(&mut out, &lines);
        if let Some(w) = a.watch.and_then(|id| h.watches.iter().find(|w| w.id == id)) {
            let _ = writeln!(
                out,
                "  watch {} (client {}) of {} from {:?}, delivered in the window:",
                w.id,
                w.session,
                range_text(&w.range),
                w.first_rev()
            );
            let lines: Vec<String> = w
                .events
                .iter()
                .filter(|e| e.rev() >= from && e.rev() <= to)
                .map(|e| {
                    format!(
                        "    {:>7} {:?} {}={:?}",
                        e.rev(),
                        e.kind,
                        e.kv.key,
                        e.kv.value
                    )
                })
                .collect();
            push_capped(&mut out, &lines);
        }
    }
    if total > max as u64 {
        let _ = writeln!(out, "... and {} more", total - max as u64);
    }
    out
}

fn push_capped(out: &mut String, lines: &[String]) {
    if lines.len() <= WINDOW_LINES {
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        return;
    }
    let half = WINDOW_LINES / 2;
    for l in &lines[..half] {
        out.push_str(l);
        out.push('\n');
    }
    let _ = writeln!(out, "    ... {} lines ...", lines.len() - 2 * half);
    for l in &lines[lines.len() - half..] {
        out.push_str(l);
        out.push('\n');
    }
}
