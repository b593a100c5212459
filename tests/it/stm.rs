//! Software transactional memory (`etcdgw::concurrency::Stm`) against a live member: each
//! isolation level's conflict checks, as Go's.

use std::sync::Arc;

use etcdgw::concurrency::{Isolation, Stm, StmOptions};
use etcdgw::{Client, GetOptions};
use tokio::sync::Notify;

use etcdgw_test_support::Etcd;

fn number(value: Option<Vec<u8>>) -> i64 {
    value
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn options(isolation: Isolation) -> Option<StmOptions> {
    Some(StmOptions::new().with_isolation(isolation))
}

async fn value_of(client: &Client, key: &str) -> i64 {
    let resp = client.get(key, None).await.unwrap();
    resp.kvs()[0].value_str().unwrap().parse().unwrap()
}

/// A small deterministic generator, so runs are reproducible.
fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[tokio::test]
async fn concurrent_transfers_keep_the_total_on_every_level_that_checks_conflicts() {
    let etcd = Etcd::start().await;
    let setup = etcd.client().await;
    for isolation in [
        Isolation::SerializableSnapshot,
        Isolation::Serializable,
        Isolation::RepeatableReads,
    ] {
        let prefix = format!("bank-{isolation:?}/");
        for i in 0..10 {
            setup
                .put(format!("{prefix}{i}"), "100", None)
                .await
                .unwrap();
        }
        let mut transfers = Vec::new();
        for t in 0..8u64 {
            let client = etcd.client().await;
            let prefix = prefix.clone();
            transfers.push(tokio::spawn(async move {
                let mut seed = t + 1;
                let mut attempts = 0;
                for _ in 0..4 {
                    let from = next(&mut seed) % 10;
                    let to = (from + 1 + next(&mut seed) % 9) % 10;
                    let amount = i64::try_from(next(&mut seed) % 30).unwrap();
                    let (from, to) = (format!("{prefix}{from}"), format!("{prefix}{to}"));
                    let done = Stm::run(&client, options(isolation), |stm| {
                        let (from, to) = (from.clone(), to.clone());
                        async move {
                            let a = number(stm.get(from.as_str()).await?);
                            let b = number(stm.get(to.as_str()).await?);
                            tokio::task::yield_now().await;
                            stm.put(from, (a - amount).to_string(), None);
                            stm.put(to, (b + amount).to_string(), None);
                            Ok::<_, etcdgw::Error>(())
                        }
                    })
                    .await
                    .unwrap();
                    attempts += done.attempts();
                }
                attempts
            }));
        }
        let mut attempts = 0;
        for transfer in transfers {
            attempts += transfer.await.unwrap();
        }
        assert!(attempts >= 32);
        let resp = setup
            .get(prefix.as_str(), Some(GetOptions::new().with_prefix()))
            .await
            .unwrap();
        let total: i64 = resp
            .kvs()
            .iter()
            .map(|kv| kv.value_str().unwrap().parse::<i64>().unwrap())
            .sum();
        assert_eq!(total, 1000, "{isolation:?} ({attempts} attempts)");
    }
}

/// One attempt reads `a`, then another client writes `b`, then the attempt reads `b` and
/// copies it to `c`. Returns what the attempts read of `b`, and how many ran.
async fn read_after_a_concurrent_write(etcd: &Etcd, isolation: Isolation) -> (Vec<i64>, u32, i64) {
    let client = etcd.client().await;
    let writer = etcd.client().await;
    let p = format!("rc-{isolation:?}/");
    client.put(format!("{p}a"), "1", None).await.unwrap();
    client.put(format!("{p}b"), "10", None).await.unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let done = Stm::run(&client, options(isolation), |stm| {
        let (writer, seen, p) = (writer.clone(), seen.clone(), p.clone());
        async move {
            let _ = stm.get(format!("{p}a")).await?;
            if seen.lock().unwrap().is_empty() {
                writer.put(format!("{p}b"), "20", None).await?;
            }
            let b = number(stm.get(format!("{p}b")).await?);
            seen.lock().unwrap().push(b);
            stm.put(format!("{p}c"), b.to_string(), None);
            Ok::<_, etcdgw::Error>(())
        }
    })
    .await
    .unwrap();
    let seen = seen.lock().unwrap().clone();
    (
        seen,
        done.attempts(),
        value_of(&client, &format!("{p}c")).await,
    )
}

#[tokio::test]
async fn read_committed_sees_a_concurrent_write_that_serializable_retries_on() {
    let etcd = Etcd::start().await;
    // Serializable levels read at the revision of the first read: the write is not seen, and
    // the commit finds `b` changed and runs again.
    for isolation in [Isolation::SerializableSnapshot, Isolation::Serializable] {
        let (seen, attempts, c) = read_after_a_concurrent_write(&etcd, isolation).await;
        assert_eq!((seen, attempts, c), (vec![10, 20], 2, 20), "{isolation:?}");
    }
    // Read committed (and repeatable reads, which reads `b` only after the write) reads the
    // latest `b` and commits at once.
    for isolation in [Isolation::ReadCommitted, Isolation::RepeatableReads] {
        let (seen, attempts, c) = read_after_a_concurrent_write(&etcd, isolation).await;
        assert_eq!((seen, attempts, c), (vec![20], 1, 20), "{isolation:?}");
    }
}

/// Two transactions read `x` at 100; the second adds 10 and commits; then the first takes 10
/// off what it read and commits. Returns the final `x` and the first one's attempts.
async fn interleaved_updates(etcd: &Etcd, isolation: Isolation) -> (i64, u32) {
    let client = etcd.client().await;
    let key = format!("lost-{isolation:?}");
    client.put(key.as_str(), "100", None).await.unwrap();
    let read = Arc::new(Notify::new());
    let committed = Arc::new(Notify::new());
    let first = {
        let (client, key) = (client.clone(), key.clone());
        let (read, committed) = (read.clone(), committed.clone());
        tokio::spawn(async move {
            let mut waited = false;
            Stm::run(&client, options(isolation), |stm| {
                let key = key.clone();
                let pause = !std::mem::replace(&mut waited, true);
                let (read, committed) = (read.clone(), committed.clone());
                async move {
                    let x = number(stm.get(key.as_str()).await?);
                    if pause {
                        read.notify_one();
                        committed.notified().await;
                    }
                    stm.put(key, (x - 10).to_string(), None);
                    Ok::<_, etcdgw::Error>(())
                }
            })
            .await
            .unwrap()
            .attempts()
        })
    };
    read.notified().await;
    Stm::run(&client, options(isolation), |stm| {
        let key = key.clone();
        async move {
            let x = number(stm.get(key.as_str()).await?);
            stm.put(key, (x + 10).to_string(), None);
            Ok::<_, etcdgw::Error>(())
        }
    })
    .await
    .unwrap();
    committed.notify_one();
    let attempts = first.await.unwrap();
    (value_of(&client, &key).await, attempts)
}

#[tokio::test]
async fn conflict_checks_are_gos_read_committed_loses_an_update_the_others_retry() {
    let etcd = Etcd::start().await;
    for isolation in [
        Isolation::SerializableSnapshot,
        Isolation::Serializable,
        Isolation::RepeatableReads,
    ] {
        assert_eq!(
            interleaved_updates(&etcd, isolation).await,
            (100, 2),
            "{isolation:?}"
        );
    }
    // Read committed checks nothing at commit (as Go's): the second update is lost.
    assert_eq!(
        interleaved_updates(&etcd, Isolation::ReadCommitted).await,
        (90, 1)
    );
}

#[tokio::test]
async fn writes_are_read_back_prefetched_deleted_and_aborted_as_in_go() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    client.put("s/a", "1", None).await.unwrap();
    let b_rev = client
        .put("s/b", "2", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    let options = StmOptions::new().with_prefetch(["s/a", "s/b"]);
    let done = Stm::run(&client, Some(options), |stm| async move {
        assert_eq!(stm.rev("s/b").await?, b_rev);
        assert_eq!(stm.rev("s/missing").await?, 0);
        assert_eq!(stm.get("s/missing").await?, None);
        stm.put("s/a", "one", None);
        assert_eq!(stm.get("s/a").await?.as_deref(), Some(&b"one"[..]));
        // The key as read, not as written.
        assert_eq!(stm.get_kv("s/a").await?.unwrap().value(), b"1");
        stm.delete("s/b");
        assert_eq!(stm.get("s/b").await?, None);
        stm.put("s/new", "3", None);
        Ok::<_, etcdgw::Error>("done")
    })
    .await
    .unwrap();
    assert_eq!((*done.value(), done.attempts()), ("done", 1));
    let rev = done.txn().header().unwrap().revision();
    let resp = client
        .get("s/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    let pairs: Vec<_> = resp
        .kvs()
        .iter()
        .map(|kv| {
            (
                kv.key_str().unwrap(),
                kv.value_str().unwrap(),
                kv.mod_revision(),
            )
        })
        .collect();
    assert_eq!(pairs, [("s/a", "one", rev), ("s/new", "3", rev)]);

    // An error from the closure aborts: nothing is written.
    #[derive(Debug, PartialEq)]
    enum Refused {
        Insufficient,
        Etcd(String),
    }
    impl From<etcdgw::Error> for Refused {
        fn from(e: etcdgw::Error) -> Self {
            Refused::Etcd(e.to_string())
        }
    }
    let refused = Stm::run(&client, None, |stm| async move {
        let a = stm.get("s/a").await?;
        stm.put("s/a", "changed", None);
        if a.is_some() {
            return Err(Refused::Insufficient);
        }
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(refused, Refused::Insufficient);
    assert_eq!(
        client.get("s/a", None).await.unwrap().kvs()[0].value(),
        b"one"
    );
}
