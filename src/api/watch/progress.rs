//! [`WatchStream::request_progress`](super::WatchStream::request_progress) over HTTP/1.1.
//!
//! Over gRPC a progress request travels on the watch stream itself, and since etcd issue
//! 15220 the server answers it only once every watcher of that stream has caught up: the
//! answer then means "every event up to this revision has been delivered". Here a watch is
//! either its own HTTP request whose body was sent whole, so nothing can be added to it later
//! (GATEWAY.md 4.2), or one of the client's watches on a shared WebSocket, where etcd from
//! 3.5.34 drops a progress request for good while any watcher of the socket (any stream's)
//! replays history (GATEWAY.md 4.6); and a progress request on a fresh request is answered
//! only when its own watcher is in sync *at once*, which only a watch "from now" is
//! (GATEWAY.md 4.5). So each watch of the stream is confirmed from the outside instead:
//!
//! 1. A side watch on the same keys replays history from an *anchor*: a revision at or before
//!    the watch's resume point at which an event on those keys is known to exist (the last
//!    event the watch delivered, else the newest key in its range). Its first answer is the
//!    server's catch-up batch: every event on those keys from the anchor up to the batch's
//!    header revision `H` (etcd sends at most 1000 revisions per batch; a full batch is
//!    followed by more, so only a batch with fewer counts).
//! 2. The watch is then complete up to `H` once it has itself delivered the newest of those
//!    events (that passes its filters) at or after its resume point.
//!
//! The stream's answer is the lowest such `H` over its watches: never ahead of what was
//! delivered, on every etcd version (3.4's and 3.5.1's progress answers can overtake events;
//! this does not use them). A watch whose range holds no key and that delivered no event has no
//! anchor: if the store moved less than one batch since its resume point, a side watch on all
//! keys anchors it (where the user may read all keys); otherwise it counts as complete up to the
//! revision it has delivered, which is true but may be behind the store.

use tokio::sync::watch as signal;

use super::{reassemble, WatchResponse};
use crate::error::{Delivery, Error, Result};
use crate::rt;
use crate::transport::{CallOptions, Idempotency, Transport};
use crate::wire::codec::{B64, I64};
use crate::wire::kv::{RangeRequest, RangeResponse, SortOrder, SortTarget};
use crate::wire::maintenance::{Empty, StatusResponse};
use crate::wire::watch::{self as w, EventType, WatchFilterType};
use crate::wire::{paths, ResponseHeader};

/// The most revisions etcd puts in one catch-up batch for a watcher that is behind
/// (`watchBatchMaxRevs` in its mvcc package, 1000 in every version); a fuller batch may be
/// followed by more of the same catch-up.
const SERVER_BATCH_REVISIONS: usize = 1000;

/// How far one watch has got, shared by its task (which writes it as it delivers) and the
/// progress requests of its stream (which wait on it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Cursor {
    /// The first revision not yet delivered; 0 until the watch was created.
    pub(super) next: i64,
    /// The revision of the last event delivered, 0 if none yet.
    pub(super) last_event: i64,
}

/// What a progress request needs to know of one watch.
pub(super) struct Probe {
    /// The watch's create request: its keys (namespaced) and filters.
    pub(super) request: w::WatchCreateRequest,
    pub(super) cursor: signal::Receiver<Cursor>,
}

/// Answers a progress request for these watches (see the module docs).
pub(super) async fn request(transport: Transport, probes: Vec<Probe>) -> Result<WatchResponse> {
    if probes.is_empty() {
        // No watch: every event of none of them is delivered at any revision; the store's.
        let status: StatusResponse = transport
            .call(paths::STATUS, &Empty {}, Idempotency::Read)
            .await?;
        return Ok(answer(status.header));
    }
    let confirmed =
        futures_util::future::join_all(probes.into_iter().map(|p| confirm(&transport, p))).await;
    let mut lowest: Option<ResponseHeader> = None;
    for header in confirmed {
        let Some(header) = header? else { continue };
        if lowest
            .as_ref()
            .is_none_or(|l| header.revision.0 < l.revision.0)
        {
            lowest = Some(header);
        }
    }
    match lowest {
        Some(header) => Ok(answer(header)),
        // Every watch ended meanwhile: as for no watch.
        None => Box::pin(request(transport, Vec::new())).await,
    }
}

