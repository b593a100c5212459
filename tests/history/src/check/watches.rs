//! Step 4 of the check: every watch delivered exactly the history's events of its range from
//! its first revision on: in order, each once, none skipped, each as the history has it (and
//! its previous key, when asked), through every resume; each progress notification came when
//! every event up to its revision had been delivered and none after it; and a watch kept
//! open all run delivered everything up to the fence written into its range at the end.

use std::collections::HashMap;

use super::{Anomaly, AnomalyKind, Report};
use crate::model::{Event, History, KeyRange, Rev, WatchRecord};

/// Anomalies listed per watch; more are counted.
const LISTED: usize = 3;

/// Whether a delivered event is the history's (its previous key compared when asked for).
fn same(expected: &Event, got: &Event, prev_kv: bool) -> bool {
    expected.kind == got.kind
        && expected.kv == got.kv
        && (if prev_kv {
            expected.prev == got.prev
        } else {
            got.prev.is_none()
        })
}

fn show(e: &Event) -> String {
    format!(
        "{:?} {}={:?} at {} (create {}, version {}, lease {}{})",
        e.kind,
        e.kv.key,
        e.kv.value,
        e.rev(),
        e.kv.create,
        e.kv.version,
        e.kv.lease,
        match &e.prev {
            Some(p) => format!(", prev {:?}@{}", p.value, p.modr),
            None => String::new(),
        }
    )
}

struct Watch<'a> {
    w: &'a WatchRecord,
    listed: usize,
    report: &'a mut Report,
}

impl Watch<'_> {
    /// Each progress notification against what was delivered before it: every event of the
    /// range from `first` up to its revision (`revs`: the range's event revisions), and none
    /// after.
    fn progress(&mut self, first: Rev, revs: &[Rev]) {
        let before_first = revs.partition_point(|&r| r < first);
        for &(n, rev) in &self.w.progress {
            let n = n as usize;
            let last = n
                .checked_sub(1)
                .and_then(|i| self.w.events.get(i))
                .map(Event::rev);
            if let Some(last) = last.filter(|&last| last > rev) {
                self.anomaly(
                    AnomalyKind::WatchProgress,
                    format!(
                        "after delivering the event at revision {last}, it said it had seen everything up to {rev} only"
                    ),
                    (rev, last),
                    &self.w.range.key.clone(),
                );
                continue;
            }
            let due = revs
                .partition_point(|&r| r <= rev)
                .saturating_sub(before_first);
            if due > n {
                self.anomaly(
                    AnomalyKind::WatchProgress,
                    format!(
                        "it said it had seen everything up to revision {rev} after delivering {n} events, but the history has {due} in its range from {first} to {rev}"
                    ),
                    (last.unwrap_or(first), rev),
                    &self.w.range.key.clone(),
                );
            }
        }
    }

    fn anomaly(&mut self, kind: AnomalyKind, what: String, revs: (Rev, Rev), key: &str) {
        if self.listed == LISTED {
            self.report.suppress(kind);
            return;
        }
        self.listed += 1;
        self.report.anomalies.push(Anomaly {
            kind,
            what: format!("watch {} of {:?}: {what}", self.w.id, self.w.range),
            ops: Vec::new(),
            watch: Some(self.w.id),
            revs,
            keys: vec![key.to_string()],
        });
    }
}

