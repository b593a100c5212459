//! The range path every get takes: alone through the unary retry loop, or, with read
//! coalescing, waiting behind the gets in flight to go as one request with others (what waits
//! and what goes together is the state in `coalesce/`; this module sends it). Answers are read
//! while they arrive (`incremental.rs`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use super::coalesce::{coalescible, Again, Batch, Class, Entered, Job, Reply};
use super::endpoints::Endpoint;
use super::incremental::read_answer;
use super::unary::transport_error;
use super::{metrics, CallOptions, Idempotency, Transport};
use crate::error::{Delivery, Error, Result};
use crate::rt;
use crate::wire::{kv as w, paths, Answer};

/// One request of a class in flight: dropped (answered, failed, or never sent), it lets the
/// next jobs of that class go.
struct Slot {
    transport: Transport,
    class: Class,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let jobs = self.transport.inner.reads.release(self.class);
        if !jobs.is_empty() {
            start(&self.transport, self.class, jobs);
        }
    }
}

/// Sends each job (its slot already counted) from a task of its own, so that no caller's
/// future has to be polled for the others to get their answers, and a caller that gives up
/// does not take a batch down with it. Where no runtime is left to run them, the jobs are
/// dropped and their slots freed, one after another (not from each other's destructors); each
/// get then goes alone from its caller's own future, if it is still there.
fn start(transport: &Transport, class: Class, jobs: Vec<Job>) {
    let Ok(spawner) = rt::Spawner::current("a read batch") else {
        let mut jobs = jobs;
        while !jobs.is_empty() {
            let freed = jobs.len();
            drop(jobs);
            jobs = (0..freed)
                .flat_map(|_| transport.inner.reads.release(class))
                .collect();
        }
        return;
    };
    for job in jobs {
        let slot = Slot {
            transport: transport.clone(),
            class,
        };
        // The job is its class's, not the handle's that happened to start it: only the
        // class's settings go with it.
        let sender = transport.for_class(class.require_leader);
        spawner.spawn(async move {
            match job {
                Job::Batch(batch) => sender.send_batch(class, batch, slot).await,
                Job::Again(again) => sender.send_again(again, slot).await,
            }
        });
    }
}

fn remaining(deadline: rt::Instant) -> Duration {
    deadline.saturating_duration_since(rt::Instant::now())
}

/// A timeout error says the caller's own deadline, not what was left of it for a re-send.
fn with_deadline(err: Error, timeout: Duration) -> Error {
    match err {
        Error::Timeout {
            tried, delivery, ..
        } => Error::Timeout {
            tried,
            after: timeout,
            delivery,
        },
        other => other,
    }
}

/// The body of a txn of the range operations `ops` (each an encoded `RangeRequest`).
fn txn_body(ops: &[Bytes]) -> Bytes {
    const OPEN: &[u8] = br#"{"success":["#;
    const OP: &[u8] = br#"{"request_range":"#;
    let len = ops.iter().map(|op| op.len() + OP.len() + 2).sum::<usize>() + OPEN.len() + 2;
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(OPEN);
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(OP);
        body.extend_from_slice(op);
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    Bytes::from(body)
}

/// Each operation's answer from a batch's txn answer, with the txn's header (an operation's
/// own header has only the revision).
fn split_answer(
    endpoint: &Endpoint,
    txn: w::TxnResponse,
    ops: usize,
) -> Result<Vec<w::RangeResponse>> {
    let wrong = |reason: String| Error::Decode {
        endpoint: endpoint.url().clone().into(),
        status: 200,
        reason: reason.into(),
        body_head: Box::default(),
    };
    if txn.responses.len() != ops {
        return Err(wrong(format!(
            "a txn of {ops} ranges answered with {} responses",
            txn.responses.len()
        )));
    }
    let header = txn.header;
    txn.responses
        .into_iter()
        .map(|op| match op {
            w::ResponseOp::Range(mut range) => {
                range.header = header.clone();
                Ok(range)
            }
            _ => Err(wrong(
                "a txn of ranges answered with another operation".into(),
            )),
        })
        .collect()
}