fn answer(header: ResponseHeader) -> WatchResponse {
    WatchResponse::from_wire(
        w::WatchResponse {
            header,
            ..Default::default()
        },
        -1,
    )
}

/// The header (with the revision) up to which one watch has delivered everything; `None` if
/// the watch ended meanwhile.
async fn confirm(transport: &Transport, mut probe: Probe) -> Result<Option<ResponseHeader>> {
    let cursor = *probe.cursor.borrow();
    let deadline = transport.request_timeout();
    let found = rt::timeout(deadline, catch_up(transport, &probe.request, cursor)).await;
    let (header, newest) = match found {
        Ok(found) => found?,
        Err(rt::Elapsed) => {
            return Err(Error::Timeout {
                tried: transport.endpoint_urls(),
                after: deadline,
                delivery: Delivery::MaybeSent,
            })
        }
    };
    // Wait until the watch itself has delivered the newest event it owes up to `header`.
    if newest >= cursor.next && probe.cursor.wait_for(|c| c.next > newest).await.is_err() {
        return Ok(None); // the watch ended
    }
    Ok(Some(header))
}

/// Finds, for one watch, a header revision `H` and the newest revision at or before `H` of an
/// event the watch must deliver (`cursor.next - 1` when it owes none), trying anchors in turn.
async fn catch_up(
    transport: &Transport,
    watch: &w::WatchCreateRequest,
    cursor: Cursor,
) -> Result<(ResponseHeader, i64)> {
    let owed_none = cursor.next - 1;
    if cursor.last_event > 0 {
        if let Replay::Caught(found) =
            replay(transport, watch, watch, cursor.last_event, cursor).await?
        {
            return Ok(found);
        }
    }
    let (mut header, newest) = newest_key(transport, watch).await?;
    if header.revision.0 < cursor.next {
        // The store has not moved past what the watch delivered.
        return Ok((header, owed_none));
    }
    if newest > 0 {
        if let Replay::Caught(found) =
            replay(transport, watch, watch, newest.min(cursor.next), cursor).await?
        {
            return Ok(found);
        }
    }
    // No usable anchor in the watch's own range: all keys hold an event at every revision
    // after the first, if the store moved less than one batch and the user may read them.
    if header.revision.0 - cursor.next < SERVER_BATCH_REVISIONS as i64 {
        if let Replay::Caught(found) =
            replay(transport, &all_keys(), watch, cursor.next, cursor).await?
        {
            return Ok(found);
        }
    }
    // True, if behind the store: the watch delivered everything up to its resume point.
    header.revision = I64(owed_none);
    Ok((header, owed_none))
}

/// How a side watch went.
enum Replay {
    /// The catch-up batch's header, and the newest event in it the watch owes.
    Caught((ResponseHeader, i64)),
    /// The server cancelled it: the anchor was compacted away, or the keys may not be read.
    Refused,
}

fn all_keys() -> w::WatchCreateRequest {
    w::WatchCreateRequest {
        key: B64(vec![0]),
        range_end: B64(vec![0]),
        ..Default::default()
    }
}

/// The header of a linearizable read of the watch's range and the highest `mod_revision` of
/// a key in it (0 if the range is empty).
async fn newest_key(
    transport: &Transport,
    watch: &w::WatchCreateRequest,
) -> Result<(ResponseHeader, i64)> {
    let request = RangeRequest {
        key: watch.key.clone(),
        range_end: watch.range_end.clone(),
        limit: I64(1),
        sort_order: SortOrder::Descend,
        sort_target: SortTarget::Mod,
        keys_only: true,
        ..Default::default()
    };
    let answer: RangeResponse = transport
        .call(paths::KV_RANGE, &request, Idempotency::Read)
        .await?;
    let newest = answer.kvs.first().map_or(0, |kv| kv.mod_revision.0);
    Ok((answer.header, newest))
}