/// Checks every watch against the applied events (each with its previous key filled in).
pub(crate) fn check(h: &History, applied: &[Event], report: &mut Report) {
    // The revisions of each watched range's events, for counting what a progress
    // notification speaks for.
    let mut revs_of: HashMap<&KeyRange, Vec<Rev>> = HashMap::new();
    for w in &h.watches {
        let mut watch = Watch {
            w,
            listed: 0,
            report: &mut *report,
        };
        let Some(first) = w.first_rev() else {
            if let Some(e) = w.events.first() {
                watch.anomaly(
                    AnomalyKind::WatchWrongEvent,
                    format!("it never started, but delivered {}", show(e)),
                    (e.rev(), e.rev()),
                    &e.kv.key,
                );
            }
            if let Some(fence) = w.must_reach {
                watch.anomaly(
                    AnomalyKind::WatchIncomplete,
                    format!(
                        "it never started ({}), so never reached its fence at {fence}",
                        w.ended.as_deref().unwrap_or("no error")
                    ),
                    (fence, fence),
                    &w.range.key,
                );
            }
            continue;
        };
        let from = applied.partition_point(|e| e.rev() < first);
        let mut expected = applied[from..]
            .iter()
            .filter(|e| w.range.contains(&e.kv.key))
            .peekable();
        let mut last: (Rev, Vec<&str>) = (first - 1, Vec::new());
        for got in &w.events {
            watch.report.stats.watch_events += 1;
            let rev = got.rev();
            if rev < last.0 || (rev == last.0 && last.1.contains(&got.kv.key.as_str())) {
                watch.anomaly(
                    AnomalyKind::WatchRepeat,
                    format!(
                        "after revision {} it delivered {} again (or went back)",
                        last.0,
                        show(got)
                    ),
                    (rev, last.0),
                    &got.kv.key,
                );
                continue;
            }
            if rev > last.0 {
                last = (rev, Vec::new());
            }
            last.1.push(&got.kv.key);
            match expected.peek() {
                Some(e) if same(e, got, w.prev_kv) => {
                    expected.next();
                }
                Some(e) if e.rev() <= rev => {
                    // Not the next event: find the delivered one further on in its revision.
                    let missing = (*e).clone();
                    let mut skipped = 0;
                    let mut matched = None;
                    while let Some(next) = expected.next_if(|next| next.rev() <= rev) {
                        if next.rev() == rev && next.kv.key == got.kv.key {
                            matched = Some(next);
                            break;
                        }
                        skipped += 1;
                    }
                    match matched {
                        Some(e) if skipped == 0 => watch.anomaly(
                            AnomalyKind::WatchWrongEvent,
                            format!(
                                "it delivered {} where the history has {}",
                                show(got),
                                show(e)
                            ),
                            (rev, rev),
                            &got.kv.key,
                        ),
                        Some(_) => watch.anomaly(
                            AnomalyKind::WatchGap,
                            format!(
                                "it delivered {} without {} ({skipped} events skipped)",
                                show(got),
                                show(&missing)
                            ),
                            (missing.rev(), rev),
                            &missing.kv.key,
                        ),
                        None => watch.anomaly(
                            AnomalyKind::WatchWrongEvent,
                            format!(
                                "it delivered {}, which is not in the history (and skipped {})",
                                show(got),
                                show(&missing)
                            ),
                            (missing.rev(), rev),
                            &got.kv.key,
                        ),
                    }
                }
                _ => watch.anomaly(
                    AnomalyKind::WatchWrongEvent,
                    format!("it delivered {}, which is not in the history", show(got)),
                    (rev, rev),
                    &got.kv.key,
                ),
            }
        }
        if !w.progress.is_empty() {
            let revs = revs_of.entry(&w.range).or_insert_with(|| {
                applied
                    .iter()
                    .filter(|e| w.range.contains(&e.kv.key))
                    .map(Event::rev)
                    .collect()
            });
            watch.progress(first, revs);
        }
        if let Some(fence) = w.must_reach {
            if let Some(e) = expected.peek().filter(|e| e.rev() <= fence) {
                let missing = (*e).clone();
                watch.anomaly(
                    AnomalyKind::WatchIncomplete,
                    format!(
                        "it stopped at revision {} ({}), before {} and its fence at {fence}",
                        last.0,
                        w.ended.as_deref().unwrap_or("no error"),
                        show(&missing)
                    ),
                    (last.0, fence),
                    &missing.kv.key,
                );
            }
        }
    }
}
