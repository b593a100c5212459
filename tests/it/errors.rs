//! Bad input and server errors: each comes back as its typed error, naming the endpoint.

use std::time::Duration;

use etcdgw::{
    Client, Code, ConnectOptions, Delivery, Error, GetOptions, PutOptions, ServerErrorKind, Txn,
    TxnOp,
};

use etcdgw_test_support::faults::{BlackHole, NotEtcd};
use etcdgw_test_support::{wait_until, Cluster, Etcd};

#[tokio::test]
async fn an_empty_key_fails_before_any_request_is_sent() {
    // Anything sent would show up as a connection to this socket.
    let hole = BlackHole::start().await;
    let client = Client::connect([hole.endpoint()], None).await.unwrap();

    let errors = [
        client.put("", "v", None).await.unwrap_err(),
        client.get("", None).await.unwrap_err(),
        client
            .get("", Some(GetOptions::new().with_range("z")))
            .await
            .unwrap_err(),
        client.delete("", None).await.unwrap_err(),
        client
            .txn(Txn::new().and_then([TxnOp::get("", None)]))
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
        assert!(err.to_string().contains("key is empty"), "{err}");
    }
    // A negative, so time is the point: a connection made would be accepted within it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        hole.connections(),
        0,
        "nothing may be sent for an invalid request"
    );
}

#[tokio::test]
async fn the_server_refuses_an_empty_key_with_its_own_kind_too() {
    // Raw check that the kind we map matches what the server says for the same request.
    let etcd = Etcd::start().await;
    let resp = reqwest::Client::new()
        .post(format!("{}/v3/kv/put", etcd.endpoint()))
        .body(r#"{"value":"eA=="}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body = resp.text().await.unwrap();
    assert!(body.contains("etcdserver: key is not provided"), "{body}");
}

#[tokio::test]
async fn bad_endpoints_are_named_in_the_error() {
    for bad in [
        "ftp://127.0.0.1:2379",
        "http://",
        "http://h:99999",
        "127.0.0.1:2379/x?y=1",
    ] {
        match Client::connect(["127.0.0.1:2379", bad], None).await {
            Err(Error::InvalidEndpoint {
                endpoint, reason, ..
            }) => {
                assert_eq!(&*endpoint, bad);
                assert!(!reason.is_empty());
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    // A password in an endpoint is refused and never shown.
    let err = Client::connect(["http://user:secret@127.0.0.1:2379"], None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidEndpoint { .. }), "{err:?}");
    assert!(
        !err.to_string().contains("secret") && !format!("{err:?}").contains("secret"),
        "{err}"
    );
    let empty: [&str; 0] = [];
    assert!(matches!(
        Client::connect(empty, None).await,
        Err(Error::InvalidArgument { .. })
    ));
}

#[tokio::test]
async fn too_many_txn_ops_and_duplicate_keys_are_refused_by_the_server() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let ops = |n: usize| {
        (0..n)
            .map(|i| TxnOp::put(format!("k{i}"), "v", None))
            .collect::<Vec<_>>()
    };
    client.txn(Txn::new().and_then(ops(128))).await.unwrap();
    let err = client.txn(Txn::new().and_then(ops(129))).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::TooManyOps));
    let server = err.server_error().unwrap();
    assert_eq!(server.code(), Code::InvalidArgument);
    assert_eq!(
        server.message(),
        "etcdserver: too many operations in txn request"
    );
    assert!(err.to_string().contains(&etcd.endpoint()), "{err}");

    let dup = Txn::new().and_then([TxnOp::put("d", "1", None), TxnOp::put("d", "2", None)]);
    let err = client.txn(dup).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::DuplicateKey));
}

#[tokio::test]
async fn requests_above_the_size_limits_are_refused() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let err = client
        .put("big", vec![b'x'; 1_600_000], None)
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::RequestTooLarge));
    let err = client
        .put("bigger", vec![b'x'; 3 * 1024 * 1024], None)
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::MessageTooLarge));
    assert_eq!(err.server_error().unwrap().code(), Code::ResourceExhausted);
    assert_eq!(client.get("big", None).await.unwrap().count(), 0);
}

