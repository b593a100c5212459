//! The hosts the suite runs in, behind one face: [`Host::open`] starts a fresh one of a
//! [`Kind`] (a headless Chromium on the suite page, a Node.js or Deno process running
//! `run.mjs`, a workerd serving `worker.mjs`), [`Host::start`] starts a scenario's wasm32
//! half, [`Host::step`] waits for a step it reports, [`Host::result`] for its answer.

pub mod chrome;
pub mod js;
pub mod workerd;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use etcdgw_test_support::wait_until;

/// Where scripts/hosts-test.sh put what it built (`suite`, `example`, `worker`, `npm`).
pub fn built(what: &str) -> PathBuf {
    let root = std::env::var_os("ETCDGW_HOSTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/hosts"));
    root.join(what)
}

/// The binary an npm package installed by scripts/hosts-test.sh ships for this platform, in
/// its optional dependency `<scope>/<prefix>...` at `<path>` (Deno's `@deno/linux-x64-glibc/deno`,
/// workerd's `@cloudflare/workerd-linux-64/bin/workerd`). Not npm's `.bin` entry: that is a
/// Node.js script which starts the binary as its child, and killing it would leave the runtime
/// running.
pub fn npm_binary(scope: &str, prefix: &str, path: &str) -> PathBuf {
    let dir = built("npm").join("node_modules").join(scope);
    let found = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(prefix))
        .map(|entry| entry.path().join(path))
        .find(|binary| binary.is_file());
    found.unwrap_or_else(|| {
        panic!("no {scope}/{prefix}*/{path}: run scripts/hosts-test.sh, which installs it from npm")
    })
}

/// A JavaScript host the suite runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Headless Chromium, the suite page served from another origin than etcd's.
    Chromium,
    /// The machine's Node.js.
    Node,
    /// Deno, from the npm registry.
    Deno,
    /// workerd (Cloudflare Workers' runtime), from the npm registry.
    Workerd,
}

impl Kind {
    /// Whether the host's fetch applies CORS (only the browser's does).
    pub fn applies_cors(self) -> bool {
        self == Kind::Chromium
    }
}

/// What a pushing host (Node.js, Deno, workerd) has reported so far.
#[derive(Default)]
pub struct Reports {
    progress: HashMap<String, Vec<String>>,
    results: HashMap<String, Value>,
    facts: Option<Value>,
}

impl Reports {
    /// Takes one JSON line a host wrote: `{"id", "progress"}`, `{"id", "ok", ...}` or
    /// `{"facts"}`. Anything else is ignored (and kept in the host's log).
    pub fn take(&mut self, line: &str) {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            return;
        };
        if let Some(facts) = message.get("facts") {
            self.facts = Some(facts.clone());
            return;
        }
        let Some(id) = message["id"].as_str().map(str::to_string) else {
            return;
        };
        if let Some(step) = message["progress"].as_str() {
            self.progress.entry(id).or_default().push(step.to_string());
        } else if message.get("ok").is_some() {
            self.results.insert(id, message);
        }
    }
}

/// A started scenario.
pub struct Run {
    id: String,
    name: &'static str,
}

enum Inner {
    Chrome(chrome::Suite),
    Js(js::Runner),
    Workerd(workerd::Suite),
}

/// A fresh host with the suite loaded, for one test.
pub struct Host {
    kind: Kind,
    inner: Inner,
    next: u32,
}

/// How long a step or a scenario may take (a loaded machine is slow, not broken).
const STEP_WITHIN: Duration = Duration::from_secs(30);
const RESULT_WITHIN: Duration = Duration::from_secs(60);

impl Host {
    /// Starts a host of `kind` and waits until the suite is loaded in it.
    pub async fn open(kind: Kind) -> Host {
        let inner = match kind {
            Kind::Chromium => Inner::Chrome(chrome::Suite::open().await),
            Kind::Node | Kind::Deno => Inner::Js(js::Runner::open(kind).await),
            Kind::Workerd => Inner::Workerd(workerd::Suite::open().await),
        };
        Host {
            kind,
            inner,
            next: 0,
        }
    }

