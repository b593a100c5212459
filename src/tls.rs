//! TLS settings with etcd-client's names: [`TlsOptions`], [`Certificate`], [`Identity`]. Plain
//! data (PEM bytes); they are checked and turned into a TLS configuration when the client is
//! built, so a bad certificate is reported by `Client::connect`.

use std::fmt;

/// A certificate (or a chain of them) in PEM form.
#[derive(Clone)]
pub struct Certificate {
    pub(crate) pem: Vec<u8>,
}

impl Certificate {
    /// Takes a PEM certificate (several `BEGIN CERTIFICATE` blocks are fine for a CA bundle).
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Self {
        Certificate {
            pem: pem.as_ref().to_vec(),
        }
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("pem_bytes", &self.pem.len())
            .finish()
    }
}

/// A client certificate and its private key, in PEM form, for mutual TLS. `Debug` never shows
/// the key.
#[derive(Clone)]
pub struct Identity {
    pub(crate) cert: Vec<u8>,
    #[allow(dead_code)] // read by the native TLS configuration only: a browser has no use for it
    pub(crate) key: Vec<u8>,
}

impl Identity {
    /// Takes a PEM certificate (chain) and its PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(cert: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Self {
        Identity {
            cert: cert.as_ref().to_vec(),
            key: key.as_ref().to_vec(),
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("cert_bytes", &self.cert.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// How to check the servers and present this client over TLS (`https://` endpoints).
///
/// Without a CA certificate, the system's trust roots are used (feature `tls-roots`, on by
/// default). Over TLS the gateway speaks HTTP/2, so all requests and watches of a client
/// share one connection per endpoint.
///
/// # Examples
/// ```no_run
/// # async fn run() -> etcdgw::Result<()> {
/// use etcdgw::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
///
/// let tls = TlsOptions::new()
///     .ca_certificate(Certificate::from_pem(std::fs::read("ca.pem").unwrap_or_default()))
///     .identity(Identity::from_pem(std::fs::read("client.pem").unwrap_or_default(), std::fs::read("client-key.pem").unwrap_or_default()))
///     .domain_name("etcd.internal");
/// let client = Client::connect(["https://10.0.0.5:2379"], Some(ConnectOptions::new().with_tls(tls))).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct TlsOptions {
    pub(crate) ca_certificates: Vec<Certificate>,
    pub(crate) identity: Option<Identity>,
    pub(crate) domain_name: Option<String>,
    pub(crate) native_roots: bool,
    pub(crate) webpki_roots: bool,
    pub(crate) danger_accept_invalid_certs: bool,
    pub(crate) assume_http2: bool,
    pub(crate) timeout: Option<std::time::Duration>,
}

impl TlsOptions {
    /// No CA, no client certificate: the system roots check the servers.
    pub fn new() -> Self {
        TlsOptions::default()
    }

    /// Trusts this CA (call again for more). With a CA given, the system roots are not used
    /// unless [`with_native_roots`](Self::with_native_roots) asks for them too.
    pub fn ca_certificate(mut self, ca_certificate: Certificate) -> Self {
        self.ca_certificates.push(ca_certificate);
        self
    }

    /// Trusts these CAs (tonic's `ClientTlsConfig::ca_certificates`, as etcd-client users call
    /// it).
    pub fn ca_certificates(
        mut self,
        ca_certificates: impl IntoIterator<Item = Certificate>,
    ) -> Self {
        self.ca_certificates.extend(ca_certificates);
        self
    }

    /// Presents this certificate to the servers (mutual TLS, `--client-cert-auth`). With auth
    /// enabled, the gateway refuses a client certificate that has a Common Name (GATEWAY.md
    /// pitfall 16).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Checks the servers' certificates against this name instead of the endpoint's host (for
    /// endpoints given by IP address, say).
    pub fn domain_name(mut self, domain_name: impl Into<String>) -> Self {
        self.domain_name = Some(domain_name.into());
        self
    }

    /// Also trusts the system's roots (feature `tls-roots`).
    pub fn with_native_roots(mut self) -> Self {
        self.native_roots = true;
        self
    }

    /// Also trusts Mozilla's roots, as built into this program (feature `tls-webpki-roots`;
    /// without it, `Client::connect` refuses these options with
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument)).
    pub fn with_webpki_roots(mut self) -> Self {
        self.webpki_roots = true;
        self
    }

    /// Also trusts every root this build has: the system's (feature `tls-roots`) and Mozilla's
    /// (feature `tls-webpki-roots`), as tonic's `with_enabled_roots`.
    pub fn with_enabled_roots(mut self) -> Self {
        self.native_roots = cfg!(feature = "tls-roots");
        self.webpki_roots = cfg!(feature = "tls-webpki-roots");
        self
    }

    /// Speaks HTTP/2 from the first byte instead of agreeing on it during the handshake (ALPN),
    /// for servers behind something that strips ALPN. etcd itself negotiates HTTP/2 over TLS,
    /// so this is rarely needed. Native targets only.
    pub fn assume_http2(mut self, assume_http2: bool) -> Self {
        self.assume_http2 = assume_http2;
        self
    }

    /// How long setting up a connection may take, the TLS handshake included (tonic's
    /// handshake timeout; here it extends
    /// [`ConnectOptions::with_connect_timeout`](crate::ConnectOptions::with_connect_timeout)
    /// when longer). Native targets only.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// **Dangerous**: with `true`, accepts any server certificate, whoever issued it and
    /// whatever name it carries (etcdctl's `--insecure-skip-tls-verify`). The connection is
    /// still encrypted and the handshake's signatures still checked, but anyone on the path
    /// can pose as the server and read every key, value and password. For tests and
    /// emergencies only; prefer [`ca_certificate`](Self::ca_certificate).
    ///
    /// Native targets only: on wasm32, connecting fails with [`Error::InvalidArgument`]
    /// (the JavaScript host's fetch does its own checks).
    ///
    /// [`Error::InvalidArgument`]: crate::Error::InvalidArgument
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run() -> etcdgw::Result<()> {
    /// use etcdgw::{Client, ConnectOptions, TlsOptions};
    ///
    /// // A test cluster with a throwaway self-signed certificate.
    /// let tls = TlsOptions::new().danger_accept_invalid_certs(true);
    /// let client = Client::connect(["https://127.0.0.1:2379"], Some(ConnectOptions::new().with_tls(tls))).await?;
    /// # Ok(()) }
    /// ```
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.danger_accept_invalid_certs = accept;
        self
    }
}
