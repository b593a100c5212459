//! A configuration cache: a local copy of `demo/config/` that prints every change as it
//! happens, while another task edits the configuration. The copy is always the prefix as it
//! was at one revision, even across compactions and member restarts.
//!
//! `scripts/demo.sh cache`, or `cargo run --example cache -- http://127.0.0.1:2379`.

use std::time::Duration;

use etcdgw::cache::{Cache, CacheChange, CacheEvent};
use etcdgw::{Client, DeleteOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect([&endpoint], None).await?;
    client
        .delete("demo/config/", Some(DeleteOptions::new().with_prefix()))
        .await?;
    client.put("demo/config/log-level", "info", None).await?;
    client.put("demo/config/workers", "4", None).await?;

    let cache = Cache::new(&client, "demo/config/", None)?;
    cache.ready().await;
    let (snapshot, mut updates) = cache.subscribe();
    println!("at revision {}:", snapshot.revision());
    for kv in &snapshot {
        println!("  {} = {}", kv.key_str()?, kv.value_str()?);
    }

    // Someone edits the configuration.
    let editor = tokio::spawn({
        let client = client.clone();
        async move {
            for (key, value) in [
                ("log-level", "debug"),
                ("workers", "8"),
                ("feature-x", "on"),
            ] {
                tokio::time::sleep(Duration::from_millis(200)).await;
                client
                    .put(format!("demo/config/{key}"), value, None)
                    .await?;
            }
            client.delete("demo/config/feature-x", None).await?;
            Ok::<_, etcdgw::Error>(())
        }
    });

    let mut seen = 0;
    while seen < 4 {
        let Some(event) = updates.message().await else {
            break;
        };
        match event {
            CacheEvent::Update(update) => {
                for change in update.changes() {
                    seen += 1;
                    match change {
                        CacheChange::Put { kv, prev } => println!(
                            "revision {}: {} = {} (was {})",
                            update.revision(),
                            kv.key_str()?,
                            kv.value_str()?,
                            prev.as_ref()
                                .map_or("unset", |p| p.value_str().unwrap_or("?")),
                        ),
                        CacheChange::Delete { prev, .. } => {
                            println!(
                                "revision {}: {} deleted",
                                update.revision(),
                                prev.key_str()?
                            )
                        }
                    }
                }
            }
            CacheEvent::Lagged { missed } => println!("missed {missed} updates: resubscribe"),
            CacheEvent::Error(e) => println!("cache retrying after: {e}"),
            _ => {}
        }
    }
    editor.await??;
    println!(
        "workers = {:?}",
        cache
            .get("demo/config/workers")
            .map(|kv| kv.value().to_vec())
    );
    Ok(())
}
