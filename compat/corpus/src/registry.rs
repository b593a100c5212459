//! A service registry: each instance is a key under `services/<name>/` tied to a lease it keeps
//! alive; when it stops (or dies), its key goes with the lease.

use etcd_client::{Client, Error, GetOptions, PutOptions};

use super::lease_keeper::KeptLease;

/// An instance's registration, kept alive until it is dropped by [`Registration::deregister`]
/// or stops being refreshed.
pub struct Registration {
    key: String,
    lease: KeptLease,
}

fn prefix(service: &str) -> String {
    format!("services/{service}/")
}

/// Registers `instance` of `service` at `address`, for as long as the process keeps it alive.
pub async fn register(
    client: &mut Client,
    service: &str,
    instance: &str,
    address: &str,
    ttl: i64,
) -> Result<Registration, Error> {
    let lease = KeptLease::start(client, ttl).await?;
    let key = format!("{}{instance}", prefix(service));
    client
        .put(
            key.as_str(),
            address,
            Some(PutOptions::new().with_lease(lease.id())),
        )
        .await?;
    Ok(Registration { key, lease })
}

impl Registration {
    /// The instance's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Removes the instance now.
    pub async fn deregister(self, client: &mut Client) -> Result<(), Error> {
        let id = self.lease.id();
        self.lease.stop().await;
        super::errors::revoke_if_present(client, id).await?;
        Ok(())
    }

    /// Stops refreshing (a crash, as far as etcd can tell): the key goes after the TTL.
    pub async fn abandon(self) {
        self.lease.stop().await;
    }
}

/// The instances of `service` and their addresses, in key order.
pub async fn discover(client: &mut Client, service: &str) -> Result<Vec<(String, String)>, Error> {
    let prefix = prefix(service);
    let resp = client
        .get(prefix.as_str(), Some(GetOptions::new().with_prefix()))
        .await?;
    let mut instances = Vec::new();
    for kv in resp.kvs() {
        let name = kv
            .key_str()?
            .trim_start_matches(prefix.as_str())
            .to_string();
        instances.push((name, kv.value_str()?.to_string()));
    }
    Ok(instances)
}
