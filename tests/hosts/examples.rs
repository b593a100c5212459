//! The examples, each on the host it is written for: the key browser page (`examples/browser`)
//! in Chromium.

use std::time::Duration;

use serde_json::json;

use crate::host::built;
use crate::host::chrome::Chrome;
use crate::serve;
use etcdgw_test_support::etcd::etcd_version;
use etcdgw_test_support::Etcd;

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
