//! Watches against live members: events, options, several watches on one stream, and
//! recovery from restarts and kills with every event delivered exactly once, in order.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etcdgw::{
    Client, ConnectOptions, DeleteOptions, Error, EventType, GetOptions, PutOptions, Txn, TxnOp,
    WatchFilterType, WatchOptions, WatchResponse, WatchStream,
};
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use etcdgw_test_support::faults::{After, ScriptedStream};
use etcdgw_test_support::{wait_until, Cluster, Etcd};

/// The next answer, failing the test if none comes within 10 s.
async fn next(stream: &mut WatchStream) -> WatchResponse {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a watch answer within 10 s")
        .expect("no watch error")
        .expect("the stream is open")
}

/// Events as `(type, key, value, mod_revision)` until `count` events have arrived.
async fn collect(stream: &mut WatchStream, count: usize) -> Vec<(EventType, String, String, i64)> {
    let mut out = Vec::new();
    while out.len() < count {
        let resp = next(stream).await;
        for e in resp.events() {
            let kv = e.kv().unwrap();
            out.push((
                e.event_type(),
                kv.key_str().unwrap().into(),
                kv.value_str().unwrap().into(),
                kv.mod_revision(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn put_and_delete_events_arrive_in_order_with_prev_kv() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let mut stream = client
        .watch(
            "w/",
            Some(WatchOptions::new().with_prefix().with_prev_key()),
        )
        .await
        .unwrap();
    let created = next(&mut stream).await;
    assert!(created.created() && created.watch_id() == 0 && created.events().is_empty());

    client.put("w/a", "1", None).await.unwrap();
    client.put("w/a", "2", None).await.unwrap();
    client.delete("w/a", None).await.unwrap();
    client.put("other", "x", None).await.unwrap();
    client
        .txn(Txn::new().and_then([TxnOp::put("w/b", "t1", None), TxnOp::put("w/c", "t2", None)]))
        .await
        .unwrap();

    let first = next(&mut stream).await;
    let e = &first.events()[0];
    assert_eq!(e.event_type(), EventType::Put);
    assert_eq!(
        (
            e.kv().unwrap().value_str().unwrap(),
            e.kv().unwrap().version()
        ),
        ("1", 1)
    );
    assert!(e.prev_kv().is_none(), "a new key has no previous value");
    let second = next(&mut stream).await;
    assert_eq!(
        second.events()[0].prev_kv().unwrap().value_str().unwrap(),
        "1"
    );
    let delete = next(&mut stream).await;
    let e = &delete.events()[0];
    assert_eq!(e.event_type(), EventType::Delete);
    assert_eq!(e.kv().unwrap().key_str().unwrap(), "w/a");
    assert!(e.kv().unwrap().value().is_empty());
    assert_eq!(e.prev_kv().unwrap().value_str().unwrap(), "2");
    let txn = next(&mut stream).await;
    assert_eq!(txn.events().len(), 2, "one txn, one answer");
    let revs: HashSet<i64> = txn
        .events()
        .iter()
        .map(|e| e.kv().unwrap().mod_revision())
        .collect();
    assert_eq!(revs.len(), 1);
    assert!(txn.header().unwrap().revision() >= *revs.iter().next().unwrap());
}

#[tokio::test]
async fn range_from_key_and_single_key_watches_see_only_their_keys() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let mut range = client
        .watch("b", Some(WatchOptions::new().with_range("d")))
        .await
        .unwrap();
    let mut from = client
        .watch("c", Some(WatchOptions::new().with_from_key()))
        .await
        .unwrap();
    let mut one = client.watch("b", None).await.unwrap();
    for s in [&mut range, &mut from, &mut one] {
        assert!(next(s).await.created());
    }
    for key in ["a", "b", "bb", "c", "d", "z"] {
        client.put(key, "v", None).await.unwrap();
    }
    let keys = |events: Vec<(EventType, String, String, i64)>| {
        events.into_iter().map(|e| e.1).collect::<Vec<_>>()
    };
    assert_eq!(keys(collect(&mut range, 3).await), ["b", "bb", "c"]);
    assert_eq!(keys(collect(&mut from, 3).await), ["c", "d", "z"]);
    assert_eq!(keys(collect(&mut one, 1).await), ["b"]);
}

#[tokio::test]
async fn filters_leave_out_puts_or_deletes() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let mut no_put = client
        .watch(
            "f/",
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_filters([WatchFilterType::NoPut]),
            ),
        )
        .await
        .unwrap();
    let mut no_delete = client
        .watch(
            "f/",
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_filters([WatchFilterType::NoDelete]),
            ),
        )
        .await
        .unwrap();
    next(&mut no_put).await;
    next(&mut no_delete).await;
    client.put("f/1", "a", None).await.unwrap();
    client.delete("f/1", None).await.unwrap();
    client.put("f/2", "b", None).await.unwrap();
    client.delete("f/2", None).await.unwrap();

    let deletes = collect(&mut no_put, 2).await;
    assert!(
        deletes.iter().all(|e| e.0 == EventType::Delete),
        "{deletes:?}"
    );
    let puts = collect(&mut no_delete, 2).await;
    assert!(puts.iter().all(|e| e.0 == EventType::Put), "{puts:?}");
    assert_eq!(
        puts.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        ["f/1", "f/2"]
    );
}

#[tokio::test]
async fn a_start_revision_in_the_past_replays_history() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let first = client
        .put("h/k", "1", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    client.put("h/k", "2", None).await.unwrap();
    client.delete("h/k", None).await.unwrap();
    client.put("h/k", "3", None).await.unwrap();

    let mut stream = client
        .watch(
            "h/k",
            Some(WatchOptions::new().with_start_revision(first + 1)),
        )
        .await
        .unwrap();
    next(&mut stream).await;
    let events = collect(&mut stream, 3).await;
    let seen: Vec<(EventType, &str, i64)> =
        events.iter().map(|e| (e.0, e.2.as_str(), e.3)).collect();
    assert_eq!(
        seen,
        [
            (EventType::Put, "2", first + 1),
            (EventType::Delete, "", first + 2),
            (EventType::Put, "3", first + 3)
        ]
    );
}

#[tokio::test]
async fn a_large_txn_with_fragments_is_delivered_as_one_revision() {
    // etcd fragments an answer above its request limit + 512 KiB (2 MiB by default); a txn
    // stays under the 1.5 MiB request limit, but with prev_kv its watch answer is twice that.
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let value = |c: u8| vec![c; 480_000];
    let keys: Vec<String> = (0..3).map(|i| format!("fr/{i}")).collect();
    for k in &keys {
        client.put(k.as_str(), value(b'a'), None).await.unwrap();
    }
    let options = WatchOptions::new()
        .with_prefix()
        .with_prev_key()
        .with_fragment();
    let mut stream = client.watch("fr/", Some(options)).await.unwrap();
    let start = next(&mut stream).await.header().unwrap().revision() + 1;
    let txn = Txn::new().and_then(
        keys.iter()
            .map(|k| TxnOp::put(k.as_str(), value(b'b'), None))
            .collect::<Vec<_>>(),
    );
    client.txn(txn).await.unwrap();

    let resp = next(&mut stream).await;
    assert_eq!(resp.events().len(), 3, "the whole txn in one answer");
    assert!(!resp.fragment());
    for e in resp.events() {
        assert_eq!(e.kv().unwrap().mod_revision(), start);
        assert_eq!(e.kv().unwrap().value(), value(b'b').as_slice());
        assert_eq!(e.prev_kv().unwrap().value(), value(b'a').as_slice());
    }

    // The server really did split it: a raw watch of the same revision gets fragments.
    let body = format!(
        r#"{{"create_request":{{"key":"ZnIv","range_end":"ZnIw","prev_kv":true,"fragment":true,"start_revision":"{start}"}}}}"#
    );
    let mut raw = reqwest::Client::new()
        .post(format!("{}/v3/watch", etcd.endpoint()))
        .body(body)
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    while !text.contains("\"fragment\":true") && text.matches('\n').count() < 3 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), raw.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        text.contains("\"fragment\":true"),
        "the server did not fragment: {}",
        &text[..text.len().min(300)]
    );
}

