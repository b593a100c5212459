//! etcd's model, as much of it as the workload uses: the store at one revision, what a read
//! answers from it, whether a compare holds, and the events a write makes.

use std::collections::BTreeMap;

use crate::model::{
    Answer, CmpOp, CmpTarget, Compare, Event, EventKind, KeyRange, Kv, Request, Rev, TxnOp,
};

/// The keys at one revision.
#[derive(Clone, Debug, Default)]
pub(crate) struct Store {
    kvs: BTreeMap<String, Kv>,
}

/// One step of a write: what it does to the store.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Put {
        key: String,
        value: String,
        lease: i64,
    },
    Delete(KeyRange),
}

impl Store {
    pub(crate) fn get(&self, key: &str) -> Option<&Kv> {
        self.kvs.get(key)
    }

    /// The keys in the range, in key order.
    pub(crate) fn range<'a>(&'a self, r: &'a KeyRange) -> impl Iterator<Item = &'a Kv> + 'a {
        let from = std::ops::Bound::Included(r.key.clone());
        let to = match &r.end {
            None => std::ops::Bound::Included(r.key.clone()),
            Some(end) => std::ops::Bound::Excluded(end.clone()),
        };
        self.kvs.range((from, to)).map(|(_, kv)| kv)
    }

    /// The keys attached to `lease`, in key order.
    pub(crate) fn lease_keys(&self, lease: i64) -> Vec<String> {
        self.kvs
            .values()
            .filter(|kv| kv.lease == lease)
            .map(|kv| kv.key.clone())
            .collect()
    }

    /// Whether a compare holds, as etcd decides it: a missing key has version, revisions and
    /// lease 0, and no value (a value compare on it never holds, whatever the operator).
    pub(crate) fn holds(&self, c: &Compare) -> bool {
        let kv = self.get(&c.key);
        let ord = match (&c.target, kv) {
            (CmpTarget::Value(_), None) => return false,
            (CmpTarget::Value(v), Some(kv)) => kv.value.as_str().cmp(v.as_str()),
            (CmpTarget::Version(n), kv) => kv.map_or(0, |k| k.version).cmp(n),
            (CmpTarget::Create(n), kv) => kv.map_or(0, |k| k.create).cmp(n),
            (CmpTarget::Mod(n), kv) => kv.map_or(0, |k| k.modr).cmp(n),
            (CmpTarget::Lease(n), kv) => kv.map_or(0, |k| k.lease).cmp(n),
        };
        match c.op {
            CmpOp::Equal => ord.is_eq(),
            CmpOp::NotEqual => ord.is_ne(),
            CmpOp::Greater => ord.is_gt(),
            CmpOp::Less => ord.is_lt(),
        }
    }

    /// The events `steps` make at revision `rev`, applied to this store one after another.
    pub(crate) fn effect(&self, steps: &[Step], rev: Rev) -> Vec<Event> {
        let mut scratch: BTreeMap<String, Option<Kv>> = BTreeMap::new();
        let mut events = Vec::new();
        let current = |scratch: &BTreeMap<String, Option<Kv>>, key: &str| match scratch.get(key) {
            Some(kv) => kv.clone(),
            None => self.get(key).cloned(),
        };
        for step in steps {
            match step {
                Step::Put { key, value, lease } => {
                    let before = current(&scratch, key);
                    let kv = Kv {
                        key: key.clone(),
                        value: value.clone(),
                        create: before.as_ref().map_or(rev, |b| b.create),
                        modr: rev,
                        version: before.as_ref().map_or(1, |b| b.version + 1),
                        lease: *lease,
                    };
                    scratch.insert(key.clone(), Some(kv.clone()));
                    events.push(Event {
                        kind: EventKind::Put,
                        kv,
                        prev: before,
                    });
                }
                Step::Delete(range) => {
                    let mut keys: Vec<String> =
                        self.range(range).map(|kv| kv.key.clone()).collect();
                    keys.extend(
                        scratch
                            .keys()
                            .filter(|k| range.contains(k))
                            .cloned()
                            .collect::<Vec<_>>(),
                    );
                    keys.sort();
                    keys.dedup();
                    for key in keys {
                        if let Some(before) = current(&scratch, &key) {
                            scratch.insert(key.clone(), None);
                            events.push(Event {
                                kind: EventKind::Delete,
                                kv: deleted(&key, rev),
                                prev: Some(before),
                            });
                        }
                    }
                }
            }
        }
        events
    }

    /// Applies an event (the history's own, with etcd's fields).
    pub(crate) fn apply(&mut self, e: &Event) {
        match e.kind {
            EventKind::Put => {
                self.kvs.insert(e.kv.key.clone(), e.kv.clone());
            }
            EventKind::Delete => {
                self.kvs.remove(&e.kv.key);
            }
        }
    }

    /// What a get of `range` answers from this store at revision `rev`.
    pub(crate) fn read(
        &self,
        range: &KeyRange,
        keys_only: bool,
        count_only: bool,
        limit: i64,
        rev: Rev,
    ) -> Answer {
        let all: Vec<&Kv> = self.range(range).collect();
        let count = all.len() as i64;
        let take = if limit > 0 { limit as usize } else { all.len() };
        let kvs = if count_only {
            Vec::new()
        } else {
            all.iter()
                .take(take)
                .map(|kv| {
                    let mut kv = (*kv).clone();
                    if keys_only {
                        kv.value.clear();
                    }
                    kv
                })
                .collect()
        };
        Answer::Range {
            rev,
            kvs,
            count,
            // etcd sets `more` when it fetched more keys than the limit: a count-only read
            // fetches none.
            more: !count_only && limit > 0 && count > limit,
        }
    }
}

