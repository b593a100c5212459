//! Watches sharing a bounded number of HTTP requests where no WebSocket carries them
//! (`src/transport/bundle.rs`): the connections counted from this process's own socket table,
//! every event once and in order while watches are added and canceled under writes, and
//! through a member restart.

use std::time::Duration;

use etcdgw::{Client, ConnectOptions, StreamMode, WatchStream};
use etcdgw_test_support::sockets::connections_to;
use etcdgw_test_support::{wait_until, Etcd};
use futures_util::future::join_all;

use crate::websocket::{next, values};

/// Waits until etcd holds exactly `count` watchers (a replaced request's go within a second
/// of its close, GATEWAY.md 4.3).
async fn until_watchers(etcd: &Etcd, count: u64) {
    wait_until(
        &format!("etcd to hold {count} watchers"),
        Duration::from_secs(15),
        || async {
            match etcd.watchers().await {
                now if now == count => Ok(()),
                now => Err(now),
            }
        },
    )
    .await;
}

/// Opens watches on `keys` at once, each to its `created`.
async fn watch_all(client: &Client, keys: impl Iterator<Item = String>) -> Vec<WatchStream> {
    join_all(keys.map(|key| async move {
        let mut stream = client.watch(key, None).await.expect("watch");
        let created = next(&mut stream).await;
        assert!(created.created() && !created.canceled(), "{created:?}");
        stream
    }))
    .await
}

async fn put_all(writer: &Client, keys: impl Iterator<Item = String>, value: &str) {
    for key in keys {
        writer.put(key, value, None).await.expect("put");
    }
}

#[tokio::test]
async fn without_a_socket_a_thousand_watches_share_four_requests_through_adds_cancels_and_a_restart(
) {
    const WATCHES: usize = 1000;
    const LIMIT: usize = 4;
    let mut etcd = Etcd::start().await;
    let client = etcd
        .client_with(
            ConnectOptions::new()
                .with_websocket(false)
                .with_stream_mode(StreamMode::Stream)
                .with_streams_per_endpoint(LIMIT),
        )
        .await;
    let writer = etcd.client().await;
    let key = |i: usize| format!("bundle/{i:04}");
    let mut streams = watch_all(&client, (0..WATCHES).map(key)).await;
    until_watchers(&etcd, WATCHES as u64).await;
    // The shared requests, and at most one pooled connection of the client's own calls.
    let held = connections_to(&etcd.endpoint());
    assert!(
        held <= LIMIT + 1,
        "{held} connections for {WATCHES} watches"
    );

    put_all(&writer, (0..WATCHES).map(key), "a").await;
    etcd.restart().await;
    put_all(&writer, (0..WATCHES).map(key), "b").await;
    let reads = streams.iter_mut().map(|stream| values(stream, 2));
    for (i, got) in join_all(reads).await.into_iter().enumerate() {
        let order: Vec<&str> = got.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(order, ["a", "b"], "watch {i}");
    }

    // Cancel a hundred watches and add a hundred while every other key is written: the
    // requests are replaced under the writes, and what the old and new ones both deliver
    // arrives once.
    streams.drain(..100);
    let writes = put_all(&writer, (100..WATCHES).map(key), "c");
    let (added, ()) = tokio::join!(
        watch_all(&client, (0..100).map(|i| format!("new/{i:03}"))),
        writes
    );
    put_all(&writer, (100..WATCHES).map(key), "d").await;
    put_all(&writer, (0..100).map(|i| format!("new/{i:03}")), "d").await;
    let reads = streams.iter_mut().map(|stream| values(stream, 2));
    for (i, got) in join_all(reads).await.into_iter().enumerate() {
        let order: Vec<&str> = got.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(order, ["c", "d"], "watch {}", i + 100);
        assert!(got[0].1 < got[1].1, "{got:?}");
    }
    let mut added = added;
    for (i, stream) in added.iter_mut().enumerate() {
        assert_eq!(values(stream, 1).await[0].0, "d", "new watch {i}");
    }
    // Nothing more is pending on any watch: a repeat would show here as an extra answer.
    put_all(&writer, (100..WATCHES).map(key), "e").await;
    for (i, stream) in streams.iter_mut().enumerate() {
        assert_eq!(values(stream, 1).await[0].0, "e", "watch {}", i + 100);
    }
    until_watchers(&etcd, WATCHES as u64).await;
    // Beside the shared requests: the writer's connection, the metrics read, and the
    // client's pooled one (the restarted member's check).
    let held = connections_to(&etcd.endpoint());
    assert!(
        held <= LIMIT + 3,
        "{held} connections for {WATCHES} watches"
    );
}

