//! The metrics of feature `metrics`, read the way Prometheus reads them: a test-wide recorder
//! (metrics-exporter-prometheus) serves them over HTTP, and each check scrapes that text and
//! compares the counts with the requests the test made. A binary of its own, since a recorder
//! is process-wide: no other test adds to the counts. Runs against a real etcd member
//! (`$ETCD_BIN`), on 3.4 and 3.5 through `scripts/test.sh`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use etcdgw::{
    Client, Compare, CompareOp, ConnectOptions, Error, GetOptions, ServerErrorKind, Txn, TxnOp,
    WatchOptions,
};
use etcdgw_test_support::{free_port, wait_until, Etcd};
use metrics_exporter_prometheus::PrometheusBuilder;

/// One scrape: every sample by metric name and labels.
struct Scrape(Vec<(String, BTreeMap<String, String>, f64)>);

impl Scrape {
    /// Reads Prometheus' text format (one `name{label="value",...} number` per sample).
    fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let value: f64 = value.parse().expect("a number");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("closed labels");
                    (name, parse_labels(body))
                }
                None => (series, BTreeMap::new()),
            };
            samples.push((name.to_string(), labels, value));
        }
        Scrape(samples)
    }

    /// The sum of the samples of `name` whose labels include all of `want`.
    fn sum(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(n, labels, _)| {
                n == name
                    && want
                        .iter()
                        .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| v)
            .sum()
    }

    /// Every label value of `label` seen on `name`.
    fn values_of(&self, name: &str, label: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .0
            .iter()
            .filter(|(n, _, _)| n == name)
            .filter_map(|(_, labels, _)| labels.get(label).cloned())
            .collect();
        values.sort();
        values.dedup();
        values
    }
}

fn parse_labels(body: &str) -> BTreeMap<String, String> {
    // Values here never hold `",` (methods, URLs, kinds), so splitting on it is enough.
    body.split("\",")
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
            (k.to_string(), v.trim_end_matches('"').to_string())
        })
        .collect()
}

/// The difference between two scrapes, for one series set.
fn delta(before: &Scrape, after: &Scrape, name: &str, want: &[(&str, &str)]) -> f64 {
    after.sum(name, want) - before.sum(name, want)
}

/// Installs the process-wide recorder with its HTTP listener, and returns the scrape URL.
async fn serve_metrics() -> String {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (recorder, exporter) = PrometheusBuilder::new()
        .with_http_listener(addr)
        .build()
        .expect("a Prometheus recorder");
    metrics::set_global_recorder(recorder).expect("the only recorder of this binary");
    tokio::spawn(exporter);
    format!("http://{addr}/metrics")
}

async fn scrape(url: &str) -> Scrape {
    let http = reqwest::Client::new();
    // The exporter's listener starts in the background.
    let resp = wait_until(
        &format!("the metrics listener at {url} to answer"),
        Duration::from_secs(10),
        || http.get(url).send(),
    )
    .await;
    assert!(resp.status().is_success(), "scrape: {}", resp.status());
    Scrape::parse(&resp.text().await.expect("a body"))
}

