//! Headers the application adds to every request (`ConnectOptions::with_header`: an API key a
//! proxy wants, a tenant header, a proxy's bearer token) and the User-Agent: checked once, at
//! `connect`, against the headers the gateway's protocol depends on, and attached to every
//! request (unary calls, streams, liveness checks) with their values marked sensitive, so that
//! neither `Debug` nor a log shows them.

use std::fmt;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, USER_AGENT};

use crate::error::{Error, Result};

/// The headers as the application gave them, in order; `Debug` shows the names only.
#[derive(Clone, Default)]
pub(crate) struct HeaderList(pub(crate) Vec<(String, String)>);

impl HeaderList {
    pub(crate) const fn new() -> Self {
        HeaderList(Vec::new())
    }

    /// Whether the application gave no headers.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for HeaderList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name, "<redacted>")))
            .finish()
    }
}

/// The User-Agent etcdgw sends unless told otherwise.
pub(crate) const DEFAULT_USER_AGENT: &str = concat!("etcdgw/", env!("CARGO_PKG_VERSION"));

/// Why a header cannot be set with `with_header`, if it cannot. `credentials`: the client
/// authenticates to etcd, whose token goes in `Authorization`.
fn refused(name: &HeaderName, credentials: bool) -> Option<&'static str> {
    let name = name.as_str();
    if name.starts_with("grpc-") {
        return Some(
            "etcd's gateway turns Grpc-* headers into settings of the gRPC call behind it \
             (Grpc-Timeout is the server's deadline, Grpc-Metadata-Hasleader requires a leader, \
             Grpc-Metadata-Token is a token): use with_timeout, with_require_leader or with_user",
        );
    }
    match name {
        "authorization" if credentials => Some(
            "with_user sends etcd's token in Authorization; a proxy's own credentials need \
             another header (or a proxy that takes them in Proxy-Authorization from your own \
             HTTP client)",
        ),
        "content-type" | "content-length" | "transfer-encoding" | "content-encoding" => Some(
            "the request body's framing and type are etcdgw's: every request is JSON it encodes",
        ),
        "host" => Some("the Host is the endpoint's: give the endpoint URL the proxy expects"),
        "connection" | "keep-alive" | "proxy-connection" | "te" | "trailer" | "upgrade" => {
            Some("a hop-by-hop header: the HTTP client manages the connection")
        }
        "proxy-authorization" => Some(
            "a forward proxy's credentials belong to the HTTP client's proxy settings: give \
             your own client (with_http_client) a reqwest::Proxy with basic_auth",
        ),
        "user-agent" => Some("use with_user_agent"),
        _ => None,
    }
}

/// The extra headers and the User-Agent, validated.
#[derive(Clone, Default)]
pub(crate) struct RequestHeaders {
    extra: HeaderMap,
    user_agent: Option<HeaderValue>,
}

