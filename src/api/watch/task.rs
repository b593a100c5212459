//! One watch's state: where it resumes from, and what each answer means for the caller. The
//! transport's resumable stream (`transport::resume`) does the opening, reading and resuming;
//! this says *what* to resume from (the revision after the last one delivered) and which
//! answers are news.

use std::time::Duration;

use tokio::sync::watch as signal;
use url::Url;

use super::progress::Cursor;
use super::{reassemble, WatchResponse};
use crate::api::namespace::Namespace;
use crate::error::Error;
use crate::transport::resume::{Flow, Next, Resume, StreamRequest};
use crate::transport::{auth, metrics, CallOptions, Idempotency};
use crate::wire::codec::I64;
use crate::wire::paths;
use crate::wire::watch as w;

/// One watch: put fragments together, drop what was already delivered, resume from the
/// revision after the last one delivered.
pub(super) struct WatchTask {
    id: i64,
    request: w::WatchCreateRequest,
    max_message_size: Option<usize>,
    namespace: Option<Namespace>,
    /// The first revision not yet delivered; 0 until the first `created` says where "now" is.
    next_revision: i64,
    /// Fragments of an answer being put back together.
    partial: Option<w::WatchResponse>,
    /// Whether a `created` arrived once: only then are failures resumed rather than reported.
    established: bool,
    /// Whether failures are resumed at all (`WatchOptions::with_resume`).
    resumes: bool,
    /// The last request was a long poll that ended normally: the next one is not a resume.
    polled: bool,
    /// Counts the watch as open while it is established and not ended.
    counted: Option<metrics::OpenWatch>,
    /// How far the watch got, for progress requests (`next_revision` and the last event).
    pub(super) cursor: signal::Sender<Cursor>,
}

impl WatchTask {
    pub(super) fn new(
        id: i64,
        request: w::WatchCreateRequest,
        max_message_size: Option<usize>,
        namespace: Option<Namespace>,
    ) -> Self {
        WatchTask {
            id,
            next_revision: request.start_revision.0,
            request,
            max_message_size,
            namespace,
            partial: None,
            established: false,
            resumes: true,
            polled: false,
            counted: None,
            cursor: signal::Sender::new(Cursor::default()),
        }
    }

    /// Whether a broken stream is resumed (default) or ends the watch with its error.
    pub(super) fn resuming(self, resumes: bool) -> Self {
        WatchTask { resumes, ..self }
    }

    /// Publishes how far the watch got: called whenever the resume point moves.
    fn publish(&self, last_event: Option<i64>) {
        let next = self.next_revision;
        self.cursor.send_modify(|c| {
            c.next = next;
            if let Some(event) = last_event {
                c.last_event = event;
            }
        });
    }

    fn answer(&self, answer: w::WatchResponse) -> WatchResponse {
        WatchResponse::from_wire(answer, self.id)
    }

    /// What one answer from the server means for the caller.
    fn handle(&mut self, answer: w::WatchResponse) -> Flow<WatchResponse> {
        if answer.created {
            let first = !self.established;
            self.established = true;
            if self.next_revision == 0 {
                // Created "now": everything after the header's revision is news.
                self.next_revision = answer.header.revision.0 + 1;
            }
            self.publish(None);
            if answer.canceled {
                // Refused at creation (auth, duplicate id): pass it on and stop.
                return Flow::End(Some(Ok(self.answer(answer))));
            }
            if !first {
                return Flow::Skip; // the `created` of a resumed watch is not news
            }
            self.counted = Some(metrics::OpenWatch::new());
            return Flow::Yield(self.answer(answer));
        }
        if answer.canceled {
            // A watch that is not resumed delivers the server's cancel as it is, as a gRPC
            // client's does; one that is would resume into the same compaction: it ends.
            if answer.compact_revision.0 > 0 && self.resumes {
                return Flow::End(Some(Err(Error::Compacted {
                    watch_id: self.id,
                    compact_revision: answer.compact_revision.0,
                })));
            }
            return Flow::End(Some(Ok(self.answer(answer))));
        }
        let Some(mut answer) = reassemble(&mut self.partial, answer) else {
            return Flow::Skip;
        };
        if answer.events.is_empty() {
            // A progress notification: everything up to its revision has been seen.
            self.next_revision = self.next_revision.max(answer.header.revision.0 + 1);
            self.publish(None);
            return Flow::Yield(self.answer(answer));
        }
        // Drop what was delivered before a resume (a lagging member may resend it).
        let next = self.next_revision;
        answer
            .events
            .retain(|e| e.kv.as_ref().is_none_or(|kv| kv.mod_revision.0 >= next));
        let last = answer
            .events
            .iter()
            .filter_map(|e| e.kv.as_ref())
            .map(|kv| kv.mod_revision.0)
            .max();
        let Some(last) = last else {
            return Flow::Skip; // every event was a repeat
        };
        self.next_revision = last + 1;
        self.publish(Some(last));
        if let Some(ns) = &self.namespace {
            ns.watch_response(&mut answer);
        }
        metrics::watch_events(answer.events.len());
        Flow::Yield(self.answer(answer))
    }
}

impl Resume for WatchTask {
    type Message = w::WatchResponse;
    type Item = WatchResponse;

    /// The create request again, from the revision after the last one delivered.
    fn next(&mut self, pause: Duration) -> Next {
        let mut request = self.request.clone();
        if self.next_revision > 0 {
            request.start_revision = I64(self.next_revision);
        }
        if self.established && !std::mem::take(&mut self.polled) {
            metrics::watch_resumed();
        }
        self.partial = None;
        let options = CallOptions {
            max_message_size: self.max_message_size,
            pollable: true,
            ..CallOptions::new(Idempotency::Read)
        };
        match StreamRequest::new(paths::WATCH, &w::WatchRequest::Create(request), options) {
            Ok(request) => Next::Open(request, pause),
            Err(err) => Next::Fail(err),
        }
    }