#[tokio::test]
async fn connection_refused_names_the_endpoint_and_says_nothing_was_sent() {
    let port = etcdgw_test_support::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = Client::connect([&endpoint], None).await.unwrap();
    match client.put("k", "v", None).await.unwrap_err() {
        err @ Error::Transport { .. } => {
            let Error::Transport {
                endpoint: url,
                delivery,
                ..
            } = &err
            else {
                unreachable!()
            };
            assert_eq!(url.port(), Some(port));
            assert_eq!(*delivery, Delivery::NotSent);
            assert!(!err.is_outcome_unknown());
            assert!(
                err.to_string().contains(&format!("127.0.0.1:{port}")),
                "{err}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_black_holed_endpoint_hits_the_deadline() {
    let hole = BlackHole::start().await;
    let options = ConnectOptions::new().with_timeout(Duration::from_millis(400));
    let client = Client::connect([hole.endpoint()], Some(options))
        .await
        .unwrap();
    match client.put("k", "v", None).await.unwrap_err() {
        err @ Error::Timeout { .. } => {
            let Error::Timeout {
                tried,
                after,
                delivery,
                ..
            } = &err
            else {
                unreachable!()
            };
            assert_eq!(tried.len(), 1);
            assert_eq!(tried[0].port(), Some(hole.addr.port()));
            assert_eq!(*after, Duration::from_millis(400));
            // An endpoint that never answered is checked before a request goes to it, so
            // the put itself was never sent.
            assert_eq!(*delivery, Delivery::NotSent);
            assert!(err.is_timeout() && !err.is_outcome_unknown());
        }
        other => panic!("{other:?}"),
    }
    // The client stays usable after a deadline.
    assert!(client.get("k", None).await.unwrap_err().is_timeout());
}

#[tokio::test]
async fn an_http_server_that_is_not_etcd_is_reported_as_such() {
    let web = NotEtcd::start(
        "HTTP/1.0 501 Unsupported method ('POST')",
        "text/html",
        "<html><body>Error response</body></html>",
    )
    .await;
    let client = Client::connect([web.endpoint()], None).await.unwrap();
    match client.get("k", None).await.unwrap_err() {
        Error::NotEtcd {
            endpoint,
            status,
            delivery,
            body_head,
            ..
        } => {
            assert_eq!(endpoint.port(), Some(web.addr.port()));
            assert_eq!(status, 501);
            assert_eq!(delivery, Delivery::NotSent);
            assert!(body_head.starts_with("<html>"), "{body_head}");
        }
        other => panic!("{other:?}"),
    }
    let err = client.put("k", "v", None).await.unwrap_err();
    assert!(err.to_string().contains("not as etcd's gateway"), "{err}");
}

#[tokio::test]
async fn a_json_reply_that_is_not_etcd_is_a_decode_error() {
    let api = NotEtcd::start(
        "HTTP/1.1 200 OK",
        "application/json",
        r#"{"status":"ok","items":[]}"#,
    )
    .await;
    let client = Client::connect([api.endpoint()], None).await.unwrap();
    match client.get("k", None).await.unwrap_err() {
        Error::Decode { status, reason, .. } => {
            assert_eq!(status, 200);
            assert!(reason.contains("header"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let other = NotEtcd::start(
        "HTTP/1.1 503 Service Unavailable",
        "application/json",
        r#"{"message":"maintenance"}"#,
    )
    .await;
    let client = Client::connect([other.endpoint()], None).await.unwrap();
    assert!(matches!(
        client.get("k", None).await.unwrap_err(),
        Error::NotEtcd { status: 503, .. }
    ));
}

#[tokio::test]
async fn require_leader_fails_at_once_when_quorum_is_lost() {
    let mut cluster = Cluster::start(3).await;
    let survivor = cluster.members[0].endpoint();
    cluster.members[1].kill();
    cluster.members[2].kill();

    let strict = Client::connect(
        [&survivor],
        Some(ConnectOptions::new().with_require_leader(true)),
    )
    .await
    .unwrap();
    // The survivor notices the lost leader within an election timeout; until then reads may
    // still be served, so poll (the assertion is on the error's kind, not on time).
    let err = wait_until(
        "a serializable read with require-leader to fail without a leader",
        Duration::from_secs(30),
        || async {
            strict
                .get("k", Some(GetOptions::new().with_serializable()))
                .await
                .err()
        },
    )
    .await;
    assert_eq!(
        err.server_kind(),
        Some(ServerErrorKind::NoLeader),
        "{err:?}"
    );
    let err = strict
        .put("k", "v", Some(PutOptions::new()))
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::NoLeader));
    assert!(!err.is_outcome_unknown(), "refused before any proposal");

    // Without require-leader, a serializable read still works from the survivor's data.
    let lenient = Client::connect([&survivor], None).await.unwrap();
    lenient
        .get("k", Some(GetOptions::new().with_serializable()))
        .await
        .unwrap();

    cluster.restart(1).await;
    strict.put("k", "back", None).await.unwrap();
}
