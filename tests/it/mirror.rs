//! The mirror (`etcdgw::mirror`) between two live single members: the destination equals the
//! source through concurrent writes, a compaction, a restart of the source member, and a
//! compaction of history the mirror still needed while it was cut off.

use std::time::Duration;

use etcdgw::mirror::{Mirror, MirrorOptions, MirrorProgress, Syncer};
use etcdgw::{Client, CompactionOptions, DeleteOptions, Error, GetOptions, Txn, TxnOp};
use futures_util::TryStreamExt;

use etcdgw_test_support::proxy::Proxy;
use etcdgw_test_support::{wait_until, Etcd};

const PATIENCE: Duration = Duration::from_secs(30);

/// Every key under `prefix` with its value, the prefix taken off.
async fn contents(client: &Client, prefix: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let resp = client
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    resp.kvs()
        .iter()
        .map(|kv| (kv.key()[prefix.len()..].to_vec(), kv.value().to_vec()))
        .collect()
}

/// Waits until the mirror has applied the source up to `revision`.
async fn caught_up(progress: &MirrorProgress, revision: i64) {
    wait_until(
        &format!("the mirror to apply the source up to revision {revision}"),
        PATIENCE,
        || async {
            if progress.revision() >= revision {
                Ok(())
            } else {
                Err(progress.clone())
            }
        },
    )
    .await;
}

/// `n` writes under `prefix`: puts, overwrites, deletes and multi-key txns; returns the last
/// revision.
async fn write(client: &Client, prefix: &str, round: u32, n: u32) -> i64 {
    let mut last = 0;
    for i in 0..n {
        let key = format!("{prefix}k{}", (i * 7 + round) % 40);
        let resp_rev = match i % 5 {
            0..=2 => client
                .put(key, format!("r{round}-{i}"), None)
                .await
                .unwrap()
                .header()
                .unwrap()
                .revision(),
            3 => client
                .delete(key, None)
                .await
                .unwrap()
                .header()
                .unwrap()
                .revision(),
            _ => {
                // One revision, more keys than a destination txn takes.
                let ops: Vec<TxnOp> = (0..11)
                    .map(|j| TxnOp::put(format!("{prefix}t{j}"), format!("{round}-{i}"), None))
                    .collect();
                client
                    .txn(Txn::new().and_then(ops))
                    .await
                    .unwrap()
                    .header()
                    .unwrap()
                    .revision()
            }
        };
        // Writes outside the prefix are not mirrored.
        client.put(format!("other/{i}"), "x", None).await.unwrap();
        last = resp_rev;
    }
    last
}

#[tokio::test]
async fn the_destination_follows_through_writes_a_compaction_and_a_source_restart() {
    let mut source = Etcd::start().await;
    let dest = Etcd::start().await;
    let src = source.client().await;
    let dst = dest.client().await;
    write(&src, "m/", 0, 60).await;

    let options = MirrorOptions::new().with_prefix("m/").with_max_txn_ops(8);
    let mirror = Mirror::new(&src, &dst, options).unwrap();
    let progress = mirror.progress();
    let running = tokio::spawn(async move { mirror.run().await });

    // Concurrent writes while it copies and follows.
    let writer = {
        let src = src.clone();
        tokio::spawn(async move { write(&src, "m/", 1, 150).await })
    };
    let last = writer.await.unwrap();
    caught_up(&progress, last).await;
    assert!(progress.is_synced());
    assert_eq!(contents(&dst, "m/").await, contents(&src, "m/").await);

    // A compaction of what it has applied does not disturb it.
    src.compact(last, Some(CompactionOptions::new().with_physical()))
        .await
        .unwrap();
    let last = write(&src, "m/", 2, 40).await;
    caught_up(&progress, last).await;

    // The source member restarts; the watch resumes with every change once.
    source.restart().await;
    let last = write(&src, "m/", 3, 40).await;
    caught_up(&progress, last).await;
    assert!(!running.is_finished());
    assert_eq!(contents(&dst, "m/").await, contents(&src, "m/").await);
    let outside = dst.get(
        "other/",
        Some(GetOptions::new().with_prefix().with_count_only()),
    );
    assert_eq!(outside.await.unwrap().count(), 0);
    assert!(progress.keys() > 200, "{progress:?}");
    running.abort();
}

