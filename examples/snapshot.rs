//! Saves a snapshot through the gateway to a file, checking the SHA-256 etcd appends. Restore
//! it with `etcdutl snapshot restore <file>` (etcdctl on 3.4).
//!
//! `scripts/demo.sh snapshot`, or `cargo run --example snapshot -- http://127.0.0.1:2379 [file]`.

use etcdgw::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let path = args.next().unwrap_or_else(|| {
        std::env::temp_dir()
            .join("etcdgw-snapshot.db")
            .display()
            .to_string()
    });
    let client = Client::connect([&endpoint], None).await?;
    for i in 0..10 {
        client
            .put(format!("snapshot-demo/{i}"), format!("value {i}"), None)
            .await?;
    }
    let info = client.snapshot().await?.save_to_file(&path).await?;
    let hex: String = info.sha256.iter().map(|b| format!("{b:02x}")).collect();
    println!(
        "saved {} bytes to {path} (sha256 {hex}, checked)",
        info.size
    );
    Ok(())
}
