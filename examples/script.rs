//! A script with the blocking client: no async code and no tokio of its own. It connects as
//! etcdctl would (`ETCDCTL_ENDPOINTS`, `ETCDCTL_USER`, `ETCDCTL_CACERT`, ...), takes a lock so
//! that one copy runs at a time, counts its runs, and lists what it keeps under `script/`.
//!
//! `scripts/demo.sh script`, or
//! `ETCDCTL_ENDPOINTS=http://127.0.0.1:2379 cargo run --example script --features blocking`.

use etcdgw::blocking::Client;
use etcdgw::GetOptions;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::from_env()?;

    // Released when it goes out of scope, even if the script panics; the lease behind it
    // (10 s, kept alive meanwhile) frees it if the process dies.
    let lock = client.lock_guard("script/lock", 10, None)?;
    let runs = match client.get("script/runs", None)?.kvs().first() {
        Some(kv) => kv.value_str()?.parse::<u64>()?,
        None => 0,
    };
    client.put("script/runs", (runs + 1).to_string(), None)?;
    client.put("script/last-run-by", std::process::id().to_string(), None)?;
    drop(lock);

    for kv in client
        .get("script/", Some(GetOptions::new().with_prefix()))?
        .kvs()
    {
        println!("{} = {}", kv.key_str()?, kv.value_str()?);
    }
    Ok(())
}
