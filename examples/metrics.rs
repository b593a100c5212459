//! Serves etcdgw's metrics in Prometheus' text format while a small workload runs: puts, gets,
//! a transaction, a watch, a lease kept alive, and a read of a compacted revision (an error,
//! counted by its kind). `docs/METRICS.md` lists every metric.
//!
//! `scripts/demo.sh metrics` starts a local etcd and runs it, or against your own:
//! `cargo run --features metrics --example metrics -- http://127.0.0.1:2379 [listen address]
//! [seconds]`; then `curl http://127.0.0.1:9898/metrics` while it runs. At the end it prints
//! etcdgw's part of the final scrape.

use std::net::SocketAddr;
use std::time::Duration;

use etcdgw::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp, WatchOptions};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// Latency buckets for `etcdgw_request_duration_seconds`: from a loopback read to a slow
/// write across regions.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let listen: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:9898".to_string())
        .parse()?;
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);

    // The exporter serves GET /metrics on `listen`; the handle renders the same text here.
    let (recorder, exporter) = PrometheusBuilder::new()
        .with_http_listener(listen)
        .set_buckets_for_metric(
            Matcher::Full("etcdgw_request_duration_seconds".into()),
            BUCKETS,
        )?
        .build()?;
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)?;
    tokio::spawn(exporter);
    println!("serving metrics on http://{listen}/metrics for {seconds} s");

    let client = Client::connect([&endpoint], None).await?;

    // A watch on the workload's keys, counting the events it gets.
    let mut watch = client
        .watch("metrics-demo/", Some(WatchOptions::new().with_prefix()))
        .await?;
    let watcher = tokio::spawn(async move { while let Ok(Some(_)) = watch.message().await {} });

    // A lease kept alive in the background, for the keep-alive counters.
    let lease = client.lease_client().grant_managed(2, None).await?;
    client
        .put(
            "metrics-demo/session",
            "alive",
            Some(etcdgw::PutOptions::new().with_lease(lease.id())),
        )
        .await?;

    let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut round = 0u64;
    while tokio::time::Instant::now() < until {
        let key = format!("metrics-demo/key-{}", round % 10);
        client.put(key.as_str(), round.to_string(), None).await?;
        client
            .get("metrics-demo/", Some(GetOptions::new().with_prefix()))
            .await?;
        let txn = Txn::new()
            .when([Compare::version(key.as_str(), CompareOp::Greater, 0)])
            .and_then([TxnOp::get(key.as_str(), None)]);
        client.txn(txn).await?;
        round += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Compact, then read below the compacted revision: an error counted as `Compacted`.
    let revision = client
        .get("metrics-demo/", None)
        .await?
        .header()
        .map(|h| h.revision())
        .unwrap_or(1);
    client.compact(revision, None).await?;
    if let Err(e) = client
        .get("metrics-demo/", Some(GetOptions::new().with_revision(1)))
        .await
    {
        println!("expected error: {e}");
    }

    lease.revoke().await?;
    client
        .delete(
            "metrics-demo/",
            Some(etcdgw::DeleteOptions::new().with_prefix()),
        )
        .await?;
    drop(client);
    watcher.abort();
    let _ = watcher.await;

    println!("{round} rounds; etcdgw's metrics now:");
    for line in handle.render().lines() {
        if line.contains("etcdgw_") && !line.contains("_bucket{") {
            println!("{line}");
        }
    }
    Ok(())
}
