//! The harness's own tests, against the etcd of `$ETCD_BIN`: a member, a cluster or a joining
//! member that finds a port taken starts again on fresh ports; a restart, which keeps its
//! ports, says so when one was taken.

use std::net::TcpListener;
use std::time::Duration;

use etcdgw::{MemberAddOptions, ServerErrorKind};
use etcdgw_test_support::{free_port, wait_until, Cluster, Etcd};

/// How long a young cluster may refuse a new member (etcd wants its members connected for a
/// few seconds first).
const YOUNG_CLUSTER: Duration = Duration::from_secs(30);

/// Takes a port the way another process would: a listener on it, for as long as it lives.
fn taken() -> (TcpListener, u16) {
    let listener = TcpListener::bind(("127.0.0.1", free_port())).expect("a free port");
    let port = listener.local_addr().expect("an address").port();
    (listener, port)
}

#[tokio::test]
async fn a_member_whose_client_or_peer_port_is_taken_starts_on_fresh_ports() {
    let (_client, client_port) = taken();
    let etcd = Etcd::builder()
        .first_ports(client_port, free_port())
        .start()
        .await;
    assert_ne!(etcd.member.client_port, client_port);
    etcd.client().await.put("k", "v", None).await.unwrap();

    let (_peer, peer_port) = taken();
    let etcd = Etcd::builder()
        .first_ports(free_port(), peer_port)
        .start()
        .await;
    assert_ne!(etcd.member.peer_port, peer_port);
    etcd.client().await.put("k", "v", None).await.unwrap();
}

#[tokio::test]
async fn a_cluster_with_a_taken_port_starts_again_on_fresh_ports() {
    let (_peer, peer_port) = taken();
    let builder = Etcd::builder().first_ports(free_port(), peer_port);
    let cluster = Cluster::start_with(3, builder).await;
    assert!(cluster.members.iter().all(|m| m.peer_port != peer_port));
    // One cluster: what one member applies, another serves.
    let endpoints = cluster.endpoints();
    let first = etcdgw::Client::connect([&endpoints[0]], None)
        .await
        .unwrap();
    let last = etcdgw::Client::connect([&endpoints[2]], None)
        .await
        .unwrap();
    let put = first.put("k", "v", None).await.unwrap();
    let read = last.get("k", None).await.unwrap();
    assert_eq!(
        read.kvs()[0].mod_revision(),
        put.header().unwrap().revision()
    );
    assert_eq!(last.member_list().await.unwrap().members().len(), 3);
}

#[tokio::test]
async fn a_joining_member_whose_ports_are_taken_moves_its_peer_url_and_starts() {
    let mut cluster = Cluster::start(1).await;
    let client = etcdgw::Client::connect(cluster.endpoints(), None)
        .await
        .unwrap();
    let (_client_taken, client_port) = taken();
    let (_peer_taken, peer_port) = taken();
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    // A learner: it does not count for quorum, so the cluster takes the peer URL's update
    // while the learner is not running.
    let added = wait_until("the cluster takes a member", YOUNG_CLUSTER, || async {
        match client
            .member_add(
                [peer_url.as_str()],
                Some(MemberAddOptions::new().with_is_learner()),
            )
            .await
        {
            Ok(added) => Some(added),
            Err(e) if e.server_kind() == Some(ServerErrorKind::Unhealthy) => None,
            Err(e) => panic!("{e:?}"),
        }
    })
    .await;
    let id = added.member().unwrap().id();
    let initial_cluster = format!(
        "{}=http://127.0.0.1:{},joined={peer_url}",
        cluster.members[0].name, cluster.members[0].peer_port
    );

    let index = cluster
        .join("joined", client_port, peer_port, initial_cluster)
        .await;

    let joined = &cluster.members[index];
    assert_ne!(joined.client_port, client_port);
    assert_ne!(joined.peer_port, peer_port);
    let list = client.member_list().await.unwrap();
    let member = list.members().iter().find(|m| m.id() == id).unwrap();
    assert_eq!(
        member.peer_urls(),
        [format!("http://127.0.0.1:{}", joined.peer_port)]
    );
    assert_eq!(member.name(), "joined", "it started and published its name");
}

#[tokio::test]
#[should_panic(expected = "was taken while it was down")]
async fn a_restart_keeps_its_ports_and_says_so_when_one_was_taken() {
    let mut etcd = Etcd::start().await;
    etcd.member.kill();
    let _taken = TcpListener::bind(("127.0.0.1", etcd.member.client_port)).unwrap();
    etcd.restart().await;
}
