//! Every KV operation and option against a live member, checked against the server's answer.

use std::collections::BTreeSet;

use etcdgw::{
    CompactionOptions, Compare, CompareOp, DeleteOptions, Error, GetOptions, PutOptions,
    ServerErrorKind, SortOrder, SortTarget, Txn, TxnOp, TxnOpResponse,
};
use futures_util::TryStreamExt;

use etcdgw_test_support::Etcd;

fn keys(kvs: &[etcdgw::KeyValue]) -> Vec<String> {
    kvs.iter()
        .map(|kv| kv.key_str().unwrap().to_string())
        .collect()
}

/// Grants a lease over raw HTTP (the lease API is tested on its own).
async fn raw_lease(etcd: &Etcd, ttl: i64) -> i64 {
    let text = reqwest::Client::new()
        .post(format!("{}/v3/lease/grant", etcd.endpoint()))
        .body(format!("{{\"TTL\":\"{ttl}\"}}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    body["ID"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn put_then_get_returns_the_value_with_its_revisions() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;

    let put = client.put("greeting", "hello", None).await.unwrap();
    let rev = put.header().unwrap().revision();
    let resp = client.get("greeting", None).await.unwrap();

    let header = resp.header().unwrap();
    assert!(header.cluster_id() != 0 && header.member_id() != 0 && header.raft_term() > 0);
    assert_eq!(header.revision(), rev);
    assert_eq!(resp.count(), 1);
    assert!(!resp.more());
    let kv = &resp.kvs()[0];
    assert_eq!((kv.key(), kv.value()), (&b"greeting"[..], &b"hello"[..]));
    assert_eq!(
        (
            kv.create_revision(),
            kv.mod_revision(),
            kv.version(),
            kv.lease()
        ),
        (rev, rev, 1, 0)
    );
}

#[tokio::test]
async fn get_of_a_missing_key_is_empty_not_an_error() {
    let etcd = Etcd::start().await;
    let resp = etcd.client().await.get("nothing-here", None).await.unwrap();
    assert!(resp.kvs().is_empty());
    assert_eq!((resp.count(), resp.more()), (0, false));
}

#[tokio::test]
async fn range_prefix_from_key_and_all_keys_select_the_right_keys() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    for key in ["a", "app/1", "app/2", "app0", "b", "c"] {
        client.put(key, "v", None).await.unwrap();
    }

    let prefix = client
        .get("app/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    assert_eq!(keys(prefix.kvs()), ["app/1", "app/2"]);
    let range = client
        .get("app/2", Some(GetOptions::new().with_range("b")))
        .await
        .unwrap();
    assert_eq!(keys(range.kvs()), ["app/2", "app0"]);
    let from = client
        .get("b", Some(GetOptions::new().with_from_key()))
        .await
        .unwrap();
    assert_eq!(keys(from.kvs()), ["b", "c"]);
    let all = client
        .get("", Some(GetOptions::new().with_all_keys()))
        .await
        .unwrap();
    assert_eq!(all.count(), 6);
    let empty_prefix = client
        .get("", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    assert_eq!(empty_prefix.count(), 6);
    // The last range option wins, as in etcd-client.
    let last = client
        .get(
            "app/",
            Some(GetOptions::new().with_from_key().with_prefix()),
        )
        .await
        .unwrap();
    assert_eq!(keys(last.kvs()), ["app/1", "app/2"]);
}

#[tokio::test]
async fn limit_sets_more_and_count_keeps_the_total() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    for i in 0..5 {
        client.put(format!("k/{i}"), "v", None).await.unwrap();
    }
    let resp = client
        .get("k/", Some(GetOptions::new().with_prefix().with_limit(2)))
        .await
        .unwrap();
    assert_eq!(keys(resp.kvs()), ["k/0", "k/1"]);
    assert!(resp.more());
    assert_eq!(resp.count(), 5);
    let resp = client
        .get("k/", Some(GetOptions::new().with_prefix().with_limit(5)))
        .await
        .unwrap();
    assert!(!resp.more());
}

#[tokio::test]
async fn sort_orders_by_every_target() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    // k/a: created first, written 3 times, value "z"; k/b: value "a", once; k/c: value "m", twice.
    client.put("k/a", "x", None).await.unwrap();
    client.put("k/b", "a", None).await.unwrap();
    client.put("k/c", "m", None).await.unwrap();
    client.put("k/a", "y", None).await.unwrap();
    client.put("k/c", "m", None).await.unwrap();
    client.put("k/a", "z", None).await.unwrap();

    let sorted = |target, order| {
        let client = client.clone();
        async move {
            let resp = client
                .get(
                    "k/",
                    Some(GetOptions::new().with_prefix().with_sort(target, order)),
                )
                .await
                .unwrap();
            keys(resp.kvs())
        }
    };
    assert_eq!(
        sorted(SortTarget::Key, SortOrder::Descend).await,
        ["k/c", "k/b", "k/a"]
    );
    assert_eq!(
        sorted(SortTarget::Key, SortOrder::Ascend).await,
        ["k/a", "k/b", "k/c"]
    );
    assert_eq!(
        sorted(SortTarget::Version, SortOrder::Descend).await,
        ["k/a", "k/c", "k/b"]
    );
    assert_eq!(
        sorted(SortTarget::Create, SortOrder::Descend).await,
        ["k/c", "k/b", "k/a"]
    );
    assert_eq!(
        sorted(SortTarget::Mod, SortOrder::Ascend).await,
        ["k/b", "k/c", "k/a"]
    );
    assert_eq!(
        sorted(SortTarget::Value, SortOrder::Ascend).await,
        ["k/b", "k/c", "k/a"]
    );
    assert_eq!(
        sorted(SortTarget::Value, SortOrder::Descend).await,
        ["k/a", "k/c", "k/b"]
    );
}

#[tokio::test]
async fn keys_only_count_only_and_serializable_reads() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    client.put("s/1", "one", None).await.unwrap();
    client.put("s/2", "two", None).await.unwrap();

    let keys_only = client
        .get("s/", Some(GetOptions::new().with_prefix().with_keys_only()))
        .await
        .unwrap();
    assert_eq!(keys(keys_only.kvs()), ["s/1", "s/2"]);
    assert!(keys_only.kvs().iter().all(|kv| kv.value().is_empty()));
    let count = client
        .get(
            "s/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .unwrap();
    assert!(count.kvs().is_empty());
    assert_eq!(count.count(), 2);
    let serializable = client
        .get("s/2", Some(GetOptions::new().with_serializable()))
        .await
        .unwrap();
    assert_eq!(serializable.kvs()[0].value_str().unwrap(), "two");
}

#[tokio::test]
async fn reading_at_a_past_revision_and_filtering_by_revisions() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let r1 = client
        .put("r/a", "1", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    let r2 = client
        .put("r/b", "1", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    let r3 = client
        .put("r/a", "2", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();

    let old = client
        .get("r/a", Some(GetOptions::new().with_revision(r2)))
        .await
        .unwrap();
    assert_eq!(old.kvs()[0].value_str().unwrap(), "1");
    assert_eq!(
        old.header().unwrap().revision(),
        r3,
        "the header has the current revision"
    );

    let prefix = || GetOptions::new().with_prefix();
    let min_mod = client
        .get("r/", Some(prefix().with_min_mod_revision(r3)))
        .await
        .unwrap();
    assert_eq!(keys(min_mod.kvs()), ["r/a"]);
    let max_mod = client
        .get("r/", Some(prefix().with_max_mod_revision(r2)))
        .await
        .unwrap();
    assert_eq!(keys(max_mod.kvs()), ["r/b"]);
    let min_create = client
        .get("r/", Some(prefix().with_min_create_revision(r2)))
        .await
        .unwrap();
    assert_eq!(keys(min_create.kvs()), ["r/b"]);
    let max_create = client
        .get("r/", Some(prefix().with_max_create_revision(r1)))
        .await
        .unwrap();
    assert_eq!(keys(max_create.kvs()), ["r/a"]);
}

#[tokio::test]
async fn put_returns_the_previous_pair_only_when_asked_and_only_if_it_existed() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let first = client
        .put("p", "1", Some(PutOptions::new().with_prev_key()))
        .await
        .unwrap();
    assert!(first.prev_key().is_none());
    let second = client
        .put("p", "2", Some(PutOptions::new().with_prev_key()))
        .await
        .unwrap();
    let prev = second.prev_key().unwrap();
    assert_eq!((prev.value_str().unwrap(), prev.version()), ("1", 1));
    let third = client.put("p", "3", None).await.unwrap();
    assert!(third.prev_key().is_none());
}

#[tokio::test]
async fn put_with_a_lease_and_the_ignore_options() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let lease = raw_lease(&etcd, 60).await;

    client
        .put("l", "v1", Some(PutOptions::new().with_lease(lease)))
        .await
        .unwrap();
    assert_eq!(client.get("l", None).await.unwrap().kvs()[0].lease(), lease);

    // ignore_lease keeps the lease while changing the value.
    client
        .put("l", "v2", Some(PutOptions::new().with_ignore_lease()))
        .await
        .unwrap();
    let kv = client.get("l", None).await.unwrap().kvs()[0].clone();
    assert_eq!((kv.value_str().unwrap(), kv.lease()), ("v2", lease));

    // ignore_value keeps the value while dropping the lease.
    client
        .put("l", "", Some(PutOptions::new().with_ignore_value()))
        .await
        .unwrap();
    let kv = client.get("l", None).await.unwrap().kvs()[0].clone();
    assert_eq!((kv.value_str().unwrap(), kv.lease()), ("v2", 0));

    let err = client
        .put("missing", "", Some(PutOptions::new().with_ignore_value()))
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::KeyNotFound));
    let err = client
        .put("l", "v", Some(PutOptions::new().with_ignore_value()))
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::ValueProvided));
    let err = client
        .put("l", "v", Some(PutOptions::new().with_lease(lease + 1000)))
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::LeaseNotFound));
}

