//! Namespaced KV, lease and watch: nothing outside the namespace is seen, keys come back
//! without the prefix, and from-key / all-keys ranges stay inside.

use std::time::Duration;

use etcdgw::{
    Compare, CompareOp, DeleteOptions, GetOptions, KvClientPrefix, LeaseClientPrefix,
    LeaseTimeToLiveOptions, PutOptions, Txn, TxnOp, TxnOpResponse, WatchClientPrefix, WatchOptions,
};

use etcdgw_test_support::Etcd;

fn keys(resp: &etcdgw::GetResponse) -> Vec<String> {
    resp.kvs()
        .iter()
        .map(|kv| kv.key_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn namespaced_kv_never_sees_keys_outside_and_strips_the_prefix() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    // Keys around the namespace "ns/" on both sides.
    for key in ["ns", "nr/x", "ns/a", "ns/b", "ns0", "nt/z"] {
        client.put(key, format!("raw {key}"), None).await.unwrap();
    }
    let ns = KvClientPrefix::new(client.kv_client(), "ns/".into());

    assert_eq!(keys(&ns.get("a", None).await.unwrap()), ["a"]);
    assert_eq!(
        keys(
            &ns.get("", Some(GetOptions::new().with_prefix()))
                .await
                .unwrap()
        ),
        ["a", "b"]
    );
    assert_eq!(
        keys(
            &ns.get("", Some(GetOptions::new().with_all_keys()))
                .await
                .unwrap()
        ),
        ["a", "b"]
    );
    assert_eq!(
        keys(
            &ns.get("b", Some(GetOptions::new().with_from_key()))
                .await
                .unwrap()
        ),
        ["b"],
        "from-key ends at the namespace's end"
    );
    assert_eq!(
        keys(
            &ns.get("a", Some(GetOptions::new().with_range("b")))
                .await
                .unwrap()
        ),
        ["a"]
    );

    let put = ns
        .put("a", "new", Some(PutOptions::new().with_prev_key()))
        .await
        .unwrap();
    assert_eq!(put.prev_key().unwrap().key(), b"a");
    assert_eq!(
        client.get("ns/a", None).await.unwrap().kvs()[0]
            .value_str()
            .unwrap(),
        "new"
    );

    let txn = Txn::new()
        .when([
            Compare::value("a", CompareOp::Equal, "new"),
            Compare::version("", CompareOp::Greater, 0).with_prefix(),
        ])
        .and_then([
            TxnOp::put("c", "from txn", None),
            TxnOp::get("", Some(GetOptions::new().with_from_key())),
            TxnOp::txn(Txn::new().and_then([TxnOp::delete(
                "b",
                Some(DeleteOptions::new().with_prev_key()),
            )])),
        ]);
    let resp = ns.txn(txn).await.unwrap();
    assert!(resp.succeeded());
    let ops = resp.op_responses();
    let TxnOpResponse::Get(get) = &ops[1] else {
        panic!("{ops:?}")
    };
    assert_eq!(keys(get), ["a", "b", "c"]);
    let TxnOpResponse::Txn(inner) = &ops[2] else {
        panic!("{ops:?}")
    };
    let TxnOpResponse::Delete(del) = &inner.op_responses()[0] else {
        panic!()
    };
    assert_eq!(del.prev_kvs()[0].key(), b"b");

    let deleted = ns
        .delete("", Some(DeleteOptions::new().with_all_keys()))
        .await
        .unwrap();
    assert_eq!(deleted.deleted(), 2, "a and c");
    let outside = client
        .get("", Some(GetOptions::new().with_all_keys()))
        .await
        .unwrap();
    assert_eq!(
        keys(&outside),
        ["nr/x", "ns", "ns0", "nt/z"],
        "nothing outside was touched"
    );
}

#[tokio::test]
async fn a_namespaced_watch_sees_only_its_keys_without_the_prefix() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let watcher = WatchClientPrefix::new(client.watch_client(), "app/");
    let mut all = watcher
        .watch(
            "",
            Some(WatchOptions::new().with_all_keys().with_prev_key()),
        )
        .await
        .unwrap();
    let mut from = watcher
        .watch("m", Some(WatchOptions::new().with_from_key()))
        .await
        .unwrap();
    assert!(all.message().await.unwrap().unwrap().created());
    assert!(from.message().await.unwrap().unwrap().created());

    for key in ["app", "app/a", "app0", "other", "app/z", "apq"] {
        client.put(key, "v", None).await.unwrap();
    }
    client.put("app/a", "v2", None).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let resp = tokio::time::timeout(Duration::from_secs(10), all.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        for e in resp.events() {
            seen.push(e.kv().unwrap().key_str().unwrap().to_string());
            if let Some(prev) = e.prev_kv() {
                assert_eq!(prev.key(), b"a");
            }
        }
    }
    assert_eq!(seen, ["a", "z", "a"]);
    let resp = tokio::time::timeout(Duration::from_secs(10), from.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        resp.events()[0].kv().unwrap().key(),
        b"z",
        "from-key stays inside the namespace"
    );

    // A watch added to the same stream is namespaced too.
    all.watch("b", None).await.unwrap();
    assert!(all.message().await.unwrap().unwrap().created());
    client.put("app/b", "v", None).await.unwrap();
    client.put("b", "v", None).await.unwrap();
    let mut by_watch = Vec::new();
    while by_watch.len() < 2 {
        let r = tokio::time::timeout(Duration::from_secs(10), all.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        for e in r.events() {
            by_watch.push((r.watch_id(), e.kv().unwrap().key_str().unwrap().to_string()));
        }
    }
    by_watch.sort();
    assert_eq!(by_watch, [(0, "b".to_string()), (1, "b".to_string())]);
}

#[tokio::test]
async fn namespaced_time_to_live_lists_keys_without_the_prefix() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let lease = client.lease_grant(30, None).await.unwrap().id();
    let ns = KvClientPrefix::new(client.kv_client(), "t/".into());
    ns.put("one", "1", Some(PutOptions::new().with_lease(lease)))
        .await
        .unwrap();
    let leases = LeaseClientPrefix::new(client.lease_client(), "t/".into());
    let ttl = leases
        .time_to_live(lease, Some(LeaseTimeToLiveOptions::new().with_keys()))
        .await
        .unwrap();
    assert_eq!(ttl.keys(), [b"one".to_vec()]);
}
