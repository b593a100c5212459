//! Step 3 of the check: real-time order. Every placed operation has a position (its write's
//! revision, or just after the write of the revision it read); if `a` completed before `b` was
//! invoked, `b`'s position must not be below `a`'s. The logical clock orders invocations and
//! completions; one sweep in clock order keeps the highest position completed so far (for
//! everyone, and per client for serializable reads). O(N log N) for the sort.

use std::collections::HashMap;

use super::replay::op_keys;
use super::{Anomaly, AnomalyKind, Pos, Report};
use crate::model::{History, Outcome, Request};

/// Real-time anomalies listed in full; more are counted.
const LISTED: usize = 100;

/// The earliest completion of any acknowledged operation above a position: what an operation
/// placed there must have been invoked before (an operation invoked after something above it
/// had completed would be out of real-time order).
pub(crate) struct Bound {
    /// Positions ascending, each with the earliest completion at or above it.
    sorted: Vec<(Pos, u64)>,
}

impl Bound {
    pub(crate) fn new(h: &History, pos: &[Option<Pos>]) -> Bound {
        let mut sorted: Vec<(Pos, u64)> = h
            .ops
            .iter()
            .zip(pos)
            .filter(|(op, _)| matches!(op.outcome, Outcome::Ok { .. }))
            .filter_map(|(op, p)| p.map(|p| (p, op.complete)))
            .collect();
        sorted.sort_unstable();
        let mut least = u64::MAX;
        for entry in sorted.iter_mut().rev() {
            least = least.min(entry.1);
            entry.1 = least;
        }
        Bound { sorted }
    }

    /// The earliest completion of an operation placed above `p`; `u64::MAX` if none.
    pub(crate) fn first_completion_after(&self, p: Pos) -> u64 {
        let i = self.sorted.partition_point(|(q, _)| *q <= p);
        self.sorted.get(i).map_or(u64::MAX, |e| e.1)
    }
}

fn serializable(request: &Request) -> bool {
    matches!(
        request,
        Request::Range {
            serializable: true,
            ..
        }
    )
}

/// Checks real-time order; see the module's docs.
pub(crate) fn check(h: &History, pos: &[Option<Pos>], report: &mut Report) {
    let mut sweep: Vec<(u64, bool, usize)> = Vec::new();
    for (i, op) in h.ops.iter().enumerate() {
        if pos[i].is_none() {
            continue;
        }
        report.stats.ordered += 1;
        sweep.push((op.invoke, false, i));
        // A write of unknown outcome never completes: it may be applied long after.
        if matches!(op.outcome, Outcome::Ok { .. }) {
            sweep.push((op.complete, true, i));
        }
    }
    sweep.sort_unstable();
    let mut best: Option<(Pos, usize)> = None;
    let mut per_session: HashMap<u32, (Pos, usize)> = HashMap::new();
    let mut listed = 0;
    for (_, completed, i) in sweep {
        let op = &h.ops[i];
        let p = pos[i].expect("placed");
        if completed {
            if best.is_none_or(|(b, _)| p > b) {
                best = Some((p, i));
            }
            let mine = per_session.entry(op.session).or_insert((p, i));
            if p > mine.0 {
                *mine = (p, i);
            }
            continue;
        }
        let serial = serializable(&op.request);
        let bound = if serial {
            per_session.get(&op.session).copied()
        } else {
            best
        };
        let Some((bp, a)) = bound.filter(|(bp, _)| p < *bp) else {
            continue;
        };
        let kind = match (p.after, bp.after) {
            (true, _) if serial => AnomalyKind::SessionWentBack,
            (true, _) => AnomalyKind::StaleRead,
            (false, true) => AnomalyKind::FutureRead,
            (false, false) => AnomalyKind::WriteOrder,
        };
        if listed == LISTED {
            report.suppress(kind);
            continue;
        }
        listed += 1;
        let before = &h.ops[a];
        let what = format!(
            "operation {} ({}, invoked at clock {}) is at revision {}{}, but operation {} ({}) completed at clock {} before it was invoked, at revision {}{}",
            op.id,
            op.label,
            op.invoke,
            p.rev,
            if p.after { " (read)" } else { " (write)" },
            before.id,
            before.label,
            before.complete,
            bp.rev,
            if bp.after { " (read)" } else { " (write)" },
        );
        let mut keys = op_keys(op);
        keys.extend(op_keys(before));
        keys.sort();
        keys.dedup();
        report.anomalies.push(Anomaly {
            kind,
            what,
            ops: vec![before.id, op.id],
            watch: None,
            revs: (p.rev, bp.rev),
            keys,
        });
    }
}