#[tokio::test]
async fn an_empty_value_is_stored_and_read_back() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    client.put("empty", "", None).await.unwrap();
    let resp = client.get("empty", None).await.unwrap();
    assert_eq!(resp.count(), 1);
    assert_eq!(resp.kvs()[0].value(), b"");
}

#[tokio::test]
async fn delete_one_a_range_a_prefix_from_key_and_all() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    for key in ["d/1", "d/2", "d/3", "e/1", "e/2", "f", "g"] {
        client.put(key, format!("val-{key}"), None).await.unwrap();
    }

    let one = client
        .delete("d/1", Some(DeleteOptions::new().with_prev_key()))
        .await
        .unwrap();
    assert_eq!(one.deleted(), 1);
    assert_eq!(one.prev_kvs()[0].value_str().unwrap(), "val-d/1");
    let missing = client.delete("d/1", None).await.unwrap();
    assert_eq!((missing.deleted(), missing.prev_kvs().len()), (0, 0));
    let range = client
        .delete("d/2", Some(DeleteOptions::new().with_range("d/4")))
        .await
        .unwrap();
    assert_eq!(range.deleted(), 2);
    assert!(range.prev_kvs().is_empty(), "no prev_kv unless asked");
    let prefix = client
        .delete(
            "e/",
            Some(DeleteOptions::new().with_prefix().with_prev_key()),
        )
        .await
        .unwrap();
    assert_eq!(keys(prefix.prev_kvs()), ["e/1", "e/2"]);
    let from = client
        .delete("g", Some(DeleteOptions::new().with_from_key()))
        .await
        .unwrap();
    assert_eq!(from.deleted(), 1);
    let all = client
        .delete("", Some(DeleteOptions::new().with_all_keys()))
        .await
        .unwrap();
    assert_eq!(all.deleted(), 1);
    assert_eq!(
        client
            .get("", Some(GetOptions::new().with_all_keys()))
            .await
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn compaction_makes_old_revisions_unreadable() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let r1 = client
        .put("c", "1", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    let r2 = client
        .put("c", "2", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    client.put("c", "3", None).await.unwrap();

    client.compact(r2, None).await.unwrap();
    let err = client
        .get("c", Some(GetOptions::new().with_revision(r1)))
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::Compacted));
    let at = client
        .get("c", Some(GetOptions::new().with_revision(r2)))
        .await
        .unwrap();
    assert_eq!(at.kvs()[0].value_str().unwrap(), "2");
    let err = client.compact(r1, None).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::Compacted));

    let r4 = client
        .put("c", "4", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    client
        .compact(r4, Some(CompactionOptions::new().with_physical()))
        .await
        .unwrap();
    let err = client
        .get("c", Some(GetOptions::new().with_revision(r2)))
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::Compacted));
}

