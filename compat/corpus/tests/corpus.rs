//! Each corpus program against live etcd members started for the test (`$ETCD_BIN`; each
//! version of the matrix in turn, scripts/test.sh), with what it must do checked.

use std::collections::BTreeSet;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, Error, GetOptions, PutOptions};
use etcdgw_compat_corpus::{
    auth, backup, cas, config, election, errors, health, lease_keeper, lock, queue, registry,
    tenant, watch_cache,
};

use etcdgw_test_support::proxy::Proxy;
use etcdgw_test_support::{free_port, wait_until, Etcd};

async fn client(etcd: &Etcd) -> Client {
    Client::connect([etcd.endpoint()], None).await.unwrap()
}

#[tokio::test]
async fn errors_are_told_apart_as_etcd_client_users_tell_them() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd).await;
    let id = c.lease_grant(60, None).await.unwrap().id();
    assert!(errors::revoke_if_present(&mut c, id).await.unwrap());
    assert!(!errors::revoke_if_present(&mut c, id).await.unwrap());

    let first = c
        .put("e/k", "1", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    let last = c
        .put("e/k", "2", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    c.compact(last, None).await.unwrap();
    let old = c
        .get("e/k", Some(GetOptions::new().with_revision(first)))
        .await
        .unwrap_err();
    assert!(errors::is_compacted(&old), "{old}");
    assert!(!errors::needs_reconnect(&old));

    let gone = c.lease_revoke(id).await.unwrap_err();
    assert_eq!(errors::label(&gone), "not_found");

    let mut nowhere = Client::connect([format!("127.0.0.1:{}", free_port())], None)
        .await
        .unwrap();
    let refused = nowhere.get("e/k", None).await.unwrap_err();
    assert!(errors::needs_reconnect(&refused), "{refused:?}");
    assert_eq!(errors::label(&refused), "grpc");
}

#[tokio::test]
async fn auth_is_set_up_once_and_a_forgotten_token_is_fetched_again() {
    let etcd = Etcd::start().await;
    let mut admin = client(&etcd).await;
    auth::bootstrap(&mut admin, "rootpw", "app", "apppw", "app/")
        .await
        .unwrap();
    let mut root = Client::connect(
        [etcd.endpoint()],
        Some(ConnectOptions::new().with_user("root", "rootpw")),
    )
    .await
    .unwrap();
    // Again, as a deployment script runs it on every start: what exists is kept.
    auth::bootstrap(&mut root, "rootpw", "app", "apppw", "app/")
        .await
        .unwrap();

    let mut app = Client::connect(
        [etcd.endpoint()],
        Some(ConnectOptions::new().with_user("app", "apppw")),
    )
    .await
    .unwrap();
    app.put("app/greeting", "hello", None).await.unwrap();
    let denied = app.put("other", "x", None).await.unwrap_err();
    assert_eq!(errors::label(&denied), "permission_denied");

    // Turning auth off and on makes etcd forget every token, the app's included.
    root.auth_disable().await.unwrap();
    admin.auth_enable().await.unwrap();
    let value = auth::get_refreshing(&mut app, "app/greeting")
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("hello"));
}

#[tokio::test]
async fn a_kept_lease_keeps_its_key_until_it_is_revoked_elsewhere() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd).await;
    let mut lease = lease_keeper::KeptLease::start(&mut c, 2).await.unwrap();
    let with_lease = PutOptions::new().with_lease(lease.id());
    c.put("kept", "v", Some(with_lease)).await.unwrap();

    // Past the TTL, the key is still there: the keeper refreshed the lease.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(c.get("kept", None).await.unwrap().kvs().len(), 1);

    client(&etcd).await.lease_revoke(lease.id()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), lease.lost())
        .await
        .expect("the keeper sees the lease go");
    assert!(c.get("kept", None).await.unwrap().kvs().is_empty());
}

