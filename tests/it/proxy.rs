//! Through real reverse proxies (nginx, HAProxy, Caddy, with the configurations of
//! `test-support/proxies/`): every call, watches that the proxy buffers or cuts (every event
//! once), a lock that waits longer than the proxy's read timeout, a lease kept alive longer than
//! its idle timeout, auth, an election observe, and etcd stopped behind the proxy (typed
//! errors, then recovery). Each test runs once per proxy configuration (`proxy::<config>::`).
//! `scripts/test.sh` runs them on the etcd versions of `ETCDGW_PROXY_MATRIX` (3.4 and 3.6).

use std::collections::BTreeSet;
use std::time::Duration;

use etcdgw::{
    Client, ConnectOptions, Delivery, Error, EventType, GetOptions, LockOptions, PutOptions,
    StreamMode, Txn, TxnOp, WatchOptions, WatchStream,
};

use etcdgw_test_support::reverse_proxy::{Kind, ReverseProxy, API_KEY};
use etcdgw_test_support::{wait_until, Etcd};

const ROOT_PW: &str = "root-proxy-pw";

/// A member, the proxy in front of it, and a client through the proxy.
async fn through(kind: Kind) -> (Etcd, ReverseProxy, Client) {
    through_with(kind, |o| o).await
}

async fn through_with(
    kind: Kind,
    options: impl FnOnce(ConnectOptions) -> ConnectOptions,
) -> (Etcd, ReverseProxy, Client) {
    let etcd = Etcd::start().await;
    let proxy = ReverseProxy::start(kind, etcd.member.client_port).await;
    let client = Client::connect([proxy.endpoint()], Some(options(proxy.connect_options())))
        .await
        .unwrap();
    (etcd, proxy, client)
}

/// The events of a watch, as (key, value, mod revision), until `count` have come.
async fn events(
    stream: &mut WatchStream,
    count: usize,
    proxy: &ReverseProxy,
) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    while out.len() < count {
        let answer = tokio::time::timeout(Duration::from_secs(20), stream.message())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no watch answer within 20 s; got {out:?}; proxy:\n{}",
                    proxy.logs()
                )
            })
            .expect("no watch error")
            .expect("the watch is open");
        for e in answer.events() {
            assert_eq!(e.event_type(), EventType::Put);
            let kv = e.kv().unwrap();
            out.push((
                kv.key_str().unwrap().to_string(),
                kv.value_str().unwrap().to_string(),
                kv.mod_revision(),
            ));
        }
    }
    out
}

/// How long a test stays idle to outlast the proxy's idle cut: its timeout and a second more
/// (time itself is the point here). One second for proxies that have no short one.
fn outlast(kind: Kind) -> Duration {
    kind.idle_timeout()
        .map_or(Duration::from_secs(1), |t| t + Duration::from_secs(1))
}

