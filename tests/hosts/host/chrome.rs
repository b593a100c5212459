//! Headless Chromium, driven through ChromeDriver's W3C WebDriver protocol (plain JSON over
//! HTTP): start, open a page, run a script, take a screenshot. Each `Chrome` has its own
//! ChromeDriver on a free port and its own profile directory, and kills both when dropped.
//! [`Suite`] is the host suite's page open in one.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tempfile::TempDir;

use etcdgw_test_support::{free_port, wait_until};

use super::built;
use crate::serve;

/// The suite page (`suite.html`), open in a fresh headless Chromium: the page is served from
/// another origin than etcd's, so every request the suite makes is a CORS request.
pub struct Suite {
    chrome: Chrome,
}

impl Suite {
    pub async fn open() -> Suite {
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
        Suite { chrome }
    }

    pub async fn start(&self, id: &str, name: &str, args: Value) {
        self.chrome
            .run(
                "window.__start(arguments[0], arguments[1], arguments[2])",
                json!([id, name, args]),
            )
            .await;
    }

    /// The first step of run `id` that starts with `step`, or `FAILED: ...` if it failed.
    pub async fn step(&self, id: &str, name: &str, step: &str) -> String {
        let found = self
            .chrome
            .wait_for(
                &format!("{name}: step {step}"),
                Duration::from_secs(30),
                "const id = arguments[0], step = arguments[1]; \
                 const result = window.__results[id]; \
                 if (result && !result.ok) return 'FAILED: ' + result.error; \
                 return (window.__progress[id] || []).find((s) => s.startsWith(step)) || null;",
                json!([id, step]),
            )
            .await;
        found.as_str().unwrap_or_default().to_string()
    }

    /// The answer of run `id`: `{"ok": true, "value"}` or `{"ok": false, "error"}`.
    pub async fn result(&self, id: &str, name: &str) -> Value {
        self.chrome
            .wait_for(
                &format!("{name} finishes"),
                Duration::from_secs(60),
                "return window.__results[arguments[0]] || null",
                json!([id]),
            )
            .await
    }

    /// The page's timer probes, run when it loaded.
    pub async fn timer_facts(&self) -> Value {
        self.chrome
            .wait_for(
                "the page's timer probes",
                Duration::from_secs(30),
                "const f = window.__timerFacts; return Object.keys(f).length === 2 ? f : null",
                json!([]),
            )
            .await
    }

    pub async fn close(self) {
        self.chrome.close().await;
    }
}

/// The Chromium binary: `$CHROME_BIN`, else Debian's.
fn chrome_bin() -> String {
    std::env::var("CHROME_BIN").unwrap_or_else(|_| "/usr/bin/chromium".to_string())
}

/// The ChromeDriver binary: `$CHROMEDRIVER`, else Debian's.
fn chromedriver_bin() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_string())
}

fn with_json(request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    request
        .header("content-type", "application/json")
        .body(body.to_string())
}

/// The answer's JSON body (`null` if it has none).
async fn json_of(resp: reqwest::Response) -> Value {
    let bytes = resp.bytes().await.expect("a WebDriver answer body");
    serde_json::from_slice(&bytes).unwrap_or_default()
}

pub struct Chrome {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: TempDir,
}

impl Chrome {
    /// Starts ChromeDriver and a headless Chromium session.
    pub async fn start() -> Chrome {
        let port = free_port();
        let mut command = Command::new(chromedriver_bin());
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that dropping it takes Chromium down too.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (scripts/hosts-test.sh installs it)",
                chromedriver_bin()
            )
        });
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        wait_until(
            &format!("chromedriver on port {port} to be ready"),
            Duration::from_secs(10),
            || async {
                let resp = http.get(format!("{base}/status")).send().await.ok()?;
                (json_of(resp).await["value"]["ready"] == json!(true)).then_some(())
            },
        )
        .await;
        let profile = tempfile::tempdir().expect("a profile dir");
        // The flags Chromium needs here: root without a sandbox, no GPU, and no background
        // connections to Google (this machine's network refuses them).
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--disable-quic".to_string(),
            "--no-first-run".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--window-size=1100,760".to_string(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": chrome_bin(), "args": args },
                }
            }
        });
        let resp = json_of(
            with_json(http.post(format!("{base}/session")), &capabilities)
                .send()
                .await
                .expect("create a session"),
        )
        .await;
        let session = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {resp}"))
            .to_string();
        Chrome {
            driver,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = with_json(request, &body);
        }
        let resp = request.send().await.expect("a WebDriver answer");
        let status = resp.status();
        let value = json_of(resp).await;
        assert!(status.is_success(), "WebDriver {path}: {status} {value}");
        value["value"].clone()
    }

    /// Opens `url` and waits until it loaded.
    pub async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns what
    /// it returns.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Waits until `script` returns something truthy, and returns it.
    pub async fn wait_for(&self, what: &str, within: Duration, script: &str, args: Value) -> Value {
        // The page's log is fetched once, if the deadline passes (wait_until's own, later,
        // is never reached).
        let truthy = wait_until(what, within * 2, || async {
            let value = self.run(script, args.clone()).await;
            let falsy = value.is_null() || value == json!(false) || value == json!("");
            (!falsy).then_some(value)
        });
        match tokio::time::timeout(within, truthy).await {
            Ok(value) => value,
            Err(_) => panic!(
                "{what}: not within {within:?}; page log: {}",
                self.run("return JSON.stringify(window.__log || [])", json!([]))
                    .await
            ),
        }
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        let value = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let encoded = value.as_str().expect("a base64 screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("a base64 screenshot")
    }

    /// Ends the session (Chromium exits), then ChromeDriver.
    pub async fn close(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(&url).send().await;
        self.kill();
    }

    fn kill(&mut self) {
        // The whole process group: ChromeDriver and the Chromium it started. The `--` matters:
        // without it, procps' kill reads `-PGID` as an option, and may signal every process.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        if matches!(self.driver.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}