    fn on_message(&mut self, answer: w::WatchResponse, _: &Url) -> Flow<WatchResponse> {
        if answer.created && answer.canceled && auth::is_auth_cancel(&answer.cancel_reason) {
            // Refused for its token (3.5 says "permission denied" even for an expired one):
            // with a new token it may go through; if not, the refusal is the answer.
            return Flow::Reauthenticate(Ok(self.answer(answer)));
        }
        self.handle(answer)
    }

    fn established(&self) -> bool {
        self.established
    }

    fn resumes(&self) -> bool {
        self.resumes
    }

    fn on_poll_end(&mut self) {
        self.polled = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    fn task() -> WatchTask {
        WatchTask::new(7, w::WatchCreateRequest::default(), None, None)
    }

    /// What the caller gets from a flow, and whether the watch ends.
    fn delivered(flow: Flow<WatchResponse>) -> (Option<crate::error::Result<WatchResponse>>, bool) {
        match flow {
            Flow::Yield(item) => (Some(Ok(item)), false),
            Flow::Skip => (None, false),
            Flow::End(last) => (last, true),
            Flow::Reauthenticate(fallback) => (Some(fallback), true),
        }
    }

    fn answers(name: &str) -> Vec<(&'static str, Vec<w::WatchResponse>)> {
        fixtures::bodies(name)
            .into_iter()
            .map(|(v, body)| {
                let list = body
                    .split(|&b| b == b'\n')
                    .filter(|m| !m.is_empty() && m.starts_with(b"{\"result\""))
                    .map(|m| serde_json::from_slice::<serde_json::Value>(m).unwrap())
                    .map(|v| serde_json::from_value(v["result"].clone()).unwrap())
                    .collect();
                (v, list)
            })
            .collect()
    }

    #[test]
    fn created_is_delivered_once_and_sets_the_resume_point() {
        for (v, list) in answers("42-watch-basic-events") {
            let mut t = task();
            let created = delivered(t.handle(list[0].clone())).0.unwrap().unwrap();
            assert!(created.created() && created.watch_id() == 7, "{v}");
            assert_eq!(t.next_revision, list[0].header.revision.0 + 1, "{v}");
            // The created answer of a resumed watch is not news.
            assert!(delivered(t.handle(list[0].clone())).0.is_none(), "{v}");
            let put = delivered(t.handle(list[1].clone())).0.unwrap().unwrap();
            assert_eq!(put.events().len(), 1, "{v}");
            // The same answer again (a resumed watch replaying) is dropped.
            assert!(delivered(t.handle(list[1].clone())).0.is_none(), "{v}");
            for later in &list[2..] {
                assert!(delivered(t.handle(later.clone())).0.is_some(), "{v}");
            }
        }
    }

    #[test]
    fn a_compacted_start_ends_the_watch_with_the_typed_error() {
        for (v, list) in answers("45-watch-compacted-start-revision") {
            let mut t = task();
            assert!(
                delivered(t.handle(list[0].clone())).0.unwrap().is_ok(),
                "{v}"
            );
            match delivered(t.handle(list[1].clone())) {
                (
                    Some(Err(Error::Compacted {
                        watch_id: 7,
                        compact_revision,
                    })),
                    true,
                ) => {
                    assert_eq!(compact_revision, list[1].compact_revision.0, "{v}")
                }
                other => panic!("{v}: {other:?}"),
            }
        }
    }

    #[test]
    fn fragments_are_delivered_as_one_answer() {
        let mut t = task();
        t.established = true;
        t.next_revision = 5;
        let ev = |rev: i64| w::Event {
            kv: Some(crate::wire::KeyValue {
                mod_revision: I64(rev),
                ..Default::default()
            }),
            ..Default::default()
        };
        let piece = |events: Vec<w::Event>, fragment: bool| w::WatchResponse {
            fragment,
            events,
            ..Default::default()
        };
        assert!(delivered(t.handle(piece(vec![ev(5), ev(5)], true)))
            .0
            .is_none());
        assert!(delivered(t.handle(piece(vec![ev(5)], true))).0.is_none());
        let whole = delivered(t.handle(piece(vec![ev(6)], false)))
            .0
            .unwrap()
            .unwrap();
        assert_eq!(whole.events().len(), 4);
        assert!(!whole.fragment());
        assert_eq!(t.next_revision, 7);
    }

    #[test]
    fn progress_notifications_move_the_resume_point_and_are_recognised() {
        for (v, list) in answers("43-watch-progress-notify") {
            let mut t = task();
            t.handle(list[0].clone());
            let progress = delivered(t.handle(list.last().unwrap().clone()))
                .0
                .unwrap()
                .unwrap();
            assert!(progress.is_progress_notify(), "{v}");
            assert_eq!(
                t.next_revision,
                list.last().unwrap().header.revision.0 + 1,
                "{v}"
            );
        }
    }

    #[test]
    fn a_cancel_by_the_server_is_passed_on_with_its_reason() {
        for (v, list) in answers("76-auth-watch-permission-denied") {
            let mut t = task();
            let (refused, ends) =
                delivered(t.on_message(list[0].clone(), &"http://h:1".parse().unwrap()));
            let refused = refused.unwrap().unwrap();
            assert!(
                refused.canceled() && refused.cancel_reason().contains("permission denied"),
                "{v}"
            );
            assert_eq!(refused.watch_id(), 7, "{v}");
            assert!(ends, "{v}");
        }
    }
}
