//! A client's watches on one WebSocket per `http://` endpoint (`src/transport/websocket.rs`):
//! the sockets counted from this process's own socket table, every event once and in order
//! through a member restart and through a socket broken while watches come and go.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use etcdgw::{Client, ConnectOptions, WatchResponse, WatchResponseStream, WatchStream};
use etcdgw_test_support::etcd::etcd_release;
use etcdgw_test_support::proxy::Proxy;
use etcdgw_test_support::sockets::connections_to;
use etcdgw_test_support::{wait_until, Etcd};

const WITHIN: Duration = Duration::from_secs(30);

/// The next answer of a stream, within 30 s (shared with `bundle.rs`).
pub(crate) async fn next(stream: &mut WatchStream) -> WatchResponse {
    tokio::time::timeout(WITHIN, stream.message())
        .await
        .expect("a watch answer within 30 s")
        .expect("no watch error")
        .expect("the stream is open")
}

async fn next_answer(stream: &mut WatchResponseStream) -> WatchResponse {
    tokio::time::timeout(WITHIN, stream.message())
        .await
        .expect("a watch answer within 30 s")
        .expect("no watch error")
        .expect("the stream is open")
}

/// The values of the next `count` events of a stream, with their revisions.
pub(crate) async fn values(stream: &mut WatchStream, count: usize) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    while out.len() < count {
        for event in next(stream).await.events() {
            let kv = event.kv().expect("a put event");
            out.push((
                kv.value_str().expect("UTF-8").to_string(),
                kv.mod_revision(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn a_thousand_watches_share_one_socket_and_get_every_event_once_through_a_restart() {
    const WATCHES: usize = 1000;
    let mut etcd = Etcd::start().await;
    let client = etcd.client().await;
    let mut streams = Vec::with_capacity(WATCHES);
    for i in 0..WATCHES {
        let mut stream = client.watch(format!("ws/{i:04}"), None).await.unwrap();
        assert!(next(&mut stream).await.created());
        streams.push(stream);
    }
    assert_eq!(etcd.watchers().await, WATCHES as u64);
    // One socket for the watches, and the pooled connection of the unary calls.
    let held = connections_to(&etcd.endpoint());
    assert!(held <= 2, "{held} connections for {WATCHES} watches");

    for i in 0..WATCHES {
        client.put(format!("ws/{i:04}"), "a", None).await.unwrap();
    }
    etcd.restart().await;
    for i in 0..WATCHES {
        client.put(format!("ws/{i:04}"), "b", None).await.unwrap();
    }
    // Each watch gets its two events, once each and in order: a repeat of "a" after the
    // restart would come where "b" is expected. (A watch resumes when it is read: all are
    // read at once.)
    let reads = streams.iter_mut().map(|stream| values(stream, 2));
    for (i, got) in futures_util::future::join_all(reads)
        .await
        .into_iter()
        .enumerate()
    {
        let order: Vec<&str> = got.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(order, ["a", "b"], "watch {i}");
        assert!(got[0].1 < got[1].1, "watch {i}: {got:?}");
    }
    // The watches still hold one connection: dropping them closes one. (Beside it, the
    // pool keeps the connections of the unary calls: two, when a put and the check of the
    // restarted member overlapped.)
    let held = connections_to(&etcd.endpoint());
    drop(streams);
    wait_until(
        "dropping the watches to close the socket (no watcher left)",
        Duration::from_secs(10),
        || async {
            match etcd.watchers().await {
                0 => Ok(()),
                left => Err(left),
            }
        },
    )
    .await;
    wait_until("the socket to close", Duration::from_secs(10), || async {
        match connections_to(&etcd.endpoint()) {
            now if now + 1 == held => Ok(()),
            now => Err(format!("{now} connections, {held} with the watches")),
        }
    })
    .await;
}

#[tokio::test]
async fn watches_added_and_cancelled_while_the_socket_is_broken_resume_exactly_once() {
    let etcd = Etcd::start().await;
    let proxy = Proxy::start(etcd.endpoint().trim_start_matches("http://").to_string()).await;
    let through = Client::connect(
        [proxy.endpoint()],
        Some(ConnectOptions::new().with_timeout(Duration::from_secs(10))),
    )
    .await
    .unwrap();
    let writer = etcd.client().await;

    let first = through.watch("cut/00", None).await.unwrap();
    let (sender, mut answers) = first.split();
    for i in 1..20 {
        sender.watch(format!("cut/{i:02}"), None).await.unwrap();
    }
    let mut created = BTreeSet::new();
    while created.len() < 20 {
        let answer = next_answer(&mut answers).await;
        assert!(answer.created(), "{answer:?}");
        created.insert(answer.watch_id());
    }
    let put_all = |round: &'static str, keys: std::ops::Range<usize>| {
        let writer = writer.clone();
        async move {
            for i in keys {
                writer
                    .put(format!("cut/{i:02}"), round, None)
                    .await
                    .unwrap();
            }
        }
    };
    put_all("before", 0..25).await;

    // Break the socket; while it is down, cancel five watches and write; add five watches
    // while the others resume on a new socket.
    proxy.cut();
    for id in 0..5 {
        sender.cancel(id).await.unwrap();
    }
    put_all("during", 0..25).await;
    proxy.restore();
    for i in 20..25 {
        sender.watch(format!("cut/{i:02}"), None).await.unwrap();
    }
    put_all("after", 0..25).await;

    // Watches 5..20 see before, during, after, once each; the new ones (20..25) see "after";
    // the canceled ones end with their cancel.
    let mut seen: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut canceled = BTreeSet::new();
    let done = |seen: &BTreeMap<i64, Vec<String>>, canceled: &BTreeSet<i64>| {
        canceled.len() == 5
            && (5..25).all(|id| {
                seen.get(&id)
                    .is_some_and(|v| v.last().is_some_and(|l| l == "after"))
            })
    };
    while !done(&seen, &canceled) {
        let answer = next_answer(&mut answers).await;
        if answer.canceled() {
            canceled.insert(answer.watch_id());
            continue;
        }
        for event in answer.events() {
            let value = event.kv().unwrap().value_str().unwrap().to_string();
            seen.entry(answer.watch_id()).or_default().push(value);
        }
    }
    assert_eq!(canceled, (0..5).collect());
    for id in 5..20 {
        assert_eq!(seen[&id], ["before", "during", "after"], "watch {id}");
    }
    for id in 20..25 {
        assert_eq!(seen[&id], ["after"], "watch {id}");
    }
    for id in 0..5 {
        let got = seen.get(&id).cloned().unwrap_or_default();
        assert!(got.is_empty() || got == ["before"], "watch {id}: {got:?}");
    }
    // Still one socket through the proxy (and at most one pooled connection beside it).
    let open = proxy.open_connections();
    assert!(open <= 2, "{open} connections through the proxy");
}

/// Turns auth on with a root user; returns a client of that user.
async fn root_client(etcd: &Etcd) -> Client {
    etcd.etcdctl(&["user", "add", "root:ws-root-pw"]);
    etcd.etcdctl(&["role", "add", "root"]);
    etcd.etcdctl(&["user", "grant-role", "root", "root"]);
    etcd.etcdctl(&["auth", "enable"]);
    etcd.client_with(ConnectOptions::new().with_user("root", "ws-root-pw"))
        .await
}

#[tokio::test]
async fn with_auth_on_watches_share_a_socket_where_etcd_takes_a_token_on_one() {
    const WATCHES: usize = 20;
    let etcd = Etcd::start().await;
    let client = root_client(&etcd).await;
    let mut streams = Vec::new();
    for i in 0..WATCHES {
        let mut stream = client.watch(format!("auth/{i:02}"), None).await.unwrap();
        let created = next(&mut stream).await;
        assert!(created.created() && !created.canceled(), "{created:?}");
        streams.push(stream);
    }
    // 3.5.34 and later take the token on a socket (GATEWAY.md 4.6): one socket; before, the
    // watches share HTTP requests with the token in `Authorization` (`bundle.rs`): the default
    // four, the first watch's (which finds out that the endpoint streams), and the pooled one.
    let held = connections_to(&etcd.endpoint());
    if etcd_release() >= (3, 5, 34) {
        assert!(held <= 2, "{held} connections for {WATCHES} watches");
    } else {
        assert!(
            held <= etcdgw::DEFAULT_STREAMS_PER_ENDPOINT + 2,
            "{held} connections for {WATCHES} watches"
        );
    }
    // Every token the member gave out goes with auth off and on again: a watch added now is
    // refused for its token, fetches a new one, and goes on (a new socket for the new token).
    etcd.etcdctl(&["--user", "root:ws-root-pw", "auth", "disable"]);
    etcd.etcdctl(&["auth", "enable"]);
    let mut late = client.watch("auth/late", None).await.unwrap();
    let created = next(&mut late).await;
    assert!(created.created() && !created.canceled(), "{created:?}");
    for i in 0..WATCHES {
        client.put(format!("auth/{i:02}"), "v", None).await.unwrap();
    }
    client.put("auth/late", "v", None).await.unwrap();
    for (i, stream) in streams.iter_mut().chain([&mut late]).enumerate() {
        assert_eq!(values(stream, 1).await[0].0, "v", "watch {i}");
    }
}

#[tokio::test]
async fn watches_opened_together_on_a_new_client_share_its_first_check_and_one_socket() {
    // Each call checks a never-answered endpoint before its first request; calls made together
    // wait for one check (each of its own would leave a connection in the pool).
    let etcd = Etcd::start().await;
    let client = etcd.client_with(ConnectOptions::new()).await;
    let opens = (0..200).map(|i| {
        let client = client.clone();
        async move {
            let mut stream = client
                .watch(format!("together/{i:03}"), None)
                .await
                .unwrap();
            assert!(next(&mut stream).await.created());
            stream
        }
    });
    let streams = futures_util::future::join_all(opens).await;
    let held = connections_to(&etcd.endpoint());
    assert!(
        held <= 2,
        "{held} connections for {} watches",
        streams.len()
    );
}
