//! Locks against live members: mutual exclusion, a revoked holder, deadlines, and
//! interoperation with `etcdctl lock`.

use std::process::Stdio;
use std::time::Duration;

use etcdgw::{Client, LockOptions, ServerErrorKind};
use tokio::io::{AsyncBufReadExt, BufReader};

use etcdgw_test_support::etcd::etcdctl_bin;
use etcdgw_test_support::{wait_until, Etcd};

/// How long the server may take to register or clean up a waiter.
const PATIENCE: Duration = Duration::from_secs(10);

/// The keys under `prefix` (a lock's name and `/`): one per holder and waiter.
async fn keys_under(client: &Client, prefix: &str) -> Vec<Vec<u8>> {
    client
        .get(prefix, Some(etcdgw::GetOptions::new().with_prefix()))
        .await
        .unwrap()
        .kvs()
        .iter()
        .map(|kv| kv.key().to_vec())
        .collect()
}

#[tokio::test]
async fn two_clients_contending_never_hold_the_lock_together() {
    let etcd = Etcd::start().await;
    let setup = etcd.client().await;
    setup.put("counter", "0", None).await.unwrap();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let client = etcd.client().await; // separate clients, as separate processes would be
        workers.push(tokio::spawn(async move {
            for _ in 0..15 {
                let guard = client
                    .lock_client()
                    .lock_guard(
                        "counter-lock",
                        10,
                        Some(LockOptions::new().with_timeout(Duration::from_secs(20))),
                    )
                    .await
                    .unwrap();
                // An unprotected read-modify-write: only the lock keeps it correct.
                let value: u32 = client.get("counter", None).await.unwrap().kvs()[0]
                    .value_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                tokio::task::yield_now().await;
                client
                    .put("counter", (value + 1).to_string(), None)
                    .await
                    .unwrap();
                guard.unlock().await.unwrap();
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let total = setup.get("counter", None).await.unwrap();
    assert_eq!(
        total.kvs()[0].value_str().unwrap(),
        "30",
        "no increment was lost"
    );
}

#[tokio::test]
async fn a_holder_whose_lease_is_revoked_loses_the_lock_to_the_waiter() {
    let etcd = Etcd::start().await;
    let holder = etcd.client().await;
    let waiter = etcd.client().await;
    let lease = holder.lease_grant(30, None).await.unwrap().id();
    let held = holder
        .lock("shared", Some(LockOptions::new().with_lease(lease)))
        .await
        .unwrap();
    assert!(held.key().starts_with(b"shared/"));

    let waiting = tokio::spawn(async move {
        let lease = waiter.lease_grant(30, None).await.unwrap().id();
        waiter
            .lock(
                "shared",
                Some(
                    LockOptions::new()
                        .with_lease(lease)
                        .with_timeout(Duration::from_secs(20)),
                ),
            )
            .await
    });
    // The waiter's request is on the server (its key, behind the holder's), and it waits.
    wait_until("the waiter's key under shared/", PATIENCE, || async {
        keys_under(&holder, "shared/").await.len() == 2
    })
    .await;
    assert!(
        !waiting.is_finished(),
        "the waiter blocks while the lock is held"
    );
    holder.lease_revoke(lease).await.unwrap();
    let got = waiting.await.unwrap().unwrap();
    assert_ne!(got.key(), held.key());
}

#[tokio::test]
async fn a_lock_that_stays_held_fails_at_the_callers_deadline() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let guard = client
        .lock_client()
        .lock_guard("busy", 10, None)
        .await
        .unwrap();
    let err = client
        .lock(
            "busy",
            Some(LockOptions::new().with_timeout(Duration::from_millis(500))),
        )
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // The server stopped waiting too: after the holder unlocks, a new lock succeeds at once.
    guard.unlock().await.unwrap();
    let again = client
        .lock_client()
        .lock_guard(
            "busy",
            10,
            Some(LockOptions::new().with_timeout(Duration::from_secs(5))),
        )
        .await
        .unwrap();
    again.unlock().await.unwrap();
    assert!(client.lock("", None).await.is_err());
    let err = client
        .lock("x", Some(LockOptions::new().with_lease(123456)))
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::LeaseNotFound));
}

/// Dropping a pending call (here, by an outer timeout the client knows nothing about)
/// closes its request: the server stops waiting and removes the waiter's key, and the client
/// goes on serving calls.
#[tokio::test]
async fn a_dropped_lock_call_stops_waiting_on_the_server() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let holder = client
        .lock_client()
        .lock_guard("dropped", 10, None)
        .await
        .unwrap();
    let lease = client.lease_grant(60, None).await.unwrap().id();
    let waiting = client.lock("dropped", Some(LockOptions::new().with_lease(lease)));
    assert!(tokio::time::timeout(Duration::from_millis(500), waiting)
        .await
        .is_err());
    let keys = |client: Client| async move {
        client
            .get("dropped", Some(etcdgw::GetOptions::new().with_prefix()))
            .await
            .unwrap()
            .kvs()
            .iter()
            .map(|kv| kv.lease())
            .collect::<Vec<_>>()
    };
    // The server cleans the abandoned waiter's key up once it sees the request gone.
    let left = wait_until(
        "the server to remove the abandoned waiter's key",
        PATIENCE,
        || async {
            let left = keys(client.clone()).await;
            (!left.contains(&lease)).then_some(left)
        },
    )
    .await;
    assert_eq!(
        left,
        vec![holder.lease_id()],
        "only the holder's key is left"
    );
    // With the holder gone, nobody holds the lock: the dropped call did not take it later.
    holder.unlock().await.unwrap();
    // A negative, so time is the point: a call still alive would take the free lock in it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(keys(client.clone()).await.is_empty());
}