#[tokio::test]
async fn reading_or_compacting_a_future_revision_is_refused() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let rev = client
        .put("f", "1", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    let err = client
        .get("f", Some(GetOptions::new().with_revision(rev + 100)))
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::FutureRevision));
    let err = client.compact(rev + 100, None).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::FutureRevision));
}

#[tokio::test]
async fn txn_compares_every_target_and_runs_the_right_branch() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let lease = raw_lease(&etcd, 60).await;
    let put = client
        .put("t/k", "v1", Some(PutOptions::new().with_lease(lease)))
        .await
        .unwrap();
    let rev = put.header().unwrap().revision();

    let holds = [
        Compare::value("t/k", CompareOp::Equal, "v1"),
        Compare::value("t/k", CompareOp::Greater, "v0"),
        Compare::version("t/k", CompareOp::Equal, 1),
        Compare::version("t/missing", CompareOp::Equal, 0),
        Compare::create_revision("t/k", CompareOp::Equal, rev),
        Compare::mod_revision("t/k", CompareOp::Less, rev + 1),
        Compare::lease("t/k", CompareOp::Equal, lease),
        Compare::lease("t/k", CompareOp::NotEqual, 0),
    ];
    for cmp in holds {
        let resp = client
            .txn(
                Txn::new()
                    .when([cmp.clone()])
                    .and_then([TxnOp::get("t/k", None)])
                    .or_else([TxnOp::put("t/else", "x", None)]),
            )
            .await
            .unwrap();
        assert!(resp.succeeded(), "{cmp:?} should hold");
        assert!(matches!(resp.op_responses()[0], TxnOpResponse::Get(_)));
    }
    let fails = [
        Compare::value("t/k", CompareOp::NotEqual, "v1"),
        Compare::version("t/k", CompareOp::Greater, 1),
        Compare::create_revision("t/k", CompareOp::Less, rev),
        Compare::mod_revision("t/k", CompareOp::Greater, rev),
        Compare::lease("t/k", CompareOp::Equal, 0),
    ];
    for cmp in fails {
        let resp = client
            .txn(
                Txn::new()
                    .when([cmp.clone()])
                    .and_then([TxnOp::get("t/k", None)])
                    .or_else([TxnOp::delete("t/none", None)]),
            )
            .await
            .unwrap();
        assert!(!resp.succeeded(), "{cmp:?} should not hold");
        assert!(matches!(resp.op_responses()[0], TxnOpResponse::Delete(_)));
    }
    assert_eq!(
        client.get("t/else", None).await.unwrap().count(),
        0,
        "no else branch ran"
    );
}

