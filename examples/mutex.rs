//! A job that must not run twice at once: each of three workers tries the lock and runs the
//! job only if nobody else holds it, without waiting (`try_lock`). The lock is the same one
//! `etcdctl lock jobs/report` takes, so a shell script can hold it too.
//!
//! `scripts/demo.sh mutex`, or `cargo run --example mutex -- http://127.0.0.1:2379`.

use std::time::Duration;

use etcdgw::concurrency::{Mutex, Session, SessionOptions};
use etcdgw::{Client, Txn, TxnOp};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect([&endpoint], None).await?;

    let mut workers = Vec::new();
    for name in ["worker-a", "worker-b", "worker-c"] {
        let client = client.clone();
        workers.push(tokio::spawn(async move {
            // One session per worker: a crashed worker's lock ends with its lease (5 s).
            let options = SessionOptions::new().with_ttl(Duration::from_secs(5));
            let session = Session::new(&client, Some(options)).await?;
            let mutex = Mutex::new(&session, "jobs/report");
            match mutex.try_lock().await? {
                Some(guard) => {
                    println!(
                        "{name} runs the job (lock key {})",
                        String::from_utf8_lossy(guard.key())
                    );
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    // Record the result only if the lock is still ours.
                    let txn = Txn::new().when([guard.is_owner()]).and_then([TxnOp::put(
                        "jobs/report-last-run",
                        name,
                        None,
                    )]);
                    let written = client.txn(txn).await?.succeeded();
                    println!("{name} is done (result written: {written})");
                    guard.unlock().await?;
                }
                None => println!("{name} skips: the job is already running"),
            }
            session.close().await?;
            Ok::<_, etcdgw::Error>(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(())
}
