//! The nemesis: faults chosen at random from the seed, one at a time, each held for a few
//! seconds and then healed, the cluster healthy again before the next.
//!
//! | fault | how |
//! |---|---|
//! | `kill` | SIGKILL a member (the leader half the time); its client proxy refuses connections meanwhile, as its port would; restarted on its data dir |
//! | `stop` | SIGSTOP a member (the leader half the time), then SIGCONT: its sockets stay open and silent |
//! | `client-partition` | a member's client proxy holds both directions: requests are sent and their answers never come |
//! | `peer-partition` | every peer proxy holds the member's connections: it is cut off from the other members (its clients still reach it) |
//! | `one-way-loss` | a member's client proxy holds one direction: requests never arrive, or they are applied and their answers never arrive |
//! | `delay` | a member's client proxy delays every chunk by up to 50-400 ms |
//! | `resets` | a member's client proxy cuts 10-40 % of answers midway and resets both sides |
//! | `move-leader` | leadership moved to another member while requests are in flight (`move_leader`) |
//! | `quorum-loss` | two members SIGSTOPped together: no leader; writes time out and may be applied once quorum is back |

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::{ChaosCluster, RECOVERY};
use crate::model::FaultRecord;
use crate::proxy::Fault;
use crate::rng::Rng;
use crate::workload::Clock;

/// A kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// SIGKILL, then a restart.
    Kill,
    /// SIGSTOP, then SIGCONT.
    Stop,
    /// A member cut off from the clients.
    ClientPartition,
    /// A member cut off from the other members.
    PeerPartition,
    /// One direction between the clients and a member cut.
    OneWayLoss,
    /// Delays between the clients and a member.
    Delay,
    /// Connections reset midway through answers.
    Resets,
    /// Leadership moved.
    MoveLeader,
    /// Two of three members stopped.
    QuorumLoss,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Kill,
        FaultKind::Stop,
        FaultKind::ClientPartition,
        FaultKind::PeerPartition,
        FaultKind::OneWayLoss,
        FaultKind::Delay,
        FaultKind::Resets,
        FaultKind::MoveLeader,
        FaultKind::QuorumLoss,
    ];

    /// Its name in the summary.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Stop => "stop",
            FaultKind::ClientPartition => "client-partition",
            FaultKind::PeerPartition => "peer-partition",
            FaultKind::OneWayLoss => "one-way-loss",
            FaultKind::Delay => "delay",
            FaultKind::Resets => "resets",
            FaultKind::MoveLeader => "move-leader",
            FaultKind::QuorumLoss => "quorum-loss",
        }
    }

    /// How often it is chosen, after the first round.
    fn weight(self) -> u64 {
        match self {
            FaultKind::QuorumLoss => 1,
            FaultKind::Kill | FaultKind::Stop => 3,
            _ => 2,
        }
    }
}

/// The nemesis' settings.
pub struct Nemesis {
    /// Its random choices.
    pub rng: Rng,
    /// The run's clock.
    pub clock: Arc<Clock>,
    /// Start with one fault of every kind, in random order.
    pub every_kind_first: bool,
}

impl Nemesis {
    /// Injects faults until `stop` says so (and, with `every_kind_first`, until every kind was
    /// injected once); `all_done` is told when that first round is over. Leaves the cluster
    /// healed and healthy.
    pub async fn run(
        mut self,
        cluster: &mut ChaosCluster,
        mut stop: tokio::sync::watch::Receiver<bool>,
        all_done: tokio::sync::watch::Sender<bool>,
    ) -> Vec<FaultRecord> {
        let mut queue: Vec<FaultKind> = if self.every_kind_first {
            let mut all = FaultKind::ALL.to_vec();
            self.rng.shuffle(&mut all);
            all
        } else {
            Vec::new()
        };
        let _ = all_done.send(queue.is_empty());
        let mut records = Vec::new();
        loop {
            if *stop.borrow() && queue.is_empty() {
                break;
            }
            let gap = Duration::from_millis(self.rng.between(300, 1500));
            if queue.is_empty() {
                // Between faults, the run may end.
                if tokio::time::timeout(gap, stop.wait_for(|s| *s))
                    .await
                    .is_ok()
                {
                    break;
                }
            } else {
                tokio::time::sleep(gap).await;
            }
            let kind = match queue.pop() {
                Some(kind) => kind,
                None => {
                    let weights: Vec<u64> = FaultKind::ALL.iter().map(|k| k.weight()).collect();
                    FaultKind::ALL[self.rng.weighted(&weights)]
                }
            };
            records.push(self.inject(cluster, kind).await);
            let _ = all_done.send(queue.is_empty());
        }
        records
    }