#[tokio::test]
async fn two_watches_on_one_stream_and_one_cancelled() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let mut stream = client.watch("a", None).await.unwrap();
    stream.watch("b", None).await.unwrap();
    let first = next(&mut stream).await;
    let second = next(&mut stream).await;
    assert!(first.created() && second.created());
    assert_eq!((first.watch_id(), second.watch_id()), (0, 1));

    client.put("a", "1", None).await.unwrap();
    client.put("b", "1", None).await.unwrap();
    let mut by_watch = BTreeMap::new();
    for _ in 0..2 {
        let r = next(&mut stream).await;
        by_watch.insert(
            r.watch_id(),
            r.events()[0].kv().unwrap().key_str().unwrap().to_string(),
        );
    }
    assert_eq!(
        by_watch,
        BTreeMap::from([(0, "a".to_string()), (1, "b".to_string())])
    );

    stream.cancel(0).await.unwrap();
    let canceled = next(&mut stream).await;
    assert!(canceled.canceled() && canceled.watch_id() == 0);
    client.put("a", "2", None).await.unwrap();
    client.put("b", "2", None).await.unwrap();
    let r = next(&mut stream).await;
    assert_eq!(
        (r.watch_id(), r.events()[0].kv().unwrap().key_str().unwrap()),
        (1, "b")
    );

    // An explicit id, and the same id again is refused as etcd refuses it.
    stream
        .watch("c", Some(WatchOptions::new().with_watch_id(7)))
        .await
        .unwrap();
    let c = next(&mut stream).await;
    assert!(c.created() && c.watch_id() == 7 && !c.canceled());
    stream
        .watch("d", Some(WatchOptions::new().with_watch_id(7)))
        .await
        .unwrap();
    let dup = next(&mut stream).await;
    assert!(
        dup.created() && dup.canceled() && dup.watch_id() == 7,
        "{dup:?}"
    );
    assert!(
        stream.watch("", None).await.is_err(),
        "an empty key is refused before sending"
    );
}

