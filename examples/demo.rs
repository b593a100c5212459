//! A tour of the KV API: put, get, prefix, txn, delete, compact, printing what it does.
//!
//! Run it with `scripts/demo.sh`, which starts a local etcd, or against your own:
//! `cargo run --example demo -- http://127.0.0.1:2379`.

use etcdgw::{
    Client, Compare, CompareOp, DeleteOptions, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect([&endpoint], None).await?;
    println!("connected to {endpoint}");

    // Start from a clean slate under our prefix.
    client
        .delete("demo/", Some(DeleteOptions::new().with_prefix()))
        .await?;

    let resp = client.put("demo/greeting", "hello", None).await?;
    let first_rev = resp.header().map(|h| h.revision()).unwrap_or_default();
    println!("put demo/greeting = hello            (revision {first_rev})");

    let resp = client
        .put(
            "demo/greeting",
            "hello, etcd",
            Some(PutOptions::new().with_prev_key()),
        )
        .await?;
    if let Some(prev) = resp.prev_key() {
        println!(
            "put demo/greeting = hello, etcd      (it was {:?})",
            prev.value_str()?
        );
    }

    let resp = client.get("demo/greeting", None).await?;
    for kv in resp.kvs() {
        println!(
            "get demo/greeting -> {:?}  version {}, created at {}, modified at {}",
            kv.value_str()?,
            kv.version(),
            kv.create_revision(),
            kv.mod_revision()
        );
    }

    for (name, color) in [
        ("apple", "red"),
        ("banana", "yellow"),
        ("cherry", "dark red"),
    ] {
        client
            .put(format!("demo/fruit/{name}"), color, None)
            .await?;
    }
    let resp = client
        .get("demo/fruit/", Some(GetOptions::new().with_prefix()))
        .await?;
    println!("get demo/fruit/ --prefix -> {} keys:", resp.count());
    for kv in resp.kvs() {
        println!("    {} = {}", kv.key_str()?, kv.value_str()?);
    }
    let resp = client
        .get(
            "demo/fruit/",
            Some(GetOptions::new().with_prefix().with_limit(2)),
        )
        .await?;
    println!(
        "  with limit 2: {} keys, more = {}",
        resp.kvs().len(),
        resp.more()
    );

    // A compare-and-swap: change the greeting only if nobody else changed it.
    let current = client.get("demo/greeting", None).await?;
    let mod_rev = current
        .kvs()
        .first()
        .map(|kv| kv.mod_revision())
        .unwrap_or(0);
    let txn = Txn::new()
        .when([Compare::mod_revision(
            "demo/greeting",
            CompareOp::Equal,
            mod_rev,
        )])
        .and_then([TxnOp::put("demo/greeting", "swapped", None)])
        .or_else([TxnOp::get("demo/greeting", None)]);
    let resp = client.txn(txn).await?;
    println!(
        "txn: if mod_revision == {mod_rev} then put 'swapped' -> succeeded = {}",
        resp.succeeded()
    );

    // The same compare again fails now, and the else branch reads the current value.
    let txn = Txn::new()
        .when([Compare::mod_revision(
            "demo/greeting",
            CompareOp::Equal,
            mod_rev,
        )])
        .and_then([TxnOp::put("demo/greeting", "never", None)])
        .or_else([TxnOp::get("demo/greeting", None)]);
    let resp = client.txn(txn).await?;
    if let Some(TxnOpResponse::Get(get)) = resp.op_responses().first() {
        let value = get.kvs().first().map(|kv| kv.value_str()).transpose()?;
        println!(
            "txn again -> succeeded = {}, else branch read {value:?}",
            resp.succeeded()
        );
    }

    let resp = client
        .delete(
            "demo/fruit/",
            Some(DeleteOptions::new().with_prefix().with_prev_key()),
        )
        .await?;
    println!("delete demo/fruit/ --prefix -> {} deleted", resp.deleted());

    let old = client
        .get(
            "demo/greeting",
            Some(GetOptions::new().with_revision(first_rev)),
        )
        .await?;
    if let Some(kv) = old.kvs().first() {
        println!(
            "get demo/greeting at revision {first_rev} -> {:?}",
            kv.value_str()?
        );
    }
    let now = client.get("demo/greeting", None).await?;
    let rev = now.header().map(|h| h.revision()).unwrap_or_default();
    client.compact(rev, None).await?;
    println!("compact up to revision {rev}");
    match client
        .get(
            "demo/greeting",
            Some(GetOptions::new().with_revision(first_rev)),
        )
        .await
    {
        Err(err) => println!("get at revision {first_rev} now fails: {err}"),
        Ok(_) => println!("get at revision {first_rev} still works (unexpected)"),
    }
    Ok(())
}
