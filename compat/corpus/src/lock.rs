//! Running something under etcd's lock service, tied to a lease so that a crashed holder's lock
//! goes away with the lease.

use std::future::Future;

use etcd_client::{Client, Error, LockOptions};

/// Runs `work` while holding the lock `name`; releases it afterwards, whatever `work` returned.
pub async fn with_lock<T, F, Fut>(
    client: &mut Client,
    name: &str,
    ttl: i64,
    work: F,
) -> Result<T, Error>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let lease = client.lease_grant(ttl, None).await?.id();
    let held = client
        .lock(name, Some(LockOptions::new().with_lease(lease)))
        .await?;
    let outcome = work(client.clone()).await;
    let unlocked = client.unlock(held.key()).await;
    super::errors::revoke_if_present(client, lease).await?;
    let value = outcome?;
    unlocked?;
    Ok(value)
}
