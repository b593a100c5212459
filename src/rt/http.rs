//! The HTTP client's two builds: the native one (sockets, keep-alives, rustls) and wasm32's
//! (the JavaScript host's fetch, which decides connections and TLS itself).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(all(feature = "__tls", not(target_arch = "wasm32")))]
use super::tls;

/// HTTP client settings: most of them only a native socket has (a JavaScript host's fetch
/// decides them itself).
#[derive(Debug, Clone, Default)]
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) struct NativeHttpSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) tcp_keepalive: Option<Duration>,
    pub(crate) http2_keep_alive: Option<(Duration, Duration)>,
    pub(crate) keep_alive_while_idle: bool,
    #[cfg(feature = "__tls")]
    pub(crate) tls: Option<crate::tls::TlsOptions>,
    /// The application's own HTTP client, or its changes to etcdgw's builder.
    pub(crate) custom: CustomClient,
}

/// A function that changes etcdgw's HTTP client builder (`ConnectOptions::with_http_client_builder`).
type BuilderFn =
    Arc<dyn Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static>;

/// How the HTTP client comes about: etcdgw's own, the application's, or etcdgw's changed by
/// the application.
#[derive(Clone, Default)]
pub(crate) enum CustomClient {
    /// etcdgw builds it from its settings.
    #[default]
    None,
    /// The application's, used as it is.
    Client(reqwest::Client),
    /// etcdgw's builder, with its settings, handed to the application's function last.
    Builder(BuilderFn),
}

impl CustomClient {
    /// Whether the application brought a client of its own.
    pub(crate) fn is_client(&self) -> bool {
        matches!(self, CustomClient::Client(_))
    }
}

impl fmt::Debug for CustomClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CustomClient::None => "None",
            CustomClient::Client(_) => "Client(<the application's>)",
            CustomClient::Builder(_) => "Builder(<the application's function>)",
        })
    }
}

impl NativeHttpSettings {
    /// The scheme an endpoint without one gets: `https` when TLS options are set.
    pub(crate) fn default_scheme(&self) -> &'static str {
        #[cfg(feature = "__tls")]
        if self.tls.is_some() {
            return "https";
        }
        "http"
    }
}

/// Builds the one HTTP client a `Client` and its clones share. Proxies named by the
/// `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY` environment variables are honoured, as reqwest does.
///
/// # Errors
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for TLS settings that cannot be
/// used (a certificate that is not PEM, a key that does not fit), and on wasm32 for the TLS
/// settings fetch does not take (a CA or a client certificate: the host decides).
pub(crate) fn http_client(settings: &NativeHttpSettings) -> crate::error::Result<reqwest::Client> {
    let customize = match &settings.custom {
        CustomClient::Client(client) => return Ok(client.clone()),
        CustomClient::Builder(f) => Some(f.clone()),
        CustomClient::None => None,
    };
    #[cfg(not(target_arch = "wasm32"))]
    {
        // TlsOptions::timeout covers the handshake, which reqwest's connect timeout includes.
        #[cfg(feature = "__tls")]
        let connect_timeout = settings
            .tls
            .as_ref()
            .and_then(|t| t.timeout)
            .map_or(settings.connect_timeout, |tls| {
                tls.max(settings.connect_timeout)
            });
        #[cfg(not(feature = "__tls"))]
        let connect_timeout = settings.connect_timeout;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_keepalive(settings.tcp_keepalive);
        if let Some((interval, timeout)) = settings.http2_keep_alive {
            builder = builder
                .http2_keep_alive_interval(interval)
                .http2_keep_alive_timeout(timeout)
                .http2_keep_alive_while_idle(settings.keep_alive_while_idle);
        }
        // rustls as configured here, on the provider the features chose; without TLS options,
        // the system's roots (feature `tls-roots`).
        #[cfg(feature = "__tls")]
        match &settings.tls {
            Some(options) => {
                builder = builder.tls_backend_preconfigured(tls::client_config(options)?);
                if options.assume_http2 {
                    // Every endpoint is https:// with TLS options, so this never reaches a
                    // plain port (where prior-knowledge HTTP/2 would go to etcd's gRPC server).
                    builder = builder.http2_prior_knowledge();
                }
            }
            None => builder = builder.tls_backend_preconfigured(tls::default_client_config()?),
        }
        if let Some(customize) = customize {
            builder = customize(builder);
        }
        builder
            .build()
            .map_err(|e| crate::error::Error::invalid(format!("cannot build the HTTP client: {e}")))
    }
    #[cfg(target_arch = "wasm32")]
    {
        #[cfg(feature = "__tls")]
        if let Some(tls) = &settings.tls {
            if !tls.ca_certificates.is_empty()
                || tls.identity.is_some()
                || tls.domain_name.is_some()
                || tls.danger_accept_invalid_certs
                || tls.webpki_roots
                || tls.assume_http2
            {
                return Err(crate::error::Error::invalid(
                    "on wasm32, TLS is the JavaScript host's (a browser's, Node.js', Deno's, workerd's): a custom CA or roots, a client certificate, a domain name, HTTP/2 by prior knowledge or accepting invalid certificates cannot be set",
                ));
            }
        }
        let mut builder = reqwest::Client::builder();
        if let Some(customize) = customize {
            builder = customize(builder);
        }
        builder
            .build()
            .map_err(|e| crate::error::Error::invalid(format!("cannot build the HTTP client: {e}")))
    }
}

/// Whether an HTTP error happened before a connection existed, so the request was certainly
/// not sent. A JavaScript host's fetch does not say, so there it is always "maybe sent".
pub(crate) fn never_connected(err: &reqwest::Error) -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    {
        err.is_connect()
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = err;
        false
    }
}
