//! Leader election on etcd's election service: campaign, proclaim, resign, and who leads.

use etcd_client::{Client, Error, LeaderKey, ProclaimOptions, ResignOptions};
use futures_util::StreamExt;

/// A candidate that won: its leader key and lease.
pub struct Leadership {
    leader: LeaderKey,
    lease: i64,
}

/// Campaigns for `election` with `value`; returns once elected (waits while another leads).
pub async fn campaign(
    client: &mut Client,
    election: &str,
    value: &str,
    ttl: i64,
) -> Result<Leadership, Error> {
    let lease = client.lease_grant(ttl, None).await?.id();
    let mut resp = client.campaign(election, value, lease).await?;
    let leader = resp
        .take_leader()
        .ok_or_else(|| Error::ElectError("campaign answered without a leader key".into()))?;
    Ok(Leadership { leader, lease })
}

impl Leadership {
    /// The election's name, from the leader key.
    pub fn election(&self) -> Result<&str, Error> {
        self.leader.name_str()
    }

    /// Publishes a new value as the leader.
    pub async fn proclaim(&self, client: &mut Client, value: &str) -> Result<(), Error> {
        let options = ProclaimOptions::new().with_leader(self.leader.clone());
        client.proclaim(value, Some(options)).await?;
        Ok(())
    }

    /// Steps down and gives up the lease.
    pub async fn resign(self, client: &mut Client) -> Result<(), Error> {
        client
            .resign(Some(ResignOptions::new().with_leader(self.leader)))
            .await?;
        super::errors::revoke_if_present(client, self.lease).await?;
        Ok(())
    }
}

/// The current leader's value; `None` if nobody leads ("election: no leader").
pub async fn current_leader(client: &mut Client, election: &str) -> Result<Option<String>, Error> {
    match client.leader(election).await {
        Ok(resp) => match resp.kv() {
            Some(kv) => Ok(Some(kv.value_str()?.to_string())),
            None => Ok(None),
        },
        Err(Error::GRpcStatus(s)) if s.message() == "election: no leader" => Ok(None),
        Err(e) => Err(e),
    }
}

/// Waits until `value` leads `election`; returns the leaders' values seen on the way (the one
/// leading when it started first).
pub async fn wait_for_leader(
    client: &mut Client,
    election: &str,
    value: &str,
) -> Result<Vec<String>, Error> {
    let mut stream = client.observe(election).await?;
    let mut seen = Vec::new();
    while let Some(resp) = stream.next().await {
        let resp = resp?;
        if let Some(kv) = resp.kv() {
            let leader = kv.value_str()?.to_string();
            let done = leader == value;
            seen.push(leader);
            if done {
                return Ok(seen);
            }
        }
    }
    Err(Error::ElectError("the observe stream ended".into()))
}