    /// Injects one fault, holds it, heals it, and waits for the cluster to be healthy.
    async fn inject(&mut self, c: &mut ChaosCluster, kind: FaultKind) -> FaultRecord {
        let n = c.cluster.members.len();
        let hold = Duration::from_millis(self.rng.between(1500, 4000));
        let mut target = self.rng.below(n as u64) as usize;
        if matches!(kind, FaultKind::Kill | FaultKind::Stop) && self.rng.chance(500) {
            if let Some(leader) = c.leader().await {
                target = leader;
            }
        }
        let name = c.cluster.members[target].name.clone();
        let begin = (self.clock.tick(), self.clock.ms());
        let detail = match kind {
            FaultKind::Kill => {
                c.clients[target].set(Fault::Refuse);
                c.cluster.members[target].kill();
                tokio::time::sleep(hold).await;
                c.cluster.members[target].start_again();
                c.cluster.members[target].wait_healthy(RECOVERY).await;
                c.clients[target].heal();
                format!("SIGKILL {name}, restarted after {hold:?}")
            }
            FaultKind::Stop => {
                c.cluster.members[target].signal("STOP");
                tokio::time::sleep(hold).await;
                c.cluster.members[target].signal("CONT");
                format!("SIGSTOP {name} for {hold:?}")
            }
            FaultKind::ClientPartition => {
                self.hold(c, target, Fault::Blackhole, hold).await;
                format!("{name} cut off from the clients for {hold:?}")
            }
            FaultKind::PeerPartition => {
                let member = c.ids[target];
                for p in &c.peers {
                    p.set(Fault::Isolate { member });
                }
                tokio::time::sleep(hold).await;
                for p in &c.peers {
                    p.heal();
                }
                format!("{name} cut off from its peers for {hold:?}")
            }
            FaultKind::OneWayLoss => {
                let (fault, what) = if self.rng.chance(500) {
                    (Fault::DropRequests, "requests to")
                } else {
                    (Fault::DropAnswers, "answers from")
                };
                self.hold(c, target, fault, hold).await;
                format!("{what} {name} lost for {hold:?}")
            }
            FaultKind::Delay => {
                let max_ms = self.rng.between(50, 400);
                self.hold(c, target, Fault::Delay { max_ms }, hold).await;
                format!("{name} delayed up to {max_ms} ms a chunk for {hold:?}")
            }
            FaultKind::Resets => {
                let per_mille = self.rng.between(100, 400);
                self.hold(c, target, Fault::Resets { per_mille }, hold)
                    .await;
                format!(
                    "{name}'s answers reset midway ({} %) for {hold:?}",
                    per_mille / 10
                )
            }
            FaultKind::MoveLeader => self.move_leader(c).await,
            FaultKind::QuorumLoss => {
                let other = (target + 1 + self.rng.below(n as u64 - 1) as usize) % n;
                c.cluster.members[target].signal("STOP");
                c.cluster.members[other].signal("STOP");
                tokio::time::sleep(hold).await;
                c.cluster.members[target].signal("CONT");
                c.cluster.members[other].signal("CONT");
                format!(
                    "SIGSTOP {name} and {} for {hold:?}",
                    c.cluster.members[other].name
                )
            }
        };
        let end = (self.clock.tick(), self.clock.ms());
        c.wait_healthy().await;
        FaultRecord {
            kind: kind.name().to_string(),
            detail,
            clock: (begin.0, end.0),
            at_ms: (begin.1, end.1),
        }
    }

    async fn hold(&mut self, c: &ChaosCluster, target: usize, fault: Fault, hold: Duration) {
        c.clients[target].set(fault);
        tokio::time::sleep(hold).await;
        c.clients[target].heal();
    }

    async fn move_leader(&mut self, c: &ChaosCluster) -> String {
        let Some(leader) = c.leader().await else {
            return "no leader to move".to_string();
        };
        let n = c.ids.len();
        let to = (leader + 1 + self.rng.below(n as u64 - 1) as usize) % n;
        let moved = c
            .admin
            .with_timeout(Duration::from_secs(10))
            .move_leader(c.ids[to])
            .await;
        let (from, to) = (&c.cluster.members[leader].name, &c.cluster.members[to].name);
        match moved {
            Ok(_) => format!("leadership moved from {from} to {to}"),
            Err(e) => format!("leadership not moved from {from} to {to}: {e}"),
        }
    }
}

/// How many faults of each kind.
pub fn counts(records: &[FaultRecord]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for r in records {
        *counts.entry(r.kind.clone()).or_insert(0) += 1;
    }
    counts
}
