//! The `etcdgw` command line against live members, beside the etcdctl of the same version:
//! their `simple`, `json`, `fields` and `table` outputs compared byte for byte, and their exit
//! codes and error messages.
//!
//! One helper compares them ([`Both`]): a command run through etcdctl, then through etcdgw,
//! against the same members, and the outputs checked as a test needs (stdout, exit code, the
//! `Error:` line). Reads are compared as they are (nothing changes between the two commands).
//! Writes are done by etcdctl on `c/...` keys and by etcdgw on the parallel `g/...` keys right
//! after, one revision later, so etcdctl's output with those keys renamed and every revision
//! plus one must be etcdgw's, byte for byte ([`assert_same_write`]).
//!
//! One file per area; members come from the harness (`etcdgw-test-support`), the etcd of
//! `$ETCD_BIN` with `$ETCDCTL_BIN` of the same version.

mod auth;
mod check;
mod cluster;
mod concurrency;
mod errors;
mod flags;
mod kv;
mod lease;
mod maintenance;
mod mirror;
mod proxy;
mod watch;

use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use etcdgw_test_support::etcd::{etcd_version, etcdctl_bin};
use etcdgw_test_support::{wait_until, Etcd};

const BIN: &str = env!("CARGO_BIN_EXE_etcdgw");

/// The two command lines.
#[derive(Clone, Copy, Debug)]
enum Tool {
    /// `$ETCDCTL_BIN`, with `ETCDCTL_API=3` (etcdctl 3.4 needs it).
    Etcdctl,
    /// The `etcdgw` built here, with none of the caller's `ETCDGW_*` or `ETCDCTL_*`
    /// environment (which it reads as etcdctl does; the harness's `ETCDCTL_BIN` would be
    /// warned about).
    Etcdgw,
}

impl Tool {
    /// The tool pointed at `endpoints` (comma separated); stdio as the caller sets it.
    fn command(self, endpoints: &str) -> Command {
        let mut cmd = match self {
            Tool::Etcdctl => {
                let mut cmd = Command::new(etcdctl_bin());
                cmd.env("ETCDCTL_API", "3");
                cmd
            }
            Tool::Etcdgw => {
                let mut cmd = Command::new(BIN);
                clear_etcd_env(&mut cmd);
                cmd
            }
        };
        cmd.arg(format!("--endpoints={endpoints}"));
        cmd
    }

    /// Runs `args` with `stdin` (or an empty one) and returns the whole output.
    fn run(self, endpoints: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = self
            .command(endpoints)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {self:?}: {e}"));
        let mut input = child.stdin.take().expect("stdin");
        if let Some(bytes) = stdin {
            input.write_all(bytes).expect("write stdin");
        }
        drop(input);
        child.wait_with_output().expect("the output")
    }

    /// Starts `args` (a command that goes on: watch, elect) and reads its stdout lines as
    /// they come; killed when the first value is dropped.
    fn spawn_lines(self, endpoints: &str, args: &[&str]) -> (Killed, mpsc::Receiver<String>) {
        let mut child = self
            .command(endpoints)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {self:?}: {e}"));
        let lines = lines_of(child.stdout.take().expect("stdout"));
        (Killed(child), lines)
    }
}

/// Removes the caller's `ETCDGW_*` and `ETCDCTL_*` variables from `cmd`'s environment.
fn clear_etcd_env(cmd: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("ETCDGW_") || name_text.starts_with("ETCDCTL_") {
            cmd.env_remove(name);
        }
    }
}

/// Runs etcdgw against `endpoints` (comma separated), with `stdin` (or an empty one).
fn etcdgw(endpoints: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    Tool::Etcdgw.run(endpoints, args, stdin)
}

/// Runs etcdctl against `endpoints` (comma separated), with an empty stdin.
fn etcdctl(endpoints: &str, args: &[&str]) -> Output {
    Tool::Etcdctl.run(endpoints, args, None)
}