#[tokio::test]
async fn a_split_stream_takes_requests_in_one_task_and_answers_in_another() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let (sender, mut responses) = client.watch("s/0", None).await.unwrap().split();
    let reader: JoinHandle<Vec<i64>> = tokio::spawn(async move {
        let mut created = Vec::new();
        while let Some(resp) = responses.message().await.unwrap() {
            if resp.created() {
                created.push(resp.watch_id());
            }
            if created.len() == 3 {
                break;
            }
        }
        created
    });
    sender.watch("s/1", None).await.unwrap();
    sender.watch("s/2", None).await.unwrap();
    let created = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created, [0, 1, 2]);
    assert!(
        matches!(sender.watch("s/3", None).await, Err(Error::StreamClosed)),
        "the answers are gone"
    );
}

#[tokio::test]
async fn request_progress_answers_with_the_current_revision() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let mut stream = client.watch("p", None).await.unwrap();
    next(&mut stream).await;
    let rev = client
        .put("unrelated", "x", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    stream.request_progress().await.unwrap();
    let progress = next(&mut stream).await;
    assert!(progress.is_progress_notify(), "{progress:?}");
    assert_eq!(progress.watch_id(), -1);
    assert!(progress.header().unwrap().revision() >= rev);
}

/// Reads `stream` until the answer to a progress request, and returns its revision and the
/// revisions of every event delivered before it.
async fn events_until_progress(stream: &mut WatchStream) -> (i64, Vec<i64>) {
    let mut delivered = Vec::new();
    loop {
        let resp = next(stream).await;
        if resp.watch_id() == -1 {
            assert!(resp.is_progress_notify(), "{resp:?}");
            return (resp.header().unwrap().revision(), delivered);
        }
        delivered.extend(resp.events().iter().map(|e| e.kv().unwrap().mod_revision()));
    }
}