#[tokio::test]
async fn a_registry_lists_live_instances_only() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd).await;
    let a = registry::register(&mut c, "api", "a", "10.0.0.1:80", 2)
        .await
        .unwrap();
    let b = registry::register(&mut c, "api", "b", "10.0.0.2:80", 2)
        .await
        .unwrap();
    assert_eq!(a.key(), "services/api/a");
    assert_eq!(
        registry::discover(&mut c, "api").await.unwrap(),
        [
            ("a".to_string(), "10.0.0.1:80".to_string()),
            ("b".to_string(), "10.0.0.2:80".to_string())
        ]
    );

    a.deregister(&mut c).await.unwrap();
    assert_eq!(registry::discover(&mut c, "api").await.unwrap().len(), 1);

    // An instance that stops refreshing goes once its lease expires.
    b.abandon().await;
    let reader = client(&etcd).await;
    wait_until(
        "the abandoned instance expiring",
        Duration::from_secs(10),
        || {
            let mut reader = reader.clone();
            async move {
                registry::discover(&mut reader, "api")
                    .await
                    .is_ok_and(|i| i.is_empty())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn an_election_hands_leadership_over_on_resign() {
    let etcd = Etcd::start().await;
    let mut a = client(&etcd).await;
    assert_eq!(
        election::current_leader(&mut a, "jobs").await.unwrap(),
        None
    );
    let leading = election::campaign(&mut a, "jobs", "a", 30).await.unwrap();
    assert_eq!(leading.election().unwrap(), "jobs");
    leading.proclaim(&mut a, "a2").await.unwrap();
    assert_eq!(
        election::current_leader(&mut a, "jobs")
            .await
            .unwrap()
            .as_deref(),
        Some("a2")
    );

    let mut b = client(&etcd).await;
    let candidate = tokio::spawn(async move {
        let leadership = election::campaign(&mut b, "jobs", "b", 30).await.unwrap();
        (b, leadership)
    });
    let mut observer = client(&etcd).await;
    let watching =
        tokio::spawn(async move { election::wait_for_leader(&mut observer, "jobs", "b").await });

    leading.resign(&mut a).await.unwrap();
    let (mut b, b_leads) = candidate.await.unwrap();
    assert_eq!(
        election::current_leader(&mut b, "jobs")
            .await
            .unwrap()
            .as_deref(),
        Some("b")
    );
    let seen = watching.await.unwrap().unwrap();
    assert!(
        matches!(seen.first().map(String::as_str), Some("a2" | "b")),
        "{seen:?}"
    );
    b_leads.resign(&mut b).await.unwrap();
}

async fn store(c: &mut Client, prefix: &str) -> std::collections::BTreeMap<String, String> {
    c.get(prefix, Some(GetOptions::new().with_prefix()))
        .await
        .unwrap()
        .kvs()
        .iter()
        .map(|kv| {
            (
                kv.key_str().unwrap().to_string(),
                kv.value_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_watch_cache_follows_writes_and_a_member_restart() {
    let mut etcd = Etcd::start().await;
    let mut c = client(&etcd).await;
    c.put("cache/a", "1", None).await.unwrap();
    c.put("cache/b", "1", None).await.unwrap();
    let mut cache = watch_cache::PrefixCache::start(client(&etcd).await, "cache/")
        .await
        .unwrap();
    assert_eq!(cache.get("cache/a").as_deref(), Some("1"));

    c.put("cache/a", "2", None).await.unwrap();
    let rev = c
        .delete("cache/b", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    cache.caught_up(rev).await;
    assert_eq!(cache.snapshot(), store(&mut c, "cache/").await);

    // The member restarts: the watch breaks (an error, as etcd-client gives it) and the cache
    // watches again from where it got to.
    etcd.restart().await;
    let mut c = client(&etcd).await;
    let rev = c
        .put("cache/c", "3", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    tokio::time::timeout(Duration::from_secs(30), cache.caught_up(rev))
        .await
        .expect("the cache catches up after the restart");
    assert_eq!(cache.snapshot(), store(&mut c, "cache/").await);
    assert!(cache.rewatches() >= 1);
}

#[tokio::test]
async fn a_watch_cache_cut_off_during_a_compaction_reads_the_prefix_again() {
    let etcd = Etcd::start().await;
    let proxy = Proxy::start(format!("127.0.0.1:{}", etcd.member.client_port)).await;
    let mut c = client(&etcd).await;
    c.put("cut/a", "1", None).await.unwrap();
    let cache_client = Client::connect([proxy.endpoint()], None).await.unwrap();
    let mut cache = watch_cache::PrefixCache::start(cache_client, "cut/")
        .await
        .unwrap();

    // A partition between the cache and etcd, while the history it needs goes.
    proxy.cut();
    c.put("cut/a", "2", None).await.unwrap();
    c.put("cut/b", "1", None).await.unwrap();
    let rev = c
        .delete("cut/a", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    c.compact(rev, None).await.unwrap();
    proxy.restore();

    tokio::time::timeout(Duration::from_secs(30), cache.caught_up(rev))
        .await
        .expect("the cache catches up after the partition");
    assert_eq!(cache.snapshot(), store(&mut c, "cut/").await);
    assert_eq!(cache.reloads(), 1);
}

#[tokio::test]
async fn config_is_read_whole_and_changed_only_if_unchanged() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd).await;
    c.put("conf/mode", "fast", None).await.unwrap();
    c.put("conf/size", "10", None).await.unwrap();
    let settings = config::load(&mut c, "conf/").await.unwrap();
    assert_eq!(settings.keys().collect::<Vec<_>>(), ["mode", "size"]);

    let seen = settings["mode"].mod_revision;
    assert!(config::set_if_unchanged(&mut c, "conf/mode", "slow", seen)
        .await
        .unwrap());
    assert!(!config::set_if_unchanged(&mut c, "conf/mode", "lost", seen)
        .await
        .unwrap());
    assert!(config::set_if_unchanged(&mut c, "conf/new", "1", 0)
        .await
        .unwrap());

    c.put("conf/blob", vec![0xff, 0xfe], None).await.unwrap();
    let err = config::load(&mut c, "conf/").await.unwrap_err();
    assert!(matches!(err, Error::Utf8Error(_)), "{err:?}");
}

#[tokio::test]
async fn compare_and_swap_loses_no_increment() {
    let etcd = Etcd::start().await;
    let base = client(&etcd).await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let mut c = base.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    cas::increment(&mut c, "counter").await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = base.clone();
    assert_eq!(cas::increment(&mut c, "counter").await.unwrap(), 41);
}

#[tokio::test]
async fn a_lock_makes_read_then_write_safe() {
    let etcd = Etcd::start().await;
    let base = client(&etcd).await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let mut c = base.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    lock::with_lock(&mut c, "locks/n", 30, |mut c| async move {
                        let resp = c.get("n", None).await?;
                        let n: i64 = match resp.kvs().first() {
                            Some(kv) => kv.value_str()?.parse().unwrap_or(0),
                            None => 0,
                        };
                        c.put("n", (n + 1).to_string(), None).await?;
                        Ok(())
                    })
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = base.clone();
    assert_eq!(
        c.get("n", None).await.unwrap().kvs()[0]
            .value_str()
            .unwrap(),
        "20"
    );
}

#[tokio::test]
async fn a_queue_hands_each_item_to_one_worker() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd).await;
    for i in 0..10 {
        queue::push(&mut c, "jobs", &format!("{i:02}"), &format!("job {i}"))
            .await
            .unwrap();
    }
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let mut c = c.clone();
            tokio::spawn(async move {
                let mut taken = Vec::new();
                while let Some(item) = queue::pop(&mut c, "jobs").await.unwrap() {
                    taken.push(item);
                }
                taken
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!((all.len(), unique.len()), (10, 10), "{all:?}");
}

#[tokio::test]
async fn tenants_see_only_their_own_keys() {
    let etcd = Etcd::start().await;
    let c = client(&etcd).await;
    let mut red = tenant::TenantStore::new(&c, "red");
    let mut blue = tenant::TenantStore::new(&c, "blue");
    red.put("x", "1").await.unwrap();
    red.put("y", "2").await.unwrap();
    blue.put("x", "3").await.unwrap();
    assert_eq!(
        red.list().await.unwrap(),
        [
            ("x".to_string(), "1".to_string()),
            ("y".to_string(), "2".to_string())
        ]
    );
    assert_eq!(
        blue.list().await.unwrap(),
        [("x".to_string(), "3".to_string())]
    );
    assert_eq!(red.clear().await.unwrap(), 2);
    assert_eq!(blue.list().await.unwrap().len(), 1);
    let mut raw = c.clone();
    assert_eq!(
        store(&mut raw, "tenants/").await.keys().collect::<Vec<_>>(),
        ["tenants/blue/x"]
    );
}

#[tokio::test]
async fn a_backup_reads_the_whole_snapshot() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd).await;
    c.put("backed/up", "v", None).await.unwrap();
    let data = backup::snapshot(&mut c).await.unwrap();
    // A bbolt file (pages of 4 KiB), then etcd's 32-byte SHA-256 as the last piece.
    assert!(
        data.len() > 4096 && data.len() % 4096 == 32,
        "{} bytes",
        data.len()
    );
}

#[tokio::test]
async fn a_health_report_names_the_member_and_its_leader() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd).await;
    let report = health::check(&mut c).await.unwrap();
    assert_eq!(report.members, std::slice::from_ref(&etcd.member.name));
    assert!(report.leader_known && report.leader != 0, "{report:?}");
    assert_eq!(report.alarms, 0);
    assert!(report.version.starts_with("3."), "{report:?}");
}