#[tokio::test]
async fn history_compacted_while_cut_off_is_resynced_or_reported() {
    let source = Etcd::start().await;
    let dest = Etcd::start().await;
    let proxy = Proxy::start(source.endpoint().trim_start_matches("http://").to_string()).await;
    let src = source.client().await;
    let through_proxy = Client::connect([proxy.endpoint()], None).await.unwrap();
    let dst = dest.client().await;
    write(&src, "m/", 0, 40).await;

    // One mirror renames the prefix and resyncs; the other, as etcdctl, stops.
    let resyncing = Mirror::new(
        &through_proxy,
        &dst,
        MirrorOptions::new()
            .with_prefix("m/")
            .with_dest_prefix("copy/"),
    )
    .unwrap();
    let strict = Mirror::new(
        &through_proxy,
        &dst,
        MirrorOptions::new()
            .with_prefix("m/")
            .with_dest_prefix("strict/")
            .with_resync_on_compaction(false),
    )
    .unwrap();
    let (progress, strict_progress) = (resyncing.progress(), strict.progress());
    let running = tokio::spawn(async move { resyncing.run().await });
    let stopping = tokio::spawn(async move { strict.run().await });
    let last = write(&src, "m/", 1, 20).await;
    caught_up(&progress, last).await;
    caught_up(&strict_progress, last).await;
    assert_eq!(contents(&dst, "copy/").await, contents(&src, "m/").await);

    // Cut off, the mirrors miss changes (deletes among them) that a compaction then erases.
    proxy.cut();
    src.delete("m/k", Some(DeleteOptions::new().with_prefix()))
        .await
        .unwrap();
    let last = write(&src, "m/", 2, 30).await;
    src.compact(last, None).await.unwrap();
    proxy.restore();

    caught_up(&progress, last).await;
    assert_eq!(contents(&dst, "copy/").await, contents(&src, "m/").await);
    let err = tokio::time::timeout(PATIENCE, stopping)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::Compacted { .. }), "{err:?}");
    assert!(!running.is_finished());

    // The mirror goes on after the resync.
    let last = write(&src, "m/", 3, 20).await;
    caught_up(&progress, last).await;
    assert_eq!(contents(&dst, "copy/").await, contents(&src, "m/").await);
    running.abort();
}

#[tokio::test]
async fn the_syncer_reads_the_base_in_pages_at_one_revision_then_the_updates_after_it() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let ops: Vec<TxnOp> = (0..100)
        .map(|i| TxnOp::put(format!("base/{i:04}"), "v", None))
        .collect();
    client.txn(Txn::new().and_then(ops)).await.unwrap();
    let mut syncer = Syncer::new(&client, "base/", 0);
    let err = syncer.sync_updates().await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let mut pages = syncer.sync_base().await.unwrap();
    let revision = syncer.revision();
    // Written after the base's revision: not in the base, but the first update.
    client.put("base/late", "v", None).await.unwrap();
    let mut keys = 0;
    while let Some(page) = pages.try_next().await.unwrap() {
        assert!(page.kvs().iter().all(|kv| kv.mod_revision() <= revision));
        keys += page.kvs().len();
    }
    assert_eq!(keys, 100);
    let mut updates = syncer.sync_updates().await.unwrap();
    let created = updates.message().await.unwrap().unwrap();
    assert!(created.created());
    let first = updates.message().await.unwrap().unwrap();
    assert_eq!(first.events()[0].kv().unwrap().key(), b"base/late");
}
