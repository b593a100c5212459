//! workerd, Cloudflare Workers' runtime, from the npm registry: one `workerd serve` per test on
//! a free loopback port. [`Suite`] serves the host suite's `worker.mjs`, which runs each
//! scenario inside one request and streams its reports back as the answer; [`Workerd`] serves
//! any configuration (the Worker example's too).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use etcdgw_test_support::{free_port, wait_until};

use super::{built, npm_binary, Reports};

/// The workerd binary: `$WORKERD_BIN`, else the one scripts/hosts-test.sh installed from npm.
fn workerd_bin() -> String {
    std::env::var("WORKERD_BIN").unwrap_or_else(|_| {
        npm_binary("@cloudflare", "workerd-", "bin/workerd")
            .display()
            .to_string()
    })
}

/// A running `workerd serve`; killed when dropped.
pub struct Workerd {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Workerd {
    /// Serves `config` (its socket `http` moved to a free loopback port), with `env` in its
    /// environment (for `fromEnvironment` bindings), and waits until it answers.
    pub async fn start(config: &Path, env: &[(&str, &str)]) -> Workerd {
        assert!(
            config.is_file(),
            "{} is missing: run scripts/hosts-test.sh, which builds it",
            config.display()
        );
        let port = free_port();
        let mut command = Command::new(workerd_bin());
        command
            .arg("serve")
            .arg(config)
            .arg(format!("--socket-addr=http=127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start workerd: {e} ({command:?})"));
        let log: Arc<Mutex<String>> = Arc::default();
        for pipe in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let workerd = Workerd {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let http = reqwest::Client::new();
        let within = Duration::from_secs(30);
        let up = tokio::time::timeout(
            within,
            wait_until("workerd to answer", within * 2, || {
                let request = http.get(format!("{}/", workerd.url)).send();
                async move { request.await.is_ok() }
            }),
        )
        .await;
        assert!(up.is_ok(), "workerd did not answer:\n{}", workerd.log());
        workerd
    }

    /// Its base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What it printed so far (uncaught errors, `console.*` of the workers).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The host suite's worker in its own workerd.
pub struct Suite {
    workerd: Workerd,
    http: reqwest::Client,
    reports: Arc<Mutex<Reports>>,
}

impl Suite {
    pub async fn open() -> Suite {
        let workerd = Workerd::start(&built("suite").join("workerd.capnp"), &[]).await;
        Suite {
            workerd,
            http: reqwest::Client::new(),
            reports: Arc::default(),
        }
    }

    /// Starts scenario `name` in a request of its own, whose streamed answer is read into the
    /// reports while the test goes on.
    pub async fn start(&self, id: &str, name: &str, args: Value) {
        let response = self
            .http
            .post(format!("{}/run", self.workerd.url()))
            .body(json!({ "id": id, "name": name, "args": args }).to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: workerd refused the run: {e}"));
        assert!(
            response.status().is_success(),
            "{name}: workerd answered {}",
            response.status()
        );
        let (reports, id) = (self.reports.clone(), id.to_string());
        tokio::spawn(async move {
            let mut response = response;
            let mut pending = Vec::new();
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => pending.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(e) => {
                        let error = format!("the answer broke off: {e}");
                        let line = json!({ "id": id, "ok": false, "error": error });
                        reports.lock().unwrap().take(&line.to_string());
                        return;
                    }
                }
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    reports
                        .lock()
                        .unwrap()
                        .take(String::from_utf8_lossy(&line).trim_end());
                }
            }
        });
    }

    pub async fn timer_facts(&self) -> Value {
        let response = self
            .http
            .get(format!("{}/facts", self.workerd.url()))
            .send()
            .await
            .expect("the timer probes");
        serde_json::from_slice(&response.bytes().await.expect("the timer probes")).expect("JSON")
    }

    pub fn reports(&self) -> &Arc<Mutex<Reports>> {
        &self.reports
    }

    pub fn log(&self) -> String {
        self.workerd.log()
    }

    pub fn close(self) {
        drop(self.workerd);
    }
}
