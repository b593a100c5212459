//! Maintenance: `snapshot save` (restored by etcdutl), the NOSPACE runbook (alarm list and
//! disarm, compaction, defrag), `endpoint hashkv` and `downgrade`.

use etcdgw::GetOptions;
use etcdgw_test_support::etcd::{etcd_version, gateway_has_hash_kv};
use etcdgw_test_support::Etcd;

use crate::{assert_same, error_line, etcdgw, gw, is_34, seed, text};

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
    let out = etcdgw(&two, &["snapshot", "save", path_text], None);
    assert_eq!(out.status.code(), Some(5));
    assert!(error_line(&out)
        .unwrap()
        .starts_with("Error: snapshot must be requested to one selected node, not multiple"));
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
async fn endpoint_hashkv_and_downgrade() {
    let etcd = Etcd::start().await;
    seed(&etcd).await;
    if gateway_has_hash_kv() {
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