#[tokio::test]
async fn txn_range_compares_nested_txns_and_op_answers() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    client.put("n/a", "1", None).await.unwrap();
    client.put("n/b", "1", None).await.unwrap();

    let txn = Txn::new()
        .when([
            Compare::version("n/", CompareOp::Greater, 0).with_prefix(),
            Compare::value("n/a", CompareOp::Equal, "1").with_range("n/c"),
        ])
        .and_then([
            TxnOp::put("n/c", "2", Some(PutOptions::new().with_prev_key())),
            TxnOp::get("n/", Some(GetOptions::new().with_prefix())),
            TxnOp::delete("n/a", Some(DeleteOptions::new().with_prev_key())),
            TxnOp::txn(
                Txn::new()
                    .when([Compare::version("n/b", CompareOp::Equal, 1)])
                    .and_then([TxnOp::get("n/b", Some(GetOptions::new().with_count_only()))]),
            ),
        ]);
    let mut resp = client.txn(txn).await.unwrap();
    assert!(resp.succeeded());
    let rev = resp.header().unwrap().revision();
    let ops = resp.take_op_responses();
    assert_eq!(ops.len(), 4);
    let TxnOpResponse::Put(put) = &ops[0] else {
        panic!("{ops:?}")
    };
    assert!(put.prev_key().is_none());
    let TxnOpResponse::Get(get) = &ops[1] else {
        panic!("{ops:?}")
    };
    assert_eq!(
        keys(get.kvs()),
        ["n/a", "n/b", "n/c"],
        "the get sees the put before it"
    );
    let TxnOpResponse::Delete(del) = &ops[2] else {
        panic!("{ops:?}")
    };
    assert_eq!(
        (del.deleted(), del.prev_kvs()[0].value_str().unwrap()),
        (1, "1")
    );
    let TxnOpResponse::Txn(inner) = &ops[3] else {
        panic!("{ops:?}")
    };
    assert!(inner.succeeded());
    let TxnOpResponse::Get(count) = &inner.op_responses()[0] else {
        panic!()
    };
    assert_eq!(count.count(), 1);
    // Everything happened at one revision.
    assert_eq!(
        client.get("n/c", None).await.unwrap().kvs()[0].mod_revision(),
        rev
    );

    // A range compare fails if any key in the range fails it.
    let resp = client
        .txn(Txn::new().when([Compare::value("n/", CompareOp::Equal, "1").with_prefix()]))
        .await
        .unwrap();
    assert!(!resp.succeeded(), "n/c has value 2");
    let empty = client.txn(Txn::new()).await.unwrap();
    assert!(empty.succeeded() && empty.op_responses().is_empty());
}

