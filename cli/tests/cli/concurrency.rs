//! `lock` (a command run under the lock) and `elect` (campaign and observe).

use etcdgw::GetOptions;
use etcdgw_test_support::Etcd;

use crate::{assert_same, gw, next_lines, text, Tool};

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
    let (_elect, lines) = Tool::Etcdgw.spawn_lines(&etcd.endpoint(), &["elect", "chief", "me"]);
    let printed = next_lines(&lines, 2, "etcdgw elect");
    assert!(printed[0].starts_with("chief/"), "{printed:?}");
    assert_eq!(printed[1], "me");
    let value = etcd.etcdctl(&["get", &printed[0], "--print-value-only"]);
    assert_eq!(text(&value), "me\n");
    // An observer prints the leader the same way.
    let (_observe, observed) =
        Tool::Etcdgw.spawn_lines(&etcd.endpoint(), &["elect", "-l", "chief"]);
    assert_eq!(next_lines(&observed, 2, "etcdgw elect -l"), printed);
}
