//! Maintenance against live members: status, alarms, defragment, hash, HashKV's absence,
//! snapshots that restore, leader transfer, downgrade.

use std::time::Duration;

use etcdgw::{
    AlarmAction, AlarmOptions, AlarmType, Client, DowngradeOptions, Error, GetOptions,
    ServerErrorKind,
};

use etcdgw_test_support::etcd::{etcd_version, gateway_has_hash_kv};
use etcdgw_test_support::{wait_until, Cluster, Etcd};

#[tokio::test]
async fn status_reports_the_member_and_its_leader() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    client.put("k", "v", None).await.unwrap();
    let status = client.status().await.unwrap();
    let (major, minor) = etcd_version();
    assert!(
        status.version().starts_with(&format!("{major}.{minor}.")),
        "{}",
        status.version()
    );
    let header = status.header().unwrap();
    assert_eq!(
        status.leader(),
        header.member_id(),
        "a single member leads itself"
    );
    assert!(status.db_size() > 0 && status.raft_used_db_size() > 0);
    assert!(status.raft_index() >= status.raft_applied_index().min(status.raft_index()));
    assert!(status.raft_term() >= 1 && !status.is_learner() && status.errors().is_empty());
    let at = client
        .maintenance_client()
        .at(etcd.endpoint())
        .unwrap()
        .status()
        .await
        .unwrap();
    assert_eq!(at.header().unwrap().member_id(), header.member_id());
}

#[tokio::test]
async fn a_nospace_alarm_blocks_writes_until_cleared() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let member = client.status().await.unwrap().header().unwrap().member_id();
    assert!(client
        .alarm(AlarmAction::Get, AlarmType::None, None)
        .await
        .unwrap()
        .alarms()
        .is_empty());

    let mut options = AlarmOptions::new();
    options.with_member(member);
    let raised = client
        .alarm(
            AlarmAction::Activate,
            AlarmType::Nospace,
            Some(options.clone()),
        )
        .await
        .unwrap();
    assert_eq!(raised.alarms()[0].alarm(), AlarmType::Nospace);
    assert_eq!(raised.alarms()[0].member_id(), member);
    let listed = client
        .alarm(AlarmAction::Get, AlarmType::None, None)
        .await
        .unwrap();
    assert_eq!(listed.alarms().len(), 1);
    let err = client.put("k", "v", None).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::NoSpace));
    assert!(!client.status().await.unwrap().errors().is_empty() || etcd_version() == (3, 4));

    client
        .alarm(AlarmAction::Deactivate, AlarmType::Nospace, Some(options))
        .await
        .unwrap();
    client.put("k", "v", None).await.unwrap();
}

#[tokio::test]
async fn defragment_and_hash_answer_per_member() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    for i in 0..200 {
        client
            .put(format!("d/{i}"), vec![b'x'; 1000], None)
            .await
            .unwrap();
    }
    client
        .delete("d/", Some(etcdgw::DeleteOptions::new().with_prefix()))
        .await
        .unwrap();
    let rev = client
        .get("d/", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    client
        .compact(rev, Some(etcdgw::CompactionOptions::new().with_physical()))
        .await
        .unwrap();
    let before = client.status().await.unwrap();
    client
        .maintenance_client()
        .at(etcd.endpoint())
        .unwrap()
        .defragment()
        .await
        .unwrap();
    let after = client.status().await.unwrap();
    assert!(
        after.db_size() <= before.db_size(),
        "{} -> {}",
        before.db_size(),
        after.db_size()
    );

    let h1 = client.hash().await.unwrap().hash();
    let h2 = client.hash().await.unwrap().hash();
    assert_eq!(h1, h2, "no write, same hash");
    client.put("changes", "the hash", None).await.unwrap();
    assert_ne!(client.hash().await.unwrap().hash(), h1);
    if !gateway_has_hash_kv() {
        // HashKV is out of the gateway's reach on 3.4 and early 3.5: said so, not faked.
        match client.hash_kv(0).await {
            Err(Error::Unsupported { path, .. }) => assert_eq!(path, "/v3/maintenance/hashkv"),
            other => panic!("{other:?}"),
        }
        return;
    }
    let kv1 = client.hash_kv(0).await.unwrap();
    let kv2 = client.hash_kv(0).await.unwrap();
    assert_eq!(kv1.hash(), kv2.hash(), "no write, same HashKV");
    // 3.5 leaves hash_revision out.
    assert!([0, kv1.header().unwrap().revision()].contains(&kv1.hash_revision()));
    assert_eq!(kv1.compact_version(), rev, "the compaction above");
    let put = client.put("changes", "the kv hash", None).await.unwrap();
    let kv3 = client.hash_kv(0).await.unwrap();
    assert_ne!(kv3.hash(), kv1.hash());
    assert!([0, put.header().unwrap().revision()].contains(&kv3.hash_revision()));
    // At an older revision: the hash of the store as it was then.
    let then = client
        .hash_kv(kv1.header().unwrap().revision())
        .await
        .unwrap();
    assert_eq!(then.hash(), kv1.hash());
}