#[tokio::test]
async fn binary_keys_and_values_round_trip() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let key: Vec<u8> = vec![0x00, 0xff, 0xfe, b'/', 0x80, 0x01];
    let value: Vec<u8> = (0..=255u8).rev().collect();
    client.put(key.clone(), value.clone(), None).await.unwrap();

    let resp = client.get(key.clone(), None).await.unwrap();
    let kv = &resp.kvs()[0];
    assert_eq!((kv.key(), kv.value()), (key.as_slice(), value.as_slice()));
    assert!(kv.key_str().is_err() && matches!(kv.value_str(), Err(Error::Utf8 { .. })));
    // A prefix ending in 0xff bytes still finds the key.
    let prefix = client
        .get(vec![0x00, 0xff], Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    assert_eq!(prefix.count(), 1);
}

#[tokio::test]
async fn keys_with_slashes_pluses_spaces_and_unicode_round_trip() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let names = ["a/b/c", "x+y=z", "with space", "ключ/值/🔑", "%2F?#&"];
    for name in names {
        client
            .put(name, format!("value of {name}"), None)
            .await
            .unwrap();
    }
    for name in names {
        let resp = client.get(name, None).await.unwrap();
        assert_eq!(resp.kvs()[0].key_str().unwrap(), name);
        assert_eq!(
            resp.kvs()[0].value_str().unwrap(),
            format!("value of {name}")
        );
    }
}

#[tokio::test]
async fn a_one_mebibyte_value_round_trips() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let value: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    client.put("big", value.clone(), None).await.unwrap();
    let resp = client.get("big", None).await.unwrap();
    assert_eq!(resp.kvs()[0].value(), value.as_slice());
}

#[tokio::test]
async fn a_client_cloned_into_16_tasks_loses_no_write() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut revisions = Vec::new();
            for i in 0..50 {
                let resp = client
                    .put(format!("w/{t:02}/{i:02}"), format!("{t}-{i}"), None)
                    .await
                    .unwrap();
                revisions.push(resp.header().unwrap().revision());
            }
            revisions
        }));
    }
    let mut all_revisions = BTreeSet::new();
    for task in tasks {
        all_revisions.extend(task.await.unwrap());
    }
    assert_eq!(
        all_revisions.len(),
        16 * 50,
        "every put got its own revision"
    );
    let resp = client
        .get("w/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    assert_eq!(resp.count(), 16 * 50);
    for kv in resp.kvs() {
        let key = kv.key_str().unwrap();
        let (t, i) = key[2..].split_once('/').unwrap();
        assert_eq!(
            kv.value_str().unwrap(),
            format!(
                "{}-{}",
                t.parse::<u32>().unwrap(),
                i.parse::<u32>().unwrap()
            )
        );
    }
}

