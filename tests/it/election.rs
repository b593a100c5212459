//! Elections against live members: one leader at a time, observe sees each change, resign
//! hands over, proclaim changes the value.

use std::time::Duration;

use etcdgw::{
    GetOptions, LeaderKey, ObserveStream, ProclaimOptions, ResignOptions, ServerErrorKind,
};

use etcdgw_test_support::{wait_until, Etcd};

async fn next_leader(observe: &mut ObserveStream) -> String {
    let resp = tokio::time::timeout(Duration::from_secs(10), observe.message())
        .await
        .expect("a leader within 10 s")
        .unwrap()
        .unwrap();
    resp.kv().unwrap().value_str().unwrap().to_string()
}

#[tokio::test]
async fn two_candidates_one_leader_observed_and_handed_over() {
    let etcd = Etcd::start().await;
    let a = etcd.client().await;
    let b = etcd.client().await;
    let err = a.leader("jobs").await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::ElectionNoLeader));

    let mut observe = a.observe("jobs").await.unwrap();
    let lease_a = a.lease_grant(30, None).await.unwrap().id();
    let lease_b = b.lease_grant(30, None).await.unwrap().id();
    let won = a.campaign("jobs", "a", lease_a).await.unwrap();
    let leader_a = won.leader().unwrap().clone();
    assert_eq!((leader_a.name(), leader_a.lease()), (&b"jobs"[..], lease_a));
    assert!(leader_a.key_str().unwrap().starts_with("jobs/") && leader_a.rev() > 0);
    assert_eq!(next_leader(&mut observe).await, "a");

    // b campaigns and waits while a leads.
    let b2 = b.clone();
    let candidate = tokio::spawn(async move {
        b2.election_client()
            .campaign_with_timeout("jobs", "b", lease_b, Duration::from_secs(20))
            .await
    });
    // b's candidacy is on the server (its key, under its lease), and it waits.
    wait_until(
        "b's campaign key under jobs/",
        Duration::from_secs(10),
        || async {
            let keys = a
                .get("jobs/", Some(GetOptions::new().with_prefix()))
                .await
                .unwrap();
            keys.kvs().iter().any(|kv| kv.lease() == lease_b)
        },
    )
    .await;
    assert!(!candidate.is_finished(), "only one leader at a time");
    assert_eq!(
        b.leader("jobs")
            .await
            .unwrap()
            .kv()
            .unwrap()
            .value_str()
            .unwrap(),
        "a"
    );

    a.proclaim(
        "a2",
        Some(ProclaimOptions::new().with_leader(leader_a.clone())),
    )
    .await
    .unwrap();
    assert_eq!(next_leader(&mut observe).await, "a2");

    a.resign(Some(ResignOptions::new().with_leader(leader_a.clone())))
        .await
        .unwrap();
    let won_b = candidate.await.unwrap().unwrap();
    assert_eq!(won_b.leader().unwrap().lease(), lease_b);
    assert_eq!(next_leader(&mut observe).await, "b");
    assert_eq!(
        a.leader("jobs").await.unwrap().kv().unwrap().lease(),
        lease_b
    );

    // The old leader key cannot proclaim any more.
    let err = a
        .proclaim("stale", Some(ProclaimOptions::new().with_leader(leader_a)))
        .await
        .unwrap_err();
    assert_eq!(
        err.server_kind(),
        Some(ServerErrorKind::ElectionNotLeader),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_campaign_waits_at_most_its_deadline() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let l1 = client.lease_grant(30, None).await.unwrap().id();
    let l2 = client.lease_grant(30, None).await.unwrap().id();
    client.campaign("e", "first", l1).await.unwrap();
    let err = client
        .election_client()
        .campaign_with_timeout("e", "second", l2, Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // The server gave up too: the second candidate's key is not left waiting in line.
    let leader = client.leader("e").await.unwrap();
    assert_eq!(leader.kv().unwrap().value_str().unwrap(), "first");
    let key = LeaderKey::new()
        .with_name("e")
        .with_key("e/x")
        .with_rev(1)
        .with_lease(l2);
    assert_eq!(key.name_str().unwrap(), "e");
}

#[tokio::test]
async fn observe_resumes_after_the_member_restarts_without_repeating_the_leader() {
    let mut etcd = Etcd::start().await;
    let client = etcd.client().await;
    let lease = client.lease_grant(60, None).await.unwrap().id();
    let won = client.campaign("r", "v1", lease).await.unwrap();
    let leader = won.leader().unwrap().clone();
    let mut observe = client.observe("r").await.unwrap();
    assert_eq!(next_leader(&mut observe).await, "v1");

    etcd.restart().await;
    client
        .proclaim("v2", Some(ProclaimOptions::new().with_leader(leader)))
        .await
        .unwrap();
    assert_eq!(
        next_leader(&mut observe).await,
        "v2",
        "v1 again would be a repeat"
    );
}