impl fmt::Debug for RequestHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // HeaderMap's Debug shows sensitive values as `Sensitive`; names are fine to show.
        f.debug_struct("RequestHeaders")
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl RequestHeaders {
    /// Checks the application's headers. `user_agent`: the one asked for, if any; etcdgw's own
    /// is sent otherwise, unless the application brought its own HTTP client (`own_client`),
    /// whose User-Agent then stands. A browser sets its own: none is sent there.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first header (never its value) that is not a
    /// valid HTTP header or would break the protocol.
    pub(crate) fn new(
        list: &HeaderList,
        user_agent: Option<&str>,
        own_client: bool,
        credentials: bool,
        in_browser: bool,
    ) -> Result<Self> {
        let mut extra = HeaderMap::new();
        for (name, value) in &list.0 {
            let parsed = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                Error::invalid(format!(
                    "with_header: {name:?} is not a valid HTTP header name"
                ))
            })?;
            if let Some(reason) = refused(&parsed, credentials) {
                return Err(Error::invalid(format!(
                    "with_header: {parsed} cannot be set: {reason}"
                )));
            }
            let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
                Error::invalid(format!(
                    "with_header: the value of {parsed} is not a valid HTTP header value \
                     (visible ASCII, no line breaks); it is not shown here"
                ))
            })?;
            value.set_sensitive(true);
            extra.append(parsed, value);
        }
        let user_agent = match user_agent {
            _ if in_browser => None,
            Some(agent) => Some(HeaderValue::from_str(agent).map_err(|_| {
                Error::invalid(
                    "with_user_agent: not a valid HTTP header value (visible ASCII, no line breaks)",
                )
            })?),
            None if own_client => None,
            None => Some(HeaderValue::from_static(DEFAULT_USER_AGENT)),
        };
        Ok(RequestHeaders { extra, user_agent })
    }

    /// Adds the headers to a request. `token`: the request carries etcd's token, which then is
    /// the only `Authorization` (the credentials may have come after `connect`, with
    /// `update_user`).
    pub(crate) fn apply(
        &self,
        mut request: reqwest::RequestBuilder,
        token: bool,
    ) -> reqwest::RequestBuilder {
        for (name, value) in &self.extra {
            if token && name == AUTHORIZATION {
                continue;
            }
            request = request.header(name, value.clone());
        }
        if let Some(agent) = &self.user_agent {
            request = request.header(USER_AGENT, agent.clone());
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(&str, &str)]) -> HeaderList {
        HeaderList(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn headers_that_would_break_the_protocol_are_refused_by_name_never_showing_the_value() {
        for (name, credentials) in [
            ("Content-Type", false),
            ("content-length", false),
            ("Transfer-Encoding", false),
            ("Host", false),
            ("Connection", false),
            ("Upgrade", false),
            ("TE", false),
            ("Grpc-Timeout", false),
            ("Grpc-Metadata-Hasleader", false),
            ("grpc-metadata-token", false),
            ("Authorization", true),
            ("User-Agent", false),
            ("Proxy-Authorization", false),
            ("bad name", false),
        ] {
            let err = RequestHeaders::new(
                &list(&[(name, "s3cr3t-value")]),
                None,
                false,
                credentials,
                false,
            )
            .unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::InvalidArgument { .. }), "{name}");
            assert!(!text.contains("s3cr3t"), "{name}: {text}");
            assert!(
                text.to_ascii_lowercase()
                    .contains(&name.to_ascii_lowercase()),
                "{text}"
            );
        }
        let err = RequestHeaders::new(
            &list(&[("X-Api-Key", "line\nbreak-s3cr3t")]),
            None,
            false,
            false,
            false,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }

    #[test]
    fn a_proxy_s_authorization_is_allowed_without_etcd_credentials() {
        let headers = RequestHeaders::new(
            &list(&[("Authorization", "Bearer proxy-token"), ("X-Api-Key", "k")]),
            None,
            false,
            false,
            false,
        )
        .unwrap();
        assert_eq!(headers.extra.len(), 2);
    }

    #[test]
    fn values_never_show_in_debug() {
        let raw = list(&[("X-Api-Key", "s3cr3t")]);
        assert!(!format!("{raw:?}").contains("s3cr3t"));
        assert!(format!("{raw:?}").contains("X-Api-Key"));
        let headers = RequestHeaders::new(&raw, Some("app/1"), false, false, false).unwrap();
        let shown = format!("{headers:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("x-api-key"), "{shown}");
    }

    #[test]
    fn the_user_agent_is_etcdgw_s_unless_asked_or_the_client_is_the_application_s() {
        let none = HeaderList::new();
        let ours = RequestHeaders::new(&none, None, false, false, false).unwrap();
        assert_eq!(ours.user_agent.unwrap(), DEFAULT_USER_AGENT);
        let own = RequestHeaders::new(&none, None, true, false, false).unwrap();
        assert!(own.user_agent.is_none());
        let asked = RequestHeaders::new(&none, Some("app/2"), true, false, false).unwrap();
        assert_eq!(asked.user_agent.unwrap(), "app/2");
        let browser = RequestHeaders::new(&none, Some("app/2"), false, false, true).unwrap();
        assert!(browser.user_agent.is_none());
        assert!(RequestHeaders::new(&none, Some("a\nb"), false, false, false).is_err());
    }
}