async fn kv_and_txn(kind: Kind) {
    let (_etcd, _proxy, client) = through(kind).await;
    client.put("p/a", "1", None).await.unwrap();
    client
        .put("p/b", "2", Some(PutOptions::new().with_prev_key()))
        .await
        .unwrap();
    let got = client
        .get("p/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    let keys: Vec<_> = got.kvs().iter().map(|kv| kv.key_str().unwrap()).collect();
    assert_eq!(keys, ["p/a", "p/b"]);
    let txn = Txn::new()
        .when([etcdgw::Compare::value("p/a", etcdgw::CompareOp::Equal, "1")])
        .and_then([TxnOp::put("p/c", "3", None), TxnOp::delete("p/b", None)]);
    assert!(client.txn(txn).await.unwrap().succeeded());
    assert_eq!(
        client.get("p/c", None).await.unwrap().kvs()[0].value(),
        b"3"
    );
    assert_eq!(client.get("p/b", None).await.unwrap().count(), 0);
}

async fn watch_gets_every_event_once(kind: Kind) {
    let (_etcd, proxy, client) = through(kind).await;
    let mut stream = client
        .watch("w/", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    let created = stream.message().await.unwrap().unwrap();
    assert!(created.created());
    let writer = client.clone();
    let writes = tokio::spawn(async move {
        for i in 0..20 {
            writer
                .put(format!("w/{i:02}"), format!("v{i}"), None)
                .await
                .unwrap();
            if i == 9 {
                // Idle longer than the proxy lets a stream be (it cuts the watch, which resumes).
                tokio::time::sleep(outlast(kind)).await;
            }
        }
    });
    let got = events(&mut stream, 20, &proxy).await;
    writes.await.unwrap();
    let keys: Vec<_> = got.iter().map(|(k, _, _)| k.clone()).collect();
    let expected: Vec<_> = (0..20).map(|i| format!("w/{i:02}")).collect();
    assert_eq!(keys, expected, "every event once, in order");
    assert!(got.windows(2).all(|w| w[0].2 < w[1].2));
    // Nothing more: no event is delivered twice, however the proxy cut or held the stream.
    client.put("w/last", "x", None).await.unwrap();
    let last = events(&mut stream, 1, &proxy).await;
    assert_eq!(last[0].0, "w/last");
}

async fn lock_waits_longer_than_the_proxy_s_read_timeout(kind: Kind) {
    let (_etcd, _proxy, client) = through(kind).await;
    let holder = client.lease_grant(30, None).await.unwrap().id();
    let waiter = client.lease_grant(30, None).await.unwrap().id();
    let held = client
        .lock("job", Some(LockOptions::new().with_lease(holder)))
        .await
        .unwrap();
    let locker = client.clone();
    let waiting = tokio::spawn(async move {
        locker
            .lock("job", Some(LockOptions::new().with_lease(waiter)))
            .await
    });
    // Longer than the proxy waits for an answer: it answers the waiting call with its own 504,
    // and the client sends it again (the same lease takes up the same key).
    tokio::time::sleep(outlast(kind)).await;
    assert!(
        !waiting.is_finished(),
        "the lock is held: the call must still wait"
    );
    client.unlock(held.key()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the lock within 20 s of its release")
        .unwrap()
        .unwrap();
    assert!(got.key().starts_with(b"job/"));
    assert!(got.key().ends_with(format!("{waiter:x}").as_bytes()));
}

async fn a_lease_is_kept_alive_longer_than_the_proxy_s_idle_timeout(kind: Kind) {
    let (_etcd, _proxy, client) = through(kind).await;
    let mut lease = client.lease_client().grant_managed(3, None).await.unwrap();
    client
        .put("kept", "v", Some(PutOptions::new().with_lease(lease.id())))
        .await
        .unwrap();
    // Twice the lease's TTL, and longer than the proxy's idle timeout: time is the point.
    tokio::time::sleep(Duration::from_secs(6).max(outlast(kind))).await;
    assert!(lease.is_alive());
    let ttl = client.lease_time_to_live(lease.id(), None).await.unwrap();
    assert!(ttl.ttl() > 0, "{ttl:?}");
    assert_eq!(client.get("kept", None).await.unwrap().count(), 1);
}

async fn auth_through_the_proxy(kind: Kind) {
    let (etcd, proxy, admin) = through(kind).await;
    admin.user_add("root", ROOT_PW, None).await.unwrap();
    admin.role_add("root").await.unwrap();
    admin.user_grant_role("root", "root").await.unwrap();
    admin.auth_enable().await.unwrap();
    let root = Client::connect(
        [proxy.endpoint()],
        Some(proxy.connect_options().with_user("root", ROOT_PW)),
    )
    .await
    .unwrap();
    let mut stream = root
        .watch("a/", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    assert!(stream.message().await.unwrap().unwrap().created());
    root.put("a/k", "v", None).await.unwrap();
    assert_eq!(events(&mut stream, 1, &proxy).await[0].0, "a/k");
    let err = admin.get("a/k", None).await.unwrap_err();
    assert!(
        err.server_kind().is_some(),
        "etcd's own refusal, typed: {err:?}"
    );
    root.auth_disable().await.unwrap();
    drop(etcd);
}

async fn observe_through_the_proxy(kind: Kind) {
    let (_etcd, proxy, client) = through(kind).await;
    let lease = client.lease_grant(30, None).await.unwrap().id();
    let mut observe = client.observe("e").await.unwrap();
    let elected = client.campaign("e", "one", lease).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(20), observe.message())
        .await
        .unwrap_or_else(|_| panic!("no leader observed; proxy:\n{}", proxy.logs()))
        .unwrap()
        .unwrap();
    assert_eq!(first.kv().unwrap().value(), b"one");
    let leader = elected.leader().unwrap().clone();
    client
        .proclaim(
            "two",
            Some(etcdgw::ProclaimOptions::new().with_leader(leader)),
        )
        .await
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(20), observe.message())
        .await
        .expect("the proclaimed value observed")
        .unwrap()
        .unwrap();
    assert_eq!(
        second.kv().unwrap().value(),
        b"two",
        "each leader value once"
    );
}

async fn etcd_stopped_behind_the_proxy(kind: Kind) {
    let (mut etcd, proxy, client) = through(kind).await;
    client.put("s/before", "1", None).await.unwrap();
    let mut stream = client
        .watch("s/", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    assert!(stream.message().await.unwrap().unwrap().created());
    etcd.member.kill();
    // The proxy answers by itself; a read says so, typed, with the proxy's status.
    let quick = client.with_timeout(Duration::from_secs(5));
    match quick.get("s/before", None).await.unwrap_err() {
        Error::NotEtcd {
            status, body_head, ..
        } => {
            assert!((502..=504).contains(&status), "{status}: {body_head}");
        }
        // A proxy that keeps the connection waiting for etcd until the deadline.
        Error::Timeout { .. } => {}
        other => panic!("{other:?}; proxy:\n{}", proxy.logs()),
    }
    // A write too; it says whether it may have reached etcd (never "not applied" by guess).
    let err = quick.put("s/during", "x", None).await.unwrap_err();
    assert!(
        matches!(&err, Error::NotEtcd { .. } | Error::Timeout { .. }),
        "{err:?}"
    );
    etcd.member.start_again();
    etcd.member.wait_healthy(Duration::from_secs(60)).await;
    wait_until(
        "a request through the proxy to succeed again",
        Duration::from_secs(30),
        || {
            let client = &client;
            async move { client.put("s/after", "2", None).await.map(|_| ()) }
        },
    )
    .await;
    // The watch resumed behind the proxy: the write after the restart, once.
    let got = events(&mut stream, 1, &proxy).await;
    assert_eq!(got[0].0, "s/after");
}

macro_rules! through_each {
    ($($config:ident => $kind:expr),* $(,)?) => {$(
        mod $config {
            use super::*;

            #[tokio::test]
            async fn kv_and_txn() {
                super::kv_and_txn($kind).await
            }

            #[tokio::test]
            async fn watch_gets_every_event_once() {
                super::watch_gets_every_event_once($kind).await
            }

            #[tokio::test]
            async fn lock_waits_longer_than_the_proxy_s_read_timeout() {
                super::lock_waits_longer_than_the_proxy_s_read_timeout($kind).await
            }

            #[tokio::test]
            async fn a_lease_is_kept_alive_longer_than_the_proxy_s_idle_timeout() {
                super::a_lease_is_kept_alive_longer_than_the_proxy_s_idle_timeout($kind).await
            }

            #[tokio::test]
            async fn auth_through_the_proxy() {
                super::auth_through_the_proxy($kind).await
            }

            #[tokio::test]
            async fn observe_through_the_proxy() {
                super::observe_through_the_proxy($kind).await
            }

            #[tokio::test]
            async fn etcd_stopped_behind_the_proxy() {
                super::etcd_stopped_behind_the_proxy($kind).await
            }
        }
    )*};
}

through_each! {
    nginx_defaults => Kind::NginxDefaults,
    nginx_streaming => Kind::NginxStreaming,
    nginx_short_timeout => Kind::NginxShortTimeout,
    nginx_tls_h2 => Kind::NginxTlsH2,
    nginx_prefix_key => Kind::NginxPrefixKey,
    haproxy_short_timeout => Kind::HaproxyShortTimeout,
    haproxy_h2 => Kind::HaproxyH2,
    caddy => Kind::Caddy,
}

#[tokio::test]
async fn a_body_over_the_proxy_s_limit_is_its_413_not_sent() {
    // nginx's default client_max_body_size is 1 MiB; etcd takes 1.5 MiB.
    let (_etcd, _proxy, client) = through(Kind::NginxDefaults).await;
    let big = "x".repeat(900 * 1024); // 1.2 MB of base64 in the JSON
    match client.put("big", big, None).await.unwrap_err() {
        err @ Error::NotEtcd {
            status: 413,
            delivery: Delivery::NotSent,
            ..
        } => {
            assert!(!err.is_outcome_unknown());
            assert!(err.to_string().contains("larger than the proxy"), "{err}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.get("big", None).await.unwrap().count(), 0);
}

#[tokio::test]
async fn without_its_api_key_the_proxy_refuses_and_says_so() {
    let (_etcd, proxy, _client) = through(Kind::NginxPrefixKey).await;
    let bare = Client::connect([proxy.endpoint()], None).await.unwrap();
    match bare.put("k", "v", None).await.unwrap_err() {
        err @ Error::NotEtcd {
            status: 401,
            delivery: Delivery::NotSent,
            ..
        } => assert!(err.to_string().contains("with_header"), "{err}"),
        other => panic!("{other:?}"),
    }
    let wrong = Client::connect(
        [proxy.endpoint()],
        Some(ConnectOptions::new().with_header("X-Api-Key", "not-the-key")),
    )
    .await
    .unwrap();
    let err = wrong.get("k", None).await.unwrap_err();
    assert_eq!(err.http_status(), Some(401));
    // Neither the key nor a wrong one shows in an error or in Debug.
    assert!(!format!("{err:?}{err}").contains("not-the-key"));
    let options = ConnectOptions::new().with_header("X-Api-Key", API_KEY);
    assert!(!format!("{options:?}").contains(API_KEY));
}

#[tokio::test]
async fn a_buffering_proxy_is_found_out_and_forced_modes_work_both_ways() {
    // Forced long polls through a proxy that streams; forced streaming through one that
    // buffers fails the watch's open at the deadline, as before (nothing is detected).
    for (kind, mode) in [
        (Kind::NginxStreaming, StreamMode::LongPoll),
        (Kind::Caddy, StreamMode::LongPoll),
    ] {
        let (_etcd, proxy, client) = through_with(kind, |o| {
            o.with_stream_mode(mode)
                .with_long_poll_interval(Duration::from_millis(300))
        })
        .await;
        let mut stream = client
            .watch("f/", Some(WatchOptions::new().with_prefix()))
            .await
            .unwrap();
        assert!(stream.message().await.unwrap().unwrap().created());
        for i in 0..5 {
            client.put(format!("f/{i}"), "v", None).await.unwrap();
        }
        let got = events(&mut stream, 5, &proxy).await;
        let revisions: BTreeSet<_> = got.iter().map(|e| e.2).collect();
        assert_eq!(revisions.len(), 5, "{kind:?}: {got:?}");
    }
    let (_etcd, _proxy, client) = through_with(Kind::NginxDefaults, |o| {
        o.with_stream_mode(StreamMode::Stream)
            .with_timeout(Duration::from_secs(3))
    })
    .await;
    let err = match client.watch("f/", None).await {
        Ok(mut stream) => stream.message().await.unwrap_err(),
        Err(err) => err,
    };
    assert!(err.is_timeout(), "{err:?}");
}

/// A server that answers every request with a 503 page and hands over each request's head.
async fn head_catcher() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&buf).to_ascii_lowercase());
                let page = "<html>busy</html>";
                let answer = format!(
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (endpoint, rx)
}

#[tokio::test]
async fn headers_and_the_user_agent_go_with_every_request_and_the_application_s_client_is_used() {
    let (endpoint, mut heads) = head_catcher().await;
    let client = Client::connect(
        [endpoint.as_str()],
        Some(
            ConnectOptions::new()
                .with_header("X-Tenant", "t1")
                .with_headers([("X-Api-Key", "k1"), ("X-Api-Key", "k2")]),
        ),
    )
    .await
    .unwrap();
    let err = client.get("k", None).await.unwrap_err();
    // A 503 page: not etcd's answer; a read may be retried (it was, on the one endpoint).
    assert_eq!(err.http_status(), Some(503), "{err:?}");
    assert!(err.is_outcome_unknown());
    let head = heads.recv().await.unwrap();
    assert!(
        head.starts_with("post /v3/maintenance/status") || head.starts_with("post /v3/kv/range"),
        "{head}"
    );
    for line in [
        "x-tenant: t1",
        "x-api-key: k1",
        "x-api-key: k2",
        concat!("user-agent: etcdgw/", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(head.contains(line), "{line} in {head}");
    }

    // The application's own client, as it is: its default headers, no User-Agent of etcdgw's.
    let (endpoint, mut heads) = head_catcher().await;
    let mut defaults = etcdgw::reqwest::header::HeaderMap::new();
    defaults.insert("x-from-app", "yes".parse().unwrap());
    let own = etcdgw::reqwest::Client::builder()
        .default_headers(defaults)
        .build()
        .unwrap();
    let client = Client::connect(
        [endpoint.as_str()],
        Some(
            ConnectOptions::new()
                .with_http_client(own)
                .with_header("X-Tenant", "t2"),
        ),
    )
    .await
    .unwrap();
    let _ = client.get("k", None).await.unwrap_err();
    let head = heads.recv().await.unwrap();
    assert!(
        head.contains("x-from-app: yes") && head.contains("x-tenant: t2"),
        "{head}"
    );
    assert!(!head.contains("user-agent"), "{head}");

    // Or etcdgw's client changed by the application, with the User-Agent asked for.
    let (endpoint, mut heads) = head_catcher().await;
    let client = Client::connect(
        [endpoint.as_str()],
        Some(
            ConnectOptions::new()
                .with_http_client_builder(|b| {
                    let mut defaults = etcdgw::reqwest::header::HeaderMap::new();
                    defaults.insert("x-from-builder", "yes".parse().unwrap());
                    b.default_headers(defaults)
                })
                .with_user_agent("billing/2.1"),
        ),
    )
    .await
    .unwrap();
    let _ = client.get("k", None).await.unwrap_err();
    let head = heads.recv().await.unwrap();
    assert!(head.contains("x-from-builder: yes"), "{head}");
    assert!(head.contains("user-agent: billing/2.1"), "{head}");
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_at_connect_without_showing_values() {
    for (options, named) in [
        (
            ConnectOptions::new().with_header("Content-Type", "text/plain"),
            "content-type",
        ),
        (
            ConnectOptions::new().with_header("Grpc-Timeout", "1S"),
            "grpc-timeout",
        ),
        (
            ConnectOptions::new()
                .with_user("root", "pw")
                .with_header("Authorization", "Bearer s3cr3t"),
            "authorization",
        ),
        (
            ConnectOptions::new().with_header("X-Key", "s3cr3t\r\nX-Evil: 1"),
            "x-key",
        ),
        (
            ConnectOptions::new().with_user_agent("bad\nagent"),
            "with_user_agent",
        ),
        (
            ConnectOptions::new().with_long_poll_interval(Duration::from_millis(10)),
            "with_long_poll_interval",
        ),
        (
            ConnectOptions::new()
                .with_http_client(etcdgw::reqwest::Client::new())
                .with_tls(etcdgw::TlsOptions::new()),
            "with_http_client",
        ),
    ] {
        let shown = format!("{options:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("\"pw\""),
            "{shown}"
        );
        let tls = named == "with_http_client";
        let endpoint = if tls {
            "https://127.0.0.1:9"
        } else {
            "http://127.0.0.1:9"
        };
        let err = Client::connect([endpoint], Some(options))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
        assert!(text.to_ascii_lowercase().contains(named), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}

#[tokio::test]
async fn watches_through_a_buffering_proxy_share_the_bounded_long_polls() {
    // nginx at its defaults buffers answers and does not pass WebSockets on: the watches go as
    // long polls, each poll one request carrying many of them (`src/transport/bundle.rs`),
    // at most the bound of them, every event once.
    const WATCHES: usize = 40;
    let (etcd, proxy, client) = through_with(Kind::NginxDefaults, |o| {
        o.with_long_poll_interval(Duration::from_millis(500))
    })
    .await;
    let key = |i: usize| format!("poll/{i:02}");
    let streams = (0..WATCHES).map(|i| {
        let client = client.clone();
        async move {
            let mut stream = client.watch(key(i), None).await.unwrap();
            assert!(stream.message().await.unwrap().unwrap().created());
            stream
        }
    });
    let mut streams = futures_util::future::join_all(streams).await;
    // The shared polls (a new one can overlap its predecessor for a moment), the watch that
    // found the proxy out, and the pooled connection of the client's other calls.
    let held = etcdgw_test_support::sockets::connections_to(&proxy.endpoint());
    assert!(
        held <= 2 * etcdgw::DEFAULT_STREAMS_PER_ENDPOINT + 2,
        "{held} connections for {WATCHES} watches"
    );
    let writer = etcd.client().await;
    for round in ["a", "b"] {
        for i in 0..WATCHES {
            writer.put(key(i), round, None).await.unwrap();
        }
    }
    let reads = streams.iter_mut().map(|stream| events(stream, 2, &proxy));
    for (i, got) in futures_util::future::join_all(reads)
        .await
        .into_iter()
        .enumerate()
    {
        let values: Vec<&str> = got.iter().map(|(_, v, _)| v.as_str()).collect();
        assert_eq!(values, ["a", "b"], "watch {i}");
    }
}