/// Watches `keys` from `start` (known to hold an event on them) until the server's catch-up
/// batch arrives, and returns its header and the newest event in it that `watch` owes.
async fn replay(
    transport: &Transport,
    keys: &w::WatchCreateRequest,
    watch: &w::WatchCreateRequest,
    start: i64,
    cursor: Cursor,
) -> Result<Replay> {
    let request = w::WatchCreateRequest {
        key: keys.key.clone(),
        range_end: keys.range_end.clone(),
        start_revision: I64(start.max(1)),
        fragment: true,
        ..Default::default()
    };
    let mut stream = transport
        .open_stream(
            paths::WATCH,
            &w::WatchRequest::Create(request),
            CallOptions {
                pollable: true,
                ..CallOptions::new(Idempotency::Read)
            },
        )
        .await?;
    let endpoint = stream.endpoint_handle();
    let mut newest = cursor.next - 1;
    let mut partial: Option<w::WatchResponse> = None;
    loop {
        let Some(message) = transport
            .watched(&endpoint, stream.next::<w::WatchResponse>())
            .await?
        else {
            // The member ended the stream (it stopped, or a shared socket closed): as any
            // failure to reach it, one the caller may try again.
            return Err(Error::Transport {
                endpoint: endpoint.url().clone().into(),
                delivery: Delivery::MaybeSent,
                source: "the member closed the stream before its catch-up answer".into(),
            });
        };
        if message.canceled {
            return Ok(Replay::Refused);
        }
        if message.created {
            continue;
        }
        let Some(message) = reassemble(&mut partial, message) else {
            continue;
        };
        let mut revisions = 0usize;
        let mut last = 0;
        for event in &message.events {
            let Some(kv) = &event.kv else { continue };
            let revision = kv.mod_revision.0;
            if revision != last {
                revisions += 1;
                last = revision;
            }
            if revision >= cursor.next && owes(watch, event, &kv.key.0) {
                newest = newest.max(revision);
            }
        }
        // A full batch may be followed by more of the same catch-up.
        if revisions < SERVER_BATCH_REVISIONS {
            return Ok(Replay::Caught((message.header, newest)));
        }
    }
}

/// Whether `watch` delivers this event: its key is in the watch's range and no filter drops it.
fn owes(watch: &w::WatchCreateRequest, event: &w::Event, key: &[u8]) -> bool {
    let filtered = watch.filters.iter().any(|f| match f {
        WatchFilterType::NoPut => event.kind == EventType::Put,
        WatchFilterType::NoDelete => event.kind == EventType::Delete,
    });
    !filtered && in_range(&watch.key.0, &watch.range_end.0, key)
}

/// etcd's range rule: no end is the one key, `"\0"` is every key from `start` on.
fn in_range(start: &[u8], end: &[u8], key: &[u8]) -> bool {
    match end {
        [] => key == start,
        [0] => key >= start,
        end => key >= start && key < end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_etcd_s_rules() {
        assert!(in_range(b"a", b"", b"a") && !in_range(b"a", b"", b"ab"));
        assert!(in_range(b"a/", b"a0", b"a/x") && !in_range(b"a/", b"a0", b"a0"));
        assert!(in_range(b"\0", b"\0", b"anything") && in_range(b"m", b"\0", b"z"));
        assert!(!in_range(b"m", b"\0", b"a"));
    }

    #[test]
    fn filters_decide_what_a_watch_owes() {
        let watch = w::WatchCreateRequest {
            key: B64(b"k".to_vec()),
            filters: vec![WatchFilterType::NoPut],
            ..Default::default()
        };
        let put = w::Event::default();
        let delete = w::Event {
            kind: EventType::Delete,
            ..Default::default()
        };
        assert!(!owes(&watch, &put, b"k"));
        assert!(owes(&watch, &delete, b"k"));
        assert!(!owes(&watch, &delete, b"other"));
    }
}
