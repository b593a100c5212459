//! Connects over TLS with a CA and a client certificate (mutual TLS).
//!
//! `cargo run --example tls -- https://127.0.0.1:2379 ca.pem client.pem client-key.pem`
//! against a member started with `--cert-file --key-file --trusted-ca-file
//! --client-cert-auth`. The tests (tests/it/tls.rs) generate such certificates at run time.

use etcdgw::{Certificate, Client, ConnectOptions, Identity, TlsOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(endpoint), Some(ca), Some(cert), Some(key)) =
        (args.next(), args.next(), args.next(), args.next())
    else {
        eprintln!("usage: tls <https endpoint> <ca.pem> <client.pem> <client-key.pem>");
        std::process::exit(2);
    };
    let tls = TlsOptions::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(ca)?))
        .identity(Identity::from_pem(
            std::fs::read(cert)?,
            std::fs::read(key)?,
        ));
    let client = Client::connect(
        [endpoint.as_str()],
        Some(ConnectOptions::new().with_tls(tls)),
    )
    .await?;
    client.put("tls-demo", "over TLS", None).await?;
    let status = client.status().await?;
    println!(
        "put over TLS; the member runs etcd {} (HTTP/2: requests and watches share one connection)",
        status.version()
    );
    Ok(())
}
