//! The blocking client (`etcdgw::blocking`) against live members, from plain threads with no
//! runtime of the test's own around the calls: each group of calls, a watch iterated across a
//! member restart, guards released by a panicking thread, several threads on one client, the
//! concurrency recipes, and calls from inside an async runtime refused with the typed error.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;

use etcdgw::blocking::concurrency::{Election, Mutex, Session, Stm};
use etcdgw::blocking::Client;
use etcdgw::{
    Compare, CompareOp, ConnectOptions, Error, EventType, GetOptions, LeaseTimeToLiveOptions,
    LockOptions, Permission, PutOptions, Txn, TxnOp, WatchOptions, WatchResponse,
};

use etcdgw_test_support::etcd::gateway_has_hash_kv;
use etcdgw_test_support::{wait_until_blocking, Etcd};

/// A member started by the async harness, with the runtime that started it (restarts need
/// it); the blocking client itself is used outside that runtime.
struct Member {
    rt: tokio::runtime::Runtime,
    etcd: Etcd,
}

impl Member {
    fn start() -> Member {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let etcd = rt.block_on(Etcd::start());
        Member { rt, etcd }
    }

    fn client(&self) -> Client {
        Client::connect([self.etcd.endpoint()], None).unwrap()
    }

    fn restart(&mut self) {
        self.rt.block_on(self.etcd.restart());
    }
}

fn value_of(client: &Client, key: &str) -> Option<String> {
    let resp = client.get(key, None).unwrap();
    resp.kvs()
        .first()
        .map(|kv| kv.value_str().unwrap().to_string())
}

#[test]
fn kv_calls_return_the_async_clients_answers() {
    let member = Member::start();
    let client = member.client();

    client.put("app/a", "1", None).unwrap();
    let replaced = client
        .put("app/a", "2", Some(PutOptions::new().with_prev_key()))
        .unwrap();
    assert_eq!(replaced.prev_key().unwrap().value_str().unwrap(), "1");
    client.put("app/b", "3", None).unwrap();
    let resp = client
        .get("app/", Some(GetOptions::new().with_prefix()))
        .unwrap();
    let pairs: Vec<_> = resp
        .kvs()
        .iter()
        .map(|kv| (kv.key_str().unwrap(), kv.value_str().unwrap()))
        .collect();
    assert_eq!(pairs, [("app/a", "2"), ("app/b", "3")]);

    let txn = Txn::new()
        .when([Compare::version("app/leader", CompareOp::Equal, 0)])
        .and_then([TxnOp::put("app/leader", "me", None)]);
    assert!(client.txn(txn.clone()).unwrap().succeeded());
    assert!(!client.txn(txn).unwrap().succeeded());

    let deleted = client.delete("app/b", None).unwrap();
    assert_eq!(deleted.deleted(), 1);
    let revision = client
        .get("app/a", None)
        .unwrap()
        .header()
        .unwrap()
        .revision();
    client.compact(revision, None).unwrap();
    let err = client
        .get("app/a", Some(GetOptions::new().with_revision(1)))
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(etcdgw::ServerErrorKind::Compacted));

    for i in 0..25 {
        client.put(format!("paged/{i:02}"), "v", None).unwrap();
    }
    let pages: Vec<_> = client
        .get_pages("paged/", Some(GetOptions::new().with_prefix()), 10)
        .unwrap()
        .map(|page| page.unwrap().kvs().len())
        .collect();
    assert_eq!(pages, [10, 10, 5]);
}

