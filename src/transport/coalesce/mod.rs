//! Read coalescing: point gets that wait behind the gets already in flight go to the server
//! together, as one request, and each caller gets its own answer.
//!
//! The gateway costs etcd 2–3× the CPU of a gRPC call per request (JSON to protobuf, then a
//! loopback gRPC call), and over plain HTTP/1.1 every request in flight needs its own
//! connection. Sending the server fewer, fuller requests is the only way past that ceiling
//! (BENCHMARKS.md).
//!
//! # How
//!
//! Group commit, not a timer. A get of one key without a revision goes out at once, as
//! before, while fewer than [`IN_FLIGHT`] gets (or batches) of its class are in flight; an idle
//! client sends every get alone and waits for nothing. Otherwise the get waits in its class's
//! queue. When a request of the class finishes, everything waiting (up to the server's limits:
//! [`DEFAULT_MAX_OPS`] operations, [`DEFAULT_MAX_BYTES`] of request) goes as one request: a txn
//! of range operations, or a plain range when all the waiting gets are the same get (identical
//! gets share one range). A queue holding a full batch sends it without waiting for a slot, so
//! the requests in flight grow with the load. A task of its own (on the caller's tokio
//! runtime; in a browser, on the page's event loop) sends the batch, within the latest
//! deadline of its gets, and hands each its own answer, with the txn's header. So no caller's
//! future has to be polled for the others to get their answers, and a caller that gives up
//! (its future dropped, a `timeout` around it) takes only its own get out, never the batch.
//!
//! The classes are serializable or not, and with or without the require-leader header: a
//! batch is one request, so its gets share those. Gets of a range, a prefix or at a revision
//! always go alone: a range's answer can be large, and a revision that is compacted or in the
//! future fails the whole txn.
//!
//! # Why each caller still gets a linearizable answer
//!
//! A get only joins a batch that is sent after the get was issued (it never joins a request
//! already in flight), and the batch is a new linearizable request: etcd serves a read-only
//! txn whose ranges are not serializable only after a read index confirmed with the leader,
//! the same as a range. So the batch's one revision is no older than the store was when any of
//! its gets was issued, and every write that completed before a get was issued is in its
//! answer; the answer arrives before that get returns. Each get is answered at a point
//! between its call and its return: the definition of linearizable. Gets that share a batch
//! see the same revision, as concurrent gets may. Serializable gets batch only with each
//! other, as a serializable txn: still one member's local view, as a serializable range is.
//! The answer's header goes through the same checks as a range's (the cluster, and no older
//! revision than one already seen from another member: `ordering.rs`).
//!
//! # Failures
//!
//! A batch is one read: it is retried and fails over as a range is (`retry::verdict` with
//! read idempotency), within the latest deadline of its gets. If it still fails, whatever the
//! reason (one key's permission denied fails the whole txn), each of its gets is sent again
//! alone, within its own deadline, so no caller gets an error its own get would not have got.
//! They go first in their class's queue, but as every other get does: one request per free
//! slot, never more than [`IN_FLIGHT`] at once. A refused batch of 128 gets would otherwise
//! send 128 requests at once, exactly when the server has just refused. A `TooManyOps` answer (a member started with a smaller `--max-txn-ops`) halves the batch's
//! operations from then on; a `ResourceExhausted` one (a smaller `--max-request-bytes`) halves
//! its size.
//!
//! This module is the state alone: what waits, what goes together, what the server's limits
//! are. It does no I/O; `range.rs` sends what it decides.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::error::{Code, Delivery, Error, ServerErrorKind};
use crate::rt;
use crate::wire::kv as w;

/// How many requests of one class may be in flight before gets wait to go together. Two keep
/// the server busy while the client reads the other answer, and each batch holds half of what
/// waits.
pub(crate) const IN_FLIGHT: usize = 2;
/// The most range operations in one batch: etcd's default `--max-txn-ops`.
pub(crate) const DEFAULT_MAX_OPS: usize = 128;
/// The most request bytes (JSON) in one batch: well under what etcd accepts with any
/// `--max-request-bytes` (gRPC's limit is that plus 512 KiB).
pub(crate) const DEFAULT_MAX_BYTES: usize = 256 * 1024;

/// The read coalescing state a client and its clones share.
pub(crate) struct Coalescer {
    enabled: bool,
    /// Requests of one class in flight before gets wait ([`IN_FLIGHT`]).
    in_flight: usize,
    queues: Mutex<Vec<Queue>>,
    next_id: AtomicU64,
    /// The most operations a batch may have (lowered by a `TooManyOps` answer).
    max_ops: AtomicUsize,
    /// The most request bytes a batch may have (lowered by a `ResourceExhausted` answer).
    max_bytes: AtomicUsize,
}