/// Polls until `check` holds on a fresh scrape (background work: keep-alive loops, watches).
async fn eventually(url: &str, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    wait_until(what, Duration::from_secs(20), || async {
        let s = scrape(url).await;
        check(&s).then_some(s)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_counts_what_the_client_did() {
    let url = serve_metrics().await;
    let etcd = Etcd::start().await;
    let endpoint = etcd.endpoint();
    let ep = endpoint.trim_end_matches('/');
    let client = etcd.client().await;

    // ---- unary requests: started, finished by outcome and kind, latency, in flight ----
    let before = scrape(&url).await;
    for i in 0..5 {
        client.put(format!("m/k{i}"), "v", None).await.unwrap();
    }
    for _ in 0..3 {
        client
            .get("m/", Some(GetOptions::new().with_prefix()))
            .await
            .unwrap();
    }
    let txn = Txn::new()
        .when([Compare::version("m/k0", CompareOp::Greater, 0)])
        .and_then([TxnOp::get("m/k0", None)]);
    assert!(client.txn(txn).await.unwrap().succeeded());
    let rev = client.put("m/k0", "v2", None).await.unwrap();
    let rev = rev.header().map(|h| h.revision()).unwrap();
    client.compact(rev, None).await.unwrap();
    let err = client
        .get("m/k0", Some(GetOptions::new().with_revision(rev - 1)))
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::Compacted));
    // Refused before sending: not a request, not counted.
    assert!(matches!(
        client.put("", "v", None).await,
        Err(Error::InvalidArgument { .. })
    ));
    let after = scrape(&url).await;

    let started = "etcdgw_requests_started_total";
    let finished = "etcdgw_requests_finished_total";
    let put = [("method", "kv/put"), ("endpoint", ep)];
    let range = [("method", "kv/range"), ("endpoint", ep)];
    assert_eq!(delta(&before, &after, started, &put), 6.0);
    assert_eq!(
        delta(
            &before,
            &after,
            finished,
            &[("method", "kv/put"), ("outcome", "ok")]
        ),
        6.0
    );
    assert_eq!(delta(&before, &after, started, &range), 4.0);
    assert_eq!(
        delta(
            &before,
            &after,
            finished,
            &[("method", "kv/range"), ("outcome", "ok")]
        ),
        3.0
    );
    assert_eq!(
        delta(
            &before,
            &after,
            finished,
            &[
                ("method", "kv/range"),
                ("outcome", "error"),
                ("error_kind", "Compacted")
            ]
        ),
        1.0
    );
    for method in ["kv/txn", "kv/compaction"] {
        assert_eq!(
            delta(&before, &after, started, &[("method", method)]),
            1.0,
            "{method}"
        );
        assert_eq!(
            delta(
                &before,
                &after,
                finished,
                &[("method", method), ("outcome", "ok")]
            ),
            1.0,
            "{method}"
        );
    }
    // One latency observation per finished request.
    assert_eq!(
        delta(
            &before,
            &after,
            "etcdgw_request_duration_seconds_count",
            &put
        ),
        6.0
    );
    assert!(after.sum("etcdgw_request_duration_seconds_sum", &put) > 0.0);
    assert_eq!(after.sum("etcdgw_requests_in_flight", &put), 0.0);
    // Labels carry methods and endpoints only: no key, value or token.
    for label in ["method", "endpoint", "outcome", "error_kind"] {
        for value in after.values_of(finished, label) {
            assert!(!value.contains("m/k"), "{label}={value}");
        }
    }

    // ---- watches: open, events delivered, resumed after the member restarts ----
    let before = scrape(&url).await;
    let mut watch = client
        .watch("w/", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    let created = watch.message().await.unwrap().unwrap();
    assert!(created.created());
    let open = scrape(&url).await;
    assert_eq!(delta(&before, &open, "etcdgw_watches_open", &[]), 1.0);
    assert_eq!(
        delta(
            &before,
            &open,
            started,
            &[("method", "watch"), ("endpoint", ep)]
        ),
        1.0
    );
    for i in 0..4 {
        client.put(format!("w/{i}"), "v", None).await.unwrap();
    }
    let mut seen = 0;
    while seen < 4 {
        seen += watch.message().await.unwrap().unwrap().events().len();
    }
    let mut etcd = etcd;
    etcd.restart().await;
    client.put("w/after", "v", None).await.unwrap();
    let mut after_restart = 0;
    while after_restart < 1 {
        after_restart += watch.message().await.unwrap().unwrap().events().len();
    }
    let resumed = scrape(&url).await;
    assert_eq!(
        delta(&before, &resumed, "etcdgw_watch_events_total", &[]),
        5.0
    );
    assert!(delta(&before, &resumed, "etcdgw_watch_resumes_total", &[]) >= 1.0);
    assert_eq!(delta(&before, &resumed, "etcdgw_watches_open", &[]), 1.0);
    drop(watch);
    let closed = scrape(&url).await;
    assert_eq!(delta(&before, &closed, "etcdgw_watches_open", &[]), 0.0);

    // ---- leases: keep-alives by answer, a managed lease lost when revoked ----
    let before = scrape(&url).await;
    let lease = client.lease_grant(30, None).await.unwrap().id();
    let (mut keeper, mut answers) = client.lease_keep_alive(lease).await.unwrap();
    for _ in 0..2 {
        keeper.keep_alive().await.unwrap();
    }
    client.lease_revoke(lease).await.unwrap();
    keeper.keep_alive().await.unwrap();
    for _ in 0..3 {
        answers.message().await.ok();
    }
    let after = scrape(&url).await;
    let keepalives = "etcdgw_lease_keepalives_total";
    // keep_alive() sends one first refresh, then the three above.
    assert_eq!(
        delta(&before, &after, keepalives, &[("outcome", "ok")]),
        3.0
    );
    assert_eq!(
        delta(
            &before,
            &after,
            keepalives,
            &[("outcome", "error"), ("error_kind", "LeaseNotFound")]
        ),
        1.0
    );

    let mut managed = client.lease_client().grant_managed(3, None).await.unwrap();
    client.lease_revoke(managed.id()).await.unwrap();
    let lost = managed.lost().await;
    assert_eq!(lost.server_kind(), Some(ServerErrorKind::LeaseNotFound));
    let after = eventually(&url, "the lost lease counted", |s| {
        s.sum("etcdgw_leases_lost_total", &[("reason", "LeaseNotFound")]) >= 1.0
    })
    .await;
    assert_eq!(
        delta(
            &before,
            &after,
            "etcdgw_leases_lost_total",
            &[("reason", "LeaseNotFound")]
        ),
        1.0
    );

    // ---- read coalescing: gets that waited go as one `kv/range` request ----
    for i in 0..64 {
        client.put(format!("c/{i}"), "v", None).await.unwrap();
    }
    let before = scrape(&url).await;
    let gets = futures_util::future::join_all((0..64).map(|i| client.get(format!("c/{i}"), None)));
    assert!(gets.await.iter().all(Result::is_ok));
    let after = scrape(&url).await;
    let requests = delta(&before, &after, started, &range);
    let batches = delta(
        &before,
        &after,
        "etcdgw_read_batches_total",
        &[("outcome", "ok")],
    );
    let coalesced = delta(
        &before,
        &after,
        "etcdgw_coalesced_gets_total",
        &[("outcome", "ok")],
    );
    assert!(
        batches >= 1.0 && requests < 64.0,
        "{batches} batches, {requests} requests"
    );
    // Each get went alone (a request of its own) or in a batch (one request for many).
    assert_eq!((requests - batches) + coalesced, 64.0);
    assert_eq!(
        delta(
            &before,
            &after,
            finished,
            &[("method", "kv/range"), ("outcome", "ok")]
        ),
        requests
    );

    // ---- failover: a dead endpoint first, then the live one ----
    let dead = format!("http://127.0.0.1:{}", free_port());
    let before = scrape(&url).await;
    let two = Client::connect([dead.as_str(), endpoint.as_str()], None)
        .await
        .unwrap();
    two.get("m/k1", None).await.unwrap();
    let after = scrape(&url).await;
    assert_eq!(
        delta(
            &before,
            &after,
            "etcdgw_failovers_total",
            &[("method", "kv/range"), ("from", &dead), ("to", ep)]
        ),
        1.0
    );
    assert_eq!(
        delta(
            &before,
            &after,
            "etcdgw_retries_total",
            &[("method", "kv/range"), ("endpoint", &dead)]
        ),
        1.0
    );
    assert_eq!(
        delta(
            &before,
            &after,
            "etcdgw_endpoint_down_total",
            &[("endpoint", &dead)]
        ),
        1.0
    );
    assert!(
        delta(
            &before,
            &after,
            "etcdgw_liveness_checks_total",
            &[("endpoint", &dead), ("outcome", "error")]
        ) >= 1.0
    );
    // The dead endpoint was checked, never sent the read.
    assert_eq!(delta(&before, &after, started, &[("endpoint", &dead)]), 0.0);
    drop(two);

    // ---- auth: each token fetched is counted ----
    client.user_add("root", "root-pw", None).await.unwrap();
    client.role_add("root").await.unwrap();
    client.user_grant_role("root", "root").await.unwrap();
    client.auth_enable().await.unwrap();
    let before = scrape(&url).await;
    let root = etcd
        .client_with(ConnectOptions::new().with_user("root", "root-pw"))
        .await;
    root.get("m/k1", None).await.unwrap();
    root.refresh_token().await.unwrap();
    let after = scrape(&url).await;
    assert_eq!(
        delta(&before, &after, "etcdgw_token_refreshes_total", &[]),
        2.0
    );
    assert_eq!(
        delta(
            &before,
            &after,
            finished,
            &[("method", "auth/authenticate"), ("outcome", "ok")]
        ),
        2.0
    );
    // The scrape never shows the password or a token.
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(!text.contains("root-pw"));
}
