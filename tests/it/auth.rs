//! Auth end to end on members the tests enable auth on: users, roles, permissions, typed
//! refusals, token expiry and re-authentication, and secrets kept out of sight.

use std::time::Duration;

use etcdgw::{
    AlarmAction, AlarmType, Client, ConnectOptions, Error, GetOptions, Permission, PermissionType,
    RoleRevokePermissionOptions, ServerErrorKind, UserAddOptions, WatchOptions,
};

use etcdgw_test_support::etcd::etcd_version;
use etcdgw_test_support::Etcd;

const ROOT_PW: &str = "root-secret-pw";

/// Creates root (with the root role) and turns auth on, as etcd requires.
async fn enable_auth(etcd: &Etcd) {
    let admin = etcd.client().await;
    admin.user_add("root", ROOT_PW, None).await.unwrap();
    admin.role_add("root").await.unwrap();
    admin.user_grant_role("root", "root").await.unwrap();
    admin.auth_enable().await.unwrap();
}

async fn as_user(etcd: &Etcd, name: &str, password: &str) -> Client {
    etcd.client_with(ConnectOptions::new().with_user(name, password))
        .await
}

#[tokio::test]
async fn users_roles_and_permissions_end_to_end() {
    let etcd = Etcd::start().await;
    let err = etcd.client().await.auth_enable().await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::RootUserNotExist));
    enable_auth(&etcd).await;
    let root = as_user(&etcd, "root", ROOT_PW).await;

    root.user_add("alice", "alice-pw", None).await.unwrap();
    root.user_add(
        "cert-only",
        "ignored",
        Some(UserAddOptions::new().with_no_pwd()),
    )
    .await
    .unwrap();
    root.role_add("reader").await.unwrap();
    root.role_grant_permission("reader", Permission::read("data/").with_prefix())
        .await
        .unwrap();
    root.role_grant_permission("reader", Permission::read_write("scratch"))
        .await
        .unwrap();
    root.user_grant_role("alice", "reader").await.unwrap();
    root.put("data/x", "1", None).await.unwrap();
    root.put("secret", "s", None).await.unwrap();

    let mut users = root.user_list().await.unwrap().users().to_vec();
    users.sort();
    assert_eq!(users, ["alice", "cert-only", "root"]);
    assert_eq!(root.user_get("alice").await.unwrap().roles(), ["reader"]);
    let mut roles = root.role_list().await.unwrap().roles().to_vec();
    roles.sort();
    assert_eq!(roles, ["reader", "root"]);
    let perms = root.role_get("reader").await.unwrap().permissions();
    let data = perms.iter().find(|p| p.key() == b"data/").unwrap();
    assert!(
        data.is_prefix() && data.perm_type() == PermissionType::Read,
        "{data:?}"
    );
    let scratch = perms.iter().find(|p| p.key() == b"scratch").unwrap();
    assert_eq!(scratch.perm_type(), PermissionType::Readwrite);

    let alice = as_user(&etcd, "alice", "alice-pw").await;
    assert_eq!(alice.get("data/x", None).await.unwrap().count(), 1);
    alice.put("scratch", "mine", None).await.unwrap();
    let err = alice.put("data/x", "2", None).await.unwrap_err();
    assert_eq!(
        err.server_kind(),
        Some(ServerErrorKind::PermissionDenied),
        "{err:?}"
    );
    let err = alice.get("secret", None).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::PermissionDenied));
    let err = alice.user_list().await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::PermissionDenied));

    root.role_revoke_permission(
        "reader",
        "data/",
        Some(RoleRevokePermissionOptions::new().with_prefix()),
    )
    .await
    .unwrap();
    let err = alice.get("data/x", None).await.unwrap_err();
    assert_eq!(
        err.server_kind(),
        Some(ServerErrorKind::PermissionDenied),
        "revoked"
    );
    let err = root
        .role_revoke_permission("reader", "nothing", None)
        .await
        .unwrap_err();
    assert_eq!(
        err.server_kind(),
        Some(ServerErrorKind::PermissionNotGranted)
    );

    root.user_change_password("alice", "new-pw").await.unwrap();
    let renamed = as_user(&etcd, "alice", "new-pw").await;
    renamed.put("scratch", "again", None).await.unwrap();
    root.user_revoke_role("alice", "reader").await.unwrap();
    assert!(root.user_get("alice").await.unwrap().roles().is_empty());
    root.user_delete("alice").await.unwrap();
    root.role_delete("reader").await.unwrap();
    let err = root.user_get("alice").await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::UserNotFound));
    let err = root.role_get("reader").await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::RoleNotFound));
    let err = root.user_add("root", "x", None).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::UserAlreadyExist));
}