impl std::fmt::Debug for Coalescer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer")
            .field("enabled", &self.enabled)
            .field("max_ops", &self.max_ops.load(Ordering::Relaxed))
            .field("max_bytes", &self.max_bytes.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Gets that may share a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Class {
    pub(crate) serializable: bool,
    pub(crate) require_leader: bool,
}

/// One class's gets in flight and waiting.
struct Queue {
    class: Class,
    /// Requests of the class in flight (a get alone, a batch, a re-sent get).
    in_flight: usize,
    /// Gets waiting to go together, oldest first.
    waiting: VecDeque<Waiter>,
    waiting_bytes: usize,
    /// Gets of failed batches waiting to go again alone, first in line.
    again: VecDeque<Waiter>,
}

struct Waiter {
    id: u64,
    /// The encoded range request.
    op: Bytes,
    deadline: rt::Instant,
    reply: oneshot::Sender<Reply>,
}

/// What a waiting get is told.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Its answer.
    Done(w::RangeResponse),
    /// Its batch failed, and so did the get when sent again alone: its own error.
    Failed(Error),
}

/// A get taken from a queue to go in a batch.
pub(crate) struct Batched {
    pub(crate) id: u64,
    /// Which of the batch's operations answers it.
    pub(crate) op: usize,
    pub(crate) deadline: rt::Instant,
    pub(crate) reply: oneshot::Sender<Reply>,
}

/// Gets taken from a queue to go as one request.
pub(crate) struct Batch {
    /// The distinct range requests, encoded.
    pub(crate) ops: Vec<Bytes>,
    pub(crate) members: Vec<Batched>,
}

impl Batch {
    /// The latest deadline of the gets whose callers still wait (`None`: they all left).
    pub(crate) fn deadline(&self) -> Option<rt::Instant> {
        self.members
            .iter()
            .filter(|m| !m.reply.is_closed())
            .map(|m| m.deadline)
            .max()
    }
}

/// A get of a failed batch, taken from its queue to go again alone.
pub(crate) struct Again {
    /// The encoded range request.
    pub(crate) op: Bytes,
    pub(crate) deadline: rt::Instant,
    pub(crate) reply: oneshot::Sender<Reply>,
}

/// A request to send, its slot counted.
pub(crate) enum Job {
    Batch(Batch),
    Again(Again),
}

/// What `enter` decided for a get.
pub(crate) enum Entered {
    /// Send it now, alone.
    Go,
    /// Wait for the answer; `full` is a batch to send now (the queue filled one).
    Wait {
        id: u64,
        reply: oneshot::Receiver<Reply>,
        full: Option<Batch>,
    },
}

impl Coalescer {
    pub(crate) fn new(enabled: bool) -> Self {
        Coalescer {
            enabled,
            in_flight: IN_FLIGHT,
            queues: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
            max_ops: AtomicUsize::new(DEFAULT_MAX_OPS),
            max_bytes: AtomicUsize::new(DEFAULT_MAX_BYTES),
        }
    }

