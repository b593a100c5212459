use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream;

use super::*;

fn answer(id: i64, created: bool, revision: i64) -> Result<WatchResponse> {
    let mut wire = w::WatchResponse {
        created,
        ..Default::default()
    };
    wire.header.revision.0 = revision;
    Ok(WatchResponse::from_wire(wire, id))
}

fn watch(
    id: i64,
    first: Result<WatchResponse>,
    rest: rt::BoxStream<'static, Result<WatchResponse>>,
) -> Command {
    Command::Watch(Box::new(NewWatch {
        id,
        request: w::WatchCreateRequest::default(),
        cursor: signal::channel(Cursor::default()).1,
        first: Some(first),
        rest,
    }))
}

/// Says when it is dropped: the watch's HTTP request is closed.
struct Closes(Arc<AtomicBool>);

impl Drop for Closes {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What each answer says: (watch, created, canceled, revision).
fn summary(answer: Option<Result<WatchResponse>>) -> (i64, bool, bool, i64) {
    let answer = answer.expect("an answer").expect("not an error");
    let revision = answer.header().map_or(0, |h| h.revision());
    (
        answer.watch_id(),
        answer.created(),
        answer.canceled(),
        revision,
    )
}

#[tokio::test]
async fn first_answers_go_in_the_order_the_watches_were_added_and_a_cancel_closes_at_once() {
    let (tx, rx) = mpsc::unbounded_channel();
    let ids = SharedIds::default();
    lock(&ids).in_use.extend([0, 1]);
    let mut responses = WatchResponseStream::new(Transport::for_tests(), rx, ids.clone());
    // Watch 0 has two events ready at once; watch 1 waits, holding its request open.
    let events = stream::iter([answer(0, false, 5), answer(0, false, 6)]);
    let closed = Arc::new(AtomicBool::new(false));
    let open = Closes(closed.clone());
    let waits = stream::pending().chain(stream::poll_fn(move |_| {
        let _ = &open;
        Poll::Ready(None)
    }));
    for command in [
        watch(0, answer(0, true, 4), Box::pin(events)),
        watch(1, answer(1, true, 4), Box::pin(waits)),
    ] {
        assert!(tx.send(command).is_ok());
    }

    // Both first answers before anything else of either watch, in the order added.
    assert_eq!(summary(responses.next().await), (0, true, false, 4));
    assert_eq!(summary(responses.next().await), (1, true, false, 4));
    assert_eq!(summary(responses.next().await), (0, false, false, 5));
    assert_eq!(summary(responses.next().await), (0, false, false, 6));

    // A cancel answers with the last header its watch delivered, and closes its request
    // before the answer is read.
    assert!(tx.send(Command::Cancel(1)).is_ok());
    assert_eq!(summary(responses.next().await), (1, false, true, 4));
    assert!(closed.load(Ordering::Relaxed));
    // Watch 0 ended by itself: with the sender gone, so does the stream, and every id is
    // free again.
    drop(tx);
    assert!(responses.next().await.is_none());
    assert!(lock(&ids).in_use.is_empty());
}
