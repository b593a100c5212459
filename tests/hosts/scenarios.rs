//! The native half of every scenario, for any host: start a member, start the wasm32 half on a
//! fresh host, act from outside when it reports a step, check its answer against what was
//! asked and against what `etcdctl` sees. Where hosts differ on purpose (only a browser applies
//! CORS), the expectation says so by [`Kind::applies_cors`].

use std::time::Duration;

use serde_json::json;

use crate::host::{Host, Kind};
use etcdgw_test_support::free_port;
use etcdgw_test_support::proxy::Proxy;
use etcdgw_test_support::{wait_until, Etcd};

/// How many `Txn` calls the member's gRPC server answered with OK (the gateway makes one for
/// each txn it is sent, read batches included).
async fn txns_handled(etcd: &Etcd) -> u64 {
    let text = reqwest::get(format!("{}/metrics", etcd.endpoint()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with("grpc_server_handled_total{"))
        .filter(|l| l.contains("grpc_method=\"Txn\"") && l.contains("grpc_code=\"OK\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn etcdctl_text(etcd: &Etcd, args: &[&str]) -> String {
    String::from_utf8(etcd.etcdctl(args)).expect("UTF-8")
}

pub async fn kv_put_get_prefix_txn_delete(kind: Kind) {
    let etcd = Etcd::start().await;
    let mut host = Host::open(kind).await;
    let txns = txns_handled(&etcd).await;
    let run = host.start("kv", json!([etcd.endpoint(), "h/kv/"])).await;
    let got = host.result(&run).await;
    assert_eq!(got["listed"], json!(["h/kv/a=1", "h/kv/b=2", "h/kv/c=3"]));
    assert_eq!(got["count"], json!(3));
    assert_eq!(got["txn_succeeded"], json!(true));
    assert_eq!(got["deleted"], json!(1));
    assert_eq!(got["after"], json!(["h/kv/a", "h/kv/c", "h/kv/d"]));
    let one_round = json!(["1", "3", "4", null, null]);
    let concurrent = got["concurrent"]
        .as_array()
        .expect("the concurrent gets' values");
    assert_eq!(concurrent.len(), 40);
    for (i, value) in concurrent.iter().enumerate() {
        assert_eq!(value, &one_round[i % 5], "get {i}");
    }
    // The scenario's own txn, and at least one batch of the gets that waited.
    assert!(
        txns_handled(&etcd).await >= txns + 2,
        "no batch from {kind:?}"
    );
    // What the host wrote is in etcd, as etcdctl sees it.
    assert_eq!(
        etcdctl_text(&etcd, &["get", "--prefix", "h/kv/"]),
        "h/kv/a\n1\nh/kv/c\n3\nh/kv/d\n4\n"
    );
    host.close().await;
}

pub async fn watch_delivers_etcdctl_writes_across_a_member_restart(kind: Kind) {
    let mut etcd = Etcd::start().await;
    let mut host = Host::open(kind).await;
    let run = host
        .start("watch", json!([etcd.endpoint(), "h/watch/", 6]))
        .await;
    host.step(&run, "watching").await;
    for (key, value) in [
        ("h/watch/1", "one"),
        ("h/watch/2", "two"),
        ("h/watch/3", "three"),
    ] {
        etcd.etcdctl(&["put", key, value]);
    }
    host.step(&run, "events:3").await;
    // The fetch stream breaks; the watch resumes after the last revision it delivered.
    etcd.restart().await;
    etcd.etcdctl(&["put", "h/watch/4", "four"]);
    etcd.etcdctl(&["del", "h/watch/1"]);
    etcd.etcdctl(&["put", "h/watch/2", "two again"]);
    let got = host.result(&run).await;
    assert_eq!(
        got["events"],
        json!([
            "PUT h/watch/1=one",
            "PUT h/watch/2=two",
            "PUT h/watch/3=three",
            "PUT h/watch/4=four",
            "DELETE h/watch/1 (was one)",
            "PUT h/watch/2=two again",
        ])
    );
    // Exactly once, in order: consecutive revisions (nothing else writes to this member).
    let revisions: Vec<i64> = serde_json::from_value(got["revisions"].clone()).unwrap();
    assert!(
        revisions.windows(2).all(|w| w[1] == w[0] + 1),
        "{revisions:?}"
    );
    host.close().await;
}

/// Waits until the member holds `want` watchers (its Prometheus metrics say so).
async fn until_watchers(etcd: &Etcd, want: u64) {
    wait_until(
        &format!("the member to hold {want} watchers"),
        Duration::from_secs(10),
        || async {
            match etcd.watchers().await {
                seen if seen == want => Ok(()),
                seen => Err(format!("{seen} watchers")),
            }
        },
    )
    .await;
}

pub async fn cancelled_and_dropped_watches_close_their_fetches(kind: Kind) {
    let etcd = Etcd::start().await;
    let mut host = Host::open(kind).await;
    let run = host
        .start("watch_cancel", json!([etcd.endpoint(), "h/cancel/ack"]))
        .await;
    host.step(&run, "open").await;
    until_watchers(&etcd, 2).await;
    etcd.etcdctl(&["put", "h/cancel/ack/1", "seen"]);
    host.step(&run, "closed").await;
    // The fetches were aborted: etcd removed both watchers.
    until_watchers(&etcd, 0).await;
    etcd.etcdctl(&["put", "h/cancel/ack/2", "seen"]);
    let got = host.result(&run).await;
    assert_eq!(got["canceled"], json!(true));
    host.close().await;
}

pub async fn twenty_watches_and_gets_on_one_client_all_answer(kind: Kind) {
    twenty_watches(kind, true).await;
}

/// The same without a WebSocket: the watches share the default four watch requests
/// (`src/transport/bundle.rs`), so the gets still find a connection.
pub async fn twenty_watches_on_shared_requests_and_gets_all_answer(kind: Kind) {
    twenty_watches(kind, false).await;
}

async fn twenty_watches(kind: Kind, websocket: bool) {
    let etcd = Etcd::start().await;
    let mut host = Host::open(kind).await;
    let run = host
        .start(
            "many_watches",
            json!([etcd.endpoint(), "h/many/", 20, websocket]),
        )
        .await;
    host.step(&run, "watching").await;
    until_watchers(&etcd, 20).await;
    for i in 0..20 {
        etcd.etcdctl(&["put", &format!("h/many/{i:02}"), &format!("v{i}")]);
    }
    let got = host.result(&run).await;
    assert_eq!(got["gets"], json!(20));
    let want: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    assert_eq!(got["values"], json!(want));
    host.close().await;
}

pub async fn a_managed_lease_stays_alive_across_several_ttls(kind: Kind) {
    let etcd = Etcd::start().await;
    let mut host = Host::open(kind).await;
    // 3 s: a refresh is due every second, and a refresh held up for up to two seconds (a
    // loaded machine) still lands in time; with 2 s leases were lost now and then, in every host.
    let ttl = 3;
    let run = host
        .start("lease", json!([etcd.endpoint(), "h/lease/key", ttl]))
        .await;
    host.step(&run, "attached").await;
    // Checked from outside while the host keeps the lease: after more than two TTLs, the
    // key is still there (time is the point: the TTLs must pass).
    tokio::time::sleep(Duration::from_millis(7_000)).await;
    assert_eq!(
        etcdctl_text(&etcd, &["get", "h/lease/key", "--print-value-only"]),
        "leased\n"
    );
    // Only now may the host let go.
    etcd.etcdctl(&["put", "h/lease/key/ack", "seen"]);
    let got = host.result(&run).await;
    assert_eq!(got["still_there"], json!(1));
    let ttl_left = got["ttl_left"].as_i64().unwrap();
    assert!((1..=ttl).contains(&ttl_left), "ttl left {ttl_left}");
    assert_eq!(got["after_revoke"], json!(0));
    // The lease the host granted is gone with its revoke.
    let id = got["id"].as_str().unwrap().parse::<i64>().unwrap();
    let ttl_out = etcdctl_text(&etcd, &["lease", "timetolive", &format!("{id:x}")]);
    assert!(ttl_out.contains("already expired"), "{ttl_out}");
    host.close().await;
}

pub async fn auth_token_fetched_then_refreshed_refusals_typed(kind: Kind) {
    let etcd = Etcd::start().await;
    let password = "host-root-pw";
    etcd.etcdctl(&["user", "add", &format!("root:{password}")]);
    etcd.etcdctl(&["role", "add", "root"]);
    etcd.etcdctl(&["user", "grant-role", "root", "root"]);
    etcd.etcdctl(&["auth", "enable"]);
    let root = format!("root:{password}");
    let mut host = Host::open(kind).await;
    let run = host
        .start(
            "auth",
            json!([etcd.endpoint(), "root", password, "h/auth/key"]),
        )
        .await;
    host.step(&run, "authenticated").await;
    // Turning auth off drops every token the member gave out (a restart may not: the member
    // replays the authentications in its log), so the client's is refused from now on and it
    // must fetch a new one.
    etcd.etcdctl(&["--user", &root, "auth", "disable"]);
    etcd.etcdctl(&["auth", "enable"]);
    etcd.etcdctl(&["--user", &root, "put", "h/auth/key/ack", "seen"]);
    let got = host.result(&run).await;
    assert_eq!(got["value"], json!("written with a token"));
    assert_eq!(got["token_refreshes_before"], json!(1));
    assert_eq!(got["token_refreshes"], json!(2));
    // 3.4 says "user name is empty", 3.5 "user name not found" (GATEWAY.md).
    let anonymous = got["anonymous"].as_str().unwrap();
    assert!(
        [
            "UserEmpty",
            "UserNotFound",
            "InvalidAuthToken",
            "PermissionDenied"
        ]
        .contains(&anonymous),
        "{anonymous}"
    );
    assert_eq!(got["wrong_password"], json!("AuthFailed"));
    assert_eq!(
        etcdctl_text(
            &etcd,
            &["--user", &root, "get", "h/auth/key", "--print-value-only"]
        ),
        "written with a new token\n"
    );
    host.close().await;
}

pub async fn errors_are_typed(kind: Kind) {
    let etcd = Etcd::start().await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let mut host = Host::open(kind).await;
    let run = host
        .start("errors", json!([etcd.endpoint(), dead, "h/errors/key"]))
        .await;
    let got = host.result(&run).await;
    assert_eq!(got["future_revision"], json!("FutureRevision"));
    assert_eq!(got["empty_key"], json!("InvalidArgument"));
    assert_eq!(got["compacted"], json!("Compacted"));
    assert_eq!(got["lease_not_found"], json!("LeaseNotFound"));
    assert_eq!(got["unreachable"], json!("Transport"));
    // Only a browser's CORS rules keep the header that asks for a leader out.
    let require_leader = if kind.applies_cors() {
        "InvalidArgument"
    } else {
        "ok"
    };
    assert_eq!(got["require_leader"], json!(require_leader));
    // fetch takes no CA on any host.
    assert_eq!(got["custom_ca"], json!("InvalidArgument"));
    host.close().await;
}

pub async fn lock_seen_from_outside_then_election(kind: Kind) {
    let etcd = Etcd::start().await;
    let mut host = Host::open(kind).await;
    let run = host
        .start("lock_election", json!([etcd.endpoint(), "h/sync"]))
        .await;
    let step = host.step(&run, "locked:").await;
    let lock_key = step.strip_prefix("locked:").unwrap().to_string();
    // While the host holds it, the lock's key is in etcd, owned by a lease.
    let held = etcdctl_text(&etcd, &["get", "--prefix", "h/sync/lock", "--keys-only"]);
    assert_eq!(held.trim(), lock_key);
    etcd.etcdctl(&["put", "h/sync/ack", "seen"]);
    let got = host.result(&run).await;
    assert_eq!(got["lock_key"], json!(lock_key));
    assert_eq!(got["locks_left"], json!(0));
    assert_eq!(got["leader"], json!("wasm32"));
    host.close().await;
}

/// The lines of `stderr` that name a timer warning (`TimeoutOverflowWarning`,
/// `TimeoutNegativeWarning`, ...): what Node.js and Deno print for a delay a timer cannot keep.
fn timeout_warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| {
            line.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| word.starts_with("Timeout") && word.ends_with("Warning"))
        })
        .collect()
}