/// Runs etcdgw against one member.
fn gw(etcd: &Etcd, args: &[&str]) -> Output {
    etcdgw(&etcd.endpoint(), args, None)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `Error: ...` line a command printed (etcdctl also logs retries to stderr).
fn error_line(out: &Output) -> Option<String> {
    text(&out.stderr)
        .lines()
        .rev()
        .find(|l| l.starts_with("Error: "))
        .map(str::to_string)
}

fn is_34() -> bool {
    etcd_version() == (3, 4)
}

/// The txn answers' oneof cases as etcdctl 3.5, which etcdgw follows, names them (by their
/// proto names; etcdctl 3.4 wrote their Go fields, `ResponsePut`).
const ONEOF_34: [(&str, &str); 3] = [
    ("\"ResponsePut\"", "\"response_put\""),
    ("\"ResponseRange\"", "\"response_range\""),
    ("\"ResponseDeleteRange\"", "\"response_delete_range\""),
];

fn as_35(json: String) -> String {
    if !is_34() {
        return json;
    }
    ONEOF_34
        .iter()
        .fold(json, |json, (from, to)| json.replace(from, to))
}

/// [`as_35`] on raw output (which may hold values that are not UTF-8).
fn as_35_bytes(out: &[u8]) -> Vec<u8> {
    if !is_34() {
        return out.to_vec();
    }
    let mut out = out.to_vec();
    for (from, to) in ONEOF_34 {
        let (from, to) = (from.as_bytes(), to.as_bytes());
        let mut replaced = Vec::with_capacity(out.len());
        let mut i = 0;
        while i < out.len() {
            if out[i..].starts_with(from) {
                replaced.extend_from_slice(to);
                i += from.len();
            } else {
                replaced.push(out[i]);
                i += 1;
            }
        }
        out = replaced;
    }
    out
}

/// What the tools are pointed at: a member, or endpoints (comma separated).
trait Target {
    fn endpoints(&self) -> String;
}

impl Target for Etcd {
    fn endpoints(&self) -> String {
        self.endpoint()
    }
}

impl Target for str {
    fn endpoints(&self) -> String {
        self.to_string()
    }
}

impl Target for String {
    fn endpoints(&self) -> String {
        self.clone()
    }
}

/// The etcdctl-parity helper: one command's outputs from both tools, against the same members,
/// to compare as a test needs. etcdctl runs first (a write of etcdgw's is then the later one).
struct Both {
    /// The command, as etcdgw ran it, for failure messages.
    args: String,
    theirs: Output,
    ours: Output,
}

impl Both {
    /// Runs `args` with `stdin` (or an empty one) through etcdctl, then through etcdgw.
    fn run(target: &(impl Target + ?Sized), args: &[&str], stdin: Option<&[u8]>) -> Both {
        Both::run_each(target, (args, stdin), (args, stdin))
    }

    /// The same with each tool's own arguments and stdin (a write on parallel keys):
    /// etcdctl's first.
    fn run_each(
        target: &(impl Target + ?Sized),
        (theirs_args, theirs_stdin): (&[&str], Option<&[u8]>),
        (ours_args, ours_stdin): (&[&str], Option<&[u8]>),
    ) -> Both {
        let endpoints = target.endpoints();
        let theirs = Tool::Etcdctl.run(&endpoints, theirs_args, theirs_stdin);
        let ours = Tool::Etcdgw.run(&endpoints, ours_args, ours_stdin);
        Both::of(ours_args, ours, theirs)
    }

    /// Outputs the test ran itself (in an order of its own).
    fn of(args: &[&str], ours: Output, theirs: Output) -> Both {
        Both {
            args: format!("{args:?}"),
            theirs,
            ours,
        }
    }

    /// Both stderrs, for failure messages.
    fn stderrs(&self) -> String {
        format!(
            "{}\netcdgw stderr: {}\netcdctl stderr: {}",
            self.args,
            text(&self.ours.stderr),
            text(&self.theirs.stderr)
        )
    }

    /// The same stdout (etcdctl 3.4's txn names read as 3.5's), byte for byte.
    #[track_caller]
    fn same_stdout(&self) -> &Self {
        let (ours, theirs) = (text(&self.ours.stdout), as_35(text(&self.theirs.stdout)));
        assert_eq!(ours, theirs, "stdout of {}", self.stderrs());
        // Byte for byte too (values need not be UTF-8).
        assert!(
            self.ours.stdout == as_35_bytes(&self.theirs.stdout),
            "{}",
            self.args
        );
        self
    }

    /// etcdgw's stdout is `expected` made from etcdctl's (read as 3.5's).
    #[track_caller]
    fn stdout_as(&self, expected: impl FnOnce(&str) -> String) -> &Self {
        let theirs = expected(&as_35(text(&self.theirs.stdout)));
        assert_eq!(text(&self.ours.stdout), theirs, "{}", self.stderrs());
        self
    }

    /// The same exit code.
    #[track_caller]
    fn same_code(&self) -> &Self {
        assert_eq!(
            self.ours.status.code(),
            self.theirs.status.code(),
            "exit code of {}",
            self.stderrs()
        );
        self
    }

    /// The same `Error:` line (none, if neither failed).
    #[track_caller]
    fn same_error_line(&self) -> &Self {
        assert_eq!(
            error_line(&self.ours),
            error_line(&self.theirs),
            "{}",
            self.args
        );
        self
    }

    /// Stdout and exit code, and the `Error:` line when etcdgw failed.
    #[track_caller]
    fn same(&self) {
        self.same_stdout().same_code();
        if !self.ours.status.success() {
            self.same_error_line();
        }
    }
}

/// Asserts both tools print the same stdout and exit with the same code (and the same
/// `Error:` line when they fail).
#[track_caller]
fn assert_same(target: &(impl Target + ?Sized), args: &[&str]) {
    Both::run(target, args, None).same();
}

/// [`assert_same`] with this stdin.
#[track_caller]
fn assert_same_with(target: &(impl Target + ?Sized), args: &[&str], stdin: Option<&[u8]>) {
    Both::run(target, args, stdin).same();
}

/// Runs a write with etcdctl on `c/` keys, then the same with etcdgw on `g/` keys, and
/// compares them (`{}` in `args` and `stdin` stands for the key): etcdgw's stdout must be
/// etcdctl's [`shifted`], and the exit codes the same.
#[track_caller]
fn assert_same_write(target: &(impl Target + ?Sized), args: &[&str], stdin: Option<&str>) {
    let ctl_args: Vec<String> = args.iter().map(|a| a.replace("{}", "c/")).collect();
    let gw_args: Vec<String> = args.iter().map(|a| a.replace("{}", "g/")).collect();
    let ctl_stdin = stdin.map(|s| s.replace("{}", "c/"));
    let gw_stdin = stdin.map(|s| s.replace("{}", "g/"));
    let ctl_refs: Vec<&str> = ctl_args.iter().map(String::as_str).collect();
    let gw_refs: Vec<&str> = gw_args.iter().map(String::as_str).collect();
    Both::run_each(
        target,
        (&ctl_refs, ctl_stdin.as_deref().map(str::as_bytes)),
        (&gw_refs, gw_stdin.as_deref().map(str::as_bytes)),
    )
    .stdout_as(shifted)
    .same_code();
}

/// A fresh cluster may still be applying its start-up entries (member attributes, the
/// cluster version), which move the raft index between the two commands: runs both until
/// their stdouts agree (the cluster is quiet), then asserts as [`Both::same`].
async fn assert_same_once_quiet(endpoints: &str, args: &[&str]) {
    let both = wait_until(
        &format!("both tools to print the same for {args:?}"),
        Duration::from_secs(10),
        || async {
            let both = Both::run(endpoints, args, None);
            if both.ours.stdout == both.theirs.stdout {
                Ok(both)
            } else {
                Err(Shown(format!(
                    "etcdgw printed\n{}\netcdctl printed\n{}",
                    text(&both.ours.stdout),
                    text(&both.theirs.stdout)
                )))
            }
        },
    )
    .await;
    both.same();
}

/// Text shown as it is in a failure message (not quoted and escaped as `Debug` would).
struct Shown(String);

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// etcdctl's output of a write on `c/...` keys as etcdgw's on `g/...` keys one revision later
/// must read: keys renamed (raw, quoted and in base64, where `c/` and `g/` differ in the first
/// character only) and every revision incremented.
fn shifted(etcdctl_output: &str) -> String {
    let renamed = etcdctl_output
        .replace("c/", "g/")
        .replace("\"key\":\"Yy", "\"key\":\"Zy");
    let mut out = renamed;
    for field in [
        "\"revision\":",
        "\"create_revision\":",
        "\"mod_revision\":",
        "\"Revision\" : ",
        "\"CreateRevision\" : ",
        "\"ModRevision\" : ",
        "\"PrevCreateRevision\" : ",
        "\"PrevModRevision\" : ",
    ] {
        out = increment_after(&out, field);
    }
    out
}

/// Every number right after `field`, plus one (zero stays zero: no revision).
fn increment_after(s: &str, field: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(field) {
        let start = i + field.len();
        out.push_str(&rest[..start]);
        let digits = rest[start..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - start);
        let n: i64 = rest[start..start + digits].parse().expect("a number");
        out.push_str(&(if n == 0 { 0 } else { n + 1 }).to_string());
        rest = &rest[start + digits..];
    }
    out.push_str(rest);
    out
}

/// Seeds keys for the read tests: plain, versioned, ranged and binary.
async fn seed(etcd: &Etcd) -> i64 {
    let client = etcd.client().await;
    let first = client.put("a", "1", None).await.unwrap();
    client.put("b", "two words", None).await.unwrap();
    for (k, v) in [("k/1", "x"), ("k/2", "y"), ("k/3", "z"), ("k/2", "y2")] {
        client.put(k, v, None).await.unwrap();
    }
    client
        .put("bin", vec![0u8, 1, 0xfe, 0xff, b'\n'], None)
        .await
        .unwrap();
    client.put("a", "3", None).await.unwrap();
    first.header().unwrap().revision()
}

/// Reads a child's stdout lines on a thread, so a test can wait for them with a deadline.
fn lines_of(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next `n` lines, each within 10 s.
#[track_caller]
fn next_lines(rx: &mpsc::Receiver<String>, n: usize, who: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            rx.recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("{who}: line {i} of {n} did not come"))
        })
        .collect()
}

/// A child process killed (and reaped) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