impl Transport {
    /// Gets a key or a range: the one path of every `get`. A point get joins the gets waiting
    /// behind those in flight, when there are any (see the module's docs).
    pub(crate) async fn range(&self, request: &w::RangeRequest) -> Result<w::RangeResponse> {
        let body = self.encode(request)?;
        // A handle with its own answer size limit goes alone: a batch's answer holds others'.
        if !self.inner.reads.enabled()
            || !coalescible(request)
            || self.max_response_bytes().is_some()
        {
            return self.range_alone(body, None).await;
        }
        let class = Class {
            serializable: request.serializable,
            require_leader: self.require_leader(),
        };
        let timeout = self.request_timeout();
        let deadline = rt::deadline_in(timeout);
        match self.inner.reads.enter(class, &body, deadline) {
            Entered::Go => {
                let _slot = Slot {
                    transport: self.clone(),
                    class,
                };
                self.range_alone(body, None).await
            }
            Entered::Wait { id, reply, full } => {
                if let Some(batch) = full {
                    start(self, class, vec![Job::Batch(batch)]);
                }
                self.wait(class, id, reply, body, timeout, deadline).await
            }
        }
    }

    /// Waits in the queue: for the answer, or to be told to go alone.
    async fn wait(
        &self,
        class: Class,
        id: u64,
        reply: oneshot::Receiver<Reply>,
        body: Bytes,
        timeout: Duration,
        deadline: rt::Instant,
    ) -> Result<w::RangeResponse> {
        match rt::timeout(remaining(deadline), reply).await {
            Ok(Ok(Reply::Done(answer))) => Ok(answer),
            Ok(Ok(Reply::Failed(err))) => Err(with_deadline(err, timeout)),
            // Its batch was never sent (no runtime was left to send it) or lost its answer.
            Ok(Err(_)) => self.range_by(body, timeout, deadline).await,
            Err(rt::Elapsed) => Err(Error::Timeout {
                tried: self.inner.endpoints.current_url().into_iter().collect(),
                after: timeout,
                delivery: self.inner.reads.withdraw(class, id),
            }),
        }
    }