/// A delete event's `kv`: the key and the deleting revision only.
pub(crate) fn deleted(key: &str, rev: Rev) -> Kv {
    Kv {
        key: key.to_string(),
        modr: rev,
        ..Kv::default()
    }
}

/// The write steps of a request, when it runs (a transaction: its success branch; a
/// revoke's are the lease's keys, which only the store knows: `None`).
pub(crate) fn steps(request: &Request) -> Option<Vec<Step>> {
    match request {
        Request::Put {
            key, value, lease, ..
        } => Some(vec![Step::Put {
            key: key.clone(),
            value: value.clone(),
            lease: *lease,
        }]),
        Request::Delete { range, .. } => Some(vec![Step::Delete(range.clone())]),
        Request::Txn { success, .. } => Some(txn_steps(success)),
        Request::Range { .. } | Request::LeaseGrant { .. } | Request::LeaseRevoke { .. } => None,
    }
}

/// The write steps of a transaction's branch.
pub(crate) fn txn_steps(branch: &[TxnOp]) -> Vec<Step> {
    branch
        .iter()
        .filter_map(|op| match op {
            TxnOp::Put { key, value, lease } => Some(Step::Put {
                key: key.clone(),
                value: value.clone(),
                lease: *lease,
            }),
            TxnOp::Delete { range } => Some(Step::Delete(range.clone())),
            TxnOp::Range { .. } => None,
        })
        .collect()
}

/// The values a request writes (each unique in the run), with the key each goes to.
pub(crate) fn written_values(request: &Request) -> Vec<(&str, &str)> {
    match request {
        Request::Put { key, value, .. } => vec![(key.as_str(), value.as_str())],
        Request::Txn { success, .. } => success
            .iter()
            .filter_map(|op| match op {
                TxnOp::Put { key, value, .. } => Some((key.as_str(), value.as_str())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Events in a canonical order (key, then kind), for comparing a revision's events as a set.
pub(crate) fn canonical(events: &[Event]) -> Vec<Event> {
    let mut sorted: Vec<Event> = events
        .iter()
        .map(|e| Event {
            prev: None,
            ..e.clone()
        })
        .collect();
    sorted.sort_by(|a, b| {
        (a.kv.key.as_str(), a.kind == EventKind::Delete)
            .cmp(&(b.kv.key.as_str(), b.kind == EventKind::Delete))
    });
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &str, rev: Rev) -> Event {
        Event {
            kind: EventKind::Put,
            kv: Kv {
                key: key.into(),
                value: value.into(),
                create: rev,
                modr: rev,
                version: 1,
                lease: 0,
            },
            prev: None,
        }
    }

    #[test]
    fn compares_follow_etcd_on_missing_keys() {
        let store = Store::default();
        let cmp = |target, op| Compare {
            key: "k".into(),
            op,
            target,
        };
        assert!(store.holds(&cmp(CmpTarget::Version(0), CmpOp::Equal)));
        assert!(!store.holds(&cmp(CmpTarget::Value("x".into()), CmpOp::NotEqual)));
        assert!(store.holds(&cmp(CmpTarget::Mod(3), CmpOp::Less)));
    }

    #[test]
    fn a_put_keeps_create_and_counts_versions_and_a_delete_range_deletes_what_exists() {
        let mut store = Store::default();
        store.apply(&put("a/1", "x", 2));
        let events = store.effect(
            &[Step::Put {
                key: "a/1".into(),
                value: "y".into(),
                lease: 0,
            }],
            3,
        );
        assert_eq!(
            (events[0].kv.create, events[0].kv.version, events[0].kv.modr),
            (2, 2, 3)
        );
        store.apply(&events[0]);
        store.apply(&put("a/2", "z", 4));
        let gone = store.effect(&[Step::Delete(KeyRange::prefix("a/"))], 5);
        assert_eq!(gone.len(), 2);
        assert!(gone
            .iter()
            .all(|e| e.kind == EventKind::Delete && e.rev() == 5));
        let Answer::Range {
            kvs, count, more, ..
        } = store.read(&KeyRange::prefix("a/"), true, false, 1, 4)
        else {
            unreachable!()
        };
        assert_eq!(
            (kvs.len(), count, more, kvs[0].value.as_str()),
            (1, 2, true, "")
        );
    }
}
