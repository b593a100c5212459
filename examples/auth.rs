//! Turns auth on, adds a read-only user, and shows what that user may and may not do; then
//! turns auth off again. Passwords never show up in the output, even in `Debug`.
//!
//! `scripts/demo.sh auth`, or `cargo run --example auth -- http://127.0.0.1:2379` (against a
//! member without auth).

use etcdgw::{Client, ConnectOptions, Permission};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let admin = Client::connect([&endpoint], None).await?;

    admin.user_add("root", "root-pw", None).await?;
    admin.role_add("root").await?;
    admin.user_grant_role("root", "root").await?;
    admin.auth_enable().await?;
    println!("auth enabled");

    let root_options = ConnectOptions::new().with_user("root", "root-pw");
    println!("options: {root_options:?}");
    let root = Client::connect([&endpoint], Some(root_options)).await?;
    root.put("reports/2026", "all good", None).await?;
    root.user_add("viewer", "viewer-pw", None).await?;
    root.role_add("read-reports").await?;
    root.role_grant_permission("read-reports", Permission::read("reports/").with_prefix())
        .await?;
    root.user_grant_role("viewer", "read-reports").await?;

    let viewer = Client::connect(
        [&endpoint],
        Some(ConnectOptions::new().with_user("viewer", "viewer-pw")),
    )
    .await?;
    let resp = viewer.get("reports/2026", None).await?;
    println!(
        "viewer reads reports/2026: {:?}",
        resp.kvs()[0].value_str()?
    );
    match viewer.put("reports/2026", "tampered", None).await {
        Err(e) => println!(
            "viewer writes reports/2026: refused: {:?} ({e})",
            e.server_kind()
        ),
        Ok(_) => println!("viewer writes reports/2026: allowed (unexpected)"),
    }
    let wrong = Client::connect(
        [&endpoint],
        Some(ConnectOptions::new().with_user("viewer", "wrong")),
    )
    .await?;
    if let Err(e) = wrong.get("reports/2026", None).await {
        println!("wrong password: {:?} ({e})", e.server_kind());
    }
    println!("root fetched {} token(s)", root.token_refreshes());

    root.auth_disable().await?;
    root.user_delete("viewer").await?;
    root.role_delete("read-reports").await?;
    println!("auth disabled, demo users removed");
    Ok(())
}
