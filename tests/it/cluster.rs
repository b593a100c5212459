//! Cluster membership on a three-member cluster: list, add a learner, promote it once it has
//! caught up, update a voting member, remove the learner.

use std::time::Duration;

use etcdgw::{Client, MemberAddOptions, MemberListOptions, ServerErrorKind};

use etcdgw_test_support::{free_port, wait_until, Cluster};

/// Adds a learner, waiting while a young cluster still refuses reconfiguration as unhealthy
/// (etcd wants every member connected for a few seconds first).
async fn add_learner(client: &Client, peer_url: &str) -> etcdgw::MemberAddResponse {
    wait_until(
        "the cluster to take a learner (not unhealthy)",
        Duration::from_secs(30),
        || async {
            match client
                .member_add([peer_url], Some(MemberAddOptions::new().with_is_learner()))
                .await
            {
                Ok(resp) => Some(resp),
                Err(e) if e.server_kind() == Some(ServerErrorKind::Unhealthy) => None,
                Err(e) => panic!("{e:?}"),
            }
        },
    )
    .await
}

#[tokio::test]
async fn list_add_a_learner_promote_update_and_remove() {
    let mut cluster = Cluster::start(3).await;
    let client = Client::connect(cluster.endpoints(), None).await.unwrap();

    let list = client.member_list().await.unwrap();
    assert_eq!(list.members().len(), 3);
    let mut names: Vec<&str> = list.members().iter().map(|m| m.name()).collect();
    names.sort();
    assert_eq!(names, ["n0", "n1", "n2"]);
    for m in list.members() {
        assert!(!m.is_learner() && m.id() != 0);
        assert!(cluster.endpoints().contains(&m.client_urls()[0]));
    }
    let serializable = client
        .cluster_client()
        .member_list_with(Some(MemberListOptions::new().with_serializable()))
        .await
        .unwrap();
    assert_eq!(serializable.members().len(), 3);
    let linearizable = client
        .cluster_client()
        .member_list_with(Some(MemberListOptions::new().with_linearizable()))
        .await
        .unwrap();
    assert_eq!(linearizable.members().len(), 3);

    // Add a learner and start it.
    let (client_port, peer_port) = (free_port(), free_port());
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let added = add_learner(&client, &peer_url).await;
    let learner = added.member().unwrap().clone();
    assert!(learner.is_learner() && learner.name().is_empty());
    assert_eq!(added.member_list().len(), 4);
    let mut initial_cluster: Vec<String> = list
        .members()
        .iter()
        .map(|m| format!("{}={}", m.name(), m.peer_urls()[0]))
        .collect();
    initial_cluster.push(format!("learner={peer_url}"));
    // Started and healthy when join returns.
    cluster
        .join("learner", client_port, peer_port, initial_cluster.join(","))
        .await;

    // Promote once it has caught up; until then the server says it is not ready.
    let promoted = wait_until(
        "the learner to catch up",
        Duration::from_secs(30),
        || async {
            match client.member_promote(learner.id()).await {
                Ok(resp) => Some(resp),
                Err(e) if e.server_kind() == Some(ServerErrorKind::LearnerNotReady) => None,
                Err(e) => panic!("{e:?}"),
            }
        },
    )
    .await;
    let now = promoted
        .members()
        .iter()
        .find(|m| m.id() == learner.id())
        .unwrap();
    assert!(!now.is_learner() && now.name() == "learner");
    let err = client.member_promote(learner.id()).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::MemberNotLearner));

    // Update a voting member's peer URLs (never a learner's: etcd issue 21694).
    let voter = list.members().iter().find(|m| m.name() == "n2").unwrap();
    let alias = voter.peer_urls()[0].replace("127.0.0.1", "localhost");
    let urls = vec![voter.peer_urls()[0].clone(), alias.clone()];
    let updated = client
        .member_update(voter.id(), urls.clone())
        .await
        .unwrap();
    let after = updated
        .members()
        .iter()
        .find(|m| m.id() == voter.id())
        .unwrap();
    let mut got = after.peer_urls().to_vec();
    got.sort();
    let mut want = urls;
    want.sort();
    assert_eq!(got, want);

    // Remove the promoted member.
    let removed = client.member_remove(learner.id()).await.unwrap();
    assert_eq!(removed.members().len(), 3);
    assert!(removed.members().iter().all(|m| m.id() != learner.id()));
    let err = client.member_remove(learner.id()).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::MemberNotFound));
}

#[tokio::test]
async fn a_learner_refuses_linearizable_reads_and_serves_serializable_ones() {
    let mut cluster = Cluster::start(3).await;
    let client = Client::connect(cluster.endpoints(), None).await.unwrap();
    client.put("seen", "by the learner", None).await.unwrap();
    let (client_port, peer_port) = (free_port(), free_port());
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let list = client.member_list().await.unwrap();
    add_learner(&client, &peer_url).await;
    let mut initial_cluster: Vec<String> = list
        .members()
        .iter()
        .map(|m| format!("{}={}", m.name(), m.peer_urls()[0]))
        .collect();
    initial_cluster.push(format!("learner={peer_url}"));
    // Started and healthy when join returns.
    let index = cluster
        .join("learner", client_port, peer_port, initial_cluster.join(","))
        .await;

    let at_learner = Client::connect([cluster.members[index].endpoint()], None)
        .await
        .unwrap();
    let err = at_learner.get("seen", None).await.unwrap_err();
    assert_eq!(
        err.server_kind(),
        Some(ServerErrorKind::NotSupportedForLearner),
        "{err:?}"
    );
    wait_until(
        "the learner to serve a serializable read once it has the data",
        Duration::from_secs(30),
        || async {
            let resp = at_learner
                .get("seen", Some(etcdgw::GetOptions::new().with_serializable()))
                .await
                .unwrap();
            resp.count() == 1
        },
    )
    .await;
}

/// `member_list()` answers from the member's own view, as etcd-client's does: it works when
/// the cluster has lost quorum, where the leader's (linearizable) view cannot be had.
#[tokio::test]
async fn member_list_answers_without_quorum_and_the_linearizable_one_does_not() {
    let mut cluster = Cluster::start(3).await;
    let survivor = cluster.endpoints()[0].clone();
    cluster.members[1].kill();
    cluster.members[2].kill();
    let client = Client::connect(
        [survivor],
        Some(etcdgw::ConnectOptions::new().with_timeout(Duration::from_secs(3))),
    )
    .await
    .unwrap();
    assert_eq!(client.member_list().await.unwrap().members().len(), 3);
    let linearizable = client
        .cluster_client()
        .member_list_with(Some(MemberListOptions::new().with_linearizable()))
        .await;
    if etcdgw_test_support::etcd::etcd_version() == (3, 4) {
        // 3.4 has no linearizable member list: it answers from its local view either way.
        assert_eq!(linearizable.unwrap().members().len(), 3);
    } else {
        let err = linearizable.unwrap_err();
        assert!(err.is_timeout() || err.server_kind().is_some(), "{err:?}");
    }
}
