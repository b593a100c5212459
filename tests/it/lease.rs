//! Leases against live members: grant, revoke, time-to-live, list, etcd-client's keep-alive,
//! and the managed keep-alive over several TTLs.

use std::time::Duration;

use etcdgw::{Error, LeaseGrantOptions, LeaseTimeToLiveOptions, PutOptions, ServerErrorKind};

use etcdgw_test_support::{wait_until, Etcd};

/// Waits until `key` is gone, `what` naming why it should go; at most 10 s (TTLs here are
/// 2 s; etcd revokes an expired lease within a second or so).
async fn gone(client: &etcdgw::Client, key: &str, what: &str) {
    wait_until(what, Duration::from_secs(10), || async {
        client.get(key, None).await.unwrap().count() == 0
    })
    .await;
}

#[tokio::test]
async fn grant_time_to_live_with_keys_list_and_revoke() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let lease = client.lease_grant(60, None).await.unwrap();
    assert_eq!(lease.ttl(), 60);
    assert!(lease.id() != 0 && lease.error().is_empty());
    client
        .put("l/a", "1", Some(PutOptions::new().with_lease(lease.id())))
        .await
        .unwrap();
    client
        .put("l/b", "2", Some(PutOptions::new().with_lease(lease.id())))
        .await
        .unwrap();

    let ttl = client
        .lease_time_to_live(lease.id(), Some(LeaseTimeToLiveOptions::new().with_keys()))
        .await
        .unwrap();
    assert_eq!((ttl.id(), ttl.granted_ttl()), (lease.id(), 60));
    assert!(ttl.ttl() > 0 && ttl.ttl() <= 60);
    let mut keys = ttl.keys().to_vec();
    keys.sort();
    assert_eq!(keys, [b"l/a".to_vec(), b"l/b".to_vec()]);
    let without_keys = client.lease_time_to_live(lease.id(), None).await.unwrap();
    assert!(without_keys.keys().is_empty());

    let listed = client.leases().await.unwrap();
    assert!(listed.leases().iter().any(|l| l.id() == lease.id()));

    client.lease_revoke(lease.id()).await.unwrap();
    assert_eq!(
        client
            .get("l/", Some(etcdgw::GetOptions::new().with_prefix()))
            .await
            .unwrap()
            .count(),
        0,
        "revoke deletes the keys"
    );
    let dead = client.lease_time_to_live(lease.id(), None).await.unwrap();
    assert_eq!(
        dead.ttl(),
        -1,
        "the server's answer for a lease that is gone"
    );
    let err = client.lease_revoke(lease.id()).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::LeaseNotFound));
}

#[tokio::test]
async fn explicit_ids_and_the_server_refusals() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let lease = client
        .lease_grant(30, Some(LeaseGrantOptions::new().with_id(4242)))
        .await
        .unwrap();
    assert_eq!(lease.id(), 4242);
    let err = client
        .lease_grant(30, Some(LeaseGrantOptions::new().with_id(4242)))
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::LeaseExist));
    let err = client.lease_grant(9_000_000_001, None).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::LeaseTtlTooLarge));
}

#[tokio::test]
async fn a_key_with_a_lease_goes_when_keep_alive_stops() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let lease = client.lease_grant(2, None).await.unwrap();
    client
        .put("short", "v", Some(PutOptions::new().with_lease(lease.id())))
        .await
        .unwrap();
    gone(&client, "short", "the key to expire with its lease").await;
}

#[tokio::test]
async fn etcd_client_style_keep_alive_refreshes_and_reports_a_dead_lease() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let lease = client.lease_grant(2, None).await.unwrap();
    client
        .put("kept", "v", Some(PutOptions::new().with_lease(lease.id())))
        .await
        .unwrap();

    let (mut keeper, mut stream) = client.lease_keep_alive(lease.id()).await.unwrap();
    assert_eq!(keeper.id(), lease.id());
    for _ in 0..5 {
        // Time is the point: refreshes 0.6 s apart keep a 2 s lease past its TTL.
        tokio::time::sleep(Duration::from_millis(600)).await;
        keeper.keep_alive().await.unwrap();
        let resp = stream.message().await.unwrap().unwrap();
        assert_eq!((resp.id(), resp.ttl()), (lease.id(), 2));
    }
    assert_eq!(
        client.get("kept", None).await.unwrap().count(),
        1,
        "alive after 3 s of refreshes"
    );

    client.lease_revoke(lease.id()).await.unwrap();
    keeper.keep_alive().await.unwrap();
    let err = stream.message().await.unwrap_err();
    assert_eq!(
        err.server_kind(),
        Some(ServerErrorKind::LeaseNotFound),
        "{err:?}"
    );
    let err = client.lease_keep_alive(lease.id()).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::LeaseNotFound));
    drop(keeper);
    assert!(
        stream.message().await.unwrap().is_none(),
        "the stream ends with its keeper"
    );
}

#[tokio::test]
async fn a_managed_lease_keeps_its_key_over_several_ttls_and_lets_it_go_when_dropped() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let mut lease = client.lease_client().grant_managed(2, None).await.unwrap();
    client
        .put(
            "svc/1",
            "addr",
            Some(PutOptions::new().with_lease(lease.id())),
        )
        .await
        .unwrap();

    // Time is the point: 2.5 TTLs pass, which the key outlives only if the lease is kept.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(lease.is_alive());
    assert_eq!(
        client.get("svc/1", None).await.unwrap().count(),
        1,
        "alive after 2.5 TTLs"
    );
    assert_eq!(lease.ttl(), 2);

    drop(lease);
    gone(&client, "svc/1", "the key to expire once no longer kept").await;
}

#[tokio::test]
async fn a_managed_lease_reports_a_revoke_as_lease_not_found() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let mut lease = client.lease_client().grant_managed(3, None).await.unwrap();
    client.lease_revoke(lease.id()).await.unwrap();
    // A refresh comes at a third of the TTL, so the loss is known within about a second.
    let err = tokio::time::timeout(Duration::from_secs(5), lease.lost())
        .await
        .expect("loss reported before the TTL");
    assert_eq!(
        err.server_kind(),
        Some(ServerErrorKind::LeaseNotFound),
        "{err:?}"
    );
    assert!(!lease.is_alive());
}

#[tokio::test]
async fn a_managed_lease_that_cannot_reach_the_server_reports_expiry() {
    let mut etcd = Etcd::start().await;
    let client = etcd
        .client_with(etcdgw::ConnectOptions::new().with_timeout(Duration::from_millis(500)))
        .await;
    let mut lease = client.lease_client().grant_managed(2, None).await.unwrap();
    let id = lease.id();
    etcd.member.kill();
    let err = tokio::time::timeout(Duration::from_secs(10), lease.lost())
        .await
        .expect("loss reported");
    assert!(
        matches!(err, Error::LeaseExpired { id: lost, .. } if *lost == id),
        "{err:?}"
    );
}

#[tokio::test]
async fn keep_alive_managed_of_an_unknown_lease_is_refused() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let err = client
        .lease_client()
        .keep_alive_managed(987654321)
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::LeaseNotFound));
}
