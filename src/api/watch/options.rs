//! The options of a watch, and the one place a watch is encoded.

use crate::api::KeyRange;
use crate::error::Result;
use crate::wire::codec::{B64, I64};
use crate::wire::watch as w;

pub use crate::wire::watch::WatchFilterType;

/// Options for a watch. Start from [`WatchOptions::new`]; each setter returns `Self`.
#[derive(Debug, Clone)]
#[must_use]
pub struct WatchOptions {
    key: Vec<u8>,
    range: KeyRange,
    start_revision: i64,
    progress_notify: bool,
    filters: Vec<WatchFilterType>,
    prev_kv: bool,
    watch_id: Option<i64>,
    fragment: bool,
    resume: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions::new()
    }
}

impl WatchOptions {
    /// Options that watch the one key from now on.
    pub const fn new() -> Self {
        WatchOptions {
            key: Vec::new(),
            range: KeyRange::Key,
            start_revision: 0,
            progress_notify: false,
            filters: Vec::new(),
            prev_kv: false,
            watch_id: None,
            fragment: false,
            resume: true,
        }
    }

    /// Sets the key; the key argument of `watch` replaces it (as in etcd-client).
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = key.into();
        self
    }

    key_range_setters!(with_range);
    /// Starts at this revision, replaying history from there (0: from now on).
    pub const fn with_start_revision(mut self, revision: i64) -> Self {
        self.start_revision = revision;
        self
    }

    /// Asks the server for periodic progress notifications on an idle watch (every 10 minutes
    /// unless the server is configured otherwise); they move the resume point forward.
    pub const fn with_progress_notify(mut self) -> Self {
        self.progress_notify = true;
        self
    }

    /// Leaves out some kinds of events.
    pub fn with_filters(mut self, filters: impl Into<Vec<WatchFilterType>>) -> Self {
        self.filters = filters.into();
        self
    }

    /// Includes the key-value pair before each event ([`Event::prev_kv`](crate::Event::prev_kv)).
    pub const fn with_prev_key(mut self) -> Self {
        self.prev_kv = true;
        self
    }

    /// Uses this watch id instead of the next free one.
    pub const fn with_watch_id(mut self, watch_id: i64) -> Self {
        self.watch_id = Some(watch_id);
        self
    }

    /// Lets the server split answers above its request-size limit into fragments. They are
    /// put back together here, so every revision is still delivered whole.
    pub const fn with_fragment(mut self) -> Self {
        self.fragment = true;
        self
    }

    /// Whether the watch is created again, from the revision after the last one delivered, when
    /// its stream breaks (default true: no event is lost or repeated across member restarts and
    /// failovers). Off, the watch is a gRPC client's: a broken stream ends it with the error
    /// that broke it (a member that closed the stream is a
    /// [`Transport`](crate::Error::Transport) error), the server's cancel of a watch whose start
    /// revision is compacted is delivered as the answer it is (a `canceled` answer with the
    /// [`compact_revision`](crate::WatchResponse::compact_revision), not
    /// [`Error::Compacted`](crate::Error::Compacted)), and the caller watches again from where
    /// it got to.
    pub const fn with_resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Whether the watch resumes (see [`with_resume`](Self::with_resume)).
    pub(super) const fn resumes(&self) -> bool {
        self.resume
    }

    /// The watch id asked for with [`with_watch_id`](Self::with_watch_id).
    pub(super) const fn requested_id(&self) -> Option<i64> {
        self.watch_id
    }

    /// Builds the create request: the one place a watch is encoded.
    pub(crate) fn into_request(self, key: Vec<u8>) -> Result<w::WatchCreateRequest> {
        let key = if key.is_empty() { self.key } else { key };
        let (key, range_end) = self.range.resolve(key)?;
        Ok(w::WatchCreateRequest {
            key: B64(key),
            range_end: B64(range_end),
            start_revision: I64(self.start_revision),
            progress_notify: self.progress_notify,
            filters: self.filters,
            prev_kv: self.prev_kv,
            watch_id: I64(0), // one watcher per request: the server's id is always 0
            fragment: self.fragment,
        })
    }
}
