//! What a watch stream delivers: events and the answers they come in.

use crate::api::{KeyValue, ResponseHeader};
use crate::wire::watch as w;

pub use crate::wire::watch::EventType;

/// One change to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    kind: EventType,
    kv: Option<KeyValue>,
    prev_kv: Option<KeyValue>,
}

impl From<w::Event> for Event {
    fn from(e: w::Event) -> Self {
        Event {
            kind: e.kind,
            kv: e.kv.map(KeyValue),
            prev_kv: e.prev_kv.map(KeyValue),
        }
    }
}

impl Event {
    /// Whether the key was put or deleted. Never panics (etcd-client's does on an unknown type).
    pub fn event_type(&self) -> EventType {
        self.kind
    }

    /// The key after the event: for a delete, only the key and the deleting revision.
    pub fn kv(&self) -> Option<&KeyValue> {
        self.kv.as_ref()
    }

    /// The key before the event, if the watch asked for it with
    /// [`WatchOptions::with_prev_key`](crate::WatchOptions::with_prev_key) and the key existed.
    pub fn prev_kv(&self) -> Option<&KeyValue> {
        self.prev_kv.as_ref()
    }
}

/// One answer on a watch stream: events, or news about a watch.
#[derive(Debug, Clone)]
pub struct WatchResponse {
    header: Option<ResponseHeader>,
    watch_id: i64,
    created: bool,
    canceled: bool,
    compact_revision: i64,
    cancel_reason: String,
    fragment: bool,
    events: Vec<Event>,
}

impl WatchResponse {
    pub(super) fn from_wire(r: w::WatchResponse, watch_id: i64) -> Self {
        WatchResponse {
            header: Some(ResponseHeader(r.header)),
            watch_id,
            created: r.created,
            canceled: r.canceled,
            compact_revision: r.compact_revision.0,
            cancel_reason: r.cancel_reason,
            fragment: r.fragment,
            events: r.events.into_iter().map(Event::from).collect(),
        }
    }

    /// A create refused before it was sent (an id already in use on the stream), as etcd
    /// would refuse it.
    pub(super) fn refused(watch_id: i64, reason: String) -> Self {
        WatchResponse {
            header: None,
            watch_id,
            created: true,
            canceled: true,
            compact_revision: 0,
            cancel_reason: reason,
            fragment: false,
            events: Vec::new(),
        }
    }

    /// The answer to a cancel by the caller: its request was closed.
    pub(super) fn cancelled(header: Option<ResponseHeader>, watch_id: i64) -> Self {
        WatchResponse {
            header,
            watch_id,
            created: false,
            canceled: true,
            compact_revision: 0,
            cancel_reason: String::new(),
            fragment: false,
            events: Vec::new(),
        }
    }

    /// The response header; its revision is the store's when the answer was sent.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The watch this answer belongs to; -1 for the answer to
    /// [`WatchStream::request_progress`](crate::WatchStream::request_progress), which speaks for the whole stream.
    pub const fn watch_id(&self) -> i64 {
        self.watch_id
    }

    /// Whether this answer says the watch was created.
    pub const fn created(&self) -> bool {
        self.created
    }

    /// Whether this answer says the watch ended (by [`WatchStream::cancel`](crate::WatchStream::cancel) or by the server).
    pub const fn canceled(&self) -> bool {
        self.canceled
    }

    /// The compaction revision, when the server cancelled the watch because its start
    /// revision was compacted. (A watch that was running ends with [`Error::Compacted`](crate::Error::Compacted).)
    pub const fn compact_revision(&self) -> i64 {
        self.compact_revision
    }

    /// What a watch that a recipe keeps open (cache, mirror) ends with when this answer cancels
    /// it: [`Error::Compacted`](crate::Error::Compacted) when its revisions were compacted away,
    /// else [`Error::StreamClosed`](crate::Error::StreamClosed); `None` if it does not cancel.
    pub(crate) fn cancel_error(&self) -> Option<crate::Error> {
        if !self.canceled {
            return None;
        }
        Some(if self.compact_revision > 0 {
            crate::Error::Compacted {
                watch_id: self.watch_id,
                compact_revision: self.compact_revision,
            }
        } else {
            crate::Error::StreamClosed
        })
    }

    /// Why the server cancelled the watch.
    pub fn cancel_reason(&self) -> &str {
        &self.cancel_reason
    }

    /// Always false: fragments are put back together before an answer is delivered.
    pub const fn fragment(&self) -> bool {
        self.fragment
    }

    /// The events, in revision order (one answer can hold several revisions when history is
    /// replayed).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Takes the events out, without copying.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Whether this is a progress notification: no events, no news about the watch, only the
    /// revision up to which the watch has seen everything.
    pub fn is_progress_notify(&self) -> bool {
        self.events.is_empty()
            && !self.created
            && !self.canceled
            && self.compact_revision == 0
            && self.header.as_ref().is_some_and(|h| h.revision() != 0)
    }
}