/// Puts `count` revisions under `prefix` (16 at a time) and returns every revision written.
async fn write_revisions(client: &Client, prefix: &str, count: usize) -> Vec<i64> {
    let mut revisions = Vec::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(16) {
        let puts = chunk.iter().map(|i| {
            let client = client.clone();
            let key = format!("{prefix}{}", i % 7);
            async move { client.put(key, i.to_string(), None).await }
        });
        for put in futures_util::future::join_all(puts).await {
            revisions.push(put.unwrap().header().unwrap().revision());
        }
    }
    revisions.sort_unstable();
    revisions
}

#[tokio::test]
async fn request_progress_waits_for_a_watch_that_has_not_caught_up() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    // More revisions than etcd's catch-up batch (1000), so the replay takes several batches.
    let written = write_revisions(&client, "behind/", 1500).await;
    let mut stream = client
        .watch(
            "behind/",
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(written[0]),
            ),
        )
        .await
        .unwrap();
    assert!(next(&mut stream).await.created());
    // Asked before a single replayed event was read.
    stream.request_progress().await.unwrap();
    let (progress, delivered) = events_until_progress(&mut stream).await;
    let last = *written.last().unwrap();
    assert!(
        progress >= last,
        "progress {progress} behind the writes ({last})"
    );
    // Never ahead of what was delivered: every write up to it came first, once each.
    assert_eq!(delivered, written);
}

