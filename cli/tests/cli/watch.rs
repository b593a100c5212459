//! `watch`, in both output formats and interactively (`watch -i`), beside etcdctl's watching
//! the same member: the same lines for every write.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use etcdgw_test_support::{wait_until, Etcd};

use crate::{error_line, lines_of, next_lines, text, Tool};

#[tokio::test]
async fn watch_prints_the_events_etcdctl_writes_as_etcdctl_does() {
    let etcd = Etcd::start().await;
    let endpoint = etcd.endpoint();
    let simple = ["watch", "w/", "--prefix", "--prev-kv"];
    let json = ["watch", "w/", "--prefix", "-w", "json"];
    let (_gw, gw_simple) = Tool::Etcdgw.spawn_lines(&endpoint, &simple);
    let (_gwj, gw_json) = Tool::Etcdgw.spawn_lines(&endpoint, &json);
    let (_ctl, ctl_simple) = Tool::Etcdctl.spawn_lines(&endpoint, &simple);
    let (_ctlj, ctl_json) = Tool::Etcdctl.spawn_lines(&endpoint, &json);

    // Wait until all four are watching.
    wait_until(
        "the four watches on the member",
        Duration::from_secs(10),
        || async { etcd.watchers().await >= 4 },
    )
    .await;

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
    let (ours, mut ours_in, ours_rx) = spawn(Tool::Etcdgw.command(&endpoint));
    let (theirs, mut theirs_in, theirs_rx) = spawn(Tool::Etcdctl.command(&endpoint));
    for input in [&mut ours_in, &mut theirs_in] {
        input
            .write_all(b"bogus\nwatch\nwatch a --prefix --prev-kv\nwatch b c\n")
            .unwrap();
        input.flush().unwrap();
    }
    wait_until(
        "the four watches on the member",
        Duration::from_secs(10),
        || async { etcd.watchers().await >= 4 },
    )
    .await;
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
