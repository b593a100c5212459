//! A lease kept alive by a task of its own: etcd-client hands out a keeper and leaves the loop
//! to its users, who all write this one.

use std::time::Duration;

use etcd_client::{Client, Error};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// A lease refreshed every third of its TTL until stopped or lost.
pub struct KeptLease {
    id: i64,
    alive: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl KeptLease {
    /// Grants a lease of `ttl` seconds and starts refreshing it.
    pub async fn start(client: &mut Client, ttl: i64) -> Result<KeptLease, Error> {
        let id = client.lease_grant(ttl, None).await?.id();
        let (mut keeper, mut answers) = client.lease_keep_alive(id).await?;
        let (alive_tx, alive) = watch::channel(true);
        let (stop, mut stopped) = oneshot::channel();
        let period = Duration::from_millis(u64::try_from(ttl).unwrap_or(1) * 1000 / 3);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(period) => {}
                }
                if keeper.keep_alive().await.is_err() {
                    break;
                }
                match answers.message().await {
                    // TTL 0: the lease is gone (revoked, or expired before this refresh).
                    Ok(Some(answer)) if answer.ttl() > 0 => {}
                    _ => break,
                }
            }
            let _ = alive_tx.send(false);
        });
        Ok(KeptLease {
            id,
            alive,
            stop: Some(stop),
            task,
        })
    }

    /// The lease id, to put keys with.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Resolves when the lease is lost: revoked elsewhere, or not refreshed in time.
    pub async fn lost(&mut self) {
        let _ = self.alive.wait_for(|alive| !alive).await;
    }

    /// Stops refreshing; the lease then expires after its TTL.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}
