//! TLS on members started with certificates generated at run time: server-only trust, mutual
//! TLS, refusals with clear errors, and HTTP/2 sharing one connection.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use etcdgw::{Certificate, Client, ConnectOptions, Error, Identity, TlsOptions, WatchOptions};

use etcdgw_test_support::certs::Certs;
use etcdgw_test_support::Etcd;

async fn tls_member() -> (Etcd, Arc<Certs>) {
    let certs = Arc::new(Certs::generate());
    let etcd = Etcd::builder().tls(certs.clone()).start().await;
    (etcd, certs)
}

fn trusting(ca: &str) -> TlsOptions {
    TlsOptions::new().ca_certificate(Certificate::from_pem(ca))
}

#[tokio::test]
async fn mutual_tls_works_and_names_are_checked() {
    let (etcd, certs) = tls_member().await;
    let client = etcd.client().await;
    client.put("tls", "ok", None).await.unwrap();
    assert_eq!(
        client.get("tls", None).await.unwrap().kvs()[0]
            .value_str()
            .unwrap(),
        "ok"
    );

    // A scheme-less endpoint gets https when TLS options are set.
    let port = etcd.member.client_port;
    let bare = Client::connect(
        [format!("127.0.0.1:{port}")],
        Some(ConnectOptions::new().with_tls(certs.client_tls())),
    )
    .await
    .unwrap();
    assert_eq!(bare.get("tls", None).await.unwrap().count(), 1);

    // The name to check can differ from the host: the certificate names etcd.test.
    let named = Client::connect(
        [format!("https://127.0.0.1:{port}")],
        Some(ConnectOptions::new().with_tls(certs.client_tls().domain_name("etcd.test"))),
    )
    .await
    .unwrap();
    assert_eq!(named.get("tls", None).await.unwrap().count(), 1);
    let wrong_name = Client::connect(
        [format!("https://127.0.0.1:{port}")],
        Some(ConnectOptions::new().with_tls(certs.client_tls().domain_name("not-etcd.example"))),
    )
    .await
    .unwrap();
    let err = wrong_name.get("tls", None).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn a_client_without_a_certificate_or_with_the_wrong_ca_is_refused_clearly() {
    let (etcd, certs) = tls_member().await;
    let port = etcd.member.client_port;
    let endpoint = format!("https://127.0.0.1:{port}");

    let no_cert = Client::connect(
        [&endpoint],
        Some(ConnectOptions::new().with_tls(trusting(&certs.ca_pem))),
    )
    .await
    .unwrap();
    let err = no_cert.get("k", None).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&endpoint[..endpoint.len() - 1])
            || err.to_string().contains("127.0.0.1"),
        "{err}"
    );

    let wrong_ca = Client::connect(
        [&endpoint],
        Some(
            ConnectOptions::new().with_tls(trusting(&certs.other_ca_pem).identity(
                Identity::from_pem(&certs.client_cert_pem, &certs.client_key_pem),
            )),
        ),
    )
    .await
    .unwrap();
    let err = wrong_ca.get("k", None).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // Accepting any certificate (etcdctl's --insecure-skip-tls-verify) reaches the member
    // whose CA is unknown here; the client certificate is still presented.
    let any = Client::connect(
        [&endpoint],
        Some(
            ConnectOptions::new().with_tls(
                TlsOptions::new()
                    .identity(Identity::from_pem(
                        &certs.client_cert_pem,
                        &certs.client_key_pem,
                    ))
                    .danger_accept_invalid_certs(true),
            ),
        ),
    )
    .await
    .unwrap();
    any.put("k", "v", None).await.unwrap();
    // ... and so does a wrong name, which is otherwise refused.
    let any_name = Client::connect(
        [&endpoint],
        Some(
            ConnectOptions::new().with_tls(
                certs
                    .client_tls()
                    .domain_name("not-etcd.example")
                    .danger_accept_invalid_certs(true),
            ),
        ),
    )
    .await
    .unwrap();
    assert_eq!(any_name.get("k", None).await.unwrap().count(), 1);

    // Bad PEM is refused when the client is built, naming what is wrong.
    let bad = Client::connect(
        [&endpoint],
        Some(ConnectOptions::new().with_tls(trusting("not a certificate"))),
    )
    .await
    .unwrap_err();
    assert!(matches!(bad, Error::InvalidArgument { .. }), "{bad:?}");
    // http:// with TLS options is refused up front, as etcd-client does.
    let mixed = Client::connect(
        [format!("http://127.0.0.1:{port}")],
        Some(ConnectOptions::new().with_tls(certs.client_tls())),
    )
    .await
    .unwrap_err();
    assert!(matches!(mixed, Error::InvalidEndpoint { .. }), "{mixed:?}");
}

#[tokio::test]
async fn plain_http_to_a_tls_port_and_tls_to_a_plain_port_fail_clearly() {
    let (tls, _certs) = tls_member().await;
    let plain_to_tls = Client::connect(
        [format!("http://127.0.0.1:{}", tls.member.client_port)],
        None,
    )
    .await
    .unwrap();
    let err = plain_to_tls.get("k", None).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { .. } | Error::Decode { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("TLS") || err.to_string().contains("https"),
        "{err}"
    );

    let plain = Etcd::start().await;
    let tls_to_plain = Client::connect(
        [format!("https://127.0.0.1:{}", plain.member.client_port)],
        None,
    )
    .await
    .unwrap();
    let err = tls_to_plain.get("k", None).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(
        err.to_string().contains("TLS") || err.to_string().contains("http://"),
        "{err}"
    );
}

/// This process's established TCP connections to `port`, from `/proc/net/tcp` and the socket
/// inodes among our own file descriptors (etcd's own connections to itself are not ours).
fn our_connections_to(port: u16) -> usize {
    let mut ours = HashSet::new();
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let t = target.to_string_lossy().to_string();
            if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                ours.insert(inode.to_string());
            }
        }
    }
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap()
        + &std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.len() > 9
                && cols[3] == "01" // ESTABLISHED
                && cols[2].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port)
                && ours.contains(cols[9])
        })
        .count()
}

#[tokio::test]
async fn requests_and_watches_share_one_http2_connection() {
    let (etcd, _certs) = tls_member().await;
    let client = etcd.client().await;
    client.put("warm", "up", None).await.unwrap();
    let mut watches = Vec::new();
    for i in 0..10 {
        let mut w = client
            .watch(format!("h2/{i}"), Some(WatchOptions::new()))
            .await
            .unwrap();
        assert!(w.message().await.unwrap().unwrap().created());
        watches.push(w);
    }
    let gets: Vec<_> = (0..20)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.put(format!("h2/{}", i % 10), "v", None).await })
        })
        .collect();
    for g in gets {
        g.await.unwrap().unwrap();
    }
    for w in watches.iter_mut() {
        let r = tokio::time::timeout(Duration::from_secs(10), w.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(!r.events().is_empty());
    }
    assert_eq!(
        our_connections_to(etcd.member.client_port),
        1,
        "10 watches and 20 requests on one connection"
    );
}