#[tokio::test]
async fn a_wrong_password_is_a_typed_error_without_a_loop_and_without_secrets() {
    let etcd = Etcd::start().await;
    enable_auth(&etcd).await;
    let wrong = as_user(&etcd, "root", "not-the-password").await;
    let err = wrong.get("k", None).await.unwrap_err();
    assert_eq!(
        err.server_kind(),
        Some(ServerErrorKind::AuthFailed),
        "{err:?}"
    );
    assert_eq!(wrong.token_refreshes(), 0);
    for text in [err.to_string(), format!("{err:?}"), format!("{wrong:?}")] {
        assert!(!text.contains("not-the-password"), "{text}");
    }
    let options = ConnectOptions::new().with_user("root", ROOT_PW);
    assert!(!format!("{options:?}").contains(ROOT_PW));

    // No credentials at all: the server's "user name is empty".
    let anonymous = etcd.client().await;
    let err = anonymous.get("k", None).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::UserEmpty));

    // authenticate hands a token over without changing the client's own.
    let resp = anonymous
        .auth_client()
        .authenticate("root".into(), ROOT_PW.into())
        .await
        .unwrap();
    assert!(!resp.token().is_empty() && !format!("{resp:?}").contains(resp.token()));
    assert!(anonymous.get("k", None).await.is_err());
    let err = anonymous
        .auth_client()
        .authenticate("root".into(), "nope".into())
        .await
        .unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::AuthFailed));

    // update_user switches the client over; refresh_token fetches a new token.
    anonymous
        .update_user(Some(("root".into(), ROOT_PW.into())))
        .await
        .unwrap();
    anonymous.get("k", None).await.unwrap();
    anonymous.refresh_token().await.unwrap();
    assert_eq!(anonymous.token_refreshes(), 2);
    anonymous.update_user(None).await.unwrap();
    assert!(anonymous.get("k", None).await.is_err());
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_for_fifty_concurrent_requests() {
    let etcd = Etcd::builder().arg("--auth-token-ttl=2").start().await;
    enable_auth(&etcd).await;
    let root = as_user(&etcd, "root", ROOT_PW).await;
    root.put("k", "v", None).await.unwrap();
    assert_eq!(root.token_refreshes(), 1);

    // Time is the point: unused for its TTL (2 s), the token expires (asking would use it).
    tokio::time::sleep(Duration::from_secs(4)).await;
    root.put("k", "v2", None).await.unwrap();
    assert_eq!(
        root.token_refreshes(),
        2,
        "one re-authentication after expiry"
    );

    tokio::time::sleep(Duration::from_secs(4)).await; // the TTL passes again, as above
    let requests: Vec<_> = (0..50)
        .map(|i| {
            let c = root.clone();
            tokio::spawn(async move { c.get(format!("k{i}"), None).await })
        })
        .collect();
    for r in requests {
        r.await.unwrap().unwrap();
    }
    assert_eq!(
        root.token_refreshes(),
        3,
        "50 concurrent requests shared one re-authentication"
    );
}

