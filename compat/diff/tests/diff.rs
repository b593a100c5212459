//! The differential test: every scenario of `scenarios.rs` through etcd-client 0.21.1 (gRPC)
//! and through etcdgw-compat (etcd's JSON gateway) against the same etcd, started for it on
//! loopback ports (`$ETCD_BIN`, each version of the matrix in turn: scripts/compat-diff.sh).
//!
//! The two must give the same variant, gRPC code and message (or the same answer). Where they
//! differ, compat/README.md's "Measured differences" table must list that scenario with exactly
//! these two outcomes, and say why: a difference nobody wrote down fails the test (a listed one
//! that does not show on some etcd version passes). With `$COMPAT_DIFF_REPORT` set, every
//! outcome is appended there as a table row, for the report the script prints.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::join;

use etcdgw_test_support::etcd::etcd_release;
use etcdgw_test_support::{free_port, wait_until, Cluster, Etcd};

/// The corpus of compat/corpus, built here against the real etcd-client: it is etcd-client
/// code, not code that only etcdgw-compat accepts.
#[path = "../../corpus/src/lib.rs"]
#[allow(dead_code)]
mod corpus_on_etcd_client;

mod real {
    use ::etcd_client as ec;
    include!("scenarios.rs");
}

mod compat {
    use ::etcdgw_compat as ec;
    include!("scenarios.rs");
}

/// The user of the auth scenarios: it may read `diff/readable` and nothing else.
const USER: &str = "diffuser";
const PASSWORD: &str = "diffpass";
/// The lock someone else holds in the lock scenarios.
const LOCK: &str = "diff/held";

/// Where a scenario runs, and what the setup left for it.
#[derive(Debug, Clone, Default)]
pub struct Env {
    endpoint: String,
    /// Which client runs: keys are its own.
    side: &'static str,
    /// A revision below the compaction.
    old_revision: i64,
    /// The compaction's revision.
    compact_revision: i64,
    /// A revision past the store's.
    future_revision: i64,
}

impl Env {
    fn new(endpoint: impl Into<String>) -> Env {
        Env {
            endpoint: endpoint.into(),
            ..Env::default()
        }
    }

    fn key(&self, name: &str) -> String {
        format!("diff/{}/{name}", self.side)
    }

    /// The two sides' environments.
    fn sides(&self) -> (Env, Env) {
        (
            Env {
                side: "real",
                ..self.clone()
            },
            Env {
                side: "compat",
                ..self.clone()
            },
        )
    }
}

