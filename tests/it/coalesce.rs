//! Read coalescing against live members: gets that wait behind others go as one txn, and
//! each caller still gets what its own get would have got: the same answer, its own error
//! (and nobody else's), and never a read older than a write that completed before it.
//!
//! That batches really went is checked on the server's side: etcd counts the gRPC calls its
//! gateway makes (`grpc_server_handled_total` on `/metrics`), so a batch shows as a `Txn`
//! where the gets would have been `Range`s.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use etcdgw::{
    Client, ConnectOptions, Error, GetOptions, GetResponse, KvClientPrefix, Permission,
    ServerErrorKind,
};
use futures_util::future::join_all;

use etcdgw_test_support::{Cluster, Etcd};

/// How many times the member's gRPC server handled `method` (`Range`, `Txn`), with `code`
/// (`OK`, `PermissionDenied`, ...) or any.
async fn handled(endpoint: &str, method: &str, code: Option<&str>) -> u64 {
    let text = reqwest::get(format!("{endpoint}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let method = format!("grpc_method=\"{method}\"");
    let code = code.map(|c| format!("grpc_code=\"{c}\""));
    text.lines()
        .filter(|l| l.starts_with("grpc_server_handled_total{"))
        .filter(|l| l.contains(&method) && l.contains("etcdserverpb.KV"))
        .filter(|l| code.as_ref().is_none_or(|c| l.contains(c.as_str())))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// How many gets the member is serving, as its counters tell: `Range` calls started less those
/// handled.
async fn ranges_in_flight(endpoint: &str) -> i64 {
    let text = reqwest::get(format!("{endpoint}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |family: &str| {
        text.lines()
            .filter(|l| l.starts_with(family))
            .filter(|l| l.contains("grpc_method=\"Range\"") && l.contains("etcdserverpb.KV"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum::<f64>() as i64
    };
    count("grpc_server_started_total{") - count("grpc_server_handled_total{")
}

/// What an answer says, header included (the header's revision and member, not its term).
fn summary(resp: &GetResponse) -> String {
    let header = resp.header().unwrap();
    let kvs: Vec<_> = resp
        .kvs()
        .iter()
        .map(|kv| {
            format!(
                "{}={} c{} m{} v{} l{}",
                String::from_utf8_lossy(kv.key()),
                String::from_utf8_lossy(kv.value()),
                kv.create_revision(),
                kv.mod_revision(),
                kv.version(),
                kv.lease()
            )
        })
        .collect();
    format!(
        "cluster {} member {} rev {} count {} more {} {kvs:?}",
        header.cluster_id(),
        header.member_id(),
        header.revision(),
        resp.count(),
        resp.more()
    )
}

/// A mix of point gets: present and missing keys, repeats, and each option a point get can
/// have (the serializable ones batch apart from the others).
fn mixed_gets(prefix: &str) -> Vec<(String, GetOptions)> {
    let mut gets = Vec::new();
    for i in 0..64 {
        let key = format!("{prefix}{}", i % 40); // 0..24 asked twice; 40.. missing
        let key = if i >= 56 {
            format!("{prefix}missing{i}")
        } else {
            key
        };
        let options = match i % 8 {
            1 => GetOptions::new().with_keys_only(),
            2 => GetOptions::new().with_count_only(),
            3 => GetOptions::new().with_limit(1),
            4 => GetOptions::new().with_serializable(),
            5 => GetOptions::new().with_min_mod_revision(1_000_000),
            _ => GetOptions::new(),
        };
        gets.push((key, options));
    }
    gets
}

#[tokio::test]
async fn batched_answers_equal_unbatched_ones() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let alone = etcd
        .client_with(ConnectOptions::new().with_read_coalescing(false))
        .await;
    for i in 0..40 {
        client
            .put(format!("eq/{i}"), format!("value {i}"), None)
            .await
            .unwrap();
    }
    let gets = mixed_gets("eq/");
    let txns = handled(&etcd.endpoint(), "Txn", None).await;
    let ranges = handled(&etcd.endpoint(), "Range", None).await;

    let batched = join_all(
        gets.iter()
            .map(|(k, o)| client.get(k.clone(), Some(o.clone()))),
    )
    .await;

    let batched_txns = handled(&etcd.endpoint(), "Txn", None).await - txns;
    let batched_ranges = handled(&etcd.endpoint(), "Range", None).await - ranges;
    assert!(batched_txns >= 1, "no batch was sent");
    assert!(
        batched_ranges + batched_txns < 64,
        "64 gets took {batched_ranges} ranges and {batched_txns} txns"
    );

    // No write since: the same gets one by one, coalescing off, give the same answers.
    for ((key, options), batched) in gets.iter().zip(batched) {
        let one = alone.get(key.clone(), Some(options.clone())).await.unwrap();
        assert_eq!(
            summary(&batched.unwrap()),
            summary(&one),
            "{key} {options:?}"
        );
    }
}

#[tokio::test]
async fn coalescing_off_sends_every_get_alone() {
    let etcd = Etcd::start().await;
    let client = etcd
        .client_with(ConnectOptions::new().with_read_coalescing(false))
        .await;
    client.put("off/k", "v", None).await.unwrap();
    let txns = handled(&etcd.endpoint(), "Txn", None).await;
    let ranges = handled(&etcd.endpoint(), "Range", None).await;
    let answers = join_all((0..64).map(|i| client.get(format!("off/{}", i % 3), None))).await;
    assert!(answers.into_iter().all(|a| a.is_ok()));
    assert_eq!(handled(&etcd.endpoint(), "Txn", None).await, txns);
    assert_eq!(handled(&etcd.endpoint(), "Range", None).await - ranges, 64);
}

#[tokio::test]
async fn one_forbidden_key_fails_only_its_own_get() {
    let etcd = Etcd::start().await;
    let admin = etcd.client().await;
    for i in 0..63 {
        admin
            .put(format!("open/{i}"), format!("v{i}"), None)
            .await
            .unwrap();
    }
    admin.put("closed", "secret", None).await.unwrap();
    admin.user_add("root", "root-pw", None).await.unwrap();
    admin.role_add("root").await.unwrap();
    admin.user_grant_role("root", "root").await.unwrap();
    admin.user_add("reader", "reader-pw", None).await.unwrap();
    admin.role_add("open-reader").await.unwrap();
    admin
        .role_grant_permission("open-reader", Permission::read("open/").with_prefix())
        .await
        .unwrap();
    admin
        .user_grant_role("reader", "open-reader")
        .await
        .unwrap();
    admin.auth_enable().await.unwrap();
    let reader = etcd
        .client_with(ConnectOptions::new().with_user("reader", "reader-pw"))
        .await;
    // A token first, so that the 64 gets are the only requests in the counts below.
    reader.get("open/0", None).await.unwrap();
    let denied_txns = handled(&etcd.endpoint(), "Txn", Some("PermissionDenied")).await;

    // The forbidden key last: it waits, and goes in a batch with others.
    let keys: Vec<String> = (0..63)
        .map(|i| format!("open/{i}"))
        .chain(["closed".to_string()])
        .collect();
    let answers = join_all(keys.iter().map(|k| reader.get(k.clone(), None))).await;

    let mut denied = 0;
    for (key, answer) in keys.iter().zip(answers) {
        match answer {
            Ok(resp) => {
                let i: usize = key.strip_prefix("open/").unwrap().parse().unwrap();
                assert_eq!(resp.kvs()[0].value_str().unwrap(), format!("v{i}"));
            }
            Err(err) => {
                assert_eq!(key, "closed", "{err}");
                assert_eq!(
                    err.server_kind(),
                    Some(ServerErrorKind::PermissionDenied),
                    "{err}"
                );
                denied += 1;
            }
        }
    }
    assert_eq!(denied, 1);
    assert!(
        handled(&etcd.endpoint(), "Txn", Some("PermissionDenied")).await > denied_txns,
        "the forbidden get never went in a batch"
    );
}

#[tokio::test]
async fn a_get_issued_after_a_put_returns_the_put() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    for i in 0..16 {
        client.put(format!("fresh/{i}"), "0", None).await.unwrap();
    }
    let txns = handled(&etcd.endpoint(), "Txn", Some("OK")).await;
    // Readers keep the queue full (different keys: real txns), each checking that its
    // answers never go back in revision.
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..32)
        .map(|r| {
            let (client, stop) = (client.clone(), stop.clone());
            tokio::spawn(async move {
                let mut last = 0;
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let resp = client.get(format!("fresh/{}", r % 16), None).await.unwrap();
                    let rev = resp.header().unwrap().revision();
                    assert!(rev >= last, "reader {r} went back from {last} to {rev}");
                    last = rev;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    // The writer: every get after a completed put sees that put (or a later one).
    for round in 1..=100 {
        let key = format!("fresh/{}", round % 16);
        let put = client
            .put(key.clone(), round.to_string(), None)
            .await
            .unwrap();
        let got = client.get(key.clone(), None).await.unwrap();
        assert!(got.header().unwrap().revision() >= put.header().unwrap().revision());
        assert_eq!(
            got.kvs()[0].value_str().unwrap(),
            round.to_string(),
            "{key}"
        );
        assert_eq!(
            got.kvs()[0].mod_revision(),
            put.header().unwrap().revision()
        );
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }
    assert!(
        handled(&etcd.endpoint(), "Txn", Some("OK")).await > txns,
        "the reads never went in a batch"
    );
}

#[tokio::test]
async fn a_smaller_txn_limit_is_learned_and_every_get_answered() {
    let etcd = Etcd::builder().arg("--max-txn-ops=4").start().await;
    let client = etcd.client().await;
    for i in 0..64 {
        client
            .put(format!("ops/{i}"), i.to_string(), None)
            .await
            .unwrap();
    }
    let mut refused_before = handled(&etcd.endpoint(), "Txn", Some("InvalidArgument")).await;
    let mut quiet_round = false;
    for _ in 0..12 {
        let txns_ok = handled(&etcd.endpoint(), "Txn", Some("OK")).await;
        let answers = join_all((0..64).map(|i| client.get(format!("ops/{i}"), None))).await;
        for (i, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.unwrap().kvs()[0].value_str().unwrap(), i.to_string());
        }
        let refused = handled(&etcd.endpoint(), "Txn", Some("InvalidArgument")).await;
        if refused == refused_before {
            // No refusal in this round: the batches fit the limit, and still went.
            assert!(handled(&etcd.endpoint(), "Txn", Some("OK")).await > txns_ok);
            quiet_round = true;
            break;
        }
        refused_before = refused;
    }
    assert!(quiet_round, "batches never fitted the server's limit");
}

#[tokio::test]
async fn namespaced_gets_go_together_and_lose_their_prefix() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    for i in 0..64 {
        client
            .put(format!("tenant/{i}"), format!("t{i}"), None)
            .await
            .unwrap();
        client.put(i.to_string(), "outside", None).await.unwrap();
    }
    let tenant = KvClientPrefix::new(client.kv_client(), "tenant/".into());
    let txns = handled(&etcd.endpoint(), "Txn", Some("OK")).await;
    let answers = join_all((0..64).map(|i| tenant.get(i.to_string(), None))).await;
    for (i, answer) in answers.into_iter().enumerate() {
        let answer = answer.unwrap();
        let kv = &answer.kvs()[0];
        assert_eq!(kv.key_str().unwrap(), i.to_string());
        assert_eq!(kv.value_str().unwrap(), format!("t{i}"));
    }
    assert!(handled(&etcd.endpoint(), "Txn", Some("OK")).await > txns);
}

#[tokio::test]
async fn batches_fail_over_from_a_dead_member() {
    let mut cluster = Cluster::start(3).await;
    let endpoints = cluster.endpoints();
    let client = Client::connect(&endpoints, None).await.unwrap();
    for i in 0..64 {
        client
            .put(format!("fo/{i}"), i.to_string(), None)
            .await
            .unwrap();
    }
    // Requests stick to the first endpoint: kill it, and the gets (batches included) move.
    cluster.members[0].kill();
    let answers = join_all((0..64).map(|i| client.get(format!("fo/{i}"), None))).await;
    for (i, answer) in answers.into_iter().enumerate() {
        let answer = answer.unwrap_or_else(|e: Error| panic!("fo/{i}: {e}"));
        assert_eq!(answer.kvs()[0].value_str().unwrap(), i.to_string());
    }
    let mut txns = 0;
    for endpoint in &endpoints[1..] {
        txns += handled(endpoint, "Txn", Some("OK")).await;
    }
    assert!(txns >= 1, "no batch reached a live member");
}

/// A batch is sent by a task of its own: a caller whose future is not polled (held in a
/// `select!`, say) holds up nobody else's answer, and one that gives up takes only its own get
/// out. Before, the get with the latest deadline sent the batch from its own future: these
/// gets would have waited for it until their deadline.
#[tokio::test]
async fn a_caller_that_is_not_polled_or_gives_up_holds_up_nobody() {
    use std::future::Future;
    use std::pin::Pin;
    use std::time::Duration;

    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    for i in 0..64 {
        client
            .put(format!("idle/{i}"), i.to_string(), None)
            .await
            .unwrap();
    }
    let soon = client.with_timeout(Duration::from_secs(5));
    let late = client.with_timeout(Duration::from_secs(60));
    let txns = handled(&etcd.endpoint(), "Txn", Some("OK")).await;
    type Get<'a> = Pin<Box<dyn Future<Output = etcdgw::Result<GetResponse>> + 'a>>;
    let mut gets: Vec<(usize, Get<'_>)> = (0..63)
        .map(|i| (i, Box::pin(soon.get(format!("idle/{i}"), None)) as Get<'_>))
        .collect();
    // The latest deadline of all: the one that used to send the batch.
    let mut idle: Get<'_> = Box::pin(late.get("idle/63", None));
    // Each polled once: two go at once, the others wait in the queue.
    for (_, get) in &mut gets {
        assert!(futures_util::poll!(get.as_mut()).is_pending());
    }
    assert!(futures_util::poll!(idle.as_mut()).is_pending());
    // Some callers give up while they wait.
    let kept: Vec<_> = gets.into_iter().filter(|(i, _)| i % 5 != 4).collect();

    // The others are answered while `idle` is never polled.
    let answers = join_all(
        kept.into_iter()
            .map(|(i, get)| async move { (i, get.await) }),
    )
    .await;
    for (i, answer) in answers {
        let answer = answer.unwrap_or_else(|e| panic!("idle/{i}: {e}"));
        assert_eq!(answer.kvs()[0].value_str().unwrap(), i.to_string());
    }
    assert!(
        handled(&etcd.endpoint(), "Txn", Some("OK")).await > txns,
        "the waiting gets never went as a batch"
    );
    // And `idle`'s answer waited for it.
    let answer = idle.await.unwrap();
    assert_eq!(answer.kvs()[0].value_str().unwrap(), "63");
}

/// A refused batch's gets go again alone, but through the same in-flight limit as every other
/// get: never more than the two a class may have in flight (they used to go all at once, up to
/// 128 requests exactly when the server had just refused), and each goes once.
///
/// The member is cut off from the others, so every get it receives stays in flight (a
/// linearizable read waits for a leader) and its counters say exactly how many it received;
/// a txn over `--max-txn-ops` is refused at once all the same.
#[tokio::test]
async fn a_refused_batch_goes_again_within_the_in_flight_limit() {
    use std::time::Duration;

    let cluster = Cluster::start_with(3, Etcd::builder().arg("--max-txn-ops=4")).await;
    let endpoint = cluster.members[0].endpoint();
    let client = Client::connect(
        [&endpoint],
        Some(ConnectOptions::new().with_timeout(Duration::from_secs(30))),
    )
    .await
    .unwrap();
    for i in 0..130 {
        client
            .put(format!("cut/{i}"), i.to_string(), None)
            .await
            .unwrap();
    }
    let ranges_ok = handled(&endpoint, "Range", Some("OK")).await;
    let refused = handled(&endpoint, "Txn", Some("InvalidArgument")).await;
    cluster.members[1].signal("STOP");
    cluster.members[2].signal("STOP");

    // Two gets go at once and wait for a leader; the other 128 fill a batch, which goes
    // without waiting for a slot, and is refused: 128 operations, over the member's limit.
    let gets = tokio::spawn({
        let client = client.clone();
        async move { join_all((0..130).map(|i| client.get(format!("cut/{i}"), None))).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while handled(&endpoint, "Txn", Some("InvalidArgument")).await == refused {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no batch was refused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Time for the refused batch's gets to go, if they were to go at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_flight = ranges_in_flight(&endpoint).await;
    cluster.members[1].signal("CONT");
    cluster.members[2].signal("CONT");

    assert!(
        in_flight <= 2,
        "the member had {in_flight} gets in flight after the refusal"
    );
    let answers = gets.await.unwrap();
    for (i, answer) in answers.into_iter().enumerate() {
        let answer = answer.unwrap_or_else(|e| panic!("cut/{i}: {e}"));
        assert_eq!(answer.kvs()[0].value_str().unwrap(), i.to_string());
    }
    // Each get answered by a range of its own, once: the two that went at once, and the 128
    // of the refused batch, one after another.
    assert_eq!(
        handled(&endpoint, "Range", Some("OK")).await - ranges_ok,
        130
    );
    assert_eq!(
        handled(&endpoint, "Txn", Some("InvalidArgument")).await - refused,
        1
    );
}
