//! The client-side recipes of `etcdgw::concurrency` against live members: sessions, the
//! mutex (with `etcdctl lock` on the same name) and the election (with `etcdctl elect`).

use std::process::Stdio;
use std::time::Duration;

use etcdgw::concurrency::{Election, Mutex, Session, SessionEnd, SessionOptions};
use etcdgw::{Client, GetOptions, ServerErrorKind, Txn, TxnOp};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use etcdgw_test_support::etcd::etcdctl_bin;
use etcdgw_test_support::{wait_until, Etcd};

/// A hang guard: far above anything these tests wait for.
const PATIENCE: Duration = Duration::from_secs(30);

async fn session(client: &Client, ttl_secs: u64) -> Session {
    let options = SessionOptions::new().with_ttl(Duration::from_secs(ttl_secs));
    Session::new(client, Some(options)).await.unwrap()
}

/// The keys under `prefix`, in creation order.
async fn keys(client: &Client, prefix: &str) -> Vec<String> {
    let options = GetOptions::new()
        .with_prefix()
        .with_sort(etcdgw::SortTarget::Create, etcdgw::SortOrder::Ascend);
    client
        .get(prefix, Some(options))
        .await
        .unwrap()
        .kvs()
        .iter()
        .map(|kv| kv.key_str().unwrap().to_string())
        .collect()
}

/// An etcdctl concurrency command (`lock` or `elect`) and the lines it prints.
struct Ctl {
    child: tokio::process::Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Ctl {
    fn start(etcd: &Etcd, args: &[&str]) -> Ctl {
        let mut child = tokio::process::Command::new(etcdctl_bin())
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", etcd.endpoint()))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ctl { child, lines }
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.lines.recv())
            .await
            .expect("etcdctl printed nothing")
            .expect("etcdctl ended")
    }

    /// SIGTERM, as an operator's Ctrl-C: etcdctl unlocks or resigns before it exits.
    async fn terminate(mut self) {
        let pid = self.child.id().unwrap();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn our_mutex_and_etcdctl_lock_exclude_each_other_both_ways() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let ours = session(&client, 10).await;
    let guard = Mutex::new(&ours, "interop").lock().await.unwrap();
    assert_eq!(
        guard.key(),
        format!("interop/{:x}", ours.lease()).as_bytes(),
        "Go's key layout"
    );

    // etcdctl queues behind us and waits.
    let mut ctl = Ctl::start(&etcd, &["lock", "interop"]);
    wait_until("etcdctl queues", PATIENCE, || async {
        keys(&client, "interop/").await.len() == 2
    })
    .await;
    assert!(
        ctl.lines.try_recv().is_err(),
        "etcdctl must wait while we hold the lock"
    );
    guard.unlock().await.unwrap();
    let ctl_key = ctl.line().await;
    assert!(ctl_key.starts_with("interop/"), "{ctl_key}");
    assert_eq!(keys(&client, "interop/").await, [ctl_key.as_str()]);

    // Now etcdctl holds it: a try fails at once and leaves no key; a lock waits.
    let other = session(&client, 10).await;
    let mutex = Mutex::new(&other, "interop");
    assert!(mutex.try_lock().await.unwrap().is_none());
    assert_eq!(keys(&client, "interop/").await, [ctl_key.as_str()]);
    let waiting = tokio::spawn(async move { mutex.lock().await });
    wait_until("we queue", PATIENCE, || async {
        keys(&client, "interop/").await.len() == 2
    })
    .await;
    assert!(
        !waiting.is_finished(),
        "we must wait while etcdctl holds the lock"
    );
    ctl.terminate().await;
    let guard = tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        keys(&client, "interop/").await,
        [String::from_utf8(guard.key().to_vec()).unwrap()]
    );
    guard.unlock().await.unwrap();
    assert!(keys(&client, "interop/").await.is_empty());
}