/// The differences compat/README.md lists: (scenario, etcd-client's outcome, compat's).
fn listed() -> Vec<(String, String, String)> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n## Measured differences")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap_or_default();
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().trim_matches('`'))
                .collect();
            match cells.as_slice() {
                [scenario, real, compat, ..] => {
                    Some((scenario.to_string(), real.to_string(), compat.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

static REPORT: Mutex<()> = Mutex::new(());

/// Compares one scenario's outcomes; a difference must be listed in the README.
fn compare(scenario: &str, real: String, compat: String) {
    let (major, minor, patch) = etcd_release();
    if let Ok(path) = std::env::var("COMPAT_DIFF_REPORT") {
        let _guard = REPORT.lock().unwrap_or_else(|e| e.into_inner());
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("the report file");
        let same = if real == compat { "same" } else { "DIFFERS" };
        writeln!(
            file,
            "| {major}.{minor}.{patch} | `{scenario}` | `{real}` | `{compat}` | {same} |"
        )
        .expect("write the report");
    }
    if real == compat {
        return;
    }
    let row = (scenario.to_string(), real.clone(), compat.clone());
    assert!(
        listed().contains(&row),
        "{scenario} differs on etcd {major}.{minor}.{patch} and compat/README.md does not list it:\n\
         | `{scenario}` | `{real}` | `{compat}` | <why> |"
    );
}

/// Sets up auth: root, and the test user who may read `diff/readable` only.
async fn with_auth(etcd: &Etcd) {
    let client = etcd.client().await;
    client.user_add("root", "rootpw", None).await.unwrap();
    client.user_grant_role("root", "root").await.unwrap();
    client.role_add("reader").await.unwrap();
    client
        .role_grant_permission("reader", etcdgw::Permission::read("diff/readable"))
        .await
        .unwrap();
    client.user_add(USER, PASSWORD, None).await.unwrap();
    client.user_grant_role(USER, "reader").await.unwrap();
    client.auth_enable().await.unwrap();
}

#[tokio::test]
async fn etcd_s_answers() {
    let etcd = Etcd::start().await;
    let setup = etcd.client().await;
    // History to compact: revisions 2..=11, compacted at 8.
    for i in 0..10 {
        setup.put("diff/any", i.to_string(), None).await.unwrap();
    }
    setup.compact(8, None).await.unwrap();
    let env = Env {
        old_revision: 3,
        compact_revision: 8,
        future_revision: 1_000_000,
        ..Env::new(etcd.endpoint())
    };
    let (r, c) = env.sides();
    compare(
        "key not found",
        real::key_not_found(&r).await,
        compat::key_not_found(&c).await,
    );
    compare(
        "empty key",
        real::empty_key(&r).await,
        compat::empty_key(&c).await,
    );
    compare(
        "compacted",
        real::compacted(&r).await,
        compat::compacted(&c).await,
    );
    compare(
        "watch from a compacted revision",
        real::watch_compacted(&r).await,
        compat::watch_compacted(&c).await,
    );
    compare(
        "future revision",
        real::future_revision(&r).await,
        compat::future_revision(&c).await,
    );
    compare(
        "lease not found: revoke",
        real::lease_revoke_not_found(&r).await,
        compat::lease_revoke_not_found(&c).await,
    );
    compare(
        "lease not found: keep-alive",
        real::lease_keep_alive_not_found(&r).await,
        compat::lease_keep_alive_not_found(&c).await,
    );
    compare(
        "lease not found: put",
        real::put_with_lease_not_found(&r).await,
        compat::put_with_lease_not_found(&c).await,
    );
    compare(
        "lease not found: keeper after revoke",
        real::keep_alive_of_a_revoked_lease(&r).await,
        compat::keep_alive_of_a_revoked_lease(&c).await,
    );
    compare(
        "too many txn ops",
        real::too_many_txn_ops(&r).await,
        compat::too_many_txn_ops(&c).await,
    );
    compare(
        "duplicate key",
        real::duplicate_key(&r).await,
        compat::duplicate_key(&c).await,
    );
    compare(
        "election without a leader",
        real::election_leader_of_nobody(&r).await,
        compat::election_leader_of_nobody(&c).await,
    );
}

#[tokio::test]
async fn requests_too_large() {
    // etcd's own limit below 100,000 bytes; gRPC's (that plus 512 KiB) above.
    let etcd = Etcd::builder()
        .arg("--max-request-bytes=100000")
        .start()
        .await;
    let (r, c) = Env::new(etcd.endpoint()).sides();
    compare(
        "request too large (etcd's limit)",
        real::put_of(&r, 150_000).await,
        compat::put_of(&c, 150_000).await,
    );
    compare(
        "request too large (gRPC's limit)",
        real::put_of(&r, 700_000).await,
        compat::put_of(&c, 700_000).await,
    );
}

#[tokio::test]
async fn auth() {
    let etcd = Etcd::start().await;
    with_auth(&etcd).await;
    let (r, c) = Env::new(etcd.endpoint()).sides();
    compare(
        "permission denied",
        real::permission_denied(&r).await,
        compat::permission_denied(&c).await,
    );
    compare(
        "wrong password",
        real::wrong_password(&r).await,
        compat::wrong_password(&c).await,
    );
    // A password changed elsewhere: etcd forgets the user's tokens, those both clients hold.
    let (mut real_client, mut compat_client) =
        join(real::authenticated(&r), compat::authenticated(&c)).await;
    let root = etcd
        .client_with(etcdgw::ConnectOptions::new().with_user("root", "rootpw"))
        .await;
    root.user_change_password(USER, "changed").await.unwrap();
    compare(
        "invalid auth token",
        real::read(&mut real_client).await,
        compat::read(&mut compat_client).await,
    );
}

#[tokio::test]
async fn no_leader_and_quorum_lost() {
    let mut cluster = Cluster::start(3).await;
    let survivor = cluster.members[0].endpoint();
    cluster.members[1].kill();
    cluster.members[2].kill();
    // Wait until the survivor knows it has no leader (its status says leader 0).
    let watcher = etcdgw::Client::connect([&survivor], None).await.unwrap();
    wait_until(
        "the survivor to lose its leader",
        Duration::from_secs(30),
        || async { watcher.status().await.is_ok_and(|s| s.leader() == 0) },
    )
    .await;
    let (r, c) = Env::new(survivor).sides();
    let (real_out, compat_out) =
        join(real::require_leader_put(&r), compat::require_leader_put(&c)).await;
    compare("no leader (require leader)", real_out, compat_out);
    // Without require-leader the member holds the proposal until its own request timeout.
    let (real_out, compat_out) = join(real::put(&r), compat::put(&c)).await;
    compare("quorum lost", real_out, compat_out);
}

#[tokio::test]
async fn nothing_listens() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let (r, c) = Env::new(endpoint).sides();
    compare(
        "connection refused: get",
        real::get(&r).await,
        compat::get(&c).await,
    );
    compare(
        "connection refused: put",
        real::put(&r).await,
        compat::put(&c).await,
    );
    compare(
        "connection refused: watch",
        real::watch(&r).await,
        compat::watch(&c).await,
    );
    let (r, c) = Env::new("http://no-such-host.invalid:2379").sides();
    compare("DNS failure", real::get(&r).await, compat::get(&c).await);
}

#[tokio::test]
async fn arguments() {
    compare(
        "empty endpoint list",
        real::connect_to(&[]).await,
        compat::connect_to(&[]).await,
    );
    compare(
        "bad URI",
        real::connect_to(&["http://bad host:2379"]).await,
        compat::connect_to(&["http://bad host:2379"]).await,
    );
    compare(
        "https:// without a TLS feature",
        real::connect_to(&["https://127.0.0.1:2379"]).await,
        compat::connect_to(&["https://127.0.0.1:2379"]).await,
    );
}

#[tokio::test]
async fn a_stopped_member() {
    let etcd = Etcd::start().await;
    let (r, c) = Env::new(etcd.endpoint()).sides();
    etcd.member.signal("STOP");
    let timeout = Duration::from_secs(1);
    let (real_out, compat_out) = join(
        real::get_with_timeout(&r, timeout),
        compat::get_with_timeout(&c, timeout),
    )
    .await;
    etcd.member.signal("CONT");
    compare("request timeout (member stopped)", real_out, compat_out);
}

/// Holds the lock `LOCK` with a lease of its own, through etcdgw.
async fn hold_the_lock(etcd: &Etcd) -> etcdgw::Client {
    let holder = etcd.client().await;
    let lease = holder.lease_grant(60, None).await.unwrap().id();
    holder
        .lock(LOCK, Some(etcdgw::LockOptions::new().with_lease(lease)))
        .await
        .unwrap();
    holder
}

#[tokio::test]
async fn a_lock_held_past_the_timeout() {
    let etcd = Etcd::start().await;
    let _holder = hold_the_lock(&etcd).await;
    let (r, c) = Env::new(etcd.endpoint()).sides();
    let timeout = Duration::from_secs(1);
    let (real_out, compat_out) = join(
        real::lock_with_timeout(&r, timeout),
        compat::lock_with_timeout(&c, timeout),
    )
    .await;
    compare("lock past the request timeout", real_out, compat_out);
}

#[tokio::test]
async fn a_member_killed_under_a_waiting_lock() {
    let mut etcd = Etcd::start().await;
    let holder = hold_the_lock(&etcd).await;
    let (r, c) = Env::new(etcd.endpoint()).sides();
    let real_lock = tokio::spawn(async move { real::lock(&r).await });
    let compat_lock = tokio::spawn(async move { compat::lock(&c).await });
    // Both waiters are queued on the server once the lock's prefix holds three keys.
    let prefix = etcdgw::GetOptions::new().with_prefix().with_count_only();
    wait_until(
        "both waiters queued on the lock",
        Duration::from_secs(30),
        || async {
            let waiting = holder.get(format!("{LOCK}/"), Some(prefix.clone())).await;
            waiting.is_ok_and(|r| r.count() >= 3)
        },
    )
    .await;
    etcd.member.kill();
    compare(
        "member killed under a waiting lock",
        real_lock.await.unwrap(),
        compat_lock.await.unwrap(),
    );
}

#[tokio::test]
async fn a_member_killed_mid_watch() {
    let mut etcd = Etcd::start().await;
    let (r, c) = Env::new(etcd.endpoint()).sides();
    let (mut real_watch, mut compat_watch) =
        join(real::open_watch(&r), compat::open_watch(&c)).await;
    etcd.member.kill();
    let (real_out, compat_out) = join(
        real::next_answer(&r, &mut real_watch),
        compat::next_answer(&c, &mut compat_watch),
    )
    .await;
    compare("member killed mid-watch", real_out, compat_out);
}
