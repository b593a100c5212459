//! Membership: `member list`, `endpoint status` and `health` on a cluster, and a rolling
//! membership change (add a learner, promote it, move the leadership, remove the old leader)
//! with the command line alone.

use std::time::Duration;

use etcdgw_test_support::{free_port, wait_until, Cluster};

use crate::{assert_same_once_quiet, error_line, etcdctl, etcdgw, is_34, text, Both};

/// The members of `member list -w json` (etcdctl's), as JSON values.
fn members_json(endpoints: &str) -> Vec<serde_json::Value> {
    let out = etcdctl(endpoints, &["member", "list", "-w", "json"]);
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
    let out = etcdctl(endpoint, &["endpoint", "status", "-w", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list[0]["Status"]["leader"].as_u64().unwrap()
}

#[tokio::test]
async fn member_list_and_endpoint_status_print_what_etcdctl_prints() {
    let cluster = Cluster::start(3).await;
    // Through one member: the header names the member that answered.
    let first = cluster.endpoints()[0].clone();
    for format in ["simple", "json", "fields", "table"] {
        assert_same_once_quiet(&first, &["member", "list", "-w", format]).await;
    }
    if !is_34() {
        assert_same_once_quiet(&first, &["member", "list", "-w", "json", "--hex"]).await;
    }
    assert_same_once_quiet(&first, &["endpoint", "status", "--cluster"]).await;
    // Status is per member; nothing is written meanwhile, so the answers do not change.
    let all = cluster.endpoints().join(",");
    for format in ["simple", "json", "table", "fields"] {
        assert_same_once_quiet(&all, &["endpoint", "status", "-w", format]).await;
    }
    // Health takes a different time each run: compare what does not.
    let ours = etcdgw(
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
    let simple = etcdgw(&cluster.endpoints()[0], &["endpoint", "health"], None);
    let line = text(&simple.stdout);
    assert!(
        line.starts_with(&format!(
            "{} is healthy: successfully committed proposal: took = ",
            cluster.endpoints()[0]
        )),
        "{line}"
    );
}

#[tokio::test]
async fn a_rolling_membership_change_with_the_cli_alone() {
    let mut cluster = Cluster::start(3).await;
    let all = cluster.endpoints().join(",");
    let first = cluster.endpoints()[0].clone();
    assert_same_once_quiet(&first, &["member", "list", "-w", "table"]).await;

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
        Both::run(first.as_str(), args, None)
            .same_stdout()
            .same_code()
            .same_error_line();
    }
    // An update to the same peer URLs changes nothing: both tools can run it.
    let n1 = member_id(one, "n1");
    let n1_peer = format!("http://127.0.0.1:{}", cluster.members[1].peer_port);
    for format in ["simple", "json"] {
        assert_same_once_quiet(
            &first,
            &[
                "member",
                "update",
                &format!("{n1:x}"),
                &format!("--peer-urls={n1_peer}"),
                "-w",
                format,
            ],
        )
        .await;
    }

    // 1. A learner, added with the CLI; its ETCD_* lines start it.
    let (client_port, peer_port) = (free_port(), free_port());
    let peer = format!("http://127.0.0.1:{peer_port}");
    // etcd refuses membership changes for a few seconds after its members connect
    // ("unhealthy cluster"), to etcdctl as well.
    let added = wait_until(
        "the cluster to take a member (no longer unhealthy)",
        Duration::from_secs(30),
        || async {
            let out = etcdgw(
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
            if out.status.success() {
                return Some(out);
            }
            assert_eq!(
                error_line(&out).as_deref(),
                Some("Error: etcdserver: unhealthy cluster"),
                "{}",
                text(&out.stderr)
            );
            None
        },
    )
    .await;
    assert!(added.status.success(), "{}", text(&added.stderr));
    let members = members_json(one);
    let new_id = member_id(one, "");
    let cluster_id = {
        let out = etcdctl(one, &["member", "list", "-w", "json"]);
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
    assert_same_once_quiet(&first, &["member", "list", "-w", "table"]).await;
    assert_same_once_quiet(&first, &["member", "list", "-w", "json"]).await;
    cluster
        .join("n3", client_port, peer_port, initial_cluster)
        .await;

    // 2. Promoted once it has caught up (etcd refuses until then).
    let promoted = wait_until(
        "the learner to catch up",
        Duration::from_secs(30),
        || async {
            let out = etcdgw(one, &["member", "promote", &format!("{new_id:x}")], None);
            if out.status.success() {
                return Some(out);
            }
            assert!(
                text(&out.stderr).contains("in sync with leader"),
                "{}",
                text(&out.stderr)
            );
            None
        },
    )
    .await;
    assert_eq!(
        text(&promoted.stdout),
        format!("Member {new_id:16x} promoted in cluster {cluster_id:16x}\n"),
        "{}",
        text(&promoted.stderr)
    );
    assert_same_once_quiet(&first, &["member", "list", "-w", "table"]).await;

    // 3. The leadership moved to it (the leader must be among the endpoints, as etcdctl).
    let old_leader = leader_id(one);
    let moved = etcdgw(&all, &["move-leader", &format!("{new_id:x}")], None);
    assert_eq!(
        text(&moved.stdout),
        format!("Leadership transferred from {old_leader:x} to {new_id:x}\n"),
        "{}",
        text(&moved.stderr)
    );
    // etcd answers once the transfer is done; a follower may learn of it a moment later.
    wait_until(
        "the leadership to move (as the first endpoint sees it)",
        Duration::from_secs(10),
        || async {
            match leader_id(one) {
                leader if leader == new_id => Ok(()),
                leader => Err(format!("leader {leader:x}")),
            }
        },
    )
    .await;
    assert_same_once_quiet(&first, &["member", "list", "-w", "table"]).await;

    // 4. The old leader removed, through a member that stays.
    let stays = cluster
        .members
        .iter()
        .find(|m| member_id(one, &m.name) != old_leader)
        .map(|m| m.endpoint())
        .unwrap();
    let removed = etcdgw(
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
    let after = stays;
    for format in ["simple", "json", "table", "fields"] {
        assert_same_once_quiet(&after, &["member", "list", "-w", format]).await;
    }
}
