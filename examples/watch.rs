//! Watches a prefix while another task writes under it, printing each event; the watch keeps
//! going across member restarts without losing or repeating an event.
//!
//! `scripts/demo.sh watch` starts a local etcd and runs it, or against your own:
//! `cargo run --example watch -- http://127.0.0.1:2379`.

use std::time::Duration;

use etcdgw::{Client, EventType, WatchOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect([&endpoint], None).await?;

    let mut stream = client
        .watch(
            "watch-demo/",
            Some(WatchOptions::new().with_prefix().with_prev_key()),
        )
        .await?;
    if let Some(created) = stream.message().await? {
        let rev = created.header().map(|h| h.revision()).unwrap_or_default();
        println!("watch {} created at revision {rev}", created.watch_id());
    }

    let writer = client.clone();
    tokio::spawn(async move {
        for i in 0..5 {
            let key = format!("watch-demo/item-{}", i % 3);
            if let Err(e) = writer.put(key.as_str(), format!("value {i}"), None).await {
                eprintln!("put failed: {e}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if let Err(e) = writer.delete("watch-demo/item-0", None).await {
            eprintln!("delete failed: {e}");
        }
    });

    let mut seen = 0;
    while seen < 6 {
        let Some(resp) = stream.message().await? else {
            break;
        };
        for event in resp.events() {
            seen += 1;
            let Some(kv) = event.kv() else { continue };
            match event.event_type() {
                EventType::Put => {
                    let before = event.prev_kv().map(|p| p.value_str()).transpose()?;
                    println!(
                        "rev {:>3}  PUT    {} = {:?} (was {before:?})",
                        kv.mod_revision(),
                        kv.key_str()?,
                        kv.value_str()?
                    );
                }
                EventType::Delete => {
                    println!("rev {:>3}  DELETE {}", kv.mod_revision(), kv.key_str()?);
                }
            }
        }
    }
    println!("saw {seen} events; dropping the stream closes the watch");
    Ok(())
}