#[test]
fn leases_are_granted_listed_kept_alive_and_revoked() {
    let member = Member::start();
    let client = member.client();

    let lease = client.lease_grant(60, None).unwrap();
    client
        .put(
            "leased",
            "v",
            Some(PutOptions::new().with_lease(lease.id())),
        )
        .unwrap();
    let ttl = client
        .lease_time_to_live(lease.id(), Some(LeaseTimeToLiveOptions::new().with_keys()))
        .unwrap();
    assert_eq!(ttl.granted_ttl(), 60);
    assert_eq!(ttl.keys(), [b"leased".to_vec()]);
    let listed = client.leases().unwrap();
    assert!(listed.leases().iter().any(|l| l.id() == lease.id()));

    let (mut keeper, mut answers) = client.lease_keep_alive(lease.id()).unwrap();
    assert_eq!(keeper.id(), lease.id());
    keeper.keep_alive().unwrap();
    let refreshed = answers.message().unwrap().unwrap();
    assert_eq!((refreshed.id(), refreshed.ttl()), (lease.id(), 60));

    client.lease_revoke(lease.id()).unwrap();
    assert_eq!(value_of(&client, "leased"), None);
    keeper.keep_alive().unwrap();
    let gone = answers.next().unwrap().unwrap_err();
    assert_eq!(
        gone.server_kind(),
        Some(etcdgw::ServerErrorKind::LeaseNotFound)
    );
    drop(keeper);
    assert!(answers.next().is_none(), "the answers end with the keeper");

    // A managed lease is refreshed in the background while this thread only asks about it:
    // its remaining TTL (whole seconds, refreshed every third of the TTL) goes back up.
    let mut managed = client.lease_grant_managed(6, None).unwrap();
    client
        .put(
            "kept",
            "v",
            Some(PutOptions::new().with_lease(managed.id())),
        )
        .unwrap();
    let mut lowest = i64::MAX;
    wait_until_blocking(
        "a background refresh of the managed lease",
        Duration::from_secs(30),
        || {
            let left = client.lease_time_to_live(managed.id(), None).unwrap().ttl();
            lowest = lowest.min(left);
            left > lowest
        },
    );
    assert!(managed.is_alive());
    assert_eq!(value_of(&client, "kept").as_deref(), Some("v"));
    managed.revoke().unwrap();
    assert_eq!(value_of(&client, "kept"), None);
}

/// The answers of `stream` until `events` events came, checking each is the next key in
/// order.
fn events(stream: &mut etcdgw::blocking::WatchStream, count: usize) -> Vec<(String, i64)> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let resp: WatchResponse = stream
            .next()
            .expect("the watch goes on")
            .expect("no watch error");
        for event in resp.events() {
            assert_eq!(event.event_type(), EventType::Put);
            let kv = event.kv().unwrap();
            seen.push((kv.key_str().unwrap().to_string(), kv.mod_revision()));
        }
    }
    seen
}

#[test]
fn a_watch_iterates_created_then_events_and_ends_with_its_last_watch() {
    let member = Member::start();
    let client = member.client();

    let mut stream = client
        .watch("w/", Some(WatchOptions::new().with_prefix()))
        .unwrap();
    let created = stream.next().unwrap().unwrap();
    assert!(created.created());
    let first_id = created.watch_id();
    for i in 0..3 {
        client.put(format!("w/{i}"), "v", None).unwrap();
    }
    let keys: Vec<_> = events(&mut stream, 3).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["w/0", "w/1", "w/2"]);

    stream.watch("other", None).unwrap();
    let second = stream.message().unwrap().unwrap();
    assert!(second.created() && second.watch_id() != first_id);
    client.put("other", "v", None).unwrap();
    let other = stream.message().unwrap().unwrap();
    assert_eq!(other.watch_id(), second.watch_id());
    assert_eq!(other.events()[0].kv().unwrap().key(), b"other");

    stream.request_progress().unwrap();
    let progress = stream.next().unwrap().unwrap();
    assert!(progress.is_progress_notify(), "{progress:?}");
    assert!(progress.header().unwrap().revision() >= other.header().unwrap().revision());

    stream.cancel(first_id).unwrap();
    stream.cancel(second.watch_id()).unwrap();
    let cancelled: BTreeSet<i64> = stream
        .by_ref()
        .map(|resp| {
            let resp = resp.unwrap();
            assert!(resp.canceled(), "{resp:?}");
            resp.watch_id()
        })
        .collect();
    assert_eq!(cancelled, BTreeSet::from([first_id, second.watch_id()]));
    assert!(
        stream.next().is_none(),
        "no watch is left: the iterator ended"
    );
}

