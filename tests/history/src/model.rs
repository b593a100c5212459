//! What a run records, in etcd's terms and no client's: each operation's request, its
//! invocation and completion, and its outcome; each watch's events; the history of applied
//! writes (read at the end from a watch from revision 1); the faults. A [`History`] is what the
//! checker reads, and what a failed run writes out as JSON lines ([`History::write_jsonl`]).

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// An etcd revision.
pub type Rev = i64;

/// A key as a read or an event gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kv {
    /// The key.
    pub key: String,
    /// Its value (empty in a delete event, or a keys-only read).
    pub value: String,
    /// The revision that created it.
    pub create: Rev,
    /// The revision of its last write.
    #[serde(rename = "mod")]
    pub modr: Rev,
    /// Writes since it was created (1 after the first put).
    pub version: i64,
    /// Its lease, 0 for none.
    pub lease: i64,
}

/// A key or the keys `[key, end)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyRange {
    /// The key, or the range's first key.
    pub key: String,
    /// The end of the range (excluded); `None` for the one key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

impl KeyRange {
    /// The one key.
    pub fn key(key: impl Into<String>) -> KeyRange {
        KeyRange {
            key: key.into(),
            end: None,
        }
    }

    /// Every key that starts with `prefix` (not empty, its last byte below 0xff).
    pub fn prefix(prefix: impl Into<String>) -> KeyRange {
        let key: String = prefix.into();
        let mut end = key.clone().into_bytes();
        let last = end.pop().expect("a prefix");
        end.push(last + 1);
        KeyRange {
            key,
            end: Some(String::from_utf8(end).expect("an ASCII prefix")),
        }
    }

    /// Whether `k` is in the range.
    pub fn contains(&self, k: &str) -> bool {
        match &self.end {
            None => k == self.key,
            Some(end) => k >= self.key.as_str() && k < end.as_str(),
        }
    }
}

/// What an operation asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// A put of a value no other write writes.
    Put {
        /// The key.
        key: String,
        /// The value (unique in the run).
        value: String,
        /// The lease to attach, 0 for none.
        lease: i64,
        /// Whether the answer carries the key before the put.
        prev_kv: bool,
    },
    /// A get of a key or a range.
    Range {
        /// What is read.
        range: KeyRange,
        /// Whether any member may answer from its own store.
        serializable: bool,
        /// Keys without values.
        keys_only: bool,
        /// Only the count.
        count_only: bool,
        /// At most this many keys (0: all).
        limit: i64,
    },
    /// A delete of a key or a range.
    Delete {
        /// What is deleted.
        range: KeyRange,
        /// Whether the answer carries the deleted keys.
        prev_kv: bool,
    },
    /// A transaction.
    Txn {
        /// What must hold for `success` to run.
        compares: Vec<Compare>,
        /// The operations when every compare holds.
        success: Vec<TxnOp>,
        /// The operations otherwise.
        failure: Vec<TxnOp>,
    },
    /// A lease grant.
    LeaseGrant {
        /// Its TTL in seconds.
        ttl: i64,
    },
    /// A lease revoke (its keys are deleted).
    LeaseRevoke {
        /// The lease.
        id: i64,
    },
}

impl Request {
    /// Whether it may change the store (and so is retried only when certainly not applied).
    pub fn is_write(&self) -> bool {
        !matches!(self, Request::Range { .. })
    }
}

/// One operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TxnOp {
    /// A put (of a unique value).
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Its lease, 0 for none.
        lease: i64,
    },
    /// A get.
    Range {
        /// What is read.
        range: KeyRange,
    },
    /// A delete.
    Delete {
        /// What is deleted.
        range: KeyRange,
    },
}

/// A transaction's compare: `target(key) op operand`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    /// The key compared.
    pub key: String,
    /// How.
    pub op: CmpOp,
    /// What is compared, and with what.
    pub target: CmpTarget,
}

/// A compare's operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `>`
    Greater,
    /// `<`
    Less,
}

/// What a compare looks at, with the operand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpTarget {
    /// The value.
    Value(String),
    /// The version (0 for a missing key).
    Version(i64),
    /// The create revision (0 for a missing key).
    Create(Rev),
    /// The mod revision (0 for a missing key).
    Mod(Rev),
    /// The lease (0 for none).
    Lease(i64),
}