#[tokio::test]
async fn request_progress_covers_every_watch_of_the_stream() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    client.put("many/idle", "old", None).await.unwrap();
    let mut stream = client.watch("many/idle", None).await.unwrap();
    assert!(next(&mut stream).await.created());
    // A key never written, a prefix with a backlog, and deletes only (a NOPUT filter).
    stream.watch("many/never", None).await.unwrap();
    assert!(next(&mut stream).await.created());
    let first = client.put("many/busy/0", "0", None).await.unwrap();
    let busy_from = first.header().unwrap().revision();
    let backlog = write_revisions(&client, "many/busy/", 300).await;
    stream
        .watch(
            "many/busy/",
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(busy_from),
            ),
        )
        .await
        .unwrap();
    stream
        .watch(
            "many/busy/",
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_filters([WatchFilterType::NoPut]),
            ),
        )
        .await
        .unwrap();
    let mut created = 0;
    let mut early = Vec::new();
    while created < 2 {
        let resp = next(&mut stream).await;
        created += usize::from(resp.created());
        early.extend(resp.events().iter().map(|e| e.kv().unwrap().mod_revision()));
    }
    let deletion = client
        .delete("many/busy/", Some(DeleteOptions::new().with_prefix()))
        .await
        .unwrap();
    let deleted = deletion.header().unwrap().revision();
    let store = client
        .put("elsewhere", "x", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    stream.request_progress().await.unwrap();
    let (progress, delivered) = events_until_progress(&mut stream).await;
    assert!(
        progress >= store,
        "progress {progress} behind the store ({store})"
    );
    // The busy watch's backlog and the delete (on both busy watches) all came before it.
    let mut expected = vec![busy_from];
    expected.extend(&backlog);
    // One delete event per key, on each of the two busy watches.
    expected.extend(std::iter::repeat_n(
        deleted,
        2 * deletion.deleted() as usize,
    ));
    let mut seen = early;
    seen.extend(delivered);
    seen.sort_unstable();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn request_progress_on_a_stream_whose_watches_ended_answers_with_the_store_revision() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let mut stream = client.watch("gone", None).await.unwrap();
    assert!(next(&mut stream).await.created());
    stream.cancel(0).await.unwrap();
    assert!(next(&mut stream).await.canceled());
    let rev = client
        .put("k", "v", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    stream.request_progress().await.unwrap();
    let (progress, delivered) = events_until_progress(&mut stream).await;
    assert!(progress >= rev && delivered.is_empty());
}

#[tokio::test]
async fn progress_notifications_arrive_on_an_idle_watch() {
    let etcd = Etcd::builder()
        .arg("--experimental-watch-progress-notify-interval=300ms")
        .start()
        .await;
    let client = etcd.client().await;
    let mut stream = client
        .watch("idle", Some(WatchOptions::new().with_progress_notify()))
        .await
        .unwrap();
    next(&mut stream).await;
    let rev = client
        .put("elsewhere", "x", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    // Progress notifications keep coming; one of them reaches the put's revision.
    loop {
        let resp = next(&mut stream).await;
        assert!(
            resp.is_progress_notify() && resp.watch_id() == 0,
            "{resp:?}"
        );
        if resp.header().unwrap().revision() >= rev {
            break;
        }
    }
}

#[tokio::test]
async fn watching_from_a_compacted_revision_is_the_typed_compacted_error() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let first = client
        .put("c", "1", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    client.put("c", "2", None).await.unwrap();
    let last = client
        .put("c", "3", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    client.compact(last, None).await.unwrap();

    let mut stream = client
        .watch("c", Some(WatchOptions::new().with_start_revision(first)))
        .await
        .unwrap();
    assert!(next(&mut stream).await.created());
    let err = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .unwrap()
        .unwrap_err();
    match err {
        Error::Compacted {
            watch_id,
            compact_revision,
            ..
        } => {
            assert_eq!((watch_id, compact_revision), (0, last));
        }
        other => panic!("{other:?}"),
    }

    // Not resumed, the watch gets the server's cancel as it is, as over gRPC.
    let options = WatchOptions::new()
        .with_start_revision(first)
        .with_resume(false);
    let mut stream = client.watch("c", Some(options)).await.unwrap();
    assert!(next(&mut stream).await.created());
    let cancel = next(&mut stream).await;
    assert!(cancel.canceled(), "{cancel:?}");
    assert_eq!(cancel.compact_revision(), last);
    assert!(cancel.header().is_some(), "{cancel:?}");
}

/// Writes `w/00000`, `w/00001`, ... one put at a time in the background until stopped,
/// retrying each put until it succeeds (a put that failed may still have been applied: the
/// check below allows for that through the keys' versions). Counts its puts and failures, so
/// a test can wait until it has written across a member's restart.
struct Writer {
    stop: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<usize>,
    written: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

impl Writer {
    fn start(client: Client) -> Writer {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (written, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (count, failures) = (written.clone(), failed.clone());
        let task = tokio::spawn(async move {
            let mut i = 0usize;
            while !*stopped.borrow() {
                let key = format!("w/{i:05}");
                wait_until(
                    &format!("a put of {key}"),
                    Duration::from_secs(60),
                    || async {
                        let put = client.put(key.as_str(), format!("{i}"), None).await;
                        if put.is_err() {
                            failures.fetch_add(1, Ordering::SeqCst);
                        }
                        put
                    },
                )
                .await;
                i += 1;
                count.store(i, Ordering::SeqCst);
            }
            i
        });
        Writer {
            stop,
            task,
            written,
            failed,
        }
    }

    /// Waits until `n` more puts than now have succeeded.
    async fn wait_for_puts(&self, n: usize, when: &str) {
        let target = self.written.load(Ordering::SeqCst) + n;
        wait_until(
            &format!("the writer to make {n} puts {when}"),
            Duration::from_secs(60),
            || async { self.written.load(Ordering::SeqCst) >= target },
        )
        .await;
    }

    /// Waits until a put has failed (its member is down) since `before` failures.
    async fn wait_for_a_failure(&self, before: usize, when: &str) {
        wait_until(
            &format!("a put of the writer to fail {when}"),
            Duration::from_secs(60),
            || async { self.failed.load(Ordering::SeqCst) > before },
        )
        .await;
    }

    /// Stops it and returns how many keys it wrote.
    async fn stop(self) -> usize {
        self.stop.send(true).unwrap();
        self.task.await.unwrap()
    }
}

/// A watch read in the background, as an application reads it, so that it lives through a
/// member's death (a stream is resumed when read): every event's `(mod_revision, key)`, and
/// why it ended, if it did.
#[derive(Clone, Default)]
struct Reader(Arc<Mutex<ReadLog>>);

#[derive(Default)]
struct ReadLog {
    events: Vec<(i64, String)>,
    end: Option<String>,
}

impl Reader {
    fn start(mut stream: WatchStream) -> Reader {
        let reader = Reader::default();
        let log = reader.clone();
        tokio::spawn(async move {
            let end = loop {
                match stream.message().await {
                    Ok(Some(resp)) => {
                        let mut log = log.0.lock().unwrap();
                        for e in resp.events() {
                            let kv = e.kv().unwrap();
                            log.events
                                .push((kv.mod_revision(), kv.key_str().unwrap().to_string()));
                        }
                    }
                    Ok(None) => break "the stream ended".to_string(),
                    Err(e) => break format!("the watch failed: {e:?}"),
                }
            };
            log.0.lock().unwrap().end = Some(end);
        });
        reader
    }
}

/// Waits until the watch has delivered every write under `w/` that the store holds, and
/// checks: revisions strictly increase (in order, no repeat), the count equals the total
/// number of writes (the sum of the keys' versions: nothing lost), and each key's last write
/// is among the events.
async fn check_exactly_once(reader: &Reader, client: &Client) {
    let store = client
        .get("w/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    let total: i64 = store.kvs().iter().map(|kv| kv.version()).sum();
    assert!(total > 0);
    let events = wait_until(
        &format!("the watch to deliver all {total} writes"),
        Duration::from_secs(30),
        || async {
            let log = reader.0.lock().unwrap();
            if let Some(end) = &log.end {
                panic!("{end}, after {} of {total} events", log.events.len());
            }
            if log.events.len() as i64 >= total {
                Ok(log.events.clone())
            } else {
                Err(format!("{} of {total} events", log.events.len()))
            }
        },
    )
    .await;
    assert_eq!(events.len() as i64, total, "no event repeated");
    assert!(
        events.windows(2).all(|w| w[0].0 < w[1].0),
        "revisions strictly increase"
    );
    let seen: HashSet<(i64, String)> = events.into_iter().collect();
    for kv in store.kvs() {
        assert!(
            seen.contains(&(kv.mod_revision(), kv.key_str().unwrap().to_string())),
            "missing {kv:?}"
        );
    }
}

#[tokio::test]
async fn a_restarted_member_loses_no_event_and_repeats_none() {
    let mut etcd = Etcd::start().await;
    let watcher = etcd.client().await;
    let writer_client = etcd
        .client_with(ConnectOptions::new().with_timeout(Duration::from_secs(2)))
        .await;
    let mut stream = watcher
        .watch("w/", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    next(&mut stream).await;
    let reader = Reader::start(stream);

    let writer = Writer::start(writer_client.clone());
    writer.wait_for_puts(10, "before the kill").await;
    let failed = writer.failed.load(Ordering::SeqCst);
    etcd.member.kill();
    // Down until the writer has found it so: writes go on across the restart.
    writer
        .wait_for_a_failure(failed, "while the member is down")
        .await;
    etcd.member.start_again();
    etcd.member.wait_healthy(Duration::from_secs(30)).await;
    writer.wait_for_puts(10, "after the restart").await;
    let written = writer.stop().await;
    assert!(written > 10, "the writer made progress ({written})");

    check_exactly_once(&reader, &writer_client).await;
}

#[tokio::test]
async fn without_resume_a_killed_member_ends_the_watch_with_the_transport_error() {
    let mut etcd = Etcd::start().await;
    let client = etcd.client().await;
    let options = WatchOptions::new().with_prefix().with_resume(false);
    let mut stream = client.watch("w/", Some(options)).await.unwrap();
    assert!(next(&mut stream).await.created());
    client.put("w/a", "1", None).await.unwrap();
    assert_eq!(next(&mut stream).await.events().len(), 1);

    etcd.member.kill();

    let err = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("an answer within 10 s")
        .expect_err("the watch ends with the error that broke it");
    assert!(
        matches!(err, Error::Transport { .. }) && err.is_outcome_unknown(),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_killed_cluster_member_moves_the_watch_with_no_event_lost_or_repeated() {
    let mut cluster = Cluster::start(3).await;
    let endpoints = cluster.endpoints();
    // The watch's client talks to member 0 first; the writer to the others.
    let watcher = Client::connect(&endpoints, None).await.unwrap();
    let writer_client = Client::connect(
        &endpoints[1..],
        Some(ConnectOptions::new().with_timeout(Duration::from_secs(3))),
    )
    .await
    .unwrap();
    let mut stream = watcher
        .watch("w/", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    next(&mut stream).await;
    let reader = Reader::start(stream);
    wait_until("the watch on member 0", Duration::from_secs(10), || async {
        cluster.members[0].watchers().await == 1
    })
    .await;

    let writer = Writer::start(writer_client.clone());
    writer.wait_for_puts(10, "before the kill").await;
    cluster.members[0].kill();
    // The watch moves to a live member (which then holds it), and writes go on meanwhile.
    wait_until(
        "the watch to move to a live member",
        Duration::from_secs(30),
        || async {
            let moved = cluster.members[1].watchers().await + cluster.members[2].watchers().await;
            if moved == 1 {
                Ok(())
            } else {
                Err(format!("{moved} watchers on the live members"))
            }
        },
    )
    .await;
    writer.wait_for_puts(10, "while member 0 is down").await;
    cluster.restart(0).await;
    writer.wait_for_puts(10, "after the restart").await;
    let written = writer.stop().await;
    assert!(written > 10, "the writer made progress ({written})");

    check_exactly_once(&reader, &writer_client).await;
}

#[tokio::test]
async fn a_stream_cut_mid_message_is_resumed_after_the_last_whole_event() {
    // Fault server (etcd does not cut its own messages): the first answer stops halfway
    // through revision 12; the resumed request must start at 12 and gets 12 and 13.
    let header = |rev: i64| {
        format!(r#"{{"cluster_id":"1","member_id":"2","revision":"{rev}","raft_term":"3"}}"#)
    };
    let event = |rev: i64| {
        format!(
            r#"{{"result":{{"header":{},"watch_id":"1","events":[{{"kv":{{"key":"aw==","create_revision":"11","mod_revision":"{rev}","version":"{}","value":"dg=="}}}}]}}}}"#,
            header(rev),
            rev - 10
        )
    };
    let created = |rev: i64| {
        format!(
            r#"{{"result":{{"header":{},"watch_id":"1","created":true}}}}"#,
            header(rev)
        )
    };
    let twelve = event(12);
    let (half, _) = twelve.split_at(twelve.len() / 2);
    let server = ScriptedStream::start(vec![
        (
            vec![
                format!("{}\n", created(10)).into_bytes(),
                format!("{}\n", event(11)).into_bytes(),
                half.as_bytes().to_vec(),
            ],
            After::Cut,
        ),
        (
            vec![
                format!("{}\n", created(13)).into_bytes(),
                format!("{}\n{}\n", event(12), event(13)).into_bytes(),
            ],
            After::Hold,
        ),
    ])
    .await;
    // The fault server speaks HTTP watch bodies only: the watch goes as an HTTP request (the
    // first one its own, the resumed one on a shared request, whose first id is 1).
    let client = Client::connect(
        [server.endpoint()],
        Some(ConnectOptions::new().with_websocket(false)),
    )
    .await
    .unwrap();
    let mut stream = client.watch("k", None).await.unwrap();
    assert!(next(&mut stream).await.created());
    let mut revisions = Vec::new();
    while revisions.len() < 3 {
        for e in next(&mut stream).await.events() {
            revisions.push(e.kv().unwrap().mod_revision());
        }
    }
    assert_eq!(revisions, [11, 12, 13]);
    let bodies = server.bodies();
    assert_eq!(bodies.len(), 2);
    assert!(!bodies[0].contains("start_revision"), "{}", bodies[0]);
    assert!(
        bodies[1].contains(r#""start_revision":"12""#),
        "{}",
        bodies[1]
    );
}

#[tokio::test]
async fn a_hundred_watches_each_get_their_events_and_dropping_them_closes_them() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let mut streams = Vec::new();
    for i in 0..100 {
        let mut s = client.watch(format!("many/{i:03}"), None).await.unwrap();
        assert!(next(&mut s).await.created());
        streams.push(s);
    }
    assert_eq!(etcd.watchers().await, 100, "the server holds 100 watchers");
    for i in 0..100 {
        client
            .put(format!("many/{i:03}"), format!("{i}"), None)
            .await
            .unwrap();
    }
    for (i, s) in streams.iter_mut().enumerate() {
        let resp = next(s).await;
        assert_eq!(
            resp.events()[0].kv().unwrap().value_str().unwrap(),
            format!("{i}")
        );
    }
    drop(streams);
    // etcd removes a watcher when its connection closes; poll until the gauge says so.
    wait_until(
        "dropping the streams to close their requests (no watcher left)",
        Duration::from_secs(10),
        || async {
            match etcd.watchers().await {
                0 => Ok(()),
                left => Err(left),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_watch_that_cannot_start_reports_why() {
    let port = etcdgw_test_support::free_port();
    let client = Client::connect([format!("127.0.0.1:{port}")], None)
        .await
        .unwrap();
    assert!(matches!(
        client.watch("k", None).await,
        Err(Error::Transport { .. })
    ));
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    assert!(matches!(
        client.watch("", None).await,
        Err(Error::InvalidArgument { .. })
    ));
    // With a prefix, the empty key means every key.
    let mut all = client
        .watch("", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    next(&mut all).await;
    client
        .put("anything", "v", Some(PutOptions::new()))
        .await
        .unwrap();
    client
        .delete("anything", Some(DeleteOptions::new()))
        .await
        .unwrap();
    assert_eq!(collect(&mut all, 2).await.len(), 2);
    // The stream ends once its sender is gone and its watches are cancelled.
    let (sender, mut responses) = all.split();
    sender.cancel(0).await.unwrap();
    drop(sender);
    assert!(responses.message().await.unwrap().unwrap().canceled());
    assert!(responses.next().await.is_none());
}

/// etcd 3.6 and 3.7 do not answer a watch request they cannot read, not even with a response
/// head; opening a watch waits for its `created` under the request deadline, and says so.
#[tokio::test]
async fn a_watch_that_gets_no_answer_ends_at_its_deadline() {
    let mute = etcdgw_test_support::faults::MuteWatch::start().await;
    let client = Client::connect(
        [mute.endpoint()],
        Some(ConnectOptions::new().with_timeout(Duration::from_millis(500))),
    )
    .await
    .unwrap();
    match client.watch("k", None).await {
        Err(Error::Timeout { tried, .. }) => assert_eq!(tried.len(), 1),
        other => panic!("{other:?}"),
    }
}
