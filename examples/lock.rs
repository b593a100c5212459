//! Two tasks contend for one lock; each holds it for a moment, and the log shows they never
//! overlap. Each lock is tied to a kept-alive lease, so a crashed holder would release it.
//!
//! `scripts/demo.sh lock`, or `cargo run --example lock -- http://127.0.0.1:2379`.

use std::time::Duration;

use etcdgw::{Client, LockOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect([&endpoint], None).await?;

    let mut tasks = Vec::new();
    for name in ["worker-a", "worker-b"] {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..3 {
                let options = LockOptions::new().with_timeout(Duration::from_secs(10));
                let guard = client
                    .lock_client()
                    .lock_guard("demo/lock", 5, Some(options))
                    .await?;
                println!(
                    "{name} holds the lock (round {round}, key {})",
                    String::from_utf8_lossy(guard.key())
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
                println!("{name} releases it");
                guard.unlock().await?;
            }
            Ok::<_, etcdgw::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}