/// What an operation got back, when it succeeded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Answer {
    /// A put's answer: its revision, and the key before it if asked.
    Put {
        /// The header's revision.
        rev: Rev,
        /// The key before the put.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prev: Option<Kv>,
    },
    /// A get's answer.
    Range {
        /// The header's revision.
        rev: Rev,
        /// The keys read.
        kvs: Vec<Kv>,
        /// How many keys are in the range.
        count: i64,
        /// Whether a limit cut the answer short.
        more: bool,
    },
    /// A delete's answer.
    Delete {
        /// The header's revision.
        rev: Rev,
        /// How many keys it deleted.
        deleted: i64,
        /// The deleted keys, if asked.
        prev: Vec<Kv>,
    },
    /// A transaction's answer.
    Txn {
        /// The header's revision.
        rev: Rev,
        /// Whether `success` ran.
        succeeded: bool,
        /// The answers of the branch that ran (their `rev` is the transaction's).
        responses: Vec<Answer>,
    },
    /// A lease grant's answer.
    LeaseGrant {
        /// The header's revision.
        rev: Rev,
        /// The lease.
        id: i64,
    },
    /// A lease revoke's answer.
    LeaseRevoke {
        /// The header's revision.
        rev: Rev,
    },
}

impl Answer {
    /// The header's revision.
    pub fn rev(&self) -> Rev {
        match self {
            Answer::Put { rev, .. }
            | Answer::Range { rev, .. }
            | Answer::Delete { rev, .. }
            | Answer::Txn { rev, .. }
            | Answer::LeaseGrant { rev, .. }
            | Answer::LeaseRevoke { rev } => *rev,
        }
    }
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// It succeeded, with this answer.
    Ok {
        /// The answer.
        answer: Answer,
    },
    /// It failed, and a write may or may not have been applied (a timeout, a connection lost
    /// after sending: etcdgw's `Error::is_outcome_unknown`).
    Unknown {
        /// The error.
        error: String,
    },
    /// It failed, and was certainly not applied.
    Failed {
        /// The error.
        error: String,
    },
}

impl Outcome {
    /// `ok`, `unknown` or `failed`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok { .. } => "ok",
            Outcome::Unknown { .. } => "unknown",
            Outcome::Failed { .. } => "failed",
        }
    }
}

/// One operation, from its invocation to its completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Its number in the history.
    pub id: u64,
    /// The client (one `Client` and its clones) that made it.
    pub session: u32,
    /// What the workload calls it (`put`, `get`, `get-burst`, `cas`, ...), for the summary.
    pub label: String,
    /// The logical clock when it was invoked: every invocation and completion of the run
    /// takes the next tick of one counter, so `a.complete < b.invoke` says that `a` completed
    /// before `b` was invoked (real time, without reading a clock).
    pub invoke: u64,
    /// The logical clock when it completed.
    pub complete: u64,
    /// Milliseconds since the run started, at invocation and completion (shown, never checked).
    pub at_ms: (u64, u64),
    /// What it asked.
    pub request: Request,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A watch event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// A put or a delete.
    pub kind: EventKind,
    /// The key after the event (for a delete: only the key and the deleting revision).
    pub kv: Kv,
    /// The key before the event, when the watch asked for it and the key existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Kv>,
}

impl Event {
    /// The event's revision.
    pub fn rev(&self) -> Rev {
        self.kv.modr
    }
}

/// Put or delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A put.
    Put,
    /// A delete.
    Delete,
}

/// One watch and everything it delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRecord {
    /// Its number in the history.
    pub id: u64,
    /// The client that opened it.
    pub session: u32,
    /// What it watches.
    pub range: KeyRange,
    /// The revision asked to start at; 0 for "from now" (then it starts after `created`).
    pub start: Rev,
    /// Whether it asked for each event's previous key.
    pub prev_kv: bool,
    /// Whether it asked for progress notifications.
    #[serde(default)]
    pub progress_notify: bool,
    /// The header revision of its `created` answer; `None` if it never started.
    pub created: Option<Rev>,
    /// The events, in the order delivered.
    pub events: Vec<Event>,
    /// Each answer without events (a progress notification): how many events had been
    /// delivered before it, and its revision, up to which the watch says it saw everything.
    #[serde(default)]
    pub progress: Vec<(u64, Rev)>,
    /// The revision it had to deliver everything up to (the fence written into its range at
    /// the end of the run), for a watch kept open all run long.
    pub must_reach: Option<Rev>,
    /// The error that ended it, if one did.
    pub ended: Option<String>,
}

impl WatchRecord {
    /// The first revision it may deliver: `start`, or the one after `created` for a watch
    /// from now; `None` if it never started.
    pub fn first_rev(&self) -> Option<Rev> {
        if self.start > 0 {
            Some(self.start)
        } else {
            self.created.map(|c| c + 1)
        }
    }
}

/// One fault the nemesis injected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// Its kind (`kill`, `stop`, `client-partition`, ...).
    pub kind: String,
    /// What it did, to whom.
    pub detail: String,
    /// The logical clock when it began and ended.
    pub clock: (u64, u64),
    /// Milliseconds since the run started, when it began and ended.
    pub at_ms: (u64, u64),
}

