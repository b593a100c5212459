//! A health report of the cluster: its members, its leader, its alarms.

use etcd_client::{AlarmAction, AlarmType, Client, Error};

/// What an operator wants to see at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The members' names.
    pub members: Vec<String>,
    /// The answering member's idea of the leader.
    pub leader: u64,
    /// Whether that leader is one of the members.
    pub leader_known: bool,
    /// How many alarms are raised.
    pub alarms: usize,
    /// The server's version.
    pub version: String,
}

/// Asks the cluster.
pub async fn check(client: &mut Client) -> Result<Health, Error> {
    let members = client.member_list().await?;
    let status = client.status().await?;
    let alarms = client
        .alarm(AlarmAction::Get, AlarmType::None, None)
        .await?;
    let leader = status.leader();
    Ok(Health {
        members: members
            .members()
            .iter()
            .map(|m| m.name().to_string())
            .collect(),
        leader,
        leader_known: members.members().iter().any(|m| m.id() == leader),
        alarms: alarms.alarms().len(),
        version: status.version().to_string(),
    })
}