    /// Starts the scenario `name` with `args` (the progress callback is added by the host).
    pub async fn start(&mut self, name: &'static str, args: Value) -> Run {
        self.next += 1;
        let id = format!("run{}", self.next);
        match &mut self.inner {
            Inner::Chrome(chrome) => chrome.start(&id, name, args).await,
            Inner::Js(runner) => runner.send(&json!({ "id": id, "name": name, "args": args })),
            Inner::Workerd(suite) => suite.start(&id, name, args).await,
        }
        Run { id, name }
    }

    /// The reports of a pushing host, and what to show when one does not come.
    fn pushed(&self) -> Option<(&Arc<Mutex<Reports>>, String)> {
        match &self.inner {
            Inner::Chrome(_) => None,
            Inner::Js(runner) => Some((runner.reports(), runner.log())),
            Inner::Workerd(suite) => Some((suite.reports(), suite.log())),
        }
    }

    /// Waits until the scenario reported a step starting with `step`; returns it.
    pub async fn step(&self, run: &Run, step: &str) -> String {
        let found = match (&self.inner, self.pushed()) {
            (Inner::Chrome(chrome), _) => chrome.step(&run.id, run.name, step).await,
            (_, Some((reports, _))) => {
                self.wait_for(&format!("{}: step {step}", run.name), STEP_WITHIN, || {
                    let reports = reports.lock().unwrap();
                    if let Some(result) = reports.results.get(&run.id) {
                        if result["ok"] != json!(true) {
                            return Some(format!("FAILED: {}", result["error"]));
                        }
                    }
                    reports
                        .progress
                        .get(&run.id)?
                        .iter()
                        .find(|s| s.starts_with(step))
                        .cloned()
                })
                .await
            }
            (_, None) => unreachable!("a host that does not push is polled"),
        };
        assert!(!found.starts_with("FAILED: "), "{}: {found}", run.name);
        found
    }

    /// Waits for the scenario's answer and returns it parsed; its error fails the test.
    pub async fn result(&self, run: &Run) -> Value {
        let result = match (&self.inner, self.pushed()) {
            (Inner::Chrome(chrome), _) => chrome.result(&run.id, run.name).await,
            (_, Some((reports, _))) => {
                self.wait_for(&format!("{} finishes", run.name), RESULT_WITHIN, || {
                    reports.lock().unwrap().results.get(&run.id).cloned()
                })
                .await
            }
            (_, None) => unreachable!("a host that does not push is polled"),
        };
        assert_eq!(
            result["ok"],
            json!(true),
            "{} failed in {:?}: {}",
            run.name,
            self.kind,
            result["error"]
        );
        serde_json::from_str(result["value"].as_str().expect("a JSON string")).expect("JSON")
    }

    /// What this host does with the longest delay a timer keeps (2^31 - 1 ms) and the first
    /// it cannot keep (2^31 ms): `{"2^31-1": "pending" | "fired", "2^31": ...}` 300 ms later.
    pub async fn timer_facts(&self) -> Value {
        match &self.inner {
            Inner::Chrome(chrome) => chrome.timer_facts().await,
            Inner::Js(runner) => {
                runner.send(&json!({ "facts": true }));
                self.wait_for("the host's timer probes", STEP_WITHIN, || {
                    runner.reports().lock().unwrap().facts.clone()
                })
                .await
            }
            Inner::Workerd(suite) => suite.timer_facts().await,
        }
    }

    /// What the runtime printed on stderr so far (Node.js and Deno; `None` elsewhere).
    pub fn stderr(&self) -> Option<String> {
        match &self.inner {
            Inner::Js(runner) => Some(runner.stderr()),
            _ => None,
        }
    }

    /// Waits until `found` finds something; panics with the host's log if it does not.
    async fn wait_for<T, F>(&self, what: &str, within: Duration, found: F) -> T
    where
        F: Fn() -> Option<T>,
    {
        let log = || self.pushed().map(|(_, log)| log).unwrap_or_default();
        let waited = wait_until(what, within * 2, || {
            let found = found();
            async move { found }
        });
        match tokio::time::timeout(within, waited).await {
            Ok(value) => value,
            Err(_) => panic!(
                "{what}: not within {within:?}; {:?} said:\n{}",
                self.kind,
                log()
            ),
        }
    }

    /// Ends the host (its processes exit).
    pub async fn close(self) {
        match self.inner {
            Inner::Chrome(chrome) => chrome.close().await,
            Inner::Js(runner) => runner.close(),
            Inner::Workerd(suite) => suite.close(),
        }
    }
}
