//! A three-member cluster behind fault proxies: one in front of each member's client port
//! (the clients under test know only these) and one in front of each member's peer port
//! (every member reaches the others through them: the harness's
//! [`EtcdBuilder::peer_fronts`]). An admin client talks to the members directly, for what
//! the run does around the workload (leader moves, fences, the final reads).

use std::net::SocketAddr;
use std::time::Duration;

use etcdgw::{Client, ConnectOptions};
use etcdgw_test_support::{Cluster, EtcdBuilder};

use crate::proxy::FaultProxy;
use crate::rng::Rng;

/// How long a member may take to be healthy again after a fault.
pub const RECOVERY: Duration = Duration::from_secs(60);

/// The cluster, its proxies and an admin client.
pub struct ChaosCluster {
    /// The members.
    pub cluster: Cluster,
    /// Member `i`'s client port's proxy.
    pub clients: Vec<FaultProxy>,
    /// Member `i`'s peer port's proxy.
    pub peers: Vec<FaultProxy>,
    /// Member `i`'s id.
    pub ids: Vec<u64>,
    /// A client of the members themselves, not through the proxies.
    pub admin: Client,
}

/// Tells a peer proxy where its member listens.
type SetUpstream = Box<dyn Fn(SocketAddr) + Send + Sync>;

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl ChaosCluster {
    /// Starts `n` members behind proxies; `seed` drives the proxies' random choices.
    pub async fn start(n: usize, seed: u64) -> ChaosCluster {
        let mut peers = Vec::new();
        for i in 0..n {
            peers.push(FaultProxy::start(None, true, Rng::derive(seed, 1000 + i as u64)).await);
        }
        let fronts: Vec<(u16, SetUpstream)> = peers
            .iter()
            .map(|p| {
                let set: SetUpstream = Box::new(p.upstream_setter());
                (p.port, set)
            })
            .collect();
        // Progress notifications every second, for the watches that ask for them (the flag is
        // spelled as the version under test spells it).
        let builder = EtcdBuilder::default()
            .arg("--experimental-watch-progress-notify-interval=1s")
            .peer_fronts(move |i, port| {
                let (front, set) = &fronts[i];
                set(loopback(port));
                *front
            });
        let cluster = Cluster::start_with(n, builder).await;
        let mut clients = Vec::new();
        for (i, member) in cluster.members.iter().enumerate() {
            let rng = Rng::derive(seed, 2000 + i as u64);
            clients.push(FaultProxy::start(Some(loopback(member.client_port)), false, rng).await);
        }
        let admin = Client::connect(
            cluster.endpoints(),
            Some(ConnectOptions::new().with_timeout(Duration::from_secs(10))),
        )
        .await
        .expect("connect the admin client");
        let list = admin.member_list().await.expect("the member list");
        let ids = cluster
            .members
            .iter()
            .map(|m| {
                list.members()
                    .iter()
                    .find(|l| l.name() == m.name)
                    .map(|l| l.id())
                    .unwrap_or_else(|| panic!("member {} is not in the member list", m.name))
            })
            .collect::<Vec<u64>>();
        for (proxy, id) in peers.iter().zip(&ids) {
            proxy.set_member(*id);
        }
        ChaosCluster {
            cluster,
            clients,
            peers,
            ids,
            admin,
        }
    }

    /// The client proxies' endpoints, in this order of members.
    pub fn endpoints(&self, order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| self.clients[i].endpoint()).collect()
    }

    /// The members' own client URLs.
    pub fn direct_endpoints(&self) -> Vec<String> {
        self.cluster.endpoints()
    }

    /// The index of the leader, if the admin client finds one.
    pub async fn leader(&self) -> Option<usize> {
        let leader = self
            .admin
            .with_timeout(Duration::from_secs(3))
            .status()
            .await
            .ok()?
            .leader();
        self.ids.iter().position(|&id| id == leader)
    }

    /// Waits until every member answers `/health` with a leader; panics after [`RECOVERY`].
    pub async fn wait_healthy(&self) {
        let members = &self.cluster.members;
        etcdgw_test_support::wait_until(
            "every member to be healthy again after a fault",
            RECOVERY,
            || async {
                for m in members {
                    if !m.is_healthy().await {
                        return Err(format!("{} is not healthy", m.name));
                    }
                }
                Ok(())
            },
        )
        .await;
    }

    /// Connections reset by the client proxies' faults.
    pub fn resets(&self) -> u64 {
        self.clients.iter().map(FaultProxy::resets).sum()
    }
}