#[tokio::test]
async fn dropping_a_guard_releases_the_lock() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let guard = client
        .lock_client()
        .lock_guard("dropped", 30, None)
        .await
        .unwrap();
    drop(guard);
    // Released in the background long before the 30 s TTL.
    let next = client
        .lock_client()
        .lock_guard(
            "dropped",
            30,
            Some(LockOptions::new().with_timeout(Duration::from_secs(10))),
        )
        .await
        .unwrap();
    next.unlock().await.unwrap();
}

/// Starts `etcdctl lock NAME` (which holds the lock until killed) and waits for the line it
/// prints once it has the lock.
async fn etcdctl_lock(
    etcd: &Etcd,
    name: &str,
) -> (
    tokio::process::Child,
    tokio::sync::oneshot::Receiver<String>,
) {
    let mut child = tokio::process::Command::new(etcdctl_bin())
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", etcd.endpoint()))
        .args(["lock", name])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        if let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

#[tokio::test]
async fn an_etcdgw_lock_blocks_etcdctl_lock_and_the_other_way_round() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;

    let guard = client
        .lock_client()
        .lock_guard("interop", 10, None)
        .await
        .unwrap();
    let (mut ctl, mut acquired) = etcdctl_lock(&etcd, "interop").await;
    // etcdctl's key is on the server beside ours (the same layout), so Go's mutex waits on it.
    wait_until("etcdctl's key under interop/", PATIENCE, || async {
        keys_under(&client, "interop/").await.len() == 2
    })
    .await;
    assert!(
        acquired.try_recv().is_err(),
        "etcdctl must wait while etcdgw holds the lock"
    );
    guard.unlock().await.unwrap();
    let key = tokio::time::timeout(Duration::from_secs(10), acquired)
        .await
        .unwrap()
        .unwrap();
    assert!(key.starts_with("interop/"), "{key}");

    // Now etcdctl holds it: etcdgw waits until its deadline.
    let err = client
        .lock(
            "interop",
            Some(LockOptions::new().with_timeout(Duration::from_millis(700))),
        )
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    ctl.kill().await.unwrap();
    // Killed, etcdctl cannot revoke its session's lease (60 s TTL), so the lock would stay
    // until that lease expires; delete its key as an operator would, which releases it.
    client.delete(key.as_str(), None).await.unwrap();
    let again = client
        .lock_client()
        .lock_guard(
            "interop",
            10,
            Some(LockOptions::new().with_timeout(Duration::from_secs(10))),
        )
        .await
        .unwrap();
    again.unlock().await.unwrap();
}

#[tokio::test]
async fn a_lock_without_a_lease_holds_until_unlocked() {
    let etcd = Etcd::start().await;
    let client = Client::connect([etcd.endpoint()], None).await.unwrap();
    let held = client.lock("plain", None).await.unwrap();
    let err = client
        .lock(
            "plain",
            Some(LockOptions::new().with_timeout(Duration::from_millis(300))),
        )
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    client.unlock(held.key()).await.unwrap();
    let again = client
        .lock(
            "plain",
            Some(LockOptions::new().with_timeout(Duration::from_secs(5))),
        )
        .await
        .unwrap();
    client.unlock(again.key()).await.unwrap();
}

