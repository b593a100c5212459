//! Users, roles, permissions and auth enable/disable.

use etcdgw_test_support::Etcd;

use crate::{assert_same, error_line, gw, is_34, text, Both};

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
        Both::of(revoke, ours, theirs).same_stdout().same_code();
    }
    assert_same(
        &etcd,
        &["role", "revoke-permission", "reader", "k/", "--prefix"],
    );
}