#[tokio::test]
async fn get_pages_reads_a_large_range_as_one_snapshot() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let txn_batch = |start: usize| {
        Txn::new().and_then(
            (start..start + 100)
                .map(|i| TxnOp::put(format!("pg/{i:05}"), "v", None))
                .collect::<Vec<_>>(),
        )
    };
    for start in (0..2500).step_by(100) {
        client.txn(txn_batch(start)).await.unwrap();
    }

    let mut pages = client
        .get_pages(
            "pg/",
            Some(GetOptions::new().with_prefix().with_keys_only()),
            1000,
        )
        .unwrap();
    let mut seen = Vec::new();
    let mut page_sizes = Vec::new();
    while let Some(page) = pages.try_next().await.unwrap() {
        if seen.is_empty() {
            // Written after the first page: must not show up in later pages.
            client.put("pg/00000-late", "v", None).await.unwrap();
            client.put("pg/99999", "v", None).await.unwrap();
        }
        page_sizes.push(page.kvs().len());
        seen.extend(keys(page.kvs()));
    }
    assert_eq!(page_sizes, [1000, 1000, 500]);
    let expected: Vec<String> = (0..2500).map(|i| format!("pg/{i:05}")).collect();
    assert_eq!(seen, expected);

    assert!(client
        .get_pages("pg/", Some(GetOptions::new().with_limit(5)), 10)
        .is_err());
    assert!(client.get_pages("pg/", None, 0).is_err());
    assert!(client
        .get_pages(
            "pg/",
            Some(GetOptions::new().with_sort(SortTarget::Value, SortOrder::Ascend)),
            10
        )
        .is_err());
}

/// etcd-client's per-client message limits: an answer over the decoding limit fails as
/// `MessageTooLarge` (a point get, a large range read while it arrives, and one that arrives
/// in one piece); a request over the encoding limit fails before it is sent.
#[tokio::test]
async fn message_size_limits_of_a_kv_client_are_kept() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let big = "v".repeat(4000);
    for i in 0..200 {
        client
            .put(format!("limit/{i:03}"), big.as_str(), None)
            .await
            .unwrap();
    }
    client.put("limit-small", "s", None).await.unwrap();
    let limited = client.kv_client().max_decoding_message_size(3000);

    let small = limited.get("limit-small", None).await.unwrap();
    assert_eq!(small.kvs()[0].value(), b"s");
    let err = limited.get("limit/000", None).await.unwrap_err();
    assert!(
        matches!(err, Error::MessageTooLarge { limit: 3000, .. }),
        "{err:?}"
    );
    // About 1 MB of JSON: read in many chunks, stopped at the limit.
    let prefix = Some(GetOptions::new().with_prefix());
    let err = limited.get("limit/", prefix.clone()).await.unwrap_err();
    assert!(
        matches!(err, Error::MessageTooLarge { limit: 3000, .. }),
        "{err:?}"
    );
    // The client's other handles have no limit.
    assert_eq!(
        client
            .get("limit/", prefix.clone())
            .await
            .unwrap()
            .kvs()
            .len(),
        200
    );
    let roomy = client.kv_client().max_decoding_message_size(8 << 20);
    assert_eq!(roomy.get("limit/", prefix).await.unwrap().kvs().len(), 200);

    let strict = client.kv_client().max_encoding_message_size(1000);
    strict.put("limit-ok", "fits", None).await.unwrap();
    let err = strict
        .put("limit-no", big.as_str(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(
        client.get("limit-no", None).await.unwrap().kvs().is_empty(),
        "nothing was sent"
    );
}