    /// Sends a batch, within the latest deadline of the gets still waiting for it, and hands
    /// each its answer; if it fails, each get goes again alone, as its class's slots allow.
    async fn send_batch(self, class: Class, batch: Batch, slot: Slot) {
        let Some(deadline) = batch.deadline().filter(|d| !remaining(*d).is_zero()) else {
            // Every caller left, or every deadline passed as the batch was taken.
            return;
        };
        let gets = batch.members.len();
        let bytes = batch.ops.iter().map(Bytes::len).sum::<usize>();
        let result = match batch.ops.as_slice() {
            // The same get, asked by every waiter: one plain range answers them all.
            [op] => self
                .range_alone(op.clone(), Some(remaining(deadline)))
                .await
                .map(|answer| vec![answer]),
            ops => self.send_txn(ops, remaining(deadline)).await,
        };
        metrics::read_batch(gets, result.is_ok());
        let answers = match result {
            Ok(answers) => answers,
            Err(err) => {
                event!(
                    debug,
                    "a batch of {} gets failed ({}): each goes again alone",
                    gets,
                    err
                );
                if batch.ops.len() > 1 {
                    self.inner.reads.learn(&err, batch.ops.len(), bytes);
                }
                // Queued before the slot goes, so that its release starts the first of them.
                self.inner.reads.again(class, batch);
                drop(slot);
                return;
            }
        };
        drop(slot);
        // Each answer moves to the last get it answers and is cloned for the others.
        let mut uses = vec![0usize; answers.len()];
        for member in &batch.members {
            if let Some(n) = uses.get_mut(member.op) {
                *n += 1;
            }
        }
        let mut answers: Vec<Option<w::RangeResponse>> = answers.into_iter().map(Some).collect();
        for member in batch.members {
            let answer = match (uses.get_mut(member.op), answers.get_mut(member.op)) {
                (Some(n), Some(answer)) => {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        answer.take()
                    } else {
                        answer.clone()
                    }
                }
                _ => None,
            };
            // Without an answer (never: `split_answer` checked the count) the reply is
            // dropped, and the get goes alone from its caller.
            if let Some(answer) = answer {
                let _ = member.reply.send(Reply::Done(answer));
            }
        }
    }

    /// Sends a get of a failed batch again, alone, within what is left of its own deadline,
    /// and hands it the answer or its own error.
    async fn send_again(self, again: Again, slot: Slot) {
        let Again {
            op,
            deadline,
            reply,
        } = again;
        if reply.is_closed() {
            return; // its caller left while it waited for the slot
        }
        let left = remaining(deadline);
        let result = if left.is_zero() {
            Err(Error::Timeout {
                tried: self.inner.endpoints.current_url().into_iter().collect(),
                after: Duration::ZERO, // the caller puts its own deadline here
                delivery: Delivery::MaybeSent,
            })
        } else {
            self.range_alone(op, Some(left)).await
        };
        drop(slot);
        let _ = reply.send(match result {
            Ok(answer) => Reply::Done(answer),
            Err(err) => Reply::Failed(err),
        });
    }

    /// Sends the distinct gets `ops` as one txn; returns each one's answer.
    async fn send_txn(&self, ops: &[Bytes], timeout: Duration) -> Result<Vec<w::RangeResponse>> {
        let body = txn_body(ops);
        let mut options = CallOptions::new(Idempotency::Read);
        options.timeout = Some(timeout);
        // Counted as `kv/range` requests: each carries gets (docs/METRICS.md).
        let (txn, endpoint) = self
            .with_retries(paths::KV_RANGE, &options, |endpoint, _, token| {
                let attempt = Attempt {
                    path: paths::KV_TXN,
                    body: body.clone(),
                    field: b"responses",
                };
                self.streamed_attempt(endpoint, attempt, token, |txn: &mut w::TxnResponse, ops| {
                    txn.responses = ops
                })
            })
            .await?;
        event!(
            trace,
            "{} gets answered by one txn from {}",
            ops.len(),
            endpoint.url()
        );
        split_answer(&endpoint, txn, ops.len())
    }

    /// Sends a get alone, within what is left of its deadline.
    async fn range_by(
        &self,
        body: Bytes,
        timeout: Duration,
        deadline: rt::Instant,
    ) -> Result<w::RangeResponse> {
        let left = remaining(deadline);
        if left.is_zero() {
            return Err(Error::Timeout {
                tried: self.inner.endpoints.current_url().into_iter().collect(),
                after: timeout,
                delivery: Delivery::MaybeSent,
            });
        }
        self.range_alone(body, Some(left))
            .await
            .map_err(|e| with_deadline(e, timeout))
    }

    /// Sends one range request (the unary path's retries, failover and checks), reading a
    /// large answer while it arrives (`incremental.rs`). `timeout` overrides the client's.
    async fn range_alone(
        &self,
        body: Bytes,
        timeout: Option<Duration>,
    ) -> Result<w::RangeResponse> {
        let mut options = CallOptions::new(Idempotency::Read);
        options.timeout = timeout;
        self.with_retries(paths::KV_RANGE, &options, |endpoint, _, token| {
            let attempt = Attempt {
                path: paths::KV_RANGE,
                body: body.clone(),
                field: b"kvs",
            };
            self.streamed_attempt(
                endpoint,
                attempt,
                token,
                |range: &mut w::RangeResponse, kvs| range.kvs = kvs,
            )
        })
        .await
        .map(|(answer, _)| answer)
    }

    /// One attempt at a request whose answer holds one large array (`attempt.field`), read
    /// while it arrives; `put` hands the array's elements to the decoded answer.
    async fn streamed_attempt<Outer, Elem>(
        &self,
        endpoint: Arc<Endpoint>,
        attempt: Attempt,
        token: Option<Arc<str>>,
        put: fn(&mut Outer, Vec<Elem>),
    ) -> Result<Outer>
    where
        Outer: DeserializeOwned + Answer,
        Elem: DeserializeOwned,
    {
        let response = self
            .post(&endpoint, attempt.path, attempt.body, token.as_ref())
            .send()
            .await
            .map_err(|e| transport_error(&endpoint, e))?;
        let answer: Outer = read_answer(
            endpoint.url(),
            attempt.path,
            response,
            attempt.field,
            put,
            self.max_response_bytes(),
        )
        .await?;
        self.check_answer(&endpoint, answer.header(), Idempotency::Read)?;
        Ok(answer)
    }
}

/// What one attempt of a streamed read sends, and the array its answer is read by.
struct Attempt {
    path: &'static str,
    body: Bytes,
    field: &'static [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(key: &str) -> Bytes {
        Bytes::from(format!(r#"{{"key":"{key}"}}"#))
    }

    #[test]
    fn a_txn_body_wraps_each_range() {
        assert_eq!(
            txn_body(&[op("a"), op("b")]),
            Bytes::from_static(
                br#"{"success":[{"request_range":{"key":"a"}},{"request_range":{"key":"b"}}]}"#
            )
        );
    }
}
