//! The `etcdgw` command line against live members, beside the etcdctl of the same version:
//! their `simple`, `json`, `fields` and `table` outputs compared byte for byte, and their exit
//! codes and error messages.
//!
//! Reads are compared as they are (nothing changes between the two commands). Writes are done
//! by etcdctl on `c/...` keys and by etcdgw on the parallel `g/...` keys right after, one
//! revision later, so etcdctl's output with those keys renamed and every revision plus one
//! must be etcdgw's, byte for byte.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use etcdgw::{GetOptions, PutOptions};

use etcdgw_test_support::etcd::etcd_version;
use etcdgw_test_support::free_port;
use etcdgw_test_support::{Cluster, Etcd};

const BIN: &str = env!("CARGO_BIN_EXE_etcdgw");

/// etcdgw with none of the caller's `ETCDGW_*` or `ETCDCTL_*` environment (which it reads as
/// etcdctl does; the harness's `ETCDCTL_BIN` would be warned about).
fn etcdgw_command(endpoint: &str) -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("ETCDGW_") || name_text.starts_with("ETCDCTL_") {
            cmd.env_remove(name);
        }
    }
    cmd.arg(format!("--endpoints={endpoint}"));
    cmd
}

/// Runs etcdgw against `endpoint`, with `stdin` (or an empty one).
fn run(endpoint: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = etcdgw_command(endpoint)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run etcdgw");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("etcdgw output")
}

