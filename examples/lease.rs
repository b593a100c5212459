//! Registers a service under a lease this process keeps alive, shows the lease's TTL and keys,
//! then deregisters by revoking it.
//!
//! `scripts/demo.sh lease`, or `cargo run --example lease -- http://127.0.0.1:2379`.

use std::time::Duration;

use etcdgw::{Client, GetOptions, LeaseTimeToLiveOptions, PutOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect([&endpoint], None).await?;

    // A 3 s lease, refreshed in the background every second until dropped or revoked.
    let mut lease = client.lease_client().grant_managed(3, None).await?;
    let with_lease = || Some(PutOptions::new().with_lease(lease.id()));
    client
        .put("services/api/instance-1", "10.0.0.7:8080", with_lease())
        .await?;
    client
        .put("services/api/instance-1/health", "ok", with_lease())
        .await?;
    println!(
        "registered under lease {:x} (TTL {} s)",
        lease.id(),
        lease.ttl()
    );

    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let ttl = client
            .lease_time_to_live(lease.id(), Some(LeaseTimeToLiveOptions::new().with_keys()))
            .await?;
        let keys: Vec<String> = ttl
            .keys()
            .iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        println!(
            "lease alive: {} s left of {}, keys {keys:?}",
            ttl.ttl(),
            ttl.granted_ttl()
        );
    }
    if !lease.is_alive() {
        println!("lease lost: {}", lease.lost().await);
    }

    lease.revoke().await?;
    let left = client
        .get("services/api/", Some(GetOptions::new().with_prefix()))
        .await?;
    println!(
        "deregistered: {} keys left under services/api/",
        left.count()
    );
    Ok(())
}
