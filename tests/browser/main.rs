//! The browser suite: etcdgw compiled to wasm32 and run in headless Chromium against real etcd
//! members on loopback (etcd answers the page's CORS requests by default).
//!
//! Each test here is the native half of one test: it starts a member, opens the suite page
//! (`tests/browser/suite`, built by `scripts/browser-test.sh` into `target/browser/suite`),
//! starts the browser half, acts from outside the browser when the page reports a step
//! (`etcdctl` writes, a member restart, a check of a lock), and checks the page's answer.
//! The last test opens the example page (`examples/browser`) and takes a screenshot.
//!
//! Feature `browser-tests` builds this target; `scripts/browser-test.sh` runs it on etcd 3.4
//! and 3.5 (from `scripts/test.sh`).

mod chrome;
mod serve;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use chrome::Chrome;
use etcdgw_test_support::etcd::etcd_version;
use etcdgw_test_support::free_port;
use etcdgw_test_support::{wait_until, Etcd};

/// Where scripts/browser-test.sh put the built pages.
fn built(page: &str) -> PathBuf {
    let root = std::env::var_os("ETCDGW_BROWSER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser"));
    root.join(page)
}

/// The suite page, open in a fresh headless Chromium.
struct Suite {
    chrome: Chrome,
    next: u32,
}

/// One browser-half test, started and not yet finished.
struct Run {
    id: String,
    name: &'static str,
}

impl Suite {
    async fn open() -> Suite {
        let base = serve::serve(built("suite")).await;
        let chrome = Chrome::start().await;
        chrome.open(&format!("{base}/suite.html")).await;
        chrome
            .wait_for(
                "the suite page loads its wasm module",
                Duration::from_secs(30),
                "return window.__ready === true",
                json!([]),
            )
            .await;
        Suite { chrome, next: 0 }
    }

    /// Starts the browser half `name` with `args` (the progress callback is added by the page).
    async fn start(&mut self, name: &'static str, args: Value) -> Run {
        self.next += 1;
        let id = format!("run{}", self.next);
        self.chrome
            .run(
                "window.__start(arguments[0], arguments[1], arguments[2])",
                json!([id, name, args]),
            )
            .await;
        Run { id, name }
    }

    /// Waits until the browser half reported a step starting with `step`; returns it.
    async fn step(&self, run: &Run, step: &str) -> String {
        let found = self
            .chrome
            .wait_for(
                &format!("{}: step {step}", run.name),
                Duration::from_secs(30),
                "const id = arguments[0], step = arguments[1]; \
                 const result = window.__results[id]; \
                 if (result && !result.ok) return 'FAILED: ' + result.error; \
                 return (window.__progress[id] || []).find((s) => s.startsWith(step)) || null;",
                json!([run.id, step]),
            )
            .await;
        let found = found.as_str().unwrap_or_default().to_string();
        assert!(!found.starts_with("FAILED: "), "{}: {found}", run.name);
        found
    }

    /// Waits for the browser half's answer and returns it parsed; its error fails the test.
    async fn result(&self, run: &Run) -> Value {
        let result = self
            .chrome
            .wait_for(
                &format!("{} finishes", run.name),
                Duration::from_secs(60),
                "return window.__results[arguments[0]] || null",
                json!([run.id]),
            )
            .await;
        assert_eq!(
            result["ok"],
            json!(true),
            "{} failed in the browser: {}",
            run.name,
            result["error"]
        );
        serde_json::from_str(result["value"].as_str().expect("a JSON string")).expect("JSON")
    }
}