    /// Whether point gets may wait to go together (`ConnectOptions::with_read_coalescing`).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Queue>> {
        // Every update leaves the queues consistent: a panic elsewhere cannot break them.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn limits(&self) -> (usize, usize) {
        (
            self.max_ops.load(Ordering::Relaxed),
            self.max_bytes.load(Ordering::Relaxed),
        )
    }

    fn queue(queues: &mut Vec<Queue>, class: Class) -> &mut Queue {
        let i = match queues.iter().position(|q| q.class == class) {
            Some(i) => i,
            None => {
                queues.push(Queue {
                    class,
                    in_flight: 0,
                    waiting: VecDeque::new(),
                    waiting_bytes: 0,
                    again: VecDeque::new(),
                });
                queues.len() - 1
            }
        };
        &mut queues[i]
    }

    /// A get arrives: it goes now if its class has a free slot and nobody waits, else it
    /// waits (and if the queue now holds a full batch, that batch is taken to go at once).
    pub(crate) fn enter(&self, class: Class, op: &Bytes, deadline: rt::Instant) -> Entered {
        let (max_ops, max_bytes) = self.limits();
        let mut queues = self.lock();
        let queue = Self::queue(&mut queues, class);
        if queue.in_flight < self.in_flight && queue.waiting.is_empty() && queue.again.is_empty() {
            queue.in_flight += 1;
            return Entered::Go;
        }
        let (tx, rx) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        queue.waiting.push_back(Waiter {
            id,
            op: op.clone(),
            deadline,
            reply: tx,
        });
        queue.waiting_bytes = queue.waiting_bytes.saturating_add(op.len());
        let full = if queue.waiting.len() >= max_ops || queue.waiting_bytes >= max_bytes {
            let batch = queue.take_batch(max_ops, max_bytes);
            if batch.is_some() {
                queue.in_flight += 1;
            }
            batch
        } else {
            None
        };
        Entered::Wait {
            id,
            reply: rx,
            full,
        }
    }

    /// A request of `class` is over: what goes next, one job per free slot (each slot then
    /// counted for its job). Gets of failed batches go first, each alone; then a batch of what
    /// waits.
    pub(crate) fn release(&self, class: Class) -> Vec<Job> {
        let (max_ops, max_bytes) = self.limits();
        let mut queues = self.lock();
        let queue = Self::queue(&mut queues, class);
        queue.in_flight = queue.in_flight.saturating_sub(1);
        let mut jobs = Vec::new();
        while queue.in_flight < self.in_flight {
            let job = match queue.next_again() {
                Some(again) => Job::Again(again),
                None => match queue.take_batch(max_ops, max_bytes) {
                    Some(batch) => Job::Batch(batch),
                    None => break,
                },
            };
            queue.in_flight += 1;
            jobs.push(job);
        }
        jobs
    }

    /// A batch of `class` failed: each of its gets whose caller still waits goes again alone,
    /// after the gets of batches that failed before, each when a slot is free. Called while the
    /// batch still holds its slot, so that its release starts the first of them.
    pub(crate) fn again(&self, class: Class, batch: Batch) {
        let mut queues = self.lock();
        let queue = Self::queue(&mut queues, class);
        let Batch { ops, members } = batch;
        for member in members.into_iter().filter(|m| !m.reply.is_closed()) {
            let Some(op) = ops.get(member.op) else {
                continue; // never: every member's operation is in the batch
            };
            queue.again.push_back(Waiter {
                id: member.id,
                op: op.clone(),
                deadline: member.deadline,
                reply: member.reply,
            });
        }
    }

    /// Takes a get that gave up waiting out of its queue; says whether its request may have
    /// reached the server: not if it was still waiting to go together, maybe if it was
    /// waiting to go again (its batch was sent) or had gone.
    pub(crate) fn withdraw(&self, class: Class, id: u64) -> Delivery {
        let mut queues = self.lock();
        let queue = Self::queue(&mut queues, class);
        if let Some(i) = queue.waiting.iter().position(|w| w.id == id) {
            if let Some(w) = queue.waiting.remove(i) {
                queue.waiting_bytes = queue.waiting_bytes.saturating_sub(w.op.len());
            }
            return Delivery::NotSent;
        }
        queue.again.retain(|w| w.id != id);
        Delivery::MaybeSent
    }

    /// Learns the server's limits from a failed batch of `ops` operations in `bytes`.
    pub(crate) fn learn(&self, err: &Error, ops: usize, bytes: usize) {
        if err.server_kind() == Some(ServerErrorKind::TooManyOps) {
            let fewer = (ops / 2).max(1);
            if self.max_ops.fetch_min(fewer, Ordering::Relaxed) > fewer {
                event!(
                    info,
                    "the server takes fewer than {} operations in a txn: read batches now hold at most {}",
                    ops,
                    fewer
                );
            }
        }
        let too_large = matches!(err, Error::Server(e) if e.code() == Code::ResourceExhausted)
            || err.server_kind() == Some(ServerErrorKind::RequestTooLarge);
        if too_large {
            let smaller = (bytes / 2).max(1);
            if self.max_bytes.fetch_min(smaller, Ordering::Relaxed) > smaller {
                event!(
                    info,
                    "the server refused a {} byte read batch: batches now hold at most {} bytes",
                    bytes,
                    smaller
                );
            }
        }
    }
}

impl Queue {
    /// Takes the waiting gets, oldest first, up to `max_ops` distinct operations and
    /// `max_bytes` (a single get larger than that still goes, alone); gets whose callers are
    /// gone are dropped. `None` if no one waits.
    fn take_batch(&mut self, max_ops: usize, max_bytes: usize) -> Option<Batch> {
        let mut ops: Vec<Bytes> = Vec::new();
        let mut index: HashMap<Bytes, usize> = HashMap::new();
        let mut members = Vec::new();
        let mut bytes = 0usize;
        while let Some(next) = self.waiting.front() {
            if next.reply.is_closed() {
                self.pop();
                continue;
            }
            let known = index.get(&next.op).copied();
            if known.is_none()
                && !ops.is_empty()
                && (ops.len() >= max_ops || bytes.saturating_add(next.op.len()) > max_bytes)
            {
                break;
            }
            let Some(waiter) = self.pop() else { break };
            let op = match known {
                Some(i) => i,
                None => {
                    bytes = bytes.saturating_add(waiter.op.len());
                    index.insert(waiter.op.clone(), ops.len());
                    ops.push(waiter.op);
                    ops.len() - 1
                }
            };
            members.push(Batched {
                id: waiter.id,
                op,
                deadline: waiter.deadline,
                reply: waiter.reply,
            });
        }
        (!members.is_empty()).then_some(Batch { ops, members })
    }

    fn pop(&mut self) -> Option<Waiter> {
        let waiter = self.waiting.pop_front()?;
        self.waiting_bytes = self.waiting_bytes.saturating_sub(waiter.op.len());
        Some(waiter)
    }

    /// The next get of a failed batch whose caller still waits.
    fn next_again(&mut self) -> Option<Again> {
        while let Some(w) = self.again.pop_front() {
            if !w.reply.is_closed() {
                return Some(Again {
                    op: w.op,
                    deadline: w.deadline,
                    reply: w.reply,
                });
            }
        }
        None
    }
}

/// Whether a get may share a request: one key (a range's answer can be large), at the
/// latest revision (a compacted or future revision fails the whole txn).
pub(crate) fn coalescible(request: &w::RangeRequest) -> bool {
    request.range_end.is_empty() && request.revision.0 == 0
}

#[cfg(test)]
mod tests;