/// Long waits on the host's timers (issue 29): a lock waited on without a deadline sets no
/// timer of its own (before, it set one every millisecond: a piece of `u32::MAX` ms is -1 to
/// JavaScript, which runs it at once), and a lock given a 30-day deadline waits for the holder
/// instead of timing out at once. Node.js and Deno print nothing about timers meanwhile. Then
/// the host shows what it does with the longest delay a timer keeps and the first it cannot
/// (docs/GATEWAY.md 12), and that the check above would have seen the warning it prints.
pub async fn long_waits_set_few_timers_and_keep_their_deadline(kind: Kind) {
    let etcd = Etcd::start().await;
    let mut host = Host::open(kind).await;
    let run = host
        .start("lock_timers", json!([etcd.endpoint(), "h/timers", 4000]))
        .await;
    let step = host.step(&run, "held:").await;
    let held = step.strip_prefix("held:").unwrap_or_default();
    // The holder's key, seen from outside (the waiter's may be there already too).
    let keys = etcdctl_text(&etcd, &["get", "--prefix", "h/timers/", "--keys-only"]);
    assert!(keys.lines().any(|k| k == held), "{held} not in {keys:?}");
    let got = host.result(&run).await;
    assert_eq!(got["unbounded"], json!("waiting"));
    assert_eq!(got["overflowed_timers"], json!(0.0));
    // Four seconds of waiting: the test's own sleep, and the liveness check's interval timer
    // and probe (every 3 s); nothing per millisecond.
    let timers = got["timers_while_waiting"].as_f64().expect("a count");
    assert!(
        timers <= 8.0,
        "{timers} timers while a lock waited without a deadline"
    );
    assert_eq!(got["order"], json!(["released", "acquired"]));
    assert_eq!(got["bounded_key_under"], json!(true));
    // Both locks are gone, and so are their leases.
    assert_eq!(
        etcdctl_text(&etcd, &["get", "--prefix", "h/timers/", "--keys-only"]),
        ""
    );
    if let Some(stderr) = host.stderr() {
        // Shown with --nocapture: what the runtime printed while the locks waited (nothing).
        eprintln!("{kind:?} printed on stderr while the locks waited: {stderr:?}");
        assert_eq!(timeout_warnings(&stderr), Vec::<&str>::new(), "{stderr}");
    }
    // Chromium, Node.js and Deno run a delay of 2^31 ms after about 1 ms (the 32-bit
    // overflow etcdgw's pieces stay clear of); workerd keeps it.
    let facts = host.timer_facts().await;
    let longer = if kind == Kind::Workerd {
        "pending"
    } else {
        "fired"
    };
    assert_eq!(facts, json!({"2^31-1": "pending", "2^31": longer}));
    // The probe's 2^31 ms is a delay the runtime warns about: the check above can see one.
    if let Some(stderr) = host.stderr() {
        assert!(!timeout_warnings(&stderr).is_empty(), "{kind:?}: {stderr}");
    }
    host.close().await;
}

