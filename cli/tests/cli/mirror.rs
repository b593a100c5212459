//! `make-mirror`: a second etcd kept equal through writes, a compaction and a restart; a TLS
//! destination with auth; the flags; the end on a compaction while cut off.

use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use etcdgw::GetOptions;
use etcdgw_test_support::certs::Certs;
use etcdgw_test_support::proxy::Proxy;
use etcdgw_test_support::{free_port, wait_until, Etcd};

use crate::{assert_same, error_line, etcdctl, gw, is_34, lines_of, text, Killed, Tool};

/// `etcdgw make-mirror` running in the background (killed if the test ends first): its
/// stdout lines as they come, its stderr once it has exited.
struct Mirroring {
    child: Killed,
    lines: mpsc::Receiver<String>,
}

impl Mirroring {
    fn is_running(&mut self) -> bool {
        matches!(self.child.0.try_wait(), Ok(None))
    }

    /// Waits for the exit (the test's runtime keeps running meanwhile): the exit code, the
    /// stdout lines not read yet and stderr.
    async fn exit(mut self) -> (Option<i32>, Vec<String>, String) {
        let child = &mut self.child.0;
        let status = wait_until("make-mirror to exit", Duration::from_secs(30), || {
            std::future::ready(child.try_wait().expect("try_wait"))
        })
        .await;
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

fn spawn_mirror(source: &str, args: &[&str]) -> Mirroring {
    let mut child = Tool::Etcdgw
        .command(source)
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

/// Waits until `key` holds `value` in `client`'s cluster: the mirror has applied the source up
/// to the revision that wrote it, and so every one before.
async fn wait_for(client: &etcdgw::Client, key: &str, value: &str, mirroring: &mut Mirroring) {
    wait_until(
        &format!("{key} = {value} to arrive"),
        Duration::from_secs(30),
        || {
            let running = mirroring.is_running();
            async move {
                let resp = client.get(key, None).await.unwrap();
                if resp
                    .kvs()
                    .first()
                    .is_some_and(|kv| kv.value() == value.as_bytes())
                {
                    return true;
                }
                assert!(running, "make-mirror ended before {key} = {value} arrived");
                false
            }
        },
    )
    .await;
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
    let out = etcdctl(endpoint, &args);
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
    let certs = Arc::new(Certs::generate());
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
    let proxy = Proxy::start(src_endpoint.trim_start_matches("http://").to_string()).await;
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
