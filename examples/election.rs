//! Two candidates campaign for one election while a third task observes it: one leader at a
//! time, a proclaim changes the leader's value, and resigning hands over.
//!
//! `scripts/demo.sh election`, or `cargo run --example election -- http://127.0.0.1:2379`.

use std::time::Duration;

use etcdgw::{Client, ProclaimOptions, ResignOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect([&endpoint], None).await?;

    let observer = client.clone();
    let watching = tokio::spawn(async move {
        let mut leaders = observer.observe("demo/election").await?;
        for _ in 0..3 {
            if let Some(resp) = leaders.message().await? {
                let kv = resp
                    .kv()
                    .map(|kv| kv.value_str().map(str::to_string))
                    .transpose()?;
                println!("observer: leader is now {kv:?}");
            }
        }
        Ok::<_, etcdgw::Error>(())
    });

    let mut candidates = Vec::new();
    for (name, delay) in [("alice", 0), ("bob", 200)] {
        let client = client.clone();
        candidates.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let lease = client.lease_client().grant_managed(10, None).await?;
            let won = client
                .election_client()
                .campaign_with_timeout("demo/election", name, lease.id(), Duration::from_secs(20))
                .await?;
            let leader = won.leader().cloned().unwrap_or_default();
            println!("{name} is elected");
            client
                .proclaim(
                    format!("{name} (busy)"),
                    Some(ProclaimOptions::new().with_leader(leader.clone())),
                )
                .await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            client
                .resign(Some(ResignOptions::new().with_leader(leader)))
                .await?;
            println!("{name} resigns");
            lease.revoke().await?;
            Ok::<_, etcdgw::Error>(())
        }));
    }
    for c in candidates {
        c.await??;
    }
    watching.await??;
    Ok(())
}
