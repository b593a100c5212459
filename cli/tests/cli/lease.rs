//! Leases: grant, list, keep-alive, time-to-live and revoke.

use etcdgw_test_support::Etcd;

use crate::{assert_same, gw, text};

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