#[tokio::test]
async fn downgrade_is_validated_from_35_enabled_and_cancelled_from_36_and_unsupported_on_34() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let maintenance = client.maintenance_client();
    let (major, minor) = etcd_version();
    // etcd downgrades one minor version at a time.
    let target = format!("{major}.{}", minor - 1);
    let result = maintenance
        .downgrade(DowngradeOptions::Validate(target.clone()))
        .await;
    if (major, minor) == (3, 4) {
        assert!(
            matches!(result, Err(Error::Unsupported { .. })),
            "{result:?}"
        );
        return;
    }
    assert!(result.unwrap().version().starts_with("3."));
    let two_back = format!("{major}.{}", minor - 2);
    let refused = maintenance
        .downgrade(DowngradeOptions::Validate(two_back))
        .await
        .unwrap_err();
    assert_eq!(
        refused.server_kind(),
        Some(ServerErrorKind::InvalidDowngradeTargetVersion),
        "{refused:?}"
    );
    if minor < 6 {
        return;
    }
    maintenance
        .downgrade(DowngradeOptions::Enable(target.clone()))
        .await
        .unwrap();
    let info = client
        .status()
        .await
        .unwrap()
        .downgrade_info()
        .cloned()
        .unwrap();
    assert!(info.enabled(), "{info:?}");
    assert!(info.target_version().starts_with(&target), "{info:?}");
    maintenance
        .downgrade(DowngradeOptions::Cancel)
        .await
        .unwrap();
    // The cancel is applied through raft; the status says so shortly after.
    wait_until(
        "the status to say the downgrade is no longer enabled after its cancel",
        Duration::from_secs(10),
        || async {
            let info = client.status().await.unwrap().downgrade_info().cloned();
            match info {
                Some(info) if info.enabled() => Err(info),
                _ => Ok(()),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_snapshot_saved_through_the_gateway_restores_into_a_working_member() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    for i in 0..50 {
        client
            .put(format!("snap/{i:02}"), format!("value {i}"), None)
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.db");
    let info = client
        .snapshot()
        .await
        .unwrap()
        .save_to_file(&path)
        .await
        .unwrap();
    assert_eq!(info.size, std::fs::metadata(&path).unwrap().len());
    assert!(info.size > 32);

    let restored = Etcd::builder().restore_from(&path).start().await;
    let reader = restored.client().await;
    let resp = reader
        .get("snap/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    assert_eq!(resp.count(), 50);
    assert_eq!(resp.kvs()[7].value_str().unwrap(), "value 7");

    // The pieces can be read one by one too; the last has no remaining bytes.
    let mut stream = client.snapshot().await.unwrap();
    let mut total = 0;
    let mut last_remaining = u64::MAX;
    while let Some(piece) = stream.message().await.unwrap() {
        total += piece.blob().len();
        last_remaining = piece.remaining_bytes();
    }
    assert_eq!(last_remaining, 0);
    assert!(total as u64 >= info.size - 4096, "about the same size");
}

#[tokio::test]
async fn move_leader_goes_to_the_leader_and_moves_leadership() {
    let cluster = Cluster::start(3).await;
    // Ask through a member that is not the leader: the call must find the leader itself.
    let probe = Client::connect(cluster.endpoints(), None).await.unwrap();
    let leader = probe.status().await.unwrap().leader();
    let members = probe.member_list().await.unwrap();
    let follower = members.members().iter().find(|m| m.id() != leader).unwrap();
    let target = members
        .members()
        .iter()
        .find(|m| m.id() != leader && m.id() != follower.id())
        .unwrap();
    let via_follower = Client::connect([follower.client_urls()[0].clone()], None)
        .await
        .unwrap();

    via_follower.move_leader(target.id()).await.unwrap();
    // The follower may learn of the new leader a moment after the leader answered.
    wait_until(
        "the follower to see the target as its leader",
        Duration::from_secs(10),
        || async {
            let now = via_follower.status().await.unwrap().leader();
            if now == target.id() {
                Ok(())
            } else {
                Err(format!("leader {now:x}, not {:x}", target.id()))
            }
        },
    )
    .await;
}