fn gw(etcd: &Etcd, args: &[&str]) -> Output {
    run(&etcd.endpoint(), args, None)
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

/// Asserts both tools print the same stdout and exit with the same code (and the same
/// `Error:` line when they fail).
#[track_caller]
fn assert_same(etcd: &Etcd, args: &[&str]) {
    assert_same_with(etcd, args, None);
}

#[track_caller]
fn assert_same_with(etcd: &Etcd, args: &[&str], stdin: Option<&[u8]>) {
    let ours = run(&etcd.endpoint(), args, stdin);
    let theirs = etcd.etcdctl_raw(args, stdin);
    let (ours_out, theirs_out) = (text(&ours.stdout), as_35(text(&theirs.stdout)));
    assert_eq!(
        ours_out,
        theirs_out,
        "stdout of {args:?}\netcdgw stderr: {}\netcdctl stderr: {}",
        text(&ours.stderr),
        text(&theirs.stderr)
    );
    // Byte for byte too (values need not be UTF-8).
    assert!(ours.stdout == as_35_bytes(&theirs.stdout), "{args:?}");
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "exit code of {args:?}\netcdgw stderr: {}\netcdctl stderr: {}",
        text(&ours.stderr),
        text(&theirs.stderr)
    );
    if !ours.status.success() {
        assert_eq!(error_line(&ours), error_line(&theirs), "{args:?}");
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

/// Runs a write with etcdctl on `c/` keys, then the same with etcdgw on `g/` keys, and
/// compares them (`{}` in `args` stands for the key).
#[track_caller]
fn assert_same_write(etcd: &Etcd, args: &[&str], stdin: Option<&str>) {
    let ctl_args: Vec<String> = args.iter().map(|a| a.replace("{}", "c/")).collect();
    let gw_args: Vec<String> = args.iter().map(|a| a.replace("{}", "g/")).collect();
    let ctl_stdin = stdin.map(|s| s.replace("{}", "c/"));
    let gw_stdin = stdin.map(|s| s.replace("{}", "g/"));
    let ctl_refs: Vec<&str> = ctl_args.iter().map(String::as_str).collect();
    let gw_refs: Vec<&str> = gw_args.iter().map(String::as_str).collect();
    let theirs = etcd.etcdctl_raw(&ctl_refs, ctl_stdin.as_deref().map(str::as_bytes));
    let ours = run(
        &etcd.endpoint(),
        &gw_refs,
        gw_stdin.as_deref().map(str::as_bytes),
    );
    assert_eq!(
        text(&ours.stdout),
        shifted(&as_35(text(&theirs.stdout))),
        "{args:?}\netcdgw stderr: {}\netcdctl stderr: {}",
        text(&ours.stderr),
        text(&theirs.stderr)
    );
    assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
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

#[tokio::test]
async fn get_prints_what_etcdctl_prints_for_every_flag() {
    let etcd = Etcd::start().await;
    let first_rev = seed(&etcd).await.to_string();
    let reads: Vec<Vec<&str>> = vec![
        vec!["get", "a"],
        vec!["get", "missing"],
        vec!["get", "k/", "--prefix"],
        vec!["get", "", "--prefix"],
        vec!["get", "b", "--from-key"],
        vec!["get", "k/", "--prefix", "--limit", "2"],
        vec!["get", "a", "--rev", &first_rev],
        vec!["get", "k/", "--prefix", "--keys-only"],
        vec!["get", "k/1", "k/3"],
        vec![
            "get",
            "k/",
            "--prefix",
            "--order",
            "DESCEND",
            "--sort-by",
            "VALUE",
        ],
        vec![
            "get",
            "k/",
            "--prefix",
            "--sort-by",
            "MODIFY",
            "--order",
            "ASCEND",
        ],
        vec!["get", "bin"],
        vec!["get", "bin", "--hex"],
        vec!["get", "k/1", "--consistency", "s"],
    ];
    for read in &reads {
        for format in ["simple", "json", "fields"] {
            let mut args = read.clone();
            args.extend(["-w", format]);
            assert_same(&etcd, &args);
        }
    }
    // A missing key prints nothing and succeeds.
    let missing = gw(&etcd, &["get", "missing"]);
    assert!(missing.status.success() && missing.stdout.is_empty());

    assert_same(&etcd, &["get", "k/", "--prefix", "--print-value-only"]);
    assert_same(&etcd, &["get", "a", "--print-value-only", "-w", "json"]);

    // --count-only (etcdctl 3.5; 3.4 has no such flag): the count in the fields format.
    let count = gw(
        &etcd,
        &["get", "k/", "--prefix", "--count-only", "-w", "fields"],
    );
    assert!(count.status.success(), "{}", text(&count.stderr));
    let fields = text(&count.stdout);
    assert!(
        fields.ends_with("\"More\" : false\n\"Count\" : 3\n"),
        "{fields}"
    );
    assert!(!fields.contains("\"Key\""), "{fields}");
    if is_34() {
        let full = text(&etcd.etcdctl(&["get", "k/", "--prefix", "-w", "fields"]));
        let header: Vec<&str> = full.lines().take(4).collect();
        assert_eq!(fields.lines().take(4).collect::<Vec<_>>(), header);
    } else {
        assert_same(
            &etcd,
            &["get", "k/", "--prefix", "--count-only", "-w", "fields"],
        );
        assert_same(
            &etcd,
            &["get", "k/", "--prefix", "--count-only", "-w", "json"],
        );
    }
}

#[tokio::test]
async fn put_and_del_print_what_etcdctl_prints() {
    let etcd = Etcd::start().await;
    for format in ["simple", "json", "fields"] {
        let w = ["-w", format];
        let with = |args: &[&'static str]| -> Vec<&'static str> {
            let mut v = args.to_vec();
            v.extend(w);
            v
        };
        assert_same_write(&etcd, &with(&["put", "{}k", "v1"]), None);
        assert_same_write(&etcd, &with(&["put", "{}k", "v2", "--prev-kv"]), None);
        assert_same_write(
            &etcd,
            &with(&["put", "{}k", "--ignore-value", "--prev-kv"]),
            None,
        );
        // The value from stdin.
        assert_same_write(
            &etcd,
            &with(&["put", "{}k", "--prev-kv"]),
            Some("from stdin"),
        );
        assert_same_write(&etcd, &with(&["del", "{}k", "--prev-kv"]), None);
        // Deleting nothing changes nothing: compared as a read.
        assert_same(&etcd, &with(&["del", "nothing"]));
        assert_same(&etcd, &with(&["del", "nothing", "--prefix", "--prev-kv"]));
        assert_same_write(&etcd, &with(&["put", "{}1", "a"]), None);
        assert_same_write(&etcd, &with(&["put", "{}2", "b"]), None);
        assert_same_write(&etcd, &with(&["del", "{}", "--prefix", "--prev-kv"]), None);
        assert_same_write(&etcd, &with(&["put", "{}1", "a"]), None);
        assert_same_write(&etcd, &with(&["del", "{}", "--prefix"]), None);
    }
    // What was written reads back the same through both.
    assert_same(&etcd, &["get", "", "--prefix", "-w", "json"]);
}

const READ_ONLY_TXN: &str = "value(\"a\") = \"not 1\"\nmod(\"a\") > \"0\"\n\nput a never\n\nget a\nget k/ --prefix --keys-only\nget k/1 k/3\nget missing\n\n";

#[tokio::test]
async fn txn_from_stdin_reads_etcdctl_syntax_and_prints_what_etcdctl_prints() {
    let etcd = Etcd::start().await;
    seed(&etcd).await;
    // A transaction that changes nothing, compared as it is.
    for format in ["simple", "json", "fields"] {
        assert_same_with(
            &etcd,
            &["txn", "-w", format],
            Some(READ_ONLY_TXN.as_bytes()),
        );
    }
    // Interactive mode prompts on stdout.
    assert_same_with(&etcd, &["txn", "-i"], Some(READ_ONLY_TXN.as_bytes()));

    // Transactions that write, on the parallel keys.
    for format in ["simple", "json", "fields"] {
        let txn = "version(\"{}t\") = \"0\"\n\nput {}t v1\nput {}u \"two words\"\nget {}t\n\nput {}t other\n\n";
        assert_same_write(&etcd, &["txn", "-w", format], Some(txn));
        let txn =
            "version(\"{}t\") = \"0\"\n\nput {}t v1\n\nput {}t v2 --prev-kv\ndel {}u --prev-kv\n\n";
        assert_same_write(&etcd, &["txn", "-w", format], Some(txn));
        let txn = "create(\"{}t\") > \"0\"\nvalue(\"{}t\") != \"v1\"\n\ndel {}t --prev-kv\n\n\n";
        assert_same_write(&etcd, &["txn", "-w", format], Some(txn));
    }

    // Input errors, with etcdctl's messages and codes.
    for bad in [
        "value(\"a\") = \"1\"\n\nput a 2\n", // ends before the failure section: EOF
        "\nbogus a\n\n\n",                   // an unknown operation
        "\nput a\n\n\n",                     // a put without a value: bad args
        "\nget\n\n\n",                       // a get without a key
        "\nget a --bogus\n\n\n",             // an unknown flag
    ] {
        assert_same_with(&etcd, &["txn"], Some(bad.as_bytes()));
    }
    // etcdctl panics on these two; etcdgw reports them as invalid input.
    for bad in ["value(\"a\") == \"1\"\n\n\n\n", "value(a) = \"1\"\n\n\n\n"] {
        let out = run(&etcd.endpoint(), &["txn"], Some(bad.as_bytes()));
        assert_eq!(out.status.code(), Some(3), "{bad:?}");
        assert!(
            error_line(&out)
                .unwrap()
                .starts_with("Error: malformed comparison: "),
            "{}",
            text(&out.stderr)
        );
    }
    // Lease compares take the ID in hex, as every lease flag does.
    let client = etcd.client().await;
    let lease = client.lease_grant(60, None).await.unwrap().id();
    client
        .put("leased", "v", Some(PutOptions::new().with_lease(lease)))
        .await
        .unwrap();
    let txn = format!("lease(\"leased\") = \"{lease:x}\"\n\nget leased --print-value-only\n\n\n");
    let out = run(&etcd.endpoint(), &["txn"], Some(txn.as_bytes()));
    assert_eq!(
        text(&out.stdout),
        "SUCCESS\n\nleased\nv\n",
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn member_list_and_endpoint_status_print_what_etcdctl_prints() {
    let cluster = Cluster::start(3).await;
    // Through one member: the header names the member that answered.
    let first = ClusterView(cluster.endpoints()[0].clone());
    for format in ["simple", "json", "fields", "table"] {
        first.assert_same(&["member", "list", "-w", format]);
    }
    if !is_34() {
        first.assert_same(&["member", "list", "-w", "json", "--hex"]);
    }
    first.assert_same(&["endpoint", "status", "--cluster"]);
    // Status is per member; nothing is written meanwhile, so the answers do not change.
    let all = ClusterView(cluster.endpoints().join(","));
    for format in ["simple", "json", "table", "fields"] {
        all.assert_same(&["endpoint", "status", "-w", format]);
    }
    // Health takes a different time each run: compare what does not.
    let ours = run(
        &cluster.endpoints().join(","),
        &["endpoint", "health", "-w", "json"],
        None,
    );
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    let list: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    for (entry, endpoint) in list.iter().zip(cluster.endpoints()) {
        assert_eq!(entry["endpoint"], endpoint.as_str());
        assert_eq!(entry["health"], true);
        assert!(entry["took"].as_str().unwrap().ends_with('s'));
        assert!(entry.get("error").is_none());
    }
    let simple = run(&cluster.endpoints()[0], &["endpoint", "health"], None);
    let line = text(&simple.stdout);
    assert!(
        line.starts_with(&format!(
            "{} is healthy: successfully committed proposal: took = ",
            cluster.endpoints()[0]
        )),
        "{line}"
    );
}

/// A cluster seen through these endpoints (comma separated) by both tools.
struct ClusterView(String);

impl ClusterView {
    /// A fresh cluster may still be applying its start-up entries (member attributes, the
    /// cluster version), which move the raft index between the two commands: compare again
    /// until the cluster is quiet, a second at most.
    #[track_caller]
    fn assert_same(&self, args: &[&str]) {
        let endpoints = &self.0;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let ours = run(endpoints, args, None);
            let theirs = Command::new(etcdgw_test_support::etcd::etcdctl_bin())
                .env("ETCDCTL_API", "3")
                .arg(format!("--endpoints={endpoints}"))
                .args(args)
                .output()
                .expect("etcdctl");
            if attempts < 10 && ours.stdout != theirs.stdout {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            assert_eq!(
                text(&ours.stdout),
                text(&theirs.stdout),
                "{args:?}\netcdgw stderr: {}\netcdctl stderr: {}",
                text(&ours.stderr),
                text(&theirs.stderr)
            );
            assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
            return;
        }
    }
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

#[track_caller]
fn next_lines(rx: &mpsc::Receiver<String>, n: usize, who: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            rx.recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("{who}: line {i} of {n} did not come"))
        })
        .collect()
}

/// How many watchers the member has, from its metrics.
async fn watchers(endpoint: &str) -> u64 {
    let Ok(resp) = reqwest::get(format!("{endpoint}/metrics")).await else {
        return 0;
    };
    let text = resp.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("etcd_debugging_mvcc_watcher_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn watch_prints_the_events_etcdctl_writes_as_etcdctl_does() {
    let etcd = Etcd::start().await;
    let endpoint = etcd.endpoint();
    let spawn_gw = |args: &[&str]| {
        let mut child = etcdgw_command(&endpoint)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcdgw watch");
        let rx = lines_of(child.stdout.take().expect("stdout"));
        (Killed(child), rx)
    };
    let spawn_ctl = |args: &[&str]| {
        let mut child = Command::new(etcdgw_test_support::etcd::etcdctl_bin())
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={endpoint}"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcdctl watch");
        let rx = lines_of(child.stdout.take().expect("stdout"));
        (Killed(child), rx)
    };
    let simple = ["watch", "w/", "--prefix", "--prev-kv"];
    let json = ["watch", "w/", "--prefix", "-w", "json"];
    let (_gw, gw_simple) = spawn_gw(&simple);
    let (_gwj, gw_json) = spawn_gw(&json);
    let (_ctl, ctl_simple) = spawn_ctl(&simple);
    let (_ctlj, ctl_json) = spawn_ctl(&json);

    // Wait until all four are watching.
    let deadline = Instant::now() + Duration::from_secs(10);
    while watchers(&endpoint).await < 4 {
        assert!(Instant::now() < deadline, "the watches did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Each write, then its event on every watch, before the next write: one event per answer.
    let writes: [(&[&str], usize); 4] = [
        (&["put", "w/1", "a"], 3),
        (&["put", "w/1", "b b"], 5),
        (&["del", "w/1"], 5),
        (&["put", "w/2", "c"], 3),
    ];
    let mut printed = Vec::new();
    for (write, simple_lines) in writes {
        etcd.etcdctl(write);
        let ours = next_lines(&gw_simple, simple_lines, "etcdgw watch");
        let theirs = next_lines(&ctl_simple, simple_lines, "etcdctl watch");
        assert_eq!(ours, theirs, "after {write:?}");
        let ours = next_lines(&gw_json, 1, "etcdgw watch -w json");
        let theirs = next_lines(&ctl_json, 1, "etcdctl watch -w json");
        assert_eq!(ours, theirs, "after {write:?}");
        printed.push(ours[0].clone());
    }
    let first: serde_json::Value = serde_json::from_str(&printed[0]).unwrap();
    assert_eq!(first["Events"][0]["kv"]["value"], "YQ==");
    let delete: serde_json::Value = serde_json::from_str(&printed[2]).unwrap();
    assert_eq!(delete["Events"][0]["type"], 1);
}

#[tokio::test]
async fn snapshot_save_writes_a_file_that_restores() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    for i in 0..50 {
        client
            .put(format!("snap/{i:02}"), "v".repeat(100), None)
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db");
    let path_text = path.to_str().unwrap();
    let out = gw(&etcd, &["snapshot", "save", path_text]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("Snapshot saved at {path_text}\n")
    );
    // Not a terminal: no progress bar on stderr.
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert!(!dir.path().join("snap.db.part").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "a snapshot holds secrets");
    }

    // etcdutl (etcdctl on 3.4) restores it into a member that has the keys.
    let restored = Etcd::builder().restore_from(&path).start().await;
    let resp = restored
        .client()
        .await
        .get("snap/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    assert_eq!(resp.count(), 50);
    assert_eq!(resp.kvs()[7].value(), "v".repeat(100).as_bytes());

    // One endpoint only, as etcdctl: ExitInterrupted otherwise.
    let two = format!("{},{}", etcd.endpoint(), etcd.endpoint());
    let out = run(&two, &["snapshot", "save", path_text], None);
    assert_eq!(out.status.code(), Some(5));
    assert!(error_line(&out)
        .unwrap()
        .starts_with("Error: snapshot must be requested to one selected node, not multiple"));
}

#[tokio::test]
async fn exit_codes_and_errors_follow_etcdctl() {
    let etcd = Etcd::start().await;
    etcd.etcdctl(&["put", "k", "v"]);
    // Bad arguments: 128, etcdctl's message.
    for args in [
        &["get"][..],
        &["get", "--prefix", "--from-key", "k"],
        &["get", "k", "z", "--prefix"],
        &["del"],
        &["put"],
        &["put", "k", "v", "--lease", "zz"],
        &["lease", "revoke", "zz"],
        &["lease", "grant"],
        &["lease", "timetolive"],
        &["compaction"],
        &["elect", "e"],
        &["elect", "e", "p", "-l"],
        &["user", "add"],
        &["role", "grant-permission", "r", "read"],
        &["snapshot", "save"],
    ] {
        assert_same(&etcd, args);
        assert_eq!(gw(&etcd, args).status.code(), Some(128), "{args:?}");
    }
    if !is_34() {
        // etcdctl 3.4 has no --count-only.
        assert_same(&etcd, &["get", "k", "--keys-only", "--count-only"]);
    }
    // An empty stdin for put's value.
    assert_same_with(&etcd, &["put", "k"], Some(b""));
    // print-value-only needs the simple format; formats a command lacks: 4.
    for args in [
        &["get", "k", "--print-value-only", "-w", "fields"][..],
        &["get", "k", "-w", "table"],
        &["get", "k", "-w", "xml"],
        &["put", "k", "v", "-w", "table"],
        &["get", "k", "--order", "SIDEWAYS"],
        &["get", "k", "--consistency", "x"],
    ] {
        assert_same(&etcd, args);
    }
    // What the flag parser refuses: 1, as cobra's errors in etcdctl.
    for args in [
        &["get", "k", "--bogus"][..],
        &["get", "k", "--limit", "many"],
        &["bogus"],
    ] {
        let ours = gw(&etcd, args);
        let theirs = etcd.etcdctl_raw(args, None);
        assert_eq!(
            ours.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&ours.stderr)
        );
        assert_eq!(theirs.status.code(), Some(1), "{args:?}");
    }
    // etcd's refusals: 1, etcd's message.
    for args in [
        &["get", "k", "--rev", "1000"][..],
        &["compaction", "1000"],
        &["lease", "revoke", "1234"],
        &["lease", "keep-alive", "--once", "1234"],
        &["role", "get", "nobody"],
        &["user", "delete", "nobody"],
    ] {
        assert_same(&etcd, args);
    }
    // No member reachable: 2, at once (etcdctl retries until its command timeout, then
    // reports `context deadline exceeded` with 1).
    let dead = format!("127.0.0.1:{}", free_port());
    let start = Instant::now();
    let out = run(&dead, &["get", "k", "--dial-timeout", "1s"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(error_line(&out).is_some(), "{}", text(&out.stderr));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(out.stdout.is_empty());
    // A bad endpoint URL is a bad argument.
    let out = run("http://", &["get", "k"], None);
    assert_eq!(out.status.code(), Some(128), "{}", text(&out.stderr));
    // --help documents the exit codes.
    let help = run(&etcd.endpoint(), &["--help"], None);
    assert!(help.status.success());
    let help = text(&help.stdout);
    assert!(
        help.contains("128  wrong arguments") && help.contains("2    no member"),
        "{help}"
    );
}

#[tokio::test]
async fn leases_print_what_etcdctl_prints() {
    let etcd = Etcd::start().await;
    let granted = gw(&etcd, &["lease", "grant", "100"]);
    assert!(granted.status.success(), "{}", text(&granted.stderr));
    let line = text(&granted.stdout);
    let id = line
        .strip_prefix("lease ")
        .and_then(|l| l.strip_suffix(" granted with TTL(100s)\n"))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    assert_eq!(id.len(), 16, "{line}");
    let json = gw(&etcd, &["lease", "grant", "100", "-w", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["TTL"], 100);
    assert_eq!(json["Error"], "");
    assert!(json["ID"].as_i64().unwrap() > 0 && json["revision"].as_i64().unwrap() > 0);

    assert_same(&etcd, &["put", "leased", "v", "--lease", &id]);
    for format in ["simple", "json", "fields"] {
        assert_same(&etcd, &["lease", "list", "-w", format]);
        assert_same(&etcd, &["lease", "keep-alive", "--once", &id, "-w", format]);
    }
    let ttl = text(&gw(&etcd, &["lease", "timetolive", &id, "--keys"]).stdout);
    assert!(
        ttl.starts_with(&format!("lease {id} granted with TTL(100s), remaining("))
            && ttl.ends_with("s), attached keys([leased])\n"),
        "{ttl}"
    );
    let revoked = gw(&etcd, &["lease", "revoke", &id]);
    assert_eq!(text(&revoked.stdout), format!("lease {id} revoked\n"));
    for format in ["simple", "json", "fields"] {
        assert_same(&etcd, &["lease", "timetolive", &id, "-w", format]);
    }
    assert_same(&etcd, &["get", "leased"]);
    // keep-alive on a lease that is gone says so and succeeds.
    assert_same(&etcd, &["lease", "keep-alive", &id]);
}

#[tokio::test]
async fn lock_runs_a_command_under_the_lock_and_elect_campaigns() {
    let etcd = Etcd::start().await;
    let out = gw(
        &etcd,
        &[
            "lock",
            "jobs",
            "sh",
            "-c",
            "echo \"$ETCD_LOCK_KEY $ETCD_LOCK_REV\"; exit 3",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "the command's exit code");
    let printed = text(&out.stdout);
    let (key, rev) = printed.trim().split_once(' ').unwrap();
    assert!(
        key.starts_with("jobs/") && rev.parse::<i64>().unwrap() > 0,
        "{printed}"
    );
    // Released: nothing is left under the lock's name, and the lease is revoked.
    assert_same(&etcd, &["get", "jobs/", "--prefix", "--keys-only"]);
    assert!(etcd
        .client()
        .await
        .get("jobs/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap()
        .kvs()
        .is_empty());
    let out = gw(&etcd, &["lock", "jobs", "--", "true"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // A campaign prints the leader key and its value once elected; etcdctl sees it.
    let mut elect = etcdgw_command(&etcd.endpoint())
        .args(["elect", "chief", "me"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(elect.stdout.take().unwrap());
    let _elect = Killed(elect);
    let printed = next_lines(&lines, 2, "etcdgw elect");
    assert!(printed[0].starts_with("chief/"), "{printed:?}");
    assert_eq!(printed[1], "me");
    let value = etcd.etcdctl(&["get", &printed[0], "--print-value-only"]);
    assert_eq!(text(&value), "me\n");
    // An observer prints the leader the same way.
    let mut observe = etcdgw_command(&etcd.endpoint())
        .args(["elect", "-l", "chief"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let observed = lines_of(observe.stdout.take().unwrap());
    let _observe = Killed(observe);
    assert_eq!(next_lines(&observed, 2, "etcdgw elect -l"), printed);
}

#[tokio::test]
async fn users_roles_and_auth() {
    let etcd = Etcd::start().await;
    for args in [
        &["user", "add", "root:rootpw"][..],
        &["user", "grant-role", "root", "root"],
        &["user", "add", "alice:secret"],
        &["role", "add", "reader"],
        &[
            "role",
            "grant-permission",
            "reader",
            "read",
            "k/",
            "--prefix",
        ],
        &["role", "grant-permission", "reader", "readwrite", "a", "b"],
        &[
            "role",
            "grant-permission",
            "reader",
            "write",
            "",
            "--from-key",
        ],
        &["user", "grant-role", "alice", "reader"],
    ] {
        let out = gw(&etcd, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    for format in ["simple", "json", "fields"] {
        assert_same(&etcd, &["role", "get", "reader", "-w", format]);
        assert_same(&etcd, &["role", "list", "-w", format]);
    }
    for format in ["simple", "json"] {
        assert_same(&etcd, &["user", "get", "alice", "-w", format]);
        assert_same(&etcd, &["user", "list", "-w", format]);
    }
    assert_same(&etcd, &["user", "get", "alice", "--detail"]);
    // The formats etcdctl lacks for these (table everywhere, fields for user get and list and
    // auth status): the same refusal, 4.
    let mut reads: Vec<&[&str]> = vec![
        &["user", "get", "alice"],
        &["user", "list"],
        &["role", "get", "reader"],
        &["role", "list"],
    ];
    if !is_34() {
        reads.push(&["auth", "status"]);
    }
    for read in reads {
        for format in ["table", "fields"] {
            let mut args = read.to_vec();
            args.extend(["-w", format]);
            assert_same(&etcd, &args);
        }
    }

    let enabled = gw(&etcd, &["auth", "enable"]);
    assert_eq!(text(&enabled.stdout), "Authentication Enabled\n");
    etcd.etcdctl(&["put", "k/1", "v", "--user", "root:rootpw"]);
    // Credentials as user:password, or with --password.
    let read = gw(&etcd, &["get", "k/1", "--user", "alice:secret"]);
    assert_eq!(text(&read.stdout), "k/1\nv\n", "{}", text(&read.stderr));
    let read = gw(
        &etcd,
        &["get", "k/1", "--user", "alice", "--password", "secret"],
    );
    assert_eq!(text(&read.stdout), "k/1\nv\n", "{}", text(&read.stderr));
    // Refusals with etcdctl's messages and codes; no password in any output.
    assert_same(&etcd, &["put", "k/1", "w", "--user", "alice:secret"]);
    assert_same(&etcd, &["get", "k/1"]);
    let wrong = gw(&etcd, &["get", "k/1", "--user", "alice:wrong-secret"]);
    assert_eq!(
        wrong.status.code(),
        Some(2),
        "as etcdctl, which authenticates when it connects"
    );
    assert_eq!(
        error_line(&wrong).as_deref(),
        Some("Error: etcdserver: authentication failed, invalid user ID or password")
    );
    for out in [&read, &wrong] {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains("secret"), "{all}");
    }
    let disabled = gw(&etcd, &["auth", "disable", "--user", "root:rootpw"]);
    assert_eq!(
        text(&disabled.stdout),
        "Authentication Disabled\n",
        "{}",
        text(&disabled.stderr)
    );
    // Revoking: each tool revokes a permission granted again in between.
    for (grant, revoke) in [
        (
            &[
                "role",
                "grant-permission",
                "reader",
                "read",
                "k/",
                "--prefix",
            ][..],
            &["role", "revoke-permission", "reader", "k/", "--prefix"][..],
        ),
        (
            &[
                "role",
                "grant-permission",
                "reader",
                "write",
                "",
                "--from-key",
            ],
            &["role", "revoke-permission", "reader", "", "--from-key"],
        ),
        (
            &["role", "grant-permission", "reader", "readwrite", "a", "b"],
            &[
                "role",
                "revoke-permission",
                "reader",
                "a",
                "b",
                "-w",
                "json",
            ],
        ),
    ] {
        let ours = gw(&etcd, revoke);
        assert!(gw(&etcd, grant).status.success());
        let theirs = etcd.etcdctl_raw(revoke, None);
        assert_eq!(text(&ours.stdout), text(&theirs.stdout), "{revoke:?}");
        assert_eq!(ours.status.code(), theirs.status.code(), "{revoke:?}");
    }
    assert_same(
        &etcd,
        &["role", "revoke-permission", "reader", "k/", "--prefix"],
    );
}

/// Runs etcdctl against `endpoints` (comma separated) with `stdin` (or an empty one).
fn ctl(endpoints: &str, args: &[&str]) -> Output {
    Command::new(etcdgw_test_support::etcd::etcdctl_bin())
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("etcdctl")
}

/// The members of `member list -w json` (etcdctl's), as JSON values.
fn members_json(endpoints: &str) -> Vec<serde_json::Value> {
    let out = ctl(endpoints, &["member", "list", "-w", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list["members"].as_array().cloned().unwrap_or_default()
}

/// The member with this name's ID, from etcdctl's member list.
fn member_id(endpoints: &str, name: &str) -> u64 {
    members_json(endpoints)
        .iter()
        .find(|m| m["name"].as_str().unwrap_or_default() == name)
        .and_then(|m| m["ID"].as_u64())
        .unwrap_or_else(|| panic!("no member {name}"))
}

/// The leader's ID, as the first endpoint sees it.
fn leader_id(endpoint: &str) -> u64 {
    let out = ctl(endpoint, &["endpoint", "status", "-w", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list[0]["Status"]["leader"].as_u64().unwrap()
}

#[tokio::test]
async fn the_nospace_runbook_with_the_cli_alone() {
    // A member with a tiny quota, filled until etcd raises NOSPACE: by overwriting one key, so
    // the space is history, which is what compaction and defragmentation give back (live keys
    // would still fill the quota after the runbook).
    let etcd = Etcd::builder()
        .arg(format!("--quota-backend-bytes={}", 2 * 1024 * 1024))
        .start()
        .await;
    let client = etcd.client().await;
    let value = vec![b'x'; 100_000];
    let mut filled = false;
    for _ in 0..200 {
        if let Err(e) = client.put("fill", value.clone(), None).await {
            assert!(e.to_string().contains("database space exceeded"), "{e}");
            filled = true;
            break;
        }
    }
    assert!(filled, "the quota was never reached");

    // alarm list: as etcdctl prints it, in every format it has (etcd 3.4 answers without a
    // header, on which etcdctl 3.4's fields printer crashes; etcdgw prints zeros there).
    for format in ["simple", "json", "fields"] {
        if format == "fields" && is_34() {
            let out = gw(&etcd, &["alarm", "list", "-w", format]);
            assert!(
                text(&out.stdout).ends_with("\"AlarmType\" : NOSPACE\n\n"),
                "{}",
                text(&out.stdout)
            );
            continue;
        }
        assert_same(&etcd, &["alarm", "list", "-w", format]);
    }
    let listed = text(&gw(&etcd, &["alarm", "list"]).stdout);
    let id = listed
        .strip_prefix("memberID:")
        .and_then(|l| l.strip_suffix(" alarm:NOSPACE \n"))
        .unwrap_or_else(|| panic!("{listed:?}"));
    assert!(id.parse::<u64>().is_ok(), "{listed:?}");
    assert_same(&etcd, &["alarm", "list", "-w", "table"]);
    assert_same(&etcd, &["alarm", "list", "extra"]);
    // Writes are refused until the alarm is disarmed.
    assert_same(&etcd, &["put", "k", "v"]);
    let refused = gw(&etcd, &["put", "k", "v"]);
    assert_eq!(
        error_line(&refused).as_deref(),
        Some("Error: etcdserver: mvcc: database space exceeded")
    );

    // The runbook: compact at the current revision, defragment, disarm, write again.
    let status = gw(&etcd, &["endpoint", "status", "-w", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let revision = status[0]["Status"]["header"]["revision"].as_i64().unwrap();
    let compacted = gw(&etcd, &["compaction", &revision.to_string()]);
    assert_eq!(
        text(&compacted.stdout),
        format!("compacted revision {revision}\n"),
        "{}",
        text(&compacted.stderr)
    );
    let defrag = gw(&etcd, &["defrag"]);
    assert_eq!(
        text(&defrag.stdout),
        format!("Finished defragmenting etcd member[{}]\n", etcd.endpoint()),
        "{}",
        text(&defrag.stderr)
    );
    // What was disarmed prints as etcdctl prints the list (clientv3's disarm answers without a
    // header); JSON checked against the list etcdctl printed.
    let listed_json = etcd.etcdctl(&["alarm", "list", "-w", "json"]);
    let listed_json: serde_json::Value = serde_json::from_slice(&listed_json).unwrap();
    let disarmed = gw(&etcd, &["alarm", "disarm", "-w", "json"]);
    assert!(disarmed.status.success(), "{}", text(&disarmed.stderr));
    let disarmed: serde_json::Value = serde_json::from_slice(&disarmed.stdout).unwrap();
    assert_eq!(
        disarmed,
        serde_json::json!({ "alarms": listed_json["alarms"] })
    );
    // Nothing left: both print the same (nothing, `{}`).
    for format in ["simple", "json"] {
        assert_same(&etcd, &["alarm", "list", "-w", format]);
        assert_same(&etcd, &["alarm", "disarm", "-w", format]);
    }
    let put = gw(&etcd, &["put", "after", "the runbook"]);
    assert_eq!(text(&put.stdout), "OK\n", "{}", text(&put.stderr));
    assert_same(&etcd, &["get", "after"]);
}

#[tokio::test]
async fn a_rolling_membership_change_with_the_cli_alone() {
    let mut cluster = Cluster::start(3).await;
    let all = cluster.endpoints().join(",");
    let first = ClusterView(cluster.endpoints()[0].clone());
    first.assert_same(&["member", "list", "-w", "table"]);

    // Refusals, with etcdctl's messages and exit codes.
    let one = &cluster.endpoints()[0];
    let n0 = member_id(one, "n0");
    for args in [
        &["member", "add"][..],
        &["member", "add", "x"],
        &["member", "add", "x", "http://127.0.0.1:1"],
        &["member", "remove"],
        &["member", "remove", "zz"],
        &["member", "promote", "ffffffffffffffffff"],
        &["member", "update", "1"],
        &["move-leader"],
        &["move-leader", "zz"],
        &["member", "remove", "1234"],
        &["member", "promote", &format!("{n0:x}")],
        &["move-leader", "1234"],
    ] {
        first.assert_same_with_error(args);
    }
    // An update to the same peer URLs changes nothing: both tools can run it.
    let n1 = member_id(one, "n1");
    let n1_peer = format!("http://127.0.0.1:{}", cluster.members[1].peer_port);
    for format in ["simple", "json"] {
        first.assert_same(&[
            "member",
            "update",
            &format!("{n1:x}"),
            &format!("--peer-urls={n1_peer}"),
            "-w",
            format,
        ]);
    }

    // 1. A learner, added with the CLI; its ETCD_* lines start it.
    let (client_port, peer_port) = (free_port(), free_port());
    let peer = format!("http://127.0.0.1:{peer_port}");
    // etcd refuses membership changes for a few seconds after its members connect
    // ("unhealthy cluster"), to etcdctl as well.
    let deadline = Instant::now() + Duration::from_secs(30);
    let added = loop {
        let out = run(
            one,
            &[
                "member",
                "add",
                "n3",
                &format!("--peer-urls={peer}"),
                "--learner",
            ],
            None,
        );
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        assert_eq!(
            error_line(&out).as_deref(),
            Some("Error: etcdserver: unhealthy cluster"),
            "{}",
            text(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(added.status.success(), "{}", text(&added.stderr));
    let members = members_json(one);
    let new_id = member_id(one, "");
    let cluster_id = {
        let out = ctl(one, &["member", "list", "-w", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["header"]["cluster_id"].as_u64().unwrap()
    };
    let initial_cluster: Vec<String> = members
        .iter()
        .flat_map(|m| {
            let name = if m["ID"].as_u64() == Some(new_id) {
                "n3".to_string()
            } else {
                m["name"].as_str().unwrap().to_string()
            };
            m["peerURLs"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |u| format!("{name}={}", u.as_str().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect();
    let initial_cluster = initial_cluster.join(",");
    // etcdctl 3.5's sentence (3.6 says "added as learner to cluster").
    assert_eq!(
        text(&added.stdout),
        format!(
            "Member {new_id:16x} added to cluster {cluster_id:16x}\n\nETCD_NAME=\"n3\"\nETCD_INITIAL_CLUSTER=\"{initial_cluster}\"\nETCD_INITIAL_ADVERTISE_PEER_URLS=\"{peer}\"\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n"
        )
    );
    first.assert_same(&["member", "list", "-w", "table"]);
    first.assert_same(&["member", "list", "-w", "json"]);
    cluster
        .join("n3", client_port, peer_port, initial_cluster)
        .await;

    // 2. Promoted once it has caught up (etcd refuses until then).
    let deadline = Instant::now() + Duration::from_secs(30);
    let promoted = loop {
        let out = run(one, &["member", "promote", &format!("{new_id:x}")], None);
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        assert!(
            text(&out.stderr).contains("in sync with leader"),
            "{}",
            text(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        text(&promoted.stdout),
        format!("Member {new_id:16x} promoted in cluster {cluster_id:16x}\n"),
        "{}",
        text(&promoted.stderr)
    );
    first.assert_same(&["member", "list", "-w", "table"]);

    // 3. The leadership moved to it (the leader must be among the endpoints, as etcdctl).
    let old_leader = leader_id(one);
    let moved = run(&all, &["move-leader", &format!("{new_id:x}")], None);
    assert_eq!(
        text(&moved.stdout),
        format!("Leadership transferred from {old_leader:x} to {new_id:x}\n"),
        "{}",
        text(&moved.stderr)
    );
    // etcd answers once the transfer is done; a follower may learn of it a moment later.
    let deadline = Instant::now() + Duration::from_secs(10);
    while leader_id(one) != new_id {
        assert!(Instant::now() < deadline, "the leadership did not move");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.assert_same(&["member", "list", "-w", "table"]);

    // 4. The old leader removed, through a member that stays.
    let stays = cluster
        .members
        .iter()
        .find(|m| member_id(one, &m.name) != old_leader)
        .map(|m| m.endpoint())
        .unwrap();
    let removed = run(
        &stays,
        &["member", "remove", &format!("{old_leader:x}"), "-w", "json"],
        None,
    );
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    let removed: serde_json::Value = serde_json::from_slice(&removed.stdout).unwrap();
    assert_eq!(removed["header"]["cluster_id"].as_u64(), Some(cluster_id));
    assert_eq!(removed["members"].as_array().unwrap().len(), 3);
    assert_eq!(
        serde_json::json!(members_json(&stays)),
        removed["members"],
        "the answer lists the members that remain"
    );
    let after = ClusterView(stays);
    for format in ["simple", "json", "table", "fields"] {
        after.assert_same(&["member", "list", "-w", format]);
    }
}

impl ClusterView {
    /// Both tools fail (or succeed) alike: same stdout, exit code and `Error:` line.
    #[track_caller]
    fn assert_same_with_error(&self, args: &[&str]) {
        let ours = run(&self.0, args, None);
        let theirs = ctl(&self.0, args);
        assert_eq!(
            text(&ours.stdout),
            text(&theirs.stdout),
            "{args:?}\netcdgw stderr: {}\netcdctl stderr: {}",
            text(&ours.stderr),
            text(&theirs.stderr)
        );
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "{args:?}\netcdgw stderr: {}\netcdctl stderr: {}",
            text(&ours.stderr),
            text(&theirs.stderr)
        );
        assert_eq!(error_line(&ours), error_line(&theirs), "{args:?}");
    }
}

#[tokio::test]
async fn check_perf_runs_the_small_load_and_reports_pass_or_fail() {
    let etcd = Etcd::start().await;
    // etcdctl's load model `s`: 60 s of 150 writes/s from 50 clients (it cannot be shortened;
    // this is the one long test).
    let out = gw(&etcd, &["check", "perf", "--load", "s"]);
    let printed = text(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    let verdict = *lines.last().unwrap_or(&"");
    assert!(
        verdict == "PASS" || verdict == "FAIL",
        "{printed}\n{}",
        text(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(if verdict == "PASS" { 0 } else { 1 })
    );
    assert!(
        lines.iter().any(|l| l.starts_with("PASS: Throughput is ")
            || l.starts_with("FAIL: Throughput too low: ")),
        "{printed}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("PASS: Slowest request took ")
                || l.starts_with("Slowest request took too long: ")),
        "{printed}"
    );
    // Not a terminal: no progress bar.
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    // What it wrote is gone.
    assert_same(
        &etcd,
        &["get", "/etcdctl-check-perf/", "--prefix", "--keys-only"],
    );
    let left = etcd
        .client()
        .await
        .get(
            "/etcdctl-check-perf/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .unwrap();
    assert_eq!(left.count(), 0);
}

#[tokio::test]
async fn check_refusals_and_datascale() {
    let etcd = Etcd::start().await;
    // A load etcdctl does not know: 4, its message.
    assert_same(&etcd, &["check", "perf", "--load", "huge"]);
    assert_same(&etcd, &["check", "datascale", "--load", "huge"]);
    // A prefix that holds keys is refused (3) before anything is written.
    etcd.etcdctl(&["put", "/etcdctl-check-perf/mine", "keep"]);
    let out = gw(&etcd, &["check", "perf"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(
        error_line(&out).as_deref(),
        Some("Error: prefix \"/etcdctl-check-perf/\" has keys. Delete with 'etcdgw del --prefix /etcdctl-check-perf/' first")
    );
    assert_eq!(
        etcd.etcdctl_raw(&["check", "perf"], None).status.code(),
        Some(3)
    );
    assert_same(&etcd, &["get", "/etcdctl-check-perf/", "--prefix"]);

    // datascale `s`: 10,000 writes of 1 KiB, then the member's memory growth.
    let out = gw(&etcd, &["check", "datascale", "--auto-compact"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines[0],
        "Start data scale check for work load [10000 key-value pairs, 1024 bytes per key-value, 50 concurrent clients].",
        "{printed}"
    );
    assert!(
        lines[1].starts_with("Compacting with revision "),
        "{printed}"
    );
    let used = lines
        .last()
        .and_then(|l| l.strip_prefix("PASS: Approximate system memory used : "))
        .and_then(|l| l.strip_suffix(" MB."))
        .unwrap_or_else(|| panic!("{printed}"));
    assert!(used.parse::<f64>().is_ok(), "{printed}");
    assert_same(
        &etcd,
        &[
            "get",
            "/etcdctl-check-datascale/",
            "--prefix",
            "--keys-only",
        ],
    );
}

#[tokio::test]
async fn endpoint_hashkv_and_downgrade() {
    let etcd = Etcd::start().await;
    seed(&etcd).await;
    if etcdgw_test_support::etcd::gateway_has_hash_kv() {
        for format in ["simple", "json", "fields", "table"] {
            assert_same(&etcd, &["endpoint", "hashkv", "-w", format]);
        }
        assert_same(&etcd, &["endpoint", "hashkv", "--rev", "3"]);
        assert_same(&etcd, &["endpoint", "hashkv", "--cluster", "-w", "json"]);
    } else {
        // The gateway lacks HashKV: a clear message, exit 4.
        let out = gw(&etcd, &["endpoint", "hashkv"]);
        assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
        let message = error_line(&out).unwrap();
        assert!(
            message.contains("endpoint hashkv needs etcd 3.5.10 or later"),
            "{message}"
        );
        assert!(out.stdout.is_empty());
    }

    // downgrade: etcdctl 3.6's commands and sentences (the etcdctl here, 3.5.1, has none).
    for args in [
        &["downgrade", "validate"][..],
        &["downgrade", "enable", "3.5", "3.4"],
    ] {
        let out = gw(&etcd, args);
        assert_eq!(out.status.code(), Some(128), "{args:?}");
    }
    let (major, minor) = etcd_version();
    if (major, minor) >= (3, 6) {
        let target = format!("{major}.{}", minor - 1);
        let cluster_version = format!("{major}.{minor}");
        // A target etcd refuses: its message, 1.
        let out = gw(&etcd, &["downgrade", "validate", "2.0"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        assert!(
            error_line(&out).unwrap().starts_with("Error: etcdserver: "),
            "{}",
            text(&out.stderr)
        );
        let out = gw(&etcd, &["downgrade", "validate", &target]);
        assert_eq!(
            text(&out.stdout),
            format!("Downgrade validate success, cluster version {cluster_version}\n"),
            "{}",
            text(&out.stderr)
        );
        let out = gw(&etcd, &["downgrade", "validate", &target, "-w", "json"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["version"], cluster_version.as_str());
        assert!(json["header"]["cluster_id"].as_u64().unwrap() > 0);
        let out = gw(&etcd, &["downgrade", "enable", &target]);
        assert_eq!(
            text(&out.stdout),
            format!("Downgrade enable success, cluster version {cluster_version}\n"),
            "{}",
            text(&out.stderr)
        );
        // The cluster version may already be the target's when the downgrade is cancelled.
        let out = gw(&etcd, &["downgrade", "cancel"]);
        let cancelled = text(&out.stdout);
        assert!(
            cancelled == format!("Downgrade cancel success, cluster version {cluster_version}\n")
                || cancelled == format!("Downgrade cancel success, cluster version {target}\n"),
            "{cancelled}{}",
            text(&out.stderr)
        );
        let out = gw(&etcd, &["downgrade", "cancel", "-w", "fields"]);
        assert_eq!(out.status.code(), Some(4));
    } else if is_34() {
        let out = gw(&etcd, &["downgrade", "validate", "3.3"]);
        assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    }
}

#[tokio::test]
async fn watch_interactive_reads_watch_and_progress_lines() {
    let etcd = Etcd::start().await;
    let endpoint = etcd.endpoint();
    let spawn = |mut cmd: Command| {
        let mut child = cmd
            .args(["watch", "-i"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("watch -i");
        let stdin = child.stdin.take().unwrap();
        let rx = lines_of(child.stdout.take().unwrap());
        (child, stdin, rx)
    };
    let mut etcdctl = Command::new(etcdgw_test_support::etcd::etcdctl_bin());
    etcdctl
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"));
    let (ours, mut ours_in, ours_rx) = spawn(etcdgw_command(&endpoint));
    let (theirs, mut theirs_in, theirs_rx) = spawn(etcdctl);
    for input in [&mut ours_in, &mut theirs_in] {
        input
            .write_all(b"bogus\nwatch\nwatch a --prefix --prev-kv\nwatch b c\n")
            .unwrap();
        input.flush().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while watchers(&endpoint).await < 4 {
        assert!(Instant::now() < deadline, "the watches did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    etcd.etcdctl(&["put", "a1", "x"]);
    assert_eq!(
        next_lines(&ours_rx, 3, "etcdgw watch -i"),
        next_lines(&theirs_rx, 3, "etcdctl watch -i")
    );
    etcd.etcdctl(&["put", "bb", "y"]);
    assert_eq!(
        next_lines(&ours_rx, 3, "etcdgw watch -i"),
        next_lines(&theirs_rx, 3, "etcdctl watch -i")
    );
    etcd.etcdctl(&["put", "a1", "z"]);
    assert_eq!(
        next_lines(&ours_rx, 5, "etcdgw watch -i"),
        next_lines(&theirs_rx, 5, "etcdctl watch -i")
    );
    // The end of input ends both: 3, etcdctl's message; the refused lines said why.
    drop(ours_in);
    drop(theirs_in);
    let (ours, theirs) = (
        ours.wait_with_output().unwrap(),
        theirs.wait_with_output().unwrap(),
    );
    assert_eq!(ours.status.code(), Some(3));
    assert_eq!(ours.status.code(), theirs.status.code());
    // etcdctl 3.4 wrote "Error reading"; 3.5 and etcdgw "error reading".
    assert_eq!(
        error_line(&ours).map(|l| l.to_lowercase()),
        error_line(&theirs).map(|l| l.to_lowercase())
    );
    let ours_err = text(&ours.stderr);
    for expected in [
        "Invalid command bogus (only support watch)",
        "Invalid command watch (command type or key is not provided)",
    ] {
        assert!(ours_err.contains(expected), "{ours_err}");
        assert!(text(&theirs.stderr).contains(expected));
    }
}

#[tokio::test]
async fn global_flags_and_etcdctl_environment() {
    let etcd = Etcd::start().await;
    etcd.etcdctl(&["put", "k", "v"]);
    // ETCDCTL_* as etcdctl reads them; ETCDGW_* wins over them, a flag over both.
    let env_run = |vars: &[(&str, &str)], args: &[&str]| {
        let mut cmd = Command::new(BIN);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().to_string();
            if name.starts_with("ETCDGW_") || name.starts_with("ETCDCTL_") {
                cmd.env_remove(name);
            }
        }
        cmd.envs(vars.iter().copied())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let endpoint = etcd.endpoint();
    let json = env_run(
        &[
            ("ETCDCTL_ENDPOINTS", &endpoint),
            ("ETCDCTL_WRITE_OUT", "json"),
        ],
        &["get", "k"],
    );
    assert!(
        text(&json.stdout).starts_with("{\"header\""),
        "{}",
        text(&json.stderr)
    );
    let fields = env_run(
        &[
            ("ETCDCTL_ENDPOINTS", &endpoint),
            ("ETCDCTL_WRITE_OUT", "json"),
            ("ETCDGW_WRITE_OUT", "fields"),
        ],
        &["get", "k"],
    );
    assert!(text(&fields.stdout).starts_with("\"ClusterID\""));
    let simple = env_run(
        &[
            ("ETCDCTL_ENDPOINTS", &endpoint),
            ("ETCDCTL_WRITE_OUT", "json"),
        ],
        &["get", "k", "-w", "simple"],
    );
    assert_eq!(text(&simple.stdout), "k\nv\n");
    // An ETCDCTL_ variable etcdctl would not know is named (never its value).
    let typo = env_run(
        &[
            ("ETCDCTL_ENDPOINTS", &endpoint),
            ("ETCDCTL_PASWORD", "s3cret"),
        ],
        &["get", "k"],
    );
    assert_eq!(text(&typo.stdout), "k\nv\n");
    let warned = text(&typo.stderr);
    assert!(
        warned.contains("unrecognized environment variable ETCDCTL_PASWORD")
            && !warned.contains("s3cret"),
        "{warned}"
    );
    // ETCDCTL_WATCH_KEY stands for the key, and conflicts with one given.
    let conflict = env_run(
        &[("ETCDCTL_ENDPOINTS", &endpoint), ("ETCDCTL_WATCH_KEY", "k")],
        &["watch", "other"],
    );
    assert_eq!(conflict.status.code(), Some(128));
    assert_eq!(
        error_line(&conflict).as_deref(),
        Some("Error: bad number of arguments (found conflicting environment key)")
    );

    // --debug: the flags in use as ETCDCTL_* lines and the library's events, on stderr;
    // never a password.
    let debug = gw(&etcd, &["get", "k", "--debug", "--user", "root:s3cret"]);
    let err = text(&debug.stderr);
    assert!(
        err.contains(&format!("ETCDCTL_ENDPOINTS=[{endpoint}]")),
        "{err}"
    );
    assert!(err.contains("ETCDCTL_USER=root:<hidden>"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    // ... and the client's own events: here a failover from a dead endpoint.
    let dead_first = format!("127.0.0.1:{},{endpoint}", free_port());
    let debug = run(&dead_first, &["get", "k", "--debug"], None);
    assert_eq!(text(&debug.stdout), "k\nv\n", "{}", text(&debug.stderr));
    assert!(
        text(&debug.stderr).contains("etcdgw: failing over from http://127.0.0.1:"),
        "{}",
        text(&debug.stderr)
    );

    // Completions and man pages come from the same definitions.
    let bash = gw(&etcd, &["completion", "bash"]);
    assert!(bash.status.success());
    let script = text(&bash.stdout);
    assert!(
        script.contains("move-leader") && script.contains("--discovery-srv"),
        "{script}"
    );
    let man = gw(&etcd, &["man"]);
    assert!(
        text(&man.stdout).starts_with(".ie \\n(.g .ds Aq \\(aq")
            || text(&man.stdout).contains(".TH etcdgw")
    );
    let dir = tempfile::tempdir().unwrap();
    let pages = gw(&etcd, &["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(pages.status.success(), "{}", text(&pages.stderr));
    let add = std::fs::read_to_string(dir.path().join("etcdgw-member-add.1")).unwrap();
    assert!(add.contains("peer\\-urls"), "{add}");

    // DNS discovery: a domain without records is an error naming both lookups.
    let srv = gw(
        &etcd,
        &[
            "get",
            "k",
            "--discovery-srv",
            "nonexistent.invalid",
            "--dial-timeout",
            "1s",
        ],
    );
    assert_eq!(srv.status.code(), Some(1), "{}", text(&srv.stderr));
    let message = error_line(&srv).unwrap();
    assert!(
        message.starts_with("Error: dns lookup errors: _etcd-client-ssl._tcp.nonexistent.invalid."),
        "{message}"
    );
}

#[tokio::test]
async fn insecure_skip_tls_verify_reaches_a_member_whose_ca_is_unknown() {
    let certs = std::sync::Arc::new(etcdgw_test_support::certs::Certs::generate());
    let etcd = Etcd::builder().tls(certs.clone()).start().await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_string()
    };
    let cert = write("client.pem", &certs.client_cert_pem);
    let key = write("client-key.pem", &certs.client_key_pem);
    let other_ca = write("other-ca.pem", &certs.other_ca_pem);
    let bare = format!("127.0.0.1:{}", etcd.member.client_port);
    let client = etcd.client().await;
    client.put("k", "v", None).await.unwrap();

    let args = |extra: &[&str]| -> Vec<String> {
        let mut v = vec![
            "get".to_string(),
            "k".to_string(),
            format!("--cert={cert}"),
            format!("--key={key}"),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // Refused without it (the certificate's CA is not the one given)...
    let refused = args(&[&format!("--cacert={other_ca}")]);
    let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
    let out = run(&bare, &refused, None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // ... read with it, as etcdctl does, with a warning on stderr.
    let skip = args(&["--insecure-skip-tls-verify"]);
    let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
    let ours = run(&bare, &skip, None);
    assert_eq!(text(&ours.stdout), "k\nv\n", "{}", text(&ours.stderr));
    assert!(
        text(&ours.stderr).contains("WARNING: --insecure-skip-tls-verify"),
        "{}",
        text(&ours.stderr)
    );
    let theirs = Command::new(etcdgw_test_support::etcd::etcdctl_bin())
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={bare}"))
        .args(&skip)
        .output()
        .unwrap();
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout),
        "{}",
        text(&theirs.stderr)
    );
}

/// `etcdgw make-mirror` running in the background (killed if the test ends first): its
/// stdout lines as they come, its stderr once it has exited.
struct Mirroring {
    child: Killed,
    lines: mpsc::Receiver<String>,
}

fn spawn_mirror(source: &str, args: &[&str]) -> Mirroring {
    let mut child = etcdgw_command(source)
        .arg("make-mirror")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("etcdgw make-mirror");
    let lines = lines_of(child.stdout.take().expect("stdout"));
    Mirroring {
        child: Killed(child),
        lines,
    }
}

impl Mirroring {
    fn is_running(&mut self) -> bool {
        matches!(self.child.0.try_wait(), Ok(None))
    }

    /// Waits for the exit (the test's runtime keeps running meanwhile): the exit code, the
    /// stdout lines not read yet and stderr.
    async fn exit(mut self) -> (Option<i32>, Vec<String>, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.0.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "make-mirror did not exit");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.0.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("stderr");
        }
        // The process is gone: its stdout is at its end.
        let lines = self.lines.iter().collect::<Vec<String>>();
        (status.code(), lines, stderr)
    }

    /// Ctrl-C, then [`exit`](Self::exit).
    async fn interrupt(self) -> (Option<i32>, Vec<String>, String) {
        let status = Command::new("kill")
            .arg("-INT")
            .arg(self.child.0.id().to_string())
            .status()
            .expect("kill(1)");
        assert!(status.success());
        self.exit().await
    }
}

/// Waits until `key` holds `value` in `client`'s cluster: the mirror has applied the source up
/// to the revision that wrote it, and so every one before.
async fn wait_for(client: &etcdgw::Client, key: &str, value: &str, mirroring: &mut Mirroring) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = client.get(key, None).await.unwrap();
        if resp
            .kvs()
            .first()
            .is_some_and(|kv| kv.value() == value.as_bytes())
        {
            return;
        }
        assert!(
            mirroring.is_running(),
            "make-mirror ended before {key} = {value} arrived"
        );
        assert!(Instant::now() < deadline, "{key} = {value} never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What `etcdctl get <key> --prefix -w json` prints of the keys (`strip` taken off the front)
/// and values, and its count: headers and revisions, which legitimately differ between two
/// clusters, left out.
fn prefix_json(
    endpoint: &str,
    flags: &[&str],
    key: &str,
    strip: &str,
) -> (i64, Vec<(Vec<u8>, String)>) {
    use base64::Engine as _;
    let mut args = flags.to_vec();
    args.extend(["get", key, "--prefix", "-w", "json"]);
    let out = ctl(endpoint, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let kvs = json["kvs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|kv| {
            let key = b64.decode(kv["key"].as_str().unwrap()).unwrap();
            let key = key.strip_prefix(strip.as_bytes()).unwrap_or_else(|| {
                panic!("{} is outside {strip:?}", String::from_utf8_lossy(&key))
            });
            (
                key.to_vec(),
                kv["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (json["count"].as_i64().unwrap_or(0), kvs)
}

/// Puts, overwrites, deletes (of one key and of a prefix) and transactions wider than the
/// mirror's transactions under `prefix`, with writes outside it between; returns how many
/// events they made under `prefix`.
async fn churn(client: &etcdgw::Client, prefix: &str, round: u32, n: u32) -> u64 {
    use etcdgw::{DeleteOptions, Txn, TxnOp};
    let mut events = 0;
    for i in 0..n {
        let key = format!("{prefix}k{:02}", (i * 7 + round) % 30);
        match i % 6 {
            0..=2 => {
                client
                    .put(key, format!("r{round}-{i}"), None)
                    .await
                    .unwrap();
                events += 1;
            }
            3 => {
                let resp = client.delete(key, None).await.unwrap();
                events += resp.deleted() as u64;
            }
            4 => {
                // One revision, more keys than a destination transaction takes.
                let ops: Vec<TxnOp> = (0..7)
                    .map(|j| TxnOp::put(format!("{prefix}t/{round}/{j}"), format!("{i}"), None))
                    .collect();
                client.txn(Txn::new().and_then(ops)).await.unwrap();
                events += 7;
            }
            _ => {
                let resp = client
                    .delete(
                        format!("{prefix}t/"),
                        Some(DeleteOptions::new().with_prefix()),
                    )
                    .await
                    .unwrap();
                events += resp.deleted() as u64;
            }
        }
        client.put(format!("outside/{i}"), "x", None).await.unwrap();
    }
    events
}

#[tokio::test]
async fn make_mirror_keeps_a_second_etcd_equal_through_writes_a_compaction_and_a_restart() {
    let mut source = Etcd::start().await;
    let dest = Etcd::start().await;
    let src = source.client().await;
    let dst = dest.client().await;
    churn(&src, "m/", 0, 40).await;
    // Both sides as etcdctl prints them: the destination's whole keyspace must be the source's
    // prefix (nothing from outside it).
    let (src_endpoint, dest_endpoint) = (source.endpoint(), dest.endpoint());
    let assert_equal = |when: &str| {
        let theirs = prefix_json(&src_endpoint, &[], "m/", "");
        let ours = prefix_json(&dest_endpoint, &[], "", "");
        assert!(theirs.0 > 10, "{when}: too few keys to show anything");
        assert_eq!(ours, theirs, "{when}");
    };

    // Writers run while the mirror starts (its first copy) and then follows.
    let writers: Vec<_> = (1..=2)
        .map(|round| {
            let src = src.clone();
            tokio::spawn(async move { churn(&src, "m/", round, 80).await })
        })
        .collect();
    let mut mirroring = spawn_mirror(
        &source.endpoint(),
        &["--prefix", "m/", "--max-txn-ops", "4", &dest.endpoint()],
    );
    for writer in writers {
        writer.await.unwrap();
    }
    src.put("m/sentinel", "1", None).await.unwrap();
    wait_for(&dst, "m/sentinel", "1", &mut mirroring).await;
    assert_equal("after concurrent writes");

    // A compaction of what it has applied does not disturb it.
    let revision = src
        .get("m/sentinel", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    source.etcdctl(&["compaction", "--physical", &revision.to_string()]);
    churn(&src, "m/", 3, 30).await;
    src.put("m/sentinel", "2", None).await.unwrap();
    wait_for(&dst, "m/sentinel", "2", &mut mirroring).await;
    assert_equal("after a compaction");

    // The source member restarts; the mirror's watch resumes, each change applied once.
    source.restart().await;
    churn(&src, "m/", 4, 30).await;
    src.put("m/sentinel", "3", None).await.unwrap();
    wait_for(&dst, "m/sentinel", "3", &mut mirroring).await;
    assert_equal("after the source restarted");

    // Ctrl-C: the count once more (the periodic one comes every 30 s), where to resume, 0.
    let (code, lines, stderr) = mirroring.interrupt().await;
    assert_eq!(code, Some(0), "{stderr}");
    let count: u64 = lines
        .last()
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("no count in {lines:?}"));
    assert!(count >= 200, "{count}");
    assert!(!stderr.contains("Error"), "{stderr}");
    let revision = src
        .get("m/sentinel", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    assert!(
        stderr.contains(&format!(
            "the destination has the source's changes up to revision {revision}; --rev {} resumes from there",
            revision + 1
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn make_mirror_flags_a_tls_destination_with_auth_and_the_end_on_compaction() {
    use etcdgw::{DeleteOptions, Txn, TxnOp};
    let source = Etcd::start().await;
    let src = source.client().await;
    let certs = std::sync::Arc::new(etcdgw_test_support::certs::Certs::generate());
    let dest = Etcd::builder().tls(certs.clone()).start().await;
    let src_endpoint = source.endpoint();

    // Refusals, as etcdctl's (128 for its own checks, 1 for what its flag parser refuses).
    for args in [
        &["make-mirror"][..],
        &["make-mirror", &src_endpoint, &src_endpoint],
        &[
            "make-mirror",
            "--dest-prefix",
            "x/",
            "--no-dest-prefix",
            &src_endpoint,
        ],
    ] {
        assert_same(&source, args);
        assert_eq!(gw(&source, args).status.code(), Some(128), "{args:?}");
    }
    for (args, message) in [
        (
            &["--max-txn-ops", "0"][..],
            "Error: --max-txn-ops must be at least 1",
        ),
        (
            &["--rev", "-1"],
            "Error: --rev must not be negative (got -1)",
        ),
        (
            &["--dest-cert", "/nonexistent.pem"],
            "Error: --dest-cert and --dest-key must be given together",
        ),
    ] {
        let mut all = vec!["make-mirror"];
        all.extend(args);
        all.push(&src_endpoint);
        let out = gw(&source, &all);
        assert_eq!(
            out.status.code(),
            Some(128),
            "{all:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(error_line(&out).as_deref(), Some(message), "{all:?}");
    }
    // A destination that does not answer: 2 at once.
    let nobody = format!("127.0.0.1:{}", free_port());
    let (code, lines, stderr) = spawn_mirror(&src_endpoint, &["--dial-timeout=1s", &nobody])
        .exit()
        .await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(lines.is_empty(), "{lines:?}");
    for args in [&["--max-txn-ops", "-1"][..], &["--bogus"]] {
        let mut all = vec!["make-mirror"];
        all.extend(args);
        all.push(&src_endpoint);
        assert_eq!(gw(&source, &all).status.code(), Some(1), "{all:?}");
        assert_eq!(
            source.etcdctl_raw(&all, None).status.code(),
            Some(1),
            "{all:?}"
        );
    }

    // The destination: TLS with client certificates, and auth.
    let admin = dest.client().await;
    admin.user_add("root", "rootpw", None).await.unwrap();
    admin.user_grant_role("root", "root").await.unwrap();
    admin.auth_enable().await.unwrap();
    let dst = dest
        .client_with(dest.member.connect_options().with_user("root", "rootpw"))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (ca, cert, key) = (
        write("ca.pem", &certs.ca_pem),
        write("client.pem", &certs.client_cert_pem),
        write("client-key.pem", &certs.client_key_pem),
    );
    let tls = [
        format!("--dest-cacert={ca}"),
        format!("--dest-cert={cert}"),
        format!("--dest-key={key}"),
    ];
    let with_tls = |args: &[&str]| -> Vec<String> {
        tls.iter()
            .cloned()
            .chain(args.iter().map(|a| a.to_string()))
            .collect()
    };
    let bare_dest = format!("127.0.0.1:{}", dest.member.client_port);

    // --dest-prefix, --max-txn-ops, --dest-user with --dest-password; the count on Ctrl-C is
    // the copy's keys plus one per event.
    for i in 0..10 {
        src.put(format!("a/k{i}"), format!("v{i}"), None)
            .await
            .unwrap();
    }
    src.put("other", "x", None).await.unwrap();
    let args = with_tls(&[
        "--prefix=a/",
        "--dest-prefix=b/",
        "--max-txn-ops=3",
        "--dest-user=root",
        "--dest-password=rootpw",
        &dest.endpoint(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut renaming = spawn_mirror(&src_endpoint, &args);
    wait_for(&dst, "b/k9", "v9", &mut renaming).await;
    let mut events = 0;
    src.put("a/k0", "again", None).await.unwrap();
    events += 1;
    events += src.delete("a/k1", None).await.unwrap().deleted();
    let ops: Vec<TxnOp> = (0..5)
        .map(|j| TxnOp::put(format!("a/t{j}"), "t", None))
        .collect();
    src.txn(Txn::new().and_then(ops)).await.unwrap();
    events += 5;
    events += src
        .delete("a/t", Some(DeleteOptions::new().with_prefix()))
        .await
        .unwrap()
        .deleted();
    src.put("a/sentinel", "1", None).await.unwrap();
    events += 1;
    wait_for(&dst, "b/sentinel", "1", &mut renaming).await;
    // etcdctl reaches the TLS member with the CA, the client certificate and root.
    let (ca_flag, cert_flag, key_flag) = (
        format!("--cacert={ca}"),
        format!("--cert={cert}"),
        format!("--key={key}"),
    );
    let dest_flags = [&ca_flag, &cert_flag, &key_flag, "--user=root:rootpw"];
    let dest_https = dest.endpoint();
    assert_eq!(
        prefix_json(&dest_https, &dest_flags, "b/", "b/"),
        prefix_json(&src_endpoint, &[], "a/", "a/")
    );
    let (code, lines, stderr) = renaming.interrupt().await;
    assert_eq!(code, Some(0), "{stderr}");
    let count: i64 = lines.last().and_then(|l| l.parse().ok()).unwrap();
    // The sentinel's transaction may still have been on its way back to the mirror.
    let expected = 10 + events;
    assert!(
        count == expected || count == expected - 1,
        "{count} of {expected}"
    );

    // --rev, --no-dest-prefix, --dest-user=name:password, a destination without a scheme and
    // --dest-insecure-transport=false; the source reached through a proxy that can be cut.
    let from = src
        .put("a/late1", "l1", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    src.put("a/late2", "l2", None).await.unwrap();
    let proxy = etcdgw_test_support::proxy::Proxy::start(
        src_endpoint.trim_start_matches("http://").to_string(),
    )
    .await;
    let rev = format!("--rev={from}");
    let args = with_tls(&[
        "--prefix=a/",
        "--no-dest-prefix",
        &rev,
        "--dest-user=root:rootpw",
        "--dest-insecure-transport=false",
        &bare_dest,
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut from_rev = spawn_mirror(&proxy.endpoint(), &args);
    wait_for(&dst, "late2", "l2", &mut from_rev).await;
    let at_root: Vec<Vec<u8>> = dst
        .get(
            vec![0u8],
            Some(GetOptions::new().with_from_key().with_keys_only()),
        )
        .await
        .unwrap()
        .kvs()
        .iter()
        .map(|kv| kv.key().to_vec())
        .filter(|k| !k.starts_with(b"b/"))
        .collect();
    assert_eq!(
        at_root,
        [b"late1".to_vec(), b"late2".to_vec()],
        "only the changes from --rev"
    );

    // Cut off, it misses changes that a compaction then erases: it ends as etcdctl does.
    proxy.cut();
    src.delete("a/late1", None).await.unwrap();
    let last = src
        .put("a/late3", "l3", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    src.compact(last, None).await.unwrap();
    proxy.restore();
    let (code, _, stderr) = from_rev.exit().await;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr.lines().last(),
        Some("Error: etcdserver: mvcc: required revision has been compacted"),
        "{stderr}"
    );

    // A wrong destination password: 2 at once, with nothing to copy yet; etcd's message (as
    // etcdctl 3.5, whose make-mirror has --dest-user; 3.4's has not).
    let args = with_tls(&[
        "--prefix=nothing/",
        "--dest-user=root:wrong",
        &dest.endpoint(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, lines, stderr) = spawn_mirror(&src_endpoint, &args).exit().await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(lines.is_empty(), "{lines:?}");
    let ours = stderr.lines().last().map(str::to_string);
    assert_eq!(
        ours.as_deref(),
        Some("Error: etcdserver: authentication failed, invalid user ID or password")
    );
    if !is_34() {
        let mut all = vec!["make-mirror"];
        all.extend(&args);
        let theirs = source.etcdctl_raw(&all, None);
        assert_eq!(theirs.status.code(), Some(2), "{}", text(&theirs.stderr));
        assert_eq!(ours, error_line(&theirs));
    }
}
