//! Exit codes and error messages, as etcdctl's: bad arguments, refused formats, flag parser
//! errors, etcd's refusals, no member reachable.

use std::time::Duration;

use etcdgw_test_support::{free_port, Etcd};

use crate::{assert_same, assert_same_with, error_line, etcdgw, gw, is_34, text, Tool};

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
    // reports `context deadline exceeded` with 1). "At once" is told from "at the command
    // timeout" without timing anything: the command timeout is far beyond the deadline here.
    let dead = format!("127.0.0.1:{}", free_port());
    let mut at_once = tokio::process::Command::from(Tool::Etcdgw.command(&dead));
    at_once.args([
        "get",
        "k",
        "--dial-timeout",
        "1s",
        "--command-timeout",
        "600s",
    ]);
    let out = tokio::time::timeout(Duration::from_secs(60), at_once.output())
        .await
        .expect("etcdgw failed at once, not at its 600 s command timeout")
        .expect("etcdgw ran");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(error_line(&out).is_some(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    // A bad endpoint URL is a bad argument.
    let out = etcdgw("http://", &["get", "k"], None);
    assert_eq!(out.status.code(), Some(128), "{}", text(&out.stderr));
    // --help documents the exit codes.
    let help = etcdgw(&etcd.endpoint(), &["--help"], None);
    assert!(help.status.success());
    let help = text(&help.stdout);
    assert!(
        help.contains("128  wrong arguments") && help.contains("2    no member"),
        "{help}"
    );
}
