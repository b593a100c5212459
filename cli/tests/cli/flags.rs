//! Global flags, etcdctl's environment variables, `--debug`, completions and man pages, DNS
//! discovery, and `--insecure-skip-tls-verify`.

use std::process::{Command, Stdio};
use std::sync::Arc;

use etcdgw_test_support::certs::Certs;
use etcdgw_test_support::{free_port, Etcd};

use crate::{clear_etcd_env, error_line, etcdgw, gw, text, Both, BIN};

#[tokio::test]
async fn global_flags_and_etcdctl_environment() {
    let etcd = Etcd::start().await;
    etcd.etcdctl(&["put", "k", "v"]);
    // ETCDCTL_* as etcdctl reads them; ETCDGW_* wins over them, a flag over both.
    let env_run = |vars: &[(&str, &str)], args: &[&str]| {
        let mut cmd = Command::new(BIN);
        clear_etcd_env(&mut cmd);
        cmd.envs(vars.iter().copied())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let endpoint = etcd.endpoint();
    let json = env_run(
        &[
            ("ETCDCTL_ENDPOINTS", &endpoint),
            ("ETCDCTL_WRITE_OUT", "json"),
        ],
        &["get", "k"],
    );
    assert!(
        text(&json.stdout).starts_with("{\"header\""),
        "{}",
        text(&json.stderr)
    );
    let fields = env_run(
        &[
            ("ETCDCTL_ENDPOINTS", &endpoint),
            ("ETCDCTL_WRITE_OUT", "json"),
            ("ETCDGW_WRITE_OUT", "fields"),
        ],
        &["get", "k"],
    );
    assert!(text(&fields.stdout).starts_with("\"ClusterID\""));
    let simple = env_run(
        &[
            ("ETCDCTL_ENDPOINTS", &endpoint),
            ("ETCDCTL_WRITE_OUT", "json"),
        ],
        &["get", "k", "-w", "simple"],
    );
    assert_eq!(text(&simple.stdout), "k\nv\n");
    // An ETCDCTL_ variable etcdctl would not know is named (never its value).
    let typo = env_run(
        &[
            ("ETCDCTL_ENDPOINTS", &endpoint),
            ("ETCDCTL_PASWORD", "s3cret"),
        ],
        &["get", "k"],
    );
    assert_eq!(text(&typo.stdout), "k\nv\n");
    let warned = text(&typo.stderr);
    assert!(
        warned.contains("unrecognized environment variable ETCDCTL_PASWORD")
            && !warned.contains("s3cret"),
        "{warned}"
    );
    // ETCDCTL_WATCH_KEY stands for the key, and conflicts with one given.
    let conflict = env_run(
        &[("ETCDCTL_ENDPOINTS", &endpoint), ("ETCDCTL_WATCH_KEY", "k")],
        &["watch", "other"],
    );
    assert_eq!(conflict.status.code(), Some(128));
    assert_eq!(
        error_line(&conflict).as_deref(),
        Some("Error: bad number of arguments (found conflicting environment key)")
    );

    // --debug: the flags in use as ETCDCTL_* lines and the library's events, on stderr;
    // never a password.
    let debug = gw(&etcd, &["get", "k", "--debug", "--user", "root:s3cret"]);
    let err = text(&debug.stderr);
    assert!(
        err.contains(&format!("ETCDCTL_ENDPOINTS=[{endpoint}]")),
        "{err}"
    );
    assert!(err.contains("ETCDCTL_USER=root:<hidden>"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    // ... and the client's own events: here a failover from a dead endpoint.
    let dead_first = format!("127.0.0.1:{},{endpoint}", free_port());
    let debug = etcdgw(&dead_first, &["get", "k", "--debug"], None);
    assert_eq!(text(&debug.stdout), "k\nv\n", "{}", text(&debug.stderr));
    assert!(
        text(&debug.stderr).contains("etcdgw: failing over from http://127.0.0.1:"),
        "{}",
        text(&debug.stderr)
    );

    // Completions and man pages come from the same definitions.
    let bash = gw(&etcd, &["completion", "bash"]);
    assert!(bash.status.success());
    let script = text(&bash.stdout);
    assert!(
        script.contains("move-leader") && script.contains("--discovery-srv"),
        "{script}"
    );
    let man = gw(&etcd, &["man"]);
    assert!(
        text(&man.stdout).starts_with(".ie \\n(.g .ds Aq \\(aq")
            || text(&man.stdout).contains(".TH etcdgw")
    );
    let dir = tempfile::tempdir().unwrap();
    let pages = gw(&etcd, &["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(pages.status.success(), "{}", text(&pages.stderr));
    let add = std::fs::read_to_string(dir.path().join("etcdgw-member-add.1")).unwrap();
    assert!(add.contains("peer\\-urls"), "{add}");

    // DNS discovery: a domain without records is an error naming both lookups.
    let srv = gw(
        &etcd,
        &[
            "get",
            "k",
            "--discovery-srv",
            "nonexistent.invalid",
            "--dial-timeout",
            "1s",
        ],
    );
    assert_eq!(srv.status.code(), Some(1), "{}", text(&srv.stderr));
    let message = error_line(&srv).unwrap();
    assert!(
        message.starts_with("Error: dns lookup errors: _etcd-client-ssl._tcp.nonexistent.invalid."),
        "{message}"
    );
}

#[tokio::test]
async fn insecure_skip_tls_verify_reaches_a_member_whose_ca_is_unknown() {
    let certs = Arc::new(Certs::generate());
    let etcd = Etcd::builder().tls(certs.clone()).start().await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_string()
    };
    let cert = write("client.pem", &certs.client_cert_pem);
    let key = write("client-key.pem", &certs.client_key_pem);
    let other_ca = write("other-ca.pem", &certs.other_ca_pem);
    let bare = format!("127.0.0.1:{}", etcd.member.client_port);
    let client = etcd.client().await;
    client.put("k", "v", None).await.unwrap();

    let args = |extra: &[&str]| -> Vec<String> {
        let mut v = vec![
            "get".to_string(),
            "k".to_string(),
            format!("--cert={cert}"),
            format!("--key={key}"),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // Refused without it (the certificate's CA is not the one given)...
    let refused = args(&[&format!("--cacert={other_ca}")]);
    let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
    let out = etcdgw(&bare, &refused, None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // ... read with it, as etcdctl does, with a warning on stderr.
    let skip = args(&["--insecure-skip-tls-verify"]);
    let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
    let both = Both::run(bare.as_str(), &skip, None);
    assert_eq!(
        text(&both.ours.stdout),
        "k\nv\n",
        "{}",
        text(&both.ours.stderr)
    );
    assert!(
        text(&both.ours.stderr).contains("WARNING: --insecure-skip-tls-verify"),
        "{}",
        text(&both.ours.stderr)
    );
    both.same_stdout();
}