/// The request heads (request line and headers, lowercase) of every `POST path` in `sent`.
fn heads_of<'a>(sent: &'a str, path: &str) -> Vec<&'a str> {
    let start = format!("post {path} http/1.1\r\n");
    sent.match_indices(&start)
        .map(|(at, _)| {
            let head = &sent[at..];
            &head[..head.find("\r\n\r\n").unwrap_or(head.len())]
        })
        .collect()
}

/// The value of header `name` in a request head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim())
}

/// The detection the library makes (src/rt/host.rs), seen on the wire: a lock waited on with
/// a handle's deadline tells etcd that deadline (`Grpc-Timeout`, as a native client does), and
/// its request is marked JSON, from Node.js, Deno and workerd; from a browser neither (etcd's
/// CORS answer allows neither header), no preflight either, and the wait ends with the client's
/// own `Timeout`. The requests are read as they reached etcd, through a proxy that keeps them.
pub async fn a_blocking_call_tells_the_server_its_deadline_unless_cors_applies(kind: Kind) {
    let etcd = Etcd::start().await;
    let upstream = etcd.endpoint().trim_start_matches("http://").to_string();
    let proxy = Proxy::start(upstream).await;
    let mut host = Host::open(kind).await;
    let deadline_ms = 1500;
    let run = host
        .start(
            "server_deadline",
            json!([proxy.endpoint(), etcd.endpoint(), "h/deadline", deadline_ms]),
        )
        .await;
    host.step(&run, "held:").await;
    let got = host.result(&run).await;
    let sent = String::from_utf8_lossy(&proxy.sent()).to_lowercase();
    let locks = heads_of(&sent, "/v3/lock/lock");
    assert_eq!(locks.len(), 1, "{kind:?} sent {sent}");
    let lock = locks[0];
    let waited = got["waited"].as_str().expect("how the wait ended");
    eprintln!(
        "{kind:?}: the lock waited on for {deadline_ms} ms ended with {waited}; grpc-timeout: {:?}",
        header(lock, "grpc-timeout")
    );
    if kind.applies_cors() {
        assert_eq!(header(lock, "grpc-timeout"), None, "{lock}");
        assert_ne!(header(lock, "content-type"), Some("application/json"));
        assert!(!sent.contains("options /v3/lock/lock"), "a preflight");
        assert_eq!(waited, "Timeout");
    } else {
        let deadline = header(lock, "grpc-timeout").unwrap_or_else(|| panic!("{lock}"));
        let millis: u64 = deadline
            .strip_suffix('m')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("grpc-timeout: {deadline}"));
        assert!((1..=deadline_ms).contains(&millis), "{deadline}");
        assert_eq!(header(lock, "content-type"), Some("application/json"));
        // Whichever comes first: the client's own deadline, or etcd's answer to it.
        assert!(
            ["Timeout", "DeadlineExceeded"].contains(&waited),
            "{waited}"
        );
    }
    // The lock's waiter key went with its lease: nothing is left under the name.
    assert_eq!(
        etcdctl_text(&etcd, &["get", "--prefix", "h/deadline", "--keys-only"]),
        ""
    );
    host.close().await;
}
