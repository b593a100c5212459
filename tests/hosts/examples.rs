//! The examples, each on the host it is written for: the key browser page (`examples/browser`)
//! in Chromium, the Worker (`examples/worker`) in workerd.

use std::time::Duration;

use serde_json::{json, Value};

use crate::host::built;
use crate::host::chrome::Chrome;
use crate::host::workerd::Workerd;
use crate::serve;
use etcdgw_test_support::etcd::etcd_version;
use etcdgw_test_support::proxy::Proxy;
use etcdgw_test_support::{wait_until, Etcd};

fn etcdctl_text(etcd: &Etcd, args: &[&str]) -> String {
    String::from_utf8(etcd.etcdctl(args)).expect("UTF-8")
}

/// The example page: keys written with etcdctl after the page loaded appear through its
/// watch; a key put through the page's form reaches etcd; a screenshot is kept.
pub async fn key_browser_follows_outside_writes() {
    let etcd = Etcd::start().await;
    etcd.etcdctl(&["put", "demo/before", "written before the page loaded"]);
    let base = serve::serve(built("example")).await;
    let chrome = Chrome::start().await;
    chrome
        .open(&format!(
            "{base}/index.html?endpoint={}&prefix=demo/",
            etcd.endpoint()
        ))
        .await;
    let text = "return document.body.innerText";
    chrome
        .wait_for(
            "the page watches",
            Duration::from_secs(30),
            "return document.getElementById('status').textContent.startsWith('Watching')",
            json!([]),
        )
        .await;
    // Written from outside the browser after the page loaded: only the watch can show them.
    etcd.etcdctl(&["put", "demo/alpha", "written by etcdctl"]);
    etcd.etcdctl(&["put", "demo/beta", "also from outside"]);
    etcd.etcdctl(&["put", "demo/gamma", "soon deleted"]);
    etcd.etcdctl(&["del", "demo/gamma"]);
    etcd.etcdctl(&["put", "elsewhere/key", "not under the prefix"]);
    chrome
        .wait_for(
            "the outside writes on the page",
            Duration::from_secs(30),
            "const t = document.body.innerText; \
             return t.includes('demo/alpha') && t.includes('also from outside') \
                 && !t.includes('demo/gamma')",
            json!([]),
        )
        .await;
    // The page's own form writes through etcdgw.
    chrome
        .run(
            "document.getElementById('put-key').value = 'demo/from-page'; \
             document.getElementById('put-value').value = 'typed in the page'; \
             document.querySelector('#put button').click();",
            json!([]),
        )
        .await;
    chrome
        .wait_for(
            "the page's own put, back through the watch",
            Duration::from_secs(30),
            "return document.body.innerText.includes('typed in the page')",
            json!([]),
        )
        .await;
    assert_eq!(
        etcdctl_text(&etcd, &["get", "demo/from-page", "--print-value-only"]),
        "typed in the page\n"
    );
    let page = chrome.run(text, json!([])).await;
    let page = page.as_str().unwrap();
    for expected in [
        "demo/before",
        "written before the page loaded",
        "demo/alpha",
        "written by etcdctl",
        "demo/beta",
        "also from outside",
        "demo/from-page",
        "Watching \"demo/\"",
    ] {
        assert!(
            page.contains(expected),
            "{expected:?} not on the page:\n{page}"
        );
    }
    for absent in ["demo/gamma", "elsewhere/key", "No keys under this prefix"] {
        assert!(!page.contains(absent), "{absent:?} on the page:\n{page}");
    }
    let png = chrome.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
    let (major, minor) = etcd_version();
    let dir = built("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("example-etcd-{major}.{minor}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
    chrome.close().await;
}

/// An answer of the Worker: its status and its JSON body (`null` for a body that is not).
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("the Worker's answer");
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

/// The Worker example (`examples/worker`, built with worker-build) under workerd, against a
/// live member reached through a proxy that counts connections: get, put, a compare-and-swap
/// txn, a counter incremented inside a lock by requests at once (none lost), and a Durable
/// Object whose cache (one watch) outlives the request that started it. Each request of the
/// stateless Worker holds at most six connections to etcd at once (Cloudflare's limit; workerd
/// does not enforce it, so the proxy counts).
pub async fn worker_answers_its_api() {
    let etcd = Etcd::start().await;
    let proxy = Proxy::start(etcd.endpoint().trim_start_matches("http://").to_string()).await;
    let endpoints = proxy.endpoint();
    let worker = Workerd::start(
        &built("worker").join("workerd.capnp"),
        &[("ETCD_ENDPOINTS", endpoints.as_str())],
    )
    .await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", worker.url());
    let log = || worker.log();

    // Put and get.
    let (status, put) = answer(
        http.put(url("/kv/app/greeting"))
            .body("hello from a Worker")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{put} {}", log());
    let revision = put["revision"].as_i64().expect("a revision");
    assert_eq!(
        etcdctl_text(&etcd, &["get", "app/greeting", "--print-value-only"]),
        "hello from a Worker\n"
    );
    let (status, got) = answer(http.get(url("/kv/app/greeting")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["value"], json!("hello from a Worker"));
    assert_eq!(got["mod_revision"], json!(revision));
    let (status, _) = answer(http.get(url("/kv/app/missing")).send().await.unwrap()).await;
    assert_eq!(status, 404);

    // Compare-and-swap: create if absent, then only from the value expected.
    let swap = |expect: Value, value: &str| {
        http.post(url("/txn/app/leader"))
            .body(json!({ "expect": expect, "value": value }).to_string())
            .send()
    };
    let (_, first) = answer(swap(Value::Null, "w1").await.unwrap()).await;
    assert_eq!(first["succeeded"], json!(true), "{first}");
    let (_, second) = answer(swap(Value::Null, "w2").await.unwrap()).await;
    assert_eq!(second, json!({ "succeeded": false, "current": "w1" }));
    let (_, third) = answer(swap(json!("w1"), "w3").await.unwrap()).await;
    assert_eq!(third["succeeded"], json!(true), "{third}");
    assert_eq!(
        etcdctl_text(&etcd, &["get", "app/leader", "--print-value-only"]),
        "w3\n"
    );

    // One increment alone: at most six connections at once (Cloudflare's limit).
    wait_until(
        "the earlier requests' connections to close",
        Duration::from_secs(10),
        || {
            let open = proxy.open_connections();
            async move { open == 0 }
        },
    )
    .await;
    proxy.reset_peak();
    let (status, one) = answer(http.post(url("/counter/jobs")).send().await.unwrap()).await;
    assert_eq!((status, &one), (200, &json!({ "value": 1 })), "{}", log());
    let peak = proxy.peak_connections();
    assert!(
        (1..=6).contains(&peak),
        "one request held {peak} connections"
    );

    // Eight at once, each its own request and client: the lock keeps every increment.
    let increments = (0..8).map(|_| http.post(url("/counter/jobs")).send());
    let mut values = Vec::new();
    for response in futures_util::future::join_all(increments).await {
        let (status, body) = answer(response.unwrap()).await;
        assert_eq!(status, 200, "{body} {}", log());
        values.push(body["value"].as_u64().expect("a value"));
    }
    values.sort_unstable();
    assert_eq!(values, (2..=9).collect::<Vec<u64>>());
    assert_eq!(
        etcdctl_text(&etcd, &["get", "counters/jobs", "--print-value-only"]),
        "9\n"
    );
    // Every lock was released before its answer, and its lease revoked.
    assert_eq!(
        etcdctl_text(&etcd, &["get", "--prefix", "locks/", "--keys-only"]),
        ""
    );

    // The Durable Object's cache: started by one request, kept current by its watch, and
    // still the same cache for the next request.
    etcd.etcdctl(&["put", "cfg/a", "1"]);
    let (status, first) = answer(http.get(url("/cache/cfg/")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{first} {}", log());
    assert_eq!(first["keys"], json!({ "cfg/a": "1" }));
    assert_eq!(first["cache_started_by_request"], json!(1));
    wait_until(
        "the cache's watch on the member",
        Duration::from_secs(10),
        || async {
            match etcd.watchers().await {
                1 => Ok(()),
                seen => Err(format!("{seen} watchers")),
            }
        },
    )
    .await;
    let (_, put) = answer(http.put(url("/kv/cfg/b")).body("2").send().await.unwrap()).await;
    let at = put["revision"].as_i64().expect("a revision");
    let (status, second) = answer(
        http.get(url(&format!("/cache/cfg/?at={at}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{second} {}", log());
    assert_eq!(second["keys"], json!({ "cfg/a": "1", "cfg/b": "2" }));
    assert!(second["revision"].as_i64().unwrap() >= at, "{second}");
    assert_eq!(second["request"], json!(2));
    assert_eq!(second["cache_started_by_request"], json!(1));
}
