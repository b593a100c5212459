//! Certificates made at test time with rcgen: a CA, a server certificate for 127.0.0.1,
//! localhost and `etcd.test`, a client certificate without a Common Name (the gateway refuses
//! one with a CN when auth is on), and an unrelated CA to play the wrong one.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair,
};
use tempfile::TempDir;

/// A CA with a server and a client certificate, written where etcd can read them.
pub struct Certs {
    /// The directory of the files below (removed when dropped).
    pub dir: TempDir,
    /// The CA's certificate, PEM.
    pub ca_pem: String,
    /// The server certificate's file (for `--cert-file`).
    pub server_cert: PathBuf,
    /// The server key's file (for `--key-file`).
    pub server_key: PathBuf,
    /// The CA's certificate as a file (for `--trusted-ca-file`).
    pub ca_file: PathBuf,
    /// The client certificate (no Common Name), PEM.
    pub client_cert_pem: String,
    /// The client certificate's key, PEM.
    pub client_key_pem: String,
    /// Another CA's certificate, PEM: one that signed nothing here.
    pub other_ca_pem: String,
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

impl Certs {
    /// Makes a fresh set (new keys each time).
    pub fn generate() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let (ca_pem, issuer) = ca("etcdgw test CA");
        let (other_ca_pem, _) = ca("some other CA");

        let server_key = KeyPair::generate().unwrap();
        let mut server = CertificateParams::new(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
            "etcd.test".to_string(),
        ])
        .unwrap();
        server.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        server.distinguished_name = DistinguishedName::new();
        server
            .distinguished_name
            .push(DnType::CommonName, "etcd server");
        let server_cert = server.signed_by(&server_key, &issuer).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client.distinguished_name = DistinguishedName::new(); // no CN
        let client_cert = client.signed_by(&client_key, &issuer).unwrap();

        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Certs {
            ca_file: write("ca.pem", &ca_pem),
            server_cert: write("server.pem", &server_cert.pem()),
            server_key: write("server-key.pem", &server_key.serialize_pem()),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            ca_pem,
            other_ca_pem,
            dir,
        }
    }

    /// TLS options that trust the test CA and present the client certificate.
    pub fn client_tls(&self) -> etcdgw::TlsOptions {
        etcdgw::TlsOptions::new()
            .ca_certificate(etcdgw::Certificate::from_pem(&self.ca_pem))
            .identity(etcdgw::Identity::from_pem(
                &self.client_cert_pem,
                &self.client_key_pem,
            ))
    }
}
