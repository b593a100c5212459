//! Node.js and Deno: one runtime process per test, running the suite's `run.mjs` on the suite
//! built for the web (the same module Chromium loads), spoken to in JSON lines on its stdin
//! and stdout. What the runtime prints on stderr is kept: a scenario must not make it warn.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use etcdgw_test_support::wait_until;

use super::{built, npm_binary, Kind, Reports};

/// The Node.js binary: `$NODE_BIN`, else the machine's `node`.
fn node_bin() -> String {
    std::env::var("NODE_BIN").unwrap_or_else(|_| "node".to_string())
}

/// The Deno binary: `$DENO_BIN`, else the one scripts/hosts-test.sh installed from npm.
fn deno_bin() -> String {
    std::env::var("DENO_BIN")
        .unwrap_or_else(|_| npm_binary("@deno", "", "deno").display().to_string())
}

pub struct Runner {
    child: Child,
    stdin: Mutex<ChildStdin>,
    reports: Arc<Mutex<Reports>>,
    stderr: Arc<Mutex<String>>,
    /// stdout lines that were not reports (a scenario's own console.log, say).
    other: Arc<Mutex<String>>,
}

impl Runner {
    /// Starts the runtime on `run.mjs` and waits until the suite is loaded.
    pub async fn open(kind: Kind) -> Runner {
        let suite = built("suite");
        let script = suite.join("run.mjs");
        assert!(
            script.is_file(),
            "{} is missing: run scripts/hosts-test.sh, which builds it",
            script.display()
        );
        let mut command = match kind {
            Kind::Node => Command::new(node_bin()),
            Kind::Deno => {
                let mut deno = Command::new(deno_bin());
                // Only what the suite needs: its files, and etcd on loopback.
                deno.args([
                    "run",
                    "--no-prompt",
                    "--no-config",
                    "--no-lock",
                    &format!("--allow-read={}", suite.display()),
                    "--allow-net=127.0.0.1",
                ])
                .env("DENO_DIR", built("deno-dir"))
                .env("DENO_NO_UPDATE_CHECK", "1");
                deno
            }
            other => panic!("{other:?} is not run by run.mjs"),
        };
        command
            .arg(&script)
            .arg(&suite)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {kind:?}: {e} ({command:?})"));
        let stdin = child.stdin.take().expect("stdin");
        let (stdout, stderr_pipe) = (
            child.stdout.take().expect("stdout"),
            child.stderr.take().expect("stderr"),
        );
        let reports: Arc<Mutex<Reports>> = Arc::default();
        let (stderr, other): (Arc<Mutex<String>>, Arc<Mutex<String>>) = Default::default();
        // None while loading; Some(true) once loaded, Some(false) if stdout closed first.
        let ready: Arc<Mutex<Option<bool>>> = Arc::default();
        {
            let (reports, other, ready) = (reports.clone(), other.clone(), ready.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if line == r#"{"ready":true}"# {
                        *ready.lock().unwrap() = Some(true);
                    } else if line.starts_with('{') {
                        reports.lock().unwrap().take(&line);
                    } else {
                        let mut other = other.lock().unwrap();
                        other.push_str(&line);
                        other.push('\n');
                    }
                }
                ready.lock().unwrap().get_or_insert(false);
            });
        }
        {
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                    let mut stderr = stderr.lock().unwrap();
                    stderr.push_str(&line);
                    stderr.push('\n');
                }
            });
        }
        let runner = Runner {
            child,
            stdin: Mutex::new(stdin),
            reports,
            stderr,
            other,
        };
        let within = Duration::from_secs(30);
        let loaded = tokio::time::timeout(
            within,
            wait_until("the suite to load", within * 2, || {
                let ready = *ready.lock().unwrap();
                async move { ready }
            }),
        )
        .await;
        assert!(
            loaded == Ok(true),
            "{kind:?} did not load the suite:\n{}",
            runner.log()
        );
        runner
    }

    /// Sends one command line.
    pub fn send(&self, command: &Value) {
        let mut stdin = self.stdin.lock().unwrap();
        writeln!(stdin, "{command}").expect("the runtime reads its stdin");
        stdin.flush().expect("the runtime reads its stdin");
    }

    pub fn reports(&self) -> &Arc<Mutex<Reports>> {
        &self.reports
    }

    /// What the runtime printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Everything it printed that was not a report.
    pub fn log(&self) -> String {
        format!(
            "stderr:\n{}\nstdout:\n{}",
            self.stderr(),
            self.other.lock().unwrap()
        )
    }

    pub fn close(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}