/// How many `Txn` calls the member's gRPC server answered with OK (the gateway makes one for
/// each txn it is sent, read batches included).
async fn txns_handled(endpoint: &str) -> u64 {
    let text = reqwest::get(format!("{endpoint}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with("grpc_server_handled_total{"))
        .filter(|l| l.contains("grpc_method=\"Txn\"") && l.contains("grpc_code=\"OK\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn etcdctl_text(etcd: &Etcd, args: &[&str]) -> String {
    String::from_utf8(etcd.etcdctl(args)).expect("UTF-8")
}

#[tokio::test]
async fn kv_put_get_prefix_txn_delete() {
    let etcd = Etcd::start().await;
    let mut suite = Suite::open().await;
    let txns = txns_handled(&etcd.endpoint()).await;
    let run = suite.start("kv", json!([etcd.endpoint(), "b/kv/"])).await;
    let got = suite.result(&run).await;
    assert_eq!(got["listed"], json!(["b/kv/a=1", "b/kv/b=2", "b/kv/c=3"]));
    assert_eq!(got["count"], json!(3));
    assert_eq!(got["txn_succeeded"], json!(true));
    assert_eq!(got["deleted"], json!(1));
    assert_eq!(got["after"], json!(["b/kv/a", "b/kv/c", "b/kv/d"]));
    let one_round = json!(["1", "3", "4", null, null]);
    let concurrent = got["concurrent"]
        .as_array()
        .expect("the concurrent gets' values");
    assert_eq!(concurrent.len(), 40);
    for (i, value) in concurrent.iter().enumerate() {
        assert_eq!(value, &one_round[i % 5], "get {i}");
    }
    // The page's own txn, and at least one batch of the gets that waited.
    assert!(
        txns_handled(&etcd.endpoint()).await >= txns + 2,
        "no batch from the browser"
    );
    // What the browser wrote is in etcd, as etcdctl sees it.
    assert_eq!(
        etcdctl_text(&etcd, &["get", "--prefix", "b/kv/"]),
        "b/kv/a\n1\nb/kv/c\n3\nb/kv/d\n4\n"
    );
    suite.chrome.close().await;
}

#[tokio::test]
async fn watch_delivers_etcdctl_writes_across_a_member_restart() {
    let mut etcd = Etcd::start().await;
    let mut suite = Suite::open().await;
    let run = suite
        .start("watch", json!([etcd.endpoint(), "b/watch/", 6]))
        .await;
    suite.step(&run, "watching").await;
    for (key, value) in [
        ("b/watch/1", "one"),
        ("b/watch/2", "two"),
        ("b/watch/3", "three"),
    ] {
        etcd.etcdctl(&["put", key, value]);
    }
    suite.step(&run, "events:3").await;
    // The fetch stream breaks; the watch resumes after the last revision it delivered.
    etcd.restart().await;
    etcd.etcdctl(&["put", "b/watch/4", "four"]);
    etcd.etcdctl(&["del", "b/watch/1"]);
    etcd.etcdctl(&["put", "b/watch/2", "two again"]);
    let got = suite.result(&run).await;
    assert_eq!(
        got["events"],
        json!([
            "PUT b/watch/1=one",
            "PUT b/watch/2=two",
            "PUT b/watch/3=three",
            "PUT b/watch/4=four",
            "DELETE b/watch/1 (was one)",
            "PUT b/watch/2=two again",
        ])
    );
    // Exactly once, in order: consecutive revisions (nothing else writes to this member).
    let revisions: Vec<i64> = serde_json::from_value(got["revisions"].clone()).unwrap();
    assert!(
        revisions.windows(2).all(|w| w[1] == w[0] + 1),
        "{revisions:?}"
    );
    suite.chrome.close().await;
}

/// Waits until the member holds `want` watchers (its Prometheus metrics say so).
async fn until_watchers(etcd: &Etcd, want: u64) {
    wait_until(
        &format!("the member to hold {want} watchers"),
        Duration::from_secs(10),
        || async {
            match etcd.watchers().await {
                seen if seen == want => Ok(()),
                seen => Err(format!("{seen} watchers")),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn cancelled_and_dropped_watches_close_their_fetches() {
    let etcd = Etcd::start().await;
    let mut suite = Suite::open().await;
    let run = suite
        .start("watch_cancel", json!([etcd.endpoint(), "b/cancel/ack"]))
        .await;
    suite.step(&run, "open").await;
    until_watchers(&etcd, 2).await;
    etcd.etcdctl(&["put", "b/cancel/ack/1", "seen"]);
    suite.step(&run, "closed").await;
    // The fetches were aborted: etcd removed both watchers.
    until_watchers(&etcd, 0).await;
    etcd.etcdctl(&["put", "b/cancel/ack/2", "seen"]);
    let got = suite.result(&run).await;
    assert_eq!(got["canceled"], json!(true));
    suite.chrome.close().await;
}

#[tokio::test]
async fn a_managed_lease_stays_alive_across_several_ttls() {
    let etcd = Etcd::start().await;
    let mut suite = Suite::open().await;
    let ttl = 2;
    let run = suite
        .start("lease", json!([etcd.endpoint(), "b/lease/key", ttl, 7_000]))
        .await;
    suite.step(&run, "attached").await;
    // Checked from outside while the page keeps the lease: after more than three TTLs, the
    // key is still there (time is the point: the TTLs must pass).
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    assert_eq!(
        etcdctl_text(&etcd, &["get", "b/lease/key", "--print-value-only"]),
        "leased\n"
    );
    let got = suite.result(&run).await;
    assert_eq!(got["still_there"], json!(1));
    let ttl_left = got["ttl_left"].as_i64().unwrap();
    assert!((1..=ttl).contains(&ttl_left), "ttl left {ttl_left}");
    assert_eq!(got["after_revoke"], json!(0));
    // The lease the page granted is gone with its revoke.
    let id = got["id"].as_str().unwrap().parse::<i64>().unwrap();
    let ttl_out = etcdctl_text(&etcd, &["lease", "timetolive", &format!("{id:x}")]);
    assert!(ttl_out.contains("already expired"), "{ttl_out}");
    suite.chrome.close().await;
}

#[tokio::test]
async fn auth_token_fetched_and_sent_refusals_typed() {
    let etcd = Etcd::start().await;
    let password = "browser-root-pw";
    etcd.etcdctl(&["user", "add", &format!("root:{password}")]);
    etcd.etcdctl(&["role", "add", "root"]);
    etcd.etcdctl(&["user", "grant-role", "root", "root"]);
    etcd.etcdctl(&["auth", "enable"]);
    let mut suite = Suite::open().await;
    let run = suite
        .start(
            "auth",
            json!([etcd.endpoint(), "root", password, "b/auth/key"]),
        )
        .await;
    let got = suite.result(&run).await;
    assert_eq!(got["value"], json!("written with a token"));
    assert_eq!(got["token_refreshes"], json!(1));
    // 3.4 says "user name is empty", 3.5 "user name not found" (GATEWAY.md).
    let anonymous = got["anonymous"].as_str().unwrap();
    assert!(
        [
            "UserEmpty",
            "UserNotFound",
            "InvalidAuthToken",
            "PermissionDenied"
        ]
        .contains(&anonymous),
        "{anonymous}"
    );
    assert_eq!(got["wrong_password"], json!("AuthFailed"));
    let root = format!("root:{password}");
    assert_eq!(
        etcdctl_text(
            &etcd,
            &["--user", &root, "get", "b/auth/key", "--print-value-only"]
        ),
        "written with a token\n"
    );
    suite.chrome.close().await;
}

#[tokio::test]
async fn errors_are_typed_in_the_browser() {
    let etcd = Etcd::start().await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let mut suite = Suite::open().await;
    let run = suite
        .start("errors", json!([etcd.endpoint(), dead, "b/errors/key"]))
        .await;
    let got = suite.result(&run).await;
    assert_eq!(got["future_revision"], json!("FutureRevision"));
    assert_eq!(got["empty_key"], json!("InvalidArgument"));
    assert_eq!(got["compacted"], json!("Compacted"));
    assert_eq!(got["lease_not_found"], json!("LeaseNotFound"));
    assert_eq!(got["unreachable"], json!("Transport"));
    assert_eq!(got["require_leader"], json!("InvalidArgument"));
    assert_eq!(got["custom_ca"], json!("InvalidArgument"));
    suite.chrome.close().await;
}

#[tokio::test]
async fn lock_seen_from_outside_then_election() {
    let etcd = Etcd::start().await;
    let mut suite = Suite::open().await;
    let run = suite
        .start("lock_election", json!([etcd.endpoint(), "b/sync"]))
        .await;
    let step = suite.step(&run, "locked:").await;
    let lock_key = step.strip_prefix("locked:").unwrap().to_string();
    // While the page holds it, the lock's key is in etcd, owned by a lease.
    let held = etcdctl_text(&etcd, &["get", "--prefix", "b/sync/lock", "--keys-only"]);
    assert_eq!(held.trim(), lock_key);
    etcd.etcdctl(&["put", "b/sync/ack", "seen"]);
    let got = suite.result(&run).await;
    assert_eq!(got["lock_key"], json!(lock_key));
    assert_eq!(got["locks_left"], json!(0));
    assert_eq!(got["leader"], json!("browser"));
    suite.chrome.close().await;
}

/// Long waits on the page's timers (issue 29): a lock waited on without a deadline sets no
/// timer of its own (before, it set one every millisecond: a piece of `u32::MAX` ms is -1 to
/// JavaScript, which runs it at once), and a lock given a 30-day deadline waits for the holder
/// instead of timing out at once. The page also shows what Chromium does with the longest
/// delay a timer keeps and the first it cannot (docs/GATEWAY.md 12.4).
#[tokio::test]
async fn long_waits_set_few_timers_and_keep_their_deadline() {
    let etcd = Etcd::start().await;
    let mut suite = Suite::open().await;
    let facts = suite
        .chrome
        .wait_for(
            "the page's timer probes",
            Duration::from_secs(30),
            "const f = window.__timerFacts; return Object.keys(f).length === 2 ? f : null",
            json!([]),
        )
        .await;
    assert_eq!(facts, json!({"2^31-1": "pending", "2^31": "fired"}));
    let run = suite
        .start("lock_timers", json!([etcd.endpoint(), "b/timers", 4000]))
        .await;
    let step = suite.step(&run, "held:").await;
    let held = step.strip_prefix("held:").unwrap_or_default();
    // The holder's key, seen from outside (the waiter's may be there already too).
    let keys = etcdctl_text(&etcd, &["get", "--prefix", "b/timers/", "--keys-only"]);
    assert!(keys.lines().any(|k| k == held), "{held} not in {keys:?}");
    let got = suite.result(&run).await;
    assert_eq!(got["unbounded"], json!("waiting"));
    assert_eq!(got["overflowed_timers"], json!(0.0));
    // Four seconds of waiting: the test's own sleep, and the liveness check's interval timer
    // and probe (every 3 s); nothing per millisecond.
    let timers = got["timers_while_waiting"].as_f64().expect("a count");
    assert!(
        timers <= 8.0,
        "{timers} timers while a lock waited without a deadline"
    );
    assert_eq!(got["order"], json!(["released", "acquired"]));
    assert_eq!(got["bounded_key_under"], json!(true));
    // Both locks are gone, and so are their leases.
    assert_eq!(
        etcdctl_text(&etcd, &["get", "--prefix", "b/timers/", "--keys-only"]),
        ""
    );
    suite.chrome.close().await;
}

/// The example page: keys written with etcdctl after the page loaded appear through its
/// watch; a key put through the page's form reaches etcd; a screenshot is kept.
#[tokio::test]
async fn example_key_browser_follows_outside_writes() {
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