#[tokio::test]
async fn a_long_running_watch_survives_token_expiry_and_a_restart() {
    let mut etcd = Etcd::builder().arg("--auth-token-ttl=2").start().await;
    enable_auth(&etcd).await;
    let root = as_user(&etcd, "root", ROOT_PW).await;
    let writer = as_user(&etcd, "root", ROOT_PW).await;
    let mut stream = root
        .watch("w/", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    assert!(stream.message().await.unwrap().unwrap().created());

    // Time is the point: the watcher's token expires unused (its TTL, 2 s, passes).
    tokio::time::sleep(Duration::from_secs(4)).await;
    writer.put("w/1", "a", None).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(r.events()[0].kv().unwrap().key(), b"w/1");
    assert_eq!(
        root.token_refreshes(),
        1,
        "an open watch needs no new token"
    );

    // A watch created with the expired token is refused (3.5 says "permission denied", 3.4
    // "invalid auth token"): the client fetches a token and creates it again, once.
    stream
        .watch("other/", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    let created = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(created.created() && !created.canceled(), "{created:?}");
    assert_eq!(root.token_refreshes(), 2);

    // The watch resumes after a member restart (etcd replays simple tokens from its log, so
    // the token may still be good; either way the watch comes back).
    etcd.restart().await;
    writer.put("w/2", "b", None).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(20), stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(r.events()[0].kv().unwrap().key(), b"w/2");
}

#[tokio::test]
async fn a_watch_without_permission_is_cancelled_with_the_servers_reason() {
    let etcd = Etcd::start().await;
    enable_auth(&etcd).await;
    let root = as_user(&etcd, "root", ROOT_PW).await;
    root.user_add("bob", "bob-pw", None).await.unwrap();
    let bob = as_user(&etcd, "bob", "bob-pw").await;
    let mut stream = bob.watch("secret", None).await.unwrap();
    let refused = stream.message().await.unwrap().unwrap();
    assert!(refused.created() && refused.canceled(), "{refused:?}");
    assert!(
        refused.cancel_reason().contains("permission denied"),
        "{}",
        refused.cancel_reason()
    );
    assert_eq!(
        bob.token_refreshes(),
        2,
        "one re-authentication before giving up"
    );
}

#[tokio::test]
async fn auth_status_and_auth_disable_with_a_stale_token() {
    let etcd = Etcd::start().await;
    enable_auth(&etcd).await;
    let root = as_user(&etcd, "root", ROOT_PW).await;
    match etcd_version() {
        (3, 4) => assert!(matches!(
            root.auth_status().await,
            Err(Error::Unsupported { .. })
        )),
        _ => {
            let status = root.auth_status().await.unwrap();
            assert!(status.enabled() && status.auth_revision() > 0);
        }
    }
    root.auth_disable().await.unwrap();
    // The token is stale now (401); the client finds auth is off and goes on without one.
    root.put("after", "disable", None).await.unwrap();
    assert_eq!(
        etcd.client()
            .await
            .get("after", Some(GetOptions::new()))
            .await
            .unwrap()
            .count(),
        1
    );
}

#[tokio::test]
async fn a_user_without_the_root_role_gets_answers_or_permission_denied_never_a_decode_error() {
    // The CVE-2026-33413 fixes (3.5.28, 3.6.9, relaxed in later patches) changed which
    // cluster and maintenance calls a user without the root role may make; whatever a version
    // answers, it must arrive as an answer or as PermissionDenied.
    let etcd = Etcd::start().await;
    enable_auth(&etcd).await;
    let root = as_user(&etcd, "root", ROOT_PW).await;
    root.role_add("app").await.unwrap();
    root.role_grant_permission("app", Permission::read_write("app/").with_prefix())
        .await
        .unwrap();
    root.user_add("carol", "carol-pw", None).await.unwrap();
    root.user_grant_role("carol", "app").await.unwrap();
    let carol = as_user(&etcd, "carol", "carol-pw").await;
    carol.put("app/x", "1", None).await.unwrap();

    fn answered_or_denied<T: std::fmt::Debug>(call: &str, result: etcdgw::Result<T>) -> bool {
        match result {
            Ok(_) => true,
            Err(e) if e.server_kind() == Some(ServerErrorKind::PermissionDenied) => false,
            // No HashKV on the gateway of 3.4 and early 3.5.
            Err(Error::Unsupported { .. }) if call == "hash_kv" => false,
            Err(e) => panic!("{call}: {e:?}"),
        }
    }
    let calls = [
        (
            "member_list",
            answered_or_denied("member_list", carol.member_list().await),
        ),
        ("status", answered_or_denied("status", carol.status().await)),
        (
            "alarm",
            answered_or_denied(
                "alarm",
                carol.alarm(AlarmAction::Get, AlarmType::None, None).await,
            ),
        ),
        (
            "hash_kv",
            answered_or_denied("hash_kv", carol.hash_kv(0).await),
        ),
        ("hash", answered_or_denied("hash", carol.hash().await)),
        (
            "defragment",
            answered_or_denied("defragment", carol.defragment().await),
        ),
    ];
    // Whatever the version allows, a key outside the user's permission is refused.
    let outside = carol.get("other", None).await.unwrap_err();
    assert_eq!(
        outside.server_kind(),
        Some(ServerErrorKind::PermissionDenied)
    );
    eprintln!(
        "etcd {:?} answers a non-root user: {calls:?}",
        etcd_version()
    );
    // Measured on 3.4.23, 3.5.1, 3.5.34, 3.6.15 and 3.7.2 (captures 87-auth-nonadmin-*).
    let answered = |name: &str| calls.iter().any(|(n, ok)| *n == name && *ok);
    assert!(answered("member_list") && answered("status") && answered("alarm"));
    assert!(!answered("hash_kv"), "HashKV is for the root role");
}