/// A lock call without a deadline of its own waits past the client's request timeout, until the
/// lock is free (as etcd-client and Go do); a handle's `with_timeout` gives it one, and the server
/// stops waiting then too.
#[tokio::test]
async fn a_lock_waits_until_free_unless_its_handle_has_a_deadline() {
    let etcd = Etcd::start().await;
    let client = etcd
        .client_with(etcdgw::ConnectOptions::new().with_timeout(Duration::from_millis(300)))
        .await;
    let holder = client
        .lock_client()
        .lock_guard("patient", 10, None)
        .await
        .unwrap();
    let lease = client.lease_grant(60, None).await.unwrap().id();
    let waiter = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .lock("patient", Some(LockOptions::new().with_lease(lease)))
                .await
        })
    };
    // Time is the point: three request timeouts pass, and the waiter still waits, not failed.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        !waiter.is_finished(),
        "the lock call gave up at the request timeout"
    );
    holder.unlock().await.unwrap();
    let taken = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiter gets the lock once it is free")
        .unwrap()
        .unwrap();
    assert!(taken.key().starts_with(b"patient/"));

    // A handle with a deadline: the call fails at it, with a typed timeout, and its key goes.
    let quick = client.with_timeout(Duration::from_millis(400));
    let other = client.lease_grant(60, None).await.unwrap().id();
    let err = quick
        .lock("patient", Some(LockOptions::new().with_lease(other)))
        .await
        .unwrap_err();
    assert!(
        err.is_timeout() || err.server_kind() == Some(ServerErrorKind::DeadlineExceeded),
        "{err:?}"
    );
    let leases = || async {
        client
            .get("patient/", Some(etcdgw::GetOptions::new().with_prefix()))
            .await
            .unwrap()
            .kvs()
            .iter()
            .map(|kv| kv.lease())
            .collect::<Vec<_>>()
    };
    wait_until("only the holder's key to be left", PATIENCE, || async {
        let left = leases().await;
        if left == vec![lease] {
            Ok(())
        } else {
            Err(left)
        }
    })
    .await;
    // The handle shares the client's connections: ordinary calls go on through both.
    quick.put("patient-ok", "1", None).await.unwrap();
    assert_eq!(client.get("patient-ok", None).await.unwrap().count(), 1);
}

/// A lock call waiting on a member that stops answering (SIGSTOP) moves to another member and
/// goes on waiting there (with a lease, the lock sent again takes up the same key), then gets
/// the lock when the holder lets go: blocking calls have no deadline, but the liveness check
/// still moves them off a dead member.
#[tokio::test]
async fn a_waiting_lock_moves_off_a_member_that_stops_answering() {
    let cluster = etcdgw_test_support::Cluster::start(3).await;
    let endpoints = cluster.endpoints();
    let options = etcdgw::ConnectOptions::new()
        .with_keep_alive(Duration::from_millis(500), Duration::from_millis(500));
    // The holder talks to the third member, the waiter starts on the first.
    let holder = Client::connect([endpoints[2].clone()], Some(options.clone()))
        .await
        .unwrap();
    let waiter = Client::connect(&endpoints, Some(options)).await.unwrap();
    let held = holder
        .lock_client()
        .lock_guard("moving", 30, None)
        .await
        .unwrap();
    let lease = waiter.lease_client().grant_managed(30, None).await.unwrap();
    let waiting = {
        let waiter = waiter.clone();
        let id = lease.id();
        tokio::spawn(async move {
            waiter
                .lock("moving", Some(LockOptions::new().with_lease(id)))
                .await
        })
    };
    wait_until("the waiter's key under moving/", PATIENCE, || async {
        keys_under(&holder, "moving/").await.len() == 2
    })
    .await;
    assert!(!waiting.is_finished());
    cluster.members[0].signal("STOP");
    // The liveness check gives up on the stopped member: the waiter's client takes it out of
    // rotation, and the waiting call moves on.
    wait_until(
        "the waiter's client to give up on the stopped member",
        PATIENCE,
        || async {
            let health = waiter.endpoint_health();
            if health[0].1 {
                Err(health)
            } else {
                Ok(())
            }
        },
    )
    .await;
    assert!(
        !waiting.is_finished(),
        "the waiter gave up instead of moving on"
    );
    // The holder unlocks once the live members have a leader (if the stopped member led, they
    // elect another first; until then a write times out on the server).
    let stopped = holder
        .member_list()
        .await
        .unwrap()
        .members()
        .iter()
        .find(|m| m.name() == cluster.members[0].name)
        .map(|m| m.id())
        .unwrap();
    wait_until("a leader among the live members", PATIENCE, || async {
        let leader = holder.status().await.map(|s| s.leader());
        match leader {
            Ok(id) if id != 0 && id != stopped => Ok(()),
            other => Err(other),
        }
    })
    .await;
    held.unlock().await.unwrap();
    let taken = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the waiter gets the lock on another member")
        .unwrap()
        .unwrap();
    assert!(taken.key().starts_with(b"moving/"));
    assert_ne!(
        taken.header().unwrap().member_id(),
        0,
        "answered by a member"
    );
    cluster.members[0].signal("CONT");
}
