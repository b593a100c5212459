//! Native TLS: a rustls configuration built from [`TlsOptions`], on the crypto provider the
//! Cargo features choose (ring with `tls-ring`, else aws-lc-rs with `tls`, else the one the
//! program installed). A browser does its own TLS, so this file exists on native targets only.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, Result};
use crate::tls::TlsOptions;

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid(format!("the {what} is not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(Error::invalid(format!(
            "the {what} holds no PEM certificate"
        )));
    }
    Ok(certs)
}

/// The crypto provider TLS runs on: ring with feature `tls-ring`, else aws-lc-rs with `tls`,
/// else the process's default (a program that turned on only `tls-roots` installs one).
fn provider() -> Result<Arc<CryptoProvider>> {
    #[cfg(feature = "tls-ring")]
    let provider = Some(Arc::new(rustls::crypto::ring::default_provider()));
    #[cfg(all(feature = "tls", not(feature = "tls-ring")))]
    let provider = Some(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(not(any(feature = "tls", feature = "tls-ring")))]
    let provider = CryptoProvider::get_default().cloned();
    provider.ok_or_else(|| {
        Error::invalid(
            "no TLS crypto provider: enable etcdgw's `tls` or `tls-ring` feature, or install \
             one with rustls' CryptoProvider::install_default",
        )
    })
}

/// The configuration of a client without TLS options (system roots with `tls-roots`), built
/// once: every `Client::connect` without TLS options would otherwise read the system's roots
/// again.
pub(crate) fn default_client_config() -> Result<ClientConfig> {
    static DEFAULT: std::sync::OnceLock<ClientConfig> = std::sync::OnceLock::new();
    if let Some(config) = DEFAULT.get() {
        return Ok(config.clone());
    }
    // A failure (no provider installed yet) is not kept: the next connect tries again.
    let config = client_config(&TlsOptions::new())?;
    Ok(DEFAULT.get_or_init(|| config).clone())
}

/// Builds the TLS configuration: trust roots, the optional client identity, the optional
/// name to check instead of the host, and ALPN offering HTTP/2 first.
pub(crate) fn client_config(tls: &TlsOptions) -> Result<ClientConfig> {
    let provider = provider()?;
    let mut roots = RootCertStore::empty();
    for ca in &tls.ca_certificates {
        for cert in certificates(&ca.pem, "CA certificate")? {
            roots
                .add(cert)
                .map_err(|e| Error::invalid(format!("the CA certificate is not usable: {e}")))?;
        }
    }
    if tls.native_roots || (tls.ca_certificates.is_empty() && !tls.webpki_roots) {
        add_native_roots(&mut roots);
    }
    if tls.webpki_roots {
        add_webpki_roots(&mut roots)?;
    }
    let verifier: Arc<dyn ServerCertVerifier> = if tls.danger_accept_invalid_certs {
        Arc::new(AcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        })
    } else if roots.is_empty() {
        // Plain-text endpoints need no roots; an https one fails its handshake saying why.
        Arc::new(NoRoots {
            schemes: provider
                .signature_verification_algorithms
                .supported_schemes(),
        })
    } else {
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| Error::invalid(format!("cannot build the certificate verifier: {e}")))?;
        match &tls.domain_name {
            Some(name) => {
                let name = ServerName::try_from(name.clone()).map_err(|_| {
                    Error::invalid(format!("{name:?} is not a valid TLS server name"))
                })?;
                Arc::new(FixedName {
                    inner: webpki,
                    name,
                })
            }
            None => webpki,
        }
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::invalid(format!("cannot configure TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &tls.identity {
        Some(identity) => {
            let certs = certificates(&identity.cert, "client certificate")?;
            let key = PrivateKeyDer::from_pem_slice(&identity.key)
                .map_err(|_| Error::invalid("the client key is not a PEM private key"))?;
            builder.with_client_auth_cert(certs, key).map_err(|e| {
                Error::invalid(format!("the client certificate and key do not fit: {e}"))
            })?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(feature = "tls-roots")]
fn add_native_roots(roots: &mut RootCertStore) {
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        // A system root rustls cannot parse is skipped, as browsers do.
        let _ = roots.add(cert);
    }
}

#[cfg(not(feature = "tls-roots"))]
fn add_native_roots(_roots: &mut RootCertStore) {}

#[cfg(feature = "tls-webpki-roots")]
fn add_webpki_roots(roots: &mut RootCertStore) -> Result<()> {
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(())
}

#[cfg(not(feature = "tls-webpki-roots"))]
fn add_webpki_roots(_roots: &mut RootCertStore) -> Result<()> {
    Err(Error::invalid(
        "TlsOptions::with_webpki_roots needs etcdgw's tls-webpki-roots feature",
    ))
}

/// Refuses every server certificate, saying there is nothing to check it against.
#[derive(Debug)]
struct NoRoots {
    schemes: Vec<SignatureScheme>,
}

const NO_ROOTS: &str = "no trust roots to check the server's certificate: give TlsOptions::ca_certificate or enable the tls-roots feature";

impl ServerCertVerifier for NoRoots {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(NO_ROOTS.to_string()))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(NO_ROOTS.to_string()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(NO_ROOTS.to_string()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// Checks certificates against a fixed name instead of the endpoint's host.
#[derive(Debug)]
struct FixedName {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `TlsOptions::danger_accept_invalid_certs`: any certificate chain and name are accepted, but
/// the handshake's signatures are still verified with the certificate presented.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The provider's key loader names its library in `Debug` (`Ring`, `AwsLcRs`).
    fn key_provider(provider: &CryptoProvider) -> String {
        format!("{:?}", provider.key_provider)
    }

    #[cfg(feature = "tls-ring")]
    #[test]
    fn feature_tls_ring_selects_ring() {
        let ring = rustls::crypto::ring::default_provider();
        assert_eq!(key_provider(&provider().unwrap()), key_provider(&ring));
    }

    #[cfg(all(feature = "tls", not(feature = "tls-ring")))]
    #[test]
    fn feature_tls_selects_aws_lc_rs() {
        let aws_lc = rustls::crypto::aws_lc_rs::default_provider();
        assert_eq!(key_provider(&provider().unwrap()), key_provider(&aws_lc));
    }
}