#[tokio::test]
async fn with_a_bound_of_one_every_watch_shares_one_request_and_dropping_them_closes_it() {
    let etcd = Etcd::start().await;
    let client = etcd
        .client_with(
            ConnectOptions::new()
                .with_websocket(false)
                .with_stream_mode(StreamMode::Stream)
                .with_streams_per_endpoint(1),
        )
        .await;
    // One at a time: each added watch replaces the request.
    let mut streams = Vec::new();
    for i in 0..20 {
        streams.extend(watch_all(&client, std::iter::once(format!("one/{i:02}"))).await);
    }
    until_watchers(&etcd, 20).await;
    let held = connections_to(&etcd.endpoint());
    assert!(held <= 2, "{held} connections for 20 watches");
    let writer = etcd.client().await;
    put_all(&writer, (0..20).map(|i| format!("one/{i:02}")), "v").await;
    for (i, stream) in streams.iter_mut().enumerate() {
        assert_eq!(values(stream, 1).await[0].0, "v", "watch {i}");
    }
    let before = connections_to(&etcd.endpoint());
    drop(streams);
    until_watchers(&etcd, 0).await;
    wait_until(
        "the shared request to close",
        Duration::from_secs(10),
        || async {
            match connections_to(&etcd.endpoint()) {
                now if now < before => Ok(()),
                now => Err(format!("{now} connections, {before} with the watches")),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_bound_of_zero_is_refused_at_connect() {
    let err = Client::connect(
        ["http://127.0.0.1:9"],
        Some(ConnectOptions::new().with_streams_per_endpoint(0)),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("with_streams_per_endpoint"),
        "{err}"
    );
}

#[tokio::test]
async fn with_auth_on_the_shared_requests_carry_the_token_and_move_to_a_new_one() {
    const WATCHES: usize = 200;
    const LIMIT: usize = 2;
    let etcd = Etcd::start().await;
    etcd.etcdctl(&["user", "add", "root:bundle-root-pw"]);
    etcd.etcdctl(&["role", "add", "root"]);
    etcd.etcdctl(&["user", "grant-role", "root", "root"]);
    etcd.etcdctl(&["auth", "enable"]);
    let client = etcd
        .client_with(
            ConnectOptions::new()
                .with_user("root", "bundle-root-pw")
                .with_websocket(false)
                .with_stream_mode(StreamMode::Stream)
                .with_streams_per_endpoint(LIMIT),
        )
        .await;
    let key = |i: usize| format!("auth-bundle/{i:03}");
    let mut streams = watch_all(&client, (0..WATCHES).map(key)).await;
    // The shared requests, and the pooled connection of the token's request.
    let held = connections_to(&etcd.endpoint());
    assert!(
        held <= LIMIT + 1,
        "{held} connections for {WATCHES} watches"
    );
    put_all(&client, (0..WATCHES).map(key), "a").await;
    // Every token the member gave out goes with auth off and on again: a watch added now is
    // refused for its token on the request it joins, fetches a new one, and goes on; the others
    // move to requests of the new token when theirs are replaced.
    etcd.etcdctl(&["--user", "root:bundle-root-pw", "auth", "disable"]);
    etcd.etcdctl(&["auth", "enable"]);
    streams.extend(watch_all(&client, std::iter::once("auth-bundle/late".to_string())).await);
    put_all(
        &client,
        (0..WATCHES)
            .map(key)
            .chain(["auth-bundle/late".to_string()]),
        "b",
    )
    .await;
    // Read together, as watches are (one read at a time, each moving watch would wait for
    // the request it joins to be replaced).
    let reads = streams
        .iter_mut()
        .enumerate()
        .map(|(i, stream)| async move {
            let want: &[&str] = if i < WATCHES { &["a", "b"] } else { &["b"] };
            let got = values(stream, want.len()).await;
            let order: Vec<&str> = got.iter().map(|(v, _)| v.as_str()).collect();
            assert_eq!(order, want, "watch {i}");
        });
    join_all(reads).await;
    let held = connections_to(&etcd.endpoint());
    assert!(
        held <= 2 * LIMIT + 2,
        "{held} connections for {} watches",
        WATCHES + 1
    );
}

#[tokio::test]
async fn watches_opened_together_on_a_new_client_wait_for_the_first_to_find_out_how_it_streams() {
    // In `StreamMode::Auto` the first watch to an endpoint finds out whether it streams (a
    // request of its own); the others, opened at the same moment, wait for it and then share
    // the bounded requests instead of each finding out on a connection of its own.
    let etcd = Etcd::start().await;
    let client = etcd
        .client_with(ConnectOptions::new().with_websocket(false))
        .await;
    let streams = watch_all(&client, (0..300).map(|i| format!("auto/{i:03}"))).await;
    until_watchers(&etcd, 300).await;
    // The finding-out watch, the default four shared requests, the first check's connection.
    let held = connections_to(&etcd.endpoint());
    assert!(
        held <= etcdgw::DEFAULT_STREAMS_PER_ENDPOINT + 2,
        "{held} connections for {} watches",
        streams.len()
    );
}