#[test]
fn a_watch_iterated_across_a_member_restart_sees_every_event_once() {
    let mut member = Member::start();
    let client = member.client();
    let writer = Client::connect(
        [member.etcd.endpoint()],
        Some(ConnectOptions::new().with_timeout(Duration::from_secs(5))),
    )
    .unwrap();

    let mut stream = client
        .watch("r/", Some(WatchOptions::new().with_prefix()))
        .unwrap();
    assert!(stream.next().unwrap().unwrap().created());
    for i in 0..10 {
        writer.put(format!("r/{i:02}"), "before", None).unwrap();
    }
    let mut seen = events(&mut stream, 10);

    // The watch's connection breaks with the member; the writes after the restart reach the
    // member before the watch is back, so they come from the resume.
    member.restart();
    for i in 10..20 {
        writer.put(format!("r/{i:02}"), "after", None).unwrap();
    }
    seen.extend(events(&mut stream, 10));

    let keys: Vec<String> = seen.iter().map(|(k, _)| k.clone()).collect();
    let expected: Vec<String> = (0..20).map(|i| format!("r/{i:02}")).collect();
    assert_eq!(keys, expected, "every event once, in order");
    assert!(seen.windows(2).all(|w| w[0].1 < w[1].1), "{seen:?}");
}

#[test]
fn locks_wait_unlock_and_obey_the_handles_deadline() {
    let member = Member::start();
    let client = member.client();

    let lease = client.lease_grant(60, None).unwrap();
    let held = client
        .lock("locks/a", Some(LockOptions::new().with_lease(lease.id())))
        .unwrap();
    assert!(held.key().starts_with(b"locks/a/"));
    let err = client
        .with_timeout(Duration::from_millis(500))
        .lock("locks/a", None)
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    client.unlock(held.key()).unwrap();

    let guard = client.lock_guard("locks/a", 10, None).unwrap();
    assert_eq!(
        value_of(&client, std::str::from_utf8(guard.key()).unwrap()).as_deref(),
        Some("")
    );
    let key = guard.key().to_vec();
    guard.unlock().unwrap();
    assert_eq!(client.get(key, None).unwrap().count(), 0);
}

#[test]
fn guards_dropped_by_a_panicking_thread_release_their_locks() {
    let member = Member::start();
    let client = member.client();
    let session = Session::new(&client, None).unwrap();

    let (held_tx, held_rx) = mpsc::channel();
    let worker = {
        let client = client.clone();
        let session = session.clone();
        std::thread::spawn(move || {
            // TTLs far longer than the test: only the drops can free these locks in time.
            let guard = client.lock_guard("jobs/nightly", 600, None).unwrap();
            let mutex_guard = Mutex::new(&session, "jobs/mutex").lock().unwrap();
            held_tx
                .send((guard.key().to_vec(), mutex_guard.key().to_vec()))
                .unwrap();
            panic!("the job failed while holding its locks");
        })
    };
    let (lock_key, mutex_key) = held_rx.recv().unwrap();
    assert!(worker.join().is_err(), "the worker panicked");

    // The unwinding dropped the guards, and each drop waited until its key was deleted.
    assert_eq!(client.get(lock_key, None).unwrap().count(), 0);
    assert_eq!(client.get(mutex_key, None).unwrap().count(), 0);
    let next = client
        .with_timeout(Duration::from_secs(10))
        .lock_guard("jobs/nightly", 600, None)
        .unwrap();
    next.unlock().unwrap();
    let other = Session::new(&client, None).unwrap();
    let taken = Mutex::new(&other, "jobs/mutex").try_lock().unwrap();
    assert!(taken.is_some(), "the mutex is free");
}

