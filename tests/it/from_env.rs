//! Clients made from etcdctl's variables (`etcdgw::env`) against live members: the endpoints and
//! timeouts, a user and password, the TLS files and flags, and the real process environment
//! (in a child process, so that no test changes this one's).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use etcdgw::env::EnvConfig;
use etcdgw::{Client, ConnectOptions, Error, ServerErrorKind};

use etcdgw_test_support::certs::Certs;
use etcdgw_test_support::faults::BlackHole;
use etcdgw_test_support::Etcd;

async fn connect(vars: &[(&str, &str)]) -> Client {
    let config = EnvConfig::from_vars(vars.iter().copied()).unwrap();
    Client::from_env_config(&config).await.unwrap()
}

#[tokio::test]
async fn the_endpoints_and_deadlines_come_from_the_variables() {
    let etcd = Etcd::start().await;
    let hole = BlackHole::start().await;
    // A dead endpoint first: the client fails over to the member, as from --endpoints.
    let endpoints = format!("{},{}", hole.endpoint(), etcd.endpoint());
    let client = connect(&[
        ("ETCDCTL_ENDPOINTS", &endpoints),
        ("ETCDCTL_COMMAND_TIMEOUT", "10s"),
        ("ETCDCTL_KEEPALIVE_TIME", "500ms"),
        ("ETCDCTL_KEEPALIVE_TIMEOUT", "500ms"),
    ])
    .await;
    assert_eq!(client.endpoints().len(), 2);
    client.put("k", "v", None).await.unwrap();
    assert_eq!(client.get("k", None).await.unwrap().count(), 1);

    // The command timeout is each request's deadline.
    let silent = connect(&[
        ("ETCDCTL_ENDPOINTS", &hole.endpoint()),
        ("ETCDCTL_COMMAND_TIMEOUT", "300ms"),
    ])
    .await;
    let err = silent.get("k", None).await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout { after, .. } if after == Duration::from_millis(300)),
        "{err}"
    );
}

#[tokio::test]
async fn the_user_and_password_log_in_as_etcdctl_pairs_them() {
    let etcd = Etcd::start().await;
    let admin = etcd.client().await;
    admin.user_add("root", "root-pw", None).await.unwrap();
    admin.role_add("root").await.unwrap();
    admin.user_grant_role("root", "root").await.unwrap();
    admin.auth_enable().await.unwrap();
    let endpoint = etcd.endpoint();

    let joined = connect(&[
        ("ETCDCTL_ENDPOINTS", &endpoint),
        ("ETCDCTL_USER", "root:root-pw"),
    ])
    .await;
    joined.put("k", "v", None).await.unwrap();
    let separate = connect(&[
        ("ETCDCTL_ENDPOINTS", &endpoint),
        ("ETCDCTL_USER", "root"),
        ("ETCDCTL_PASSWORD", "root-pw"),
    ])
    .await;
    assert_eq!(separate.get("k", None).await.unwrap().count(), 1);
    let wrong = connect(&[
        ("ETCDCTL_ENDPOINTS", &endpoint),
        ("ETCDCTL_USER", "root"),
        ("ETCDGW_PASSWORD", "not-the-pw"),
        ("ETCDCTL_PASSWORD", "root-pw"),
    ])
    .await;
    let err = wrong.get("k", None).await.unwrap_err();
    assert_eq!(err.server_kind(), Some(ServerErrorKind::AuthFailed));
    assert!(!format!("{err} {err:?}").contains("not-the-pw"));

    // No password anywhere: refused before anything is sent, naming the variable.
    let config = EnvConfig::from_vars([
        ("ETCDCTL_ENDPOINTS", endpoint.as_str()),
        ("ETCDCTL_USER", "root"),
    ])
    .unwrap();
    let err = Client::from_env_config(&config).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSetting { name, .. } if &**name == "ETCDCTL_USER"),
        "{err}"
    );
}

#[tokio::test]
async fn the_tls_files_and_flags_reach_a_tls_member() {
    let certs = Arc::new(Certs::generate());
    let etcd = Etcd::builder().tls(certs.clone()).start().await;
    etcd.client().await.put("k", "v", None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("client.pem");
    let key = dir.path().join("client-key.pem");
    std::fs::write(&cert, &certs.client_cert_pem).unwrap();
    std::fs::write(&key, &certs.client_key_pem).unwrap();
    let (ca, cert, key) = (
        certs.ca_file.to_str().unwrap(),
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
    );
    // Without a scheme: the CA makes it https, as in etcdctl.
    let bare = format!("127.0.0.1:{}", etcd.member.client_port);

    let trusted = connect(&[
        ("ETCDCTL_ENDPOINTS", &bare),
        ("ETCDCTL_CACERT", ca),
        ("ETCDCTL_CERT", cert),
        ("ETCDCTL_KEY", key),
    ])
    .await;
    assert_eq!(trusted.endpoints()[0].scheme(), "https");
    assert_eq!(trusted.get("k", None).await.unwrap().count(), 1);

    // No CA: the member's certificate is unknown, unless verification is skipped.
    let unverified = connect(&[
        ("ETCDCTL_ENDPOINTS", &bare),
        ("ETCDCTL_CERT", cert),
        ("ETCDCTL_KEY", key),
        ("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "true"),
    ])
    .await;
    assert_eq!(unverified.get("k", None).await.unwrap().count(), 1);
    let unknown = connect(&[
        ("ETCDCTL_ENDPOINTS", &bare),
        ("ETCDCTL_CERT", cert),
        ("ETCDCTL_KEY", key),
        ("ETCDCTL_COMMAND_TIMEOUT", "2s"),
    ])
    .await;
    let err = unknown.get("k", None).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { .. } | Error::Timeout { .. }),
        "{err}"
    );

    // INSECURE_TRANSPORT=false alone asks for TLS too (with the system's roots here, which
    // do not know the test CA): the scheme-less endpoint is https.
    let secure = connect(&[
        ("ETCDCTL_ENDPOINTS", &bare),
        ("ETCDCTL_INSECURE_TRANSPORT", "false"),
    ])
    .await;
    assert_eq!(secure.endpoints()[0].scheme(), "https");

    // A certificate without its key is refused before anything is sent.
    let config =
        EnvConfig::from_vars([("ETCDCTL_ENDPOINTS", bare.as_str()), ("ETCDCTL_CERT", cert)])
            .unwrap();
    let err = Client::from_env_config(&config).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSetting { name, .. } if &**name == "ETCDCTL_CERT"),
        "{err}"
    );
}