/// What the run was.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The seed.
    pub seed: u64,
    /// The client under test (`etcdgw`, `etcd-client`).
    pub client: String,
    /// `etcd --version`'s version.
    pub etcd: String,
    /// How long the workload ran, in seconds.
    pub duration_s: u64,
    /// How to run it again.
    pub reproduce: String,
}

/// A whole run: what the checker reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// What the run was.
    pub meta: Meta,
    /// Every operation.
    pub ops: Vec<Op>,
    /// Every watch.
    pub watches: Vec<WatchRecord>,
    /// Every event of every applied write, in revision order: what a watch from revision 1 of
    /// every key delivered at the end.
    pub applied: Vec<Event>,
    /// The last revision of the run (the final read's); `applied` goes up to it.
    pub end_rev: Rev,
    /// Each member's hash of the store at `end_rev` (`HashKV`), or why there is none.
    pub hashes: Vec<(String, Result<u32, String>)>,
    /// The faults injected.
    pub faults: Vec<FaultRecord>,
}

/// One line of a history written out.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Meta(Meta),
    Op(Op),
    Watch(WatchRecord),
    Applied(Event),
    End {
        end_rev: Rev,
        hashes: Vec<(String, Result<u32, String>)>,
    },
    Fault(FaultRecord),
}

/// A line as written: [`Line`], borrowed.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum LineOut<'a> {
    Meta(&'a Meta),
    Op(&'a Op),
    Watch(&'a WatchRecord),
    Applied(&'a Event),
    End {
        end_rev: Rev,
        hashes: &'a [(String, Result<u32, String>)],
    },
    Fault(&'a FaultRecord),
}

fn write_line(out: &mut impl Write, line: &LineOut<'_>) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")
}

impl History {
    /// Writes the history as JSON lines: the run's description (with its seed and how to run
    /// it again) first, then the faults, operations, watches and applied events.
    pub fn write_jsonl(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        write_line(&mut out, &LineOut::Meta(&self.meta))?;
        for f in &self.faults {
            write_line(&mut out, &LineOut::Fault(f))?;
        }
        for op in &self.ops {
            write_line(&mut out, &LineOut::Op(op))?;
        }
        for w in &self.watches {
            write_line(&mut out, &LineOut::Watch(w))?;
        }
        for e in &self.applied {
            write_line(&mut out, &LineOut::Applied(e))?;
        }
        write_line(
            &mut out,
            &LineOut::End {
                end_rev: self.end_rev,
                hashes: &self.hashes,
            },
        )?;
        out.flush()
    }

    /// Reads a history written by [`write_jsonl`](Self::write_jsonl).
    pub fn read_jsonl(path: &Path) -> std::io::Result<History> {
        let file = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut history = History::default();
        for (n, text) in file.lines().enumerate() {
            let text = text?;
            if text.trim().is_empty() {
                continue;
            }
            let line: Line = serde_json::from_str(&text).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("line {}: {e}", n + 1),
                )
            })?;
            match line {
                Line::Meta(m) => history.meta = m,
                Line::Op(op) => history.ops.push(op),
                Line::Watch(w) => history.watches.push(w),
                Line::Applied(e) => history.applied.push(e),
                Line::End { end_rev, hashes } => {
                    history.end_rev = end_rev;
                    history.hashes = hashes;
                }
                Line::Fault(f) => history.faults.push(f),
            }
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_range_holds_its_keys_only() {
        let r = KeyRange::prefix("h/a/");
        assert_eq!(r.end.as_deref(), Some("h/a0"));
        assert!(r.contains("h/a/0") && r.contains("h/a/") && !r.contains("h/b/0"));
        assert!(!r.contains("h/a"));
        assert!(KeyRange::key("k").contains("k") && !KeyRange::key("k").contains("k0"));
    }

    #[test]
    fn a_history_reads_back_as_written() {
        let history = History {
            meta: Meta {
                seed: 9,
                client: "etcdgw".into(),
                ..Meta::default()
            },
            ops: vec![Op {
                id: 0,
                session: 1,
                label: "put".into(),
                invoke: 1,
                complete: 2,
                at_ms: (0, 1),
                request: Request::Put {
                    key: "k".into(),
                    value: "v".into(),
                    lease: 0,
                    prev_kv: false,
                },
                outcome: Outcome::Ok {
                    answer: Answer::Put { rev: 2, prev: None },
                },
            }],
            end_rev: 2,
            hashes: vec![("n0".into(), Ok(5)), ("n1".into(), Err("no".into()))],
            ..History::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        history.write_jsonl(&path).unwrap();
        assert_eq!(History::read_jsonl(&path).unwrap(), history);
    }
}