#[tokio::test]
async fn four_tasks_of_25_guarded_increments_end_at_exactly_100() {
    let etcd = Etcd::start().await;
    let setup = etcd.client().await;
    setup.put("counter", "0", None).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = etcd.client().await;
        tasks.push(tokio::spawn(async move {
            let session = session(&client, 10).await;
            let mutex = Mutex::new(&session, "counter-lock");
            for _ in 0..25 {
                let guard = mutex.lock().await.unwrap();
                // A read-modify-write only the lock keeps correct, written only while the
                // lock is still ours.
                let value: u32 = client.get("counter", None).await.unwrap().kvs()[0]
                    .value_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                tokio::task::yield_now().await;
                let txn = Txn::new().when([guard.is_owner()]).and_then([TxnOp::put(
                    "counter",
                    (value + 1).to_string(),
                    None,
                )]);
                assert!(client.txn(txn).await.unwrap().succeeded());
                guard.unlock().await.unwrap();
            }
            session.close().await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = setup.get("counter", None).await.unwrap();
    assert_eq!(total.kvs()[0].value_str().unwrap(), "100");
    assert!(keys(&setup, "counter-lock/").await.is_empty());
}

#[tokio::test]
async fn try_lock_on_a_held_lock_fails_at_once_and_leaves_no_key() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let holder = session(&client, 10).await;
    let held = Mutex::new(&holder, "busy")
        .try_lock()
        .await
        .unwrap()
        .unwrap();
    assert!(held.header().revision() >= held.rev());

    let trier = session(&client, 10).await;
    let mutex = Mutex::new(&trier, "busy");
    for _ in 0..3 {
        assert!(mutex.try_lock().await.unwrap().is_none());
    }
    let held_key = String::from_utf8(held.key().to_vec()).unwrap();
    assert_eq!(keys(&client, "busy/").await, [held_key]);

    // The lock belongs to the session: locked again through it, it is the same key, and it
    // stays held until both guards let go.
    let again = Mutex::new(&holder, "busy").lock().await.unwrap();
    assert_eq!((again.key(), again.rev()), (held.key(), held.rev()));
    drop(again);
    assert!(mutex.try_lock().await.unwrap().is_none());
    held.unlock().await.unwrap();
    let mine = mutex.try_lock().await.unwrap().expect("free now");
    assert_eq!(mine.key(), format!("busy/{:x}", trier.lease()).as_bytes());
    // An empty name is refused before anything is sent.
    let err = Mutex::new(&trier, "").try_lock().await.unwrap_err();
    assert!(
        matches!(err, etcdgw::Error::InvalidArgument { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_holder_whose_lease_is_revoked_elsewhere_loses_the_lock_to_the_waiter() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let holder = session(&client, 10).await;
    let held = Mutex::new(&holder, "shared").lock().await.unwrap();
    let waiter = session(&client, 10).await;
    let mutex = Mutex::new(&waiter, "shared");
    let waiting = tokio::spawn(async move { mutex.lock().await });
    wait_until("the waiter queues", PATIENCE, || async {
        keys(&client, "shared/").await.len() == 2
    })
    .await;
    assert!(!waiting.is_finished());

    // An operator revokes the holder's lease.
    let operator = etcd.client().await;
    operator.lease_revoke(holder.lease()).await.unwrap();

    let got = tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got.key(), format!("shared/{:x}", waiter.lease()).as_bytes());
    assert_eq!(
        tokio::time::timeout(PATIENCE, holder.done()).await.unwrap(),
        SessionEnd::LeaseNotFound
    );
    // The old holder's guarded writes fail; the new holder's succeed.
    let write = |guard: &etcdgw::concurrency::MutexGuard| {
        Txn::new()
            .when([guard.is_owner()])
            .and_then([TxnOp::put("shared-state", "x", None)])
    };
    assert!(!client.txn(write(&held)).await.unwrap().succeeded());
    assert!(client.txn(write(&got)).await.unwrap().succeeded());
    // A lock through the lost session fails with etcd's "lease not found".
    let err = Mutex::new(&holder, "elsewhere").lock().await.unwrap_err();
    assert_eq!(
        err.server_kind(),
        Some(ServerErrorKind::LeaseNotFound),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_waiter_cancelled_by_its_deadline_removes_its_key() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let holder = session(&client, 10).await;
    let held = Mutex::new(&holder, "deadline").lock().await.unwrap();
    let waiter = session(&client, 10).await;
    let mutex = Mutex::new(&waiter, "deadline");

    let attempt = tokio::time::timeout(Duration::from_millis(500), mutex.lock()).await;
    assert!(attempt.is_err(), "the lock is held: the deadline passes");
    let held_key = String::from_utf8(held.key().to_vec()).unwrap();
    wait_until(
        "the cancelled waiter's key is removed",
        PATIENCE,
        || async { keys(&client, "deadline/").await == [held_key.clone()] },
    )
    .await;

    // Dropping the guard releases the lock in the background; the waiter then gets it.
    drop(held);
    let got = tokio::time::timeout(PATIENCE, mutex.lock())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(keys(&client, "deadline/").await.len(), 1);
    got.unlock().await.unwrap();
}

#[tokio::test]
async fn session_loss_is_signalled_after_a_revoke_and_close_releases_everything() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let revoked = session(&client, 2).await;
    assert!(revoked.is_alive());
    assert!(revoked.ttl() >= 2);
    client.lease_revoke(revoked.lease()).await.unwrap();
    // Seen at the next keep-alive, at most a third of the TTL later.
    let end = tokio::time::timeout(PATIENCE, revoked.done())
        .await
        .unwrap();
    assert_eq!(end, SessionEnd::LeaseNotFound);
    assert!(!revoked.is_alive());

    let closed = session(&client, 30).await;
    let guard = Mutex::new(&closed, "released").lock().await.unwrap();
    let election = Election::new(&closed, "resigned");
    let leadership = election.campaign("me").await.unwrap();
    closed.close().await.unwrap();
    assert_eq!(closed.done().await, SessionEnd::Closed);
    assert!(keys(&client, "released/").await.is_empty());
    assert!(keys(&client, "resigned/").await.is_empty());
    drop((guard, leadership));
    // A closed session is refused before anything is sent.
    let err = Mutex::new(&closed, "again").lock().await.unwrap_err();
    assert!(
        matches!(err, etcdgw::Error::InvalidArgument { .. }),
        "{err:?}"
    );
    // Closing again, with the lease gone, is fine.
    closed.close().await.unwrap();
    // A session on a lease that does not exist is refused by etcd.
    let err = Session::new(&client, Some(SessionOptions::new().with_lease(0x1234)))
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::LeaseNotFound));
}

#[tokio::test]
async fn session_loss_is_signalled_within_the_ttl_when_the_member_is_gone() {
    let mut etcd = Etcd::start().await;
    let client = etcd.client().await;
    let session = session(&client, 2).await;
    let existing = Session::new(
        &client,
        Some(SessionOptions::new().with_lease(session.lease())),
    )
    .await
    .unwrap();
    assert_eq!(existing.lease(), session.lease());
    etcd.member.kill();
    let end = tokio::time::timeout(PATIENCE, session.done())
        .await
        .unwrap();
    assert_eq!(end, SessionEnd::KeepAliveFailed);
    assert_eq!(
        tokio::time::timeout(PATIENCE, existing.done())
            .await
            .unwrap(),
        SessionEnd::KeepAliveFailed
    );
}

#[tokio::test]
async fn our_election_and_etcdctl_elect_hand_leadership_over_both_ways() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    // etcdctl leads first.
    let mut ctl = Ctl::start(&etcd, &["elect", "interop-e", "from-etcdctl"]);
    let ctl_key = ctl.line().await;
    assert!(ctl_key.starts_with("interop-e/"), "{ctl_key}");
    assert_eq!(ctl.line().await, "from-etcdctl");
    let ours = session(&client, 10).await;
    let election = Election::new(&ours, "interop-e");
    let leader = election.leader().await.unwrap().expect("etcdctl leads");
    assert_eq!(leader.key_str().unwrap(), ctl_key);
    assert_eq!(leader.value_str().unwrap(), "from-etcdctl");
    // So does etcd's election service.
    let served = client.leader("interop-e").await.unwrap();
    assert_eq!(served.kv().unwrap().value_str().unwrap(), "from-etcdctl");

    let mut observer = Ctl::start(&etcd, &["elect", "-l", "interop-e"]);
    assert_eq!(observer.line().await, ctl_key);
    assert_eq!(observer.line().await, "from-etcdctl");

    let campaign = {
        let election = election.clone();
        tokio::spawn(async move { election.campaign("from-etcdgw").await })
    };
    wait_until("our candidacy queues", PATIENCE, || async {
        keys(&client, "interop-e/").await.len() == 2
    })
    .await;
    assert!(!campaign.is_finished(), "etcdctl still leads");
    ctl.terminate().await; // etcdctl resigns
    let mut leadership = tokio::time::timeout(PATIENCE, campaign)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let our_key = format!("interop-e/{:x}", ours.lease());
    assert_eq!(leadership.key(), our_key.as_bytes());
    assert_eq!(observer.line().await, our_key);
    assert_eq!(observer.line().await, "from-etcdgw");
    assert!(leadership.proclaim("proclaimed").await.unwrap());
    assert_eq!(observer.line().await, our_key);
    assert_eq!(observer.line().await, "proclaimed");

    // etcdctl stands again and waits for us.
    let mut next = Ctl::start(&etcd, &["elect", "interop-e", "etcdctl-again"]);
    wait_until("etcdctl queues", PATIENCE, || async {
        keys(&client, "interop-e/").await.len() == 2
    })
    .await;
    assert!(
        next.lines.try_recv().is_err(),
        "etcdctl must wait while we lead"
    );
    leadership.resign().await.unwrap();
    let next_key = next.line().await;
    assert_eq!(next.line().await, "etcdctl-again");
    assert_eq!(observer.line().await, next_key);
    assert_eq!(observer.line().await, "etcdctl-again");
}

#[tokio::test]
async fn campaign_proclaim_resign_and_observe_between_two_sessions() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let a = session(&client, 10).await;
    let b = session(&client, 10).await;
    let election_a = Election::new(&a, "lead");
    let election_b = Election::new(&b, "lead");
    assert!(election_a.leader().await.unwrap().is_none());

    let mut leaders = election_b.observe();
    let mut leading = election_a.campaign("a1").await.unwrap();
    let first = tokio::time::timeout(PATIENCE, leaders.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.value_str().unwrap(), "a1");
    assert_eq!(first.lease(), a.lease());

    let campaign_b = tokio::spawn(async move { election_b.campaign("b1").await });
    wait_until("b queues", PATIENCE, || async {
        keys(&client, "lead/").await.len() == 2
    })
    .await;
    assert!(leading.proclaim("a2").await.unwrap());
    let next = tokio::time::timeout(PATIENCE, leaders.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.value_str().unwrap(), "a2");
    assert!(!campaign_b.is_finished());

    // A campaign again from the same session reuses its key and updates its value.
    let again = election_a.campaign("a3").await.unwrap();
    assert_eq!((again.key(), again.rev()), (leading.key(), leading.rev()));
    let next = tokio::time::timeout(PATIENCE, leaders.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.value_str().unwrap(), "a3");
    // Dropping one of the two leaves the other leading.
    drop(again);
    assert!(leading.proclaim("a4").await.unwrap());
    let next = tokio::time::timeout(PATIENCE, leaders.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.value_str().unwrap(), "a4");

    let (key, rev) = (leading.key().to_vec(), leading.rev());
    leading.resign().await.unwrap();
    let leading_b = tokio::time::timeout(PATIENCE, campaign_b)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let next = tokio::time::timeout(PATIENCE, leaders.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.value_str().unwrap(), "b1");
    assert_eq!(
        election_a
            .leader()
            .await
            .unwrap()
            .unwrap()
            .value_str()
            .unwrap(),
        "b1"
    );
    // a's old leadership is over: a proclamation through it writes nothing.
    let mut stale = election_a.resume(key, rev);
    assert!(!stale.proclaim("stale").await.unwrap());
    assert_eq!(
        election_a
            .leader()
            .await
            .unwrap()
            .unwrap()
            .value_str()
            .unwrap(),
        "b1"
    );
    let txn = Txn::new()
        .when([leading_b.is_leader()])
        .and_then([TxnOp::put("lead-state", "b", None)]);
    assert!(client.txn(txn).await.unwrap().succeeded());

    // The leader's session ends: observers see the next leader (none yet: they wait).
    b.close().await.unwrap();
    drop(leading_b);
    assert!(election_a.leader().await.unwrap().is_none());
    let _back = election_a.campaign("a5").await.unwrap();
    let next = tokio::time::timeout(PATIENCE, leaders.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.value_str().unwrap(), "a5");
}