#[cfg(feature = "blocking")]
#[test]
fn the_blocking_client_takes_the_same_settings() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let etcd = rt.block_on(Etcd::start());
    let config = EnvConfig::from_vars([
        ("ETCDCTL_ENDPOINTS", etcd.endpoint().as_str()),
        ("ETCDCTL_DIAL_TIMEOUT", "1s"),
    ])
    .unwrap();
    let client = etcdgw::blocking::Client::from_env_config(&config).unwrap();
    client.put("k", "v", None).unwrap();
    assert_eq!(client.get("k", None).unwrap().count(), 1);
    // The same as ConnectOptions::from_env's options, given to connect by hand.
    let options: ConnectOptions = config.connect_options().unwrap();
    let by_hand = etcdgw::blocking::Client::connect(config.endpoints(), Some(options)).unwrap();
    assert_eq!(by_hand.get("k", None).unwrap().count(), 1);
}

/// What the child of [`the_process_environment_is_read`] runs: `Client::from_env` (and the
/// blocking one) with the environment it was given. Run on its own (no marker variable), it
/// does nothing.
#[tokio::test]
async fn child_reads_the_process_environment() {
    let Some(expect) = std::env::var_os("ETCDGW_TEST_FROM_ENV_CHILD") else {
        return;
    };
    match expect.to_str() {
        Some("works") => {
            let client = Client::from_env().await.unwrap();
            client.put("from-env", "yes", None).await.unwrap();
            assert_eq!(
                ConnectOptions::from_env()
                    .map(|o| format!("{o:?}"))
                    .unwrap(),
                format!(
                    "{:?}",
                    EnvConfig::from_env().unwrap().connect_options().unwrap()
                )
            );
            #[cfg(feature = "blocking")]
            std::thread::spawn(|| {
                let client = etcdgw::blocking::Client::from_env().unwrap();
                assert_eq!(client.get("from-env", None).unwrap().count(), 1);
            })
            .join()
            .unwrap();
        }
        Some("refused") => {
            let err = Client::from_env().await.unwrap_err();
            assert!(
                matches!(&err, Error::InvalidSetting { name, .. } if &**name == "ETCDCTL_DIAL_TIMEOUT"),
                "{err}"
            );
            assert!(matches!(
                ConnectOptions::from_env(),
                Err(Error::InvalidSetting { .. })
            ));
        }
        other => panic!("unknown expectation {other:?}"),
    }
}

#[tokio::test]
async fn the_process_environment_is_read() {
    let etcd = Etcd::start().await;
    let child = |vars: &[(&str, &str)]| {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("ETCDCTL_") || name.starts_with("ETCDGW_") {
                cmd.env_remove(&*name);
            }
        }
        cmd.args([
            "--exact",
            "from_env::child_reads_the_process_environment",
            "--test-threads",
            "1",
        ])
        .envs(vars.iter().copied())
        .output()
        .unwrap()
    };
    let endpoint = etcd.endpoint();
    let works = child(&[
        ("ETCDGW_TEST_FROM_ENV_CHILD", "works"),
        ("ETCDCTL_ENDPOINTS", &endpoint),
        ("ETCDCTL_COMMAND_TIMEOUT", "4s"),
    ]);
    let said = String::from_utf8_lossy(&works.stdout);
    assert!(
        works.status.success() && said.contains("1 passed"),
        "{said}"
    );
    let client = etcd.client().await;
    assert_eq!(client.get("from-env", None).await.unwrap().count(), 1);

    let refused = child(&[
        ("ETCDGW_TEST_FROM_ENV_CHILD", "refused"),
        ("ETCDCTL_ENDPOINTS", &endpoint),
        ("ETCDCTL_DIAL_TIMEOUT", "soon"),
    ]);
    let said = String::from_utf8_lossy(&refused.stdout);
    assert!(
        refused.status.success() && said.contains("1 passed"),
        "{said}"
    );
}