#[test]
fn elections_campaign_proclaim_observe_and_resign() {
    let member = Member::start();
    let client = member.client();

    let lease = client.lease_grant(60, None).unwrap();
    let elected = client.campaign("elect/a", "first", lease.id()).unwrap();
    let leader_key = elected.leader().unwrap().clone();
    let mut observed = client.observe("elect/a").unwrap();
    let current = observed.next().unwrap().unwrap();
    assert_eq!(current.kv().unwrap().value_str().unwrap(), "first");

    client
        .proclaim(
            "second",
            Some(etcdgw::ProclaimOptions::new().with_leader(leader_key.clone())),
        )
        .unwrap();
    let changed = observed.message().unwrap().unwrap();
    assert_eq!(changed.kv().unwrap().value_str().unwrap(), "second");
    let leader = client.leader("elect/a").unwrap();
    assert_eq!(leader.kv().unwrap().value_str().unwrap(), "second");

    client
        .resign(Some(etcdgw::ResignOptions::new().with_leader(leader_key)))
        .unwrap();
    assert_eq!(
        client
            .get("elect/a/", Some(GetOptions::new().with_prefix()))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn auth_users_and_roles_and_a_client_that_logs_in() {
    let member = Member::start();
    let admin = member.client();
    admin.user_add("root", "root-pw", None).unwrap();
    admin.role_add("root").unwrap();
    admin.user_grant_role("root", "root").unwrap();
    admin.user_add("alice", "alice-pw", None).unwrap();
    admin.role_add("reader").unwrap();
    admin
        .role_grant_permission("reader", Permission::read("data/").with_prefix())
        .unwrap();
    admin.user_grant_role("alice", "reader").unwrap();
    assert_eq!(admin.user_get("alice").unwrap().roles(), ["reader"]);
    assert_eq!(admin.role_list().unwrap().roles(), ["reader", "root"]);
    admin.auth_enable().unwrap();

    let root = Client::connect(
        [member.etcd.endpoint()],
        Some(ConnectOptions::new().with_user("root", "root-pw")),
    )
    .unwrap();
    root.put("data/x", "1", None).unwrap();
    let alice = Client::connect(
        [member.etcd.endpoint()],
        Some(ConnectOptions::new().with_user("alice", "alice-pw")),
    )
    .unwrap();
    assert_eq!(value_of(&alice, "data/x").as_deref(), Some("1"));
    let denied = alice.put("data/x", "2", None).unwrap_err();
    assert_eq!(
        denied.server_kind(),
        Some(etcdgw::ServerErrorKind::PermissionDenied)
    );
    assert!(root.token_refreshes() >= 1);

    root.auth_disable().unwrap();
    root.user_delete("alice").unwrap();
    root.role_delete("reader").unwrap();
    assert_eq!(admin.user_list().unwrap().users(), ["root"]);
}

#[test]
fn cluster_and_maintenance_calls_and_a_snapshot_to_a_writer_and_a_file() {
    let member = Member::start();
    let client = member.client();
    client.put("k", "v", None).unwrap();

    let members = client.member_list().unwrap();
    assert_eq!(members.members().len(), 1);
    let status = client.status().unwrap();
    assert!(status.version().starts_with('3'), "{}", status.version());
    assert_eq!(
        client
            .alarm(etcdgw::AlarmAction::Get, etcdgw::AlarmType::None, None)
            .unwrap()
            .alarms()
            .len(),
        0
    );
    client.defragment().unwrap();
    client.hash().unwrap();
    if gateway_has_hash_kv() {
        client.hash_kv(0).unwrap();
    }
    let synced = client.sync_endpoints().unwrap();
    assert_eq!(synced.len(), 1);

    let mut bytes = Vec::new();
    let info = client.snapshot().unwrap().save_to(&mut bytes).unwrap();
    assert_eq!(info.size, bytes.len() as u64);
    assert!(info.size > 32);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.db");
    let saved = client.snapshot().unwrap().save_to_file(&path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), saved.size);
    // Read piece by piece, it ends after the last (the backend changes between snapshots, so
    // its size need not be the file's).
    let mut pieces = client.snapshot().unwrap();
    let read: u64 = pieces
        .by_ref()
        .map(|piece| piece.unwrap().blob().len() as u64)
        .sum();
    assert!(read > 32, "{read} bytes");
    assert!(pieces.next().is_none());
}

#[test]
fn one_client_serves_many_threads_at_once() {
    let member = Member::start();
    let client = member.client();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    client.put(format!("t/{t}/{i}"), "v", None).unwrap();
                    assert_eq!(
                        value_of(&client, &format!("t/{t}/{i}")).as_deref(),
                        Some("v")
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let all = client
        .get("t/", Some(GetOptions::new().with_prefix()))
        .unwrap();
    assert_eq!(all.count(), 160);
}

#[test]
fn a_mutex_try_lock_and_try_lock_for_and_a_session_that_ends() {
    let member = Member::start();
    let client = member.client();
    let ours = Session::new(&client, None).unwrap();
    let theirs = Session::new(&client, None).unwrap();

    let guard = Mutex::new(&ours, "m").try_lock().unwrap().unwrap();
    assert!(guard.key().starts_with(b"m/"));
    let contender = Mutex::new(&theirs, "m");
    assert!(contender.try_lock().unwrap().is_none());
    assert!(contender
        .try_lock_for(Duration::from_millis(300))
        .unwrap()
        .is_none());
    // Neither try left a key behind: only the holder's is there.
    wait_until_blocking(
        "the contender's key removed",
        Duration::from_secs(30),
        || {
            client
                .get("m/", Some(GetOptions::new().with_prefix()))
                .unwrap()
                .count()
                == 1
        },
    );
    let fenced = Txn::new()
        .when([guard.is_owner()])
        .and_then([TxnOp::put("fenced", "yes", None)]);
    assert!(client.txn(fenced).unwrap().succeeded());
    guard.unlock().unwrap();
    let taken = contender
        .try_lock_for(Duration::from_secs(10))
        .unwrap()
        .expect("free now");
    drop(taken);

    ours.close().unwrap();
    assert!(!ours.is_alive());
    assert_eq!(
        ours.done().unwrap(),
        etcdgw::concurrency::SessionEnd::Closed
    );
    let err = Mutex::new(&ours, "m").try_lock().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
}

#[test]
fn the_election_recipe_campaigns_observes_and_resigns() {
    let member = Member::start();
    let client = member.client();
    let session = Session::new(&client, None).unwrap();
    let election = Election::new(&session, "recipe");
    let mut leadership = election.campaign("a").unwrap();
    let mut leaders = election.observe();
    assert_eq!(leaders.next().unwrap().unwrap().value(), b"a");
    assert!(leadership.proclaim("b").unwrap());
    assert_eq!(leaders.message().unwrap().unwrap().value(), b"b");
    assert_eq!(election.leader().unwrap().unwrap().value(), b"b");
    leadership.resign().unwrap();
    assert!(election.leader().unwrap().is_none());
}

#[test]
fn stm_transfers_from_several_threads_add_up() {
    let member = Member::start();
    let client = member.client();
    client.put("acct/a", "100", None).unwrap();
    client.put("acct/b", "0", None).unwrap();
    let transfers: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    Stm::run(&client, None, |stm| {
                        let read = |key: &str| -> etcdgw::Result<i64> {
                            let value = stm.get(key)?.unwrap_or_default();
                            Ok(String::from_utf8(value).unwrap().parse().unwrap())
                        };
                        let (a, b) = (read("acct/a")?, read("acct/b")?);
                        stm.put("acct/a", (a - 1).to_string(), None);
                        stm.put("acct/b", (b + 1).to_string(), None);
                        Ok::<_, Error>(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in transfers {
        t.join().unwrap();
    }
    assert_eq!(value_of(&client, "acct/a").as_deref(), Some("80"));
    assert_eq!(value_of(&client, "acct/b").as_deref(), Some("20"));
}

#[tokio::test]
async fn inside_an_async_runtime_calls_are_refused_and_send_nothing() {
    let etcd = Etcd::start().await;
    let endpoint = etcd.endpoint();
    // Made on a thread of its own, as a program would outside its runtime.
    let client = std::thread::spawn(move || Client::connect([endpoint], None))
        .join()
        .unwrap()
        .unwrap();

    let err = client.put("k", "v", None).unwrap_err();
    assert!(
        matches!(err, Error::BlockingInAsync { call, .. } if call == "etcdgw::blocking::Client::put"),
        "{err}"
    );
    assert!(err.to_string().contains("async runtime"), "{err}");
    // spawn_blocking's threads belong to the runtime too.
    let in_pool = {
        let client = client.clone();
        tokio::task::spawn_blocking(move || client.get("k", None).map(|_| ()))
            .await
            .unwrap()
    };
    assert!(matches!(in_pool, Err(Error::BlockingInAsync { .. })));
    let async_client = etcd.client().await;
    assert_eq!(async_client.get("k", None).await.unwrap().count(), 0);

    // The same client works from a plain thread, and dropping it here neither blocks nor
    // panics.
    let from_thread = client.clone();
    std::thread::spawn(move || from_thread.put("k", "v", None).map(|_| ()))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(async_client.get("k", None).await.unwrap().count(), 1);
    drop(client);
}

#[test]
fn the_readmes_first_example_is_the_blocking_script() {
    let readme = include_str!("../../README.md");
    let script = include_str!("../../examples/script.rs");
    let code: Vec<&str> = script.lines().filter(|l| !l.starts_with("//!")).collect();
    let first = readme
        .split("```rust")
        .nth(1)
        .and_then(|block| block.split("```").next())
        .expect("a Rust block in the README");
    assert_eq!(
        first.trim_start_matches(",no_run").trim(),
        code.join("\n").trim(),
        "README's first example and examples/script.rs differ"
    );
}
