//! The endpoint list: validated URLs, the one requests go to, and which failed recently.
//!
//! Requests stick to one endpoint (like a pinned gRPC channel) so that a caller sees one
//! member's view of the revisions; an endpoint that fails is skipped for a while (longer after
//! each failure in a row) and the next healthy one takes over.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use url::Url;

use super::rt::Instant;
use crate::error::{Error, Result};

/// One validated endpoint.
#[derive(Debug)]
pub(crate) struct Endpoint {
    url: Url,
    /// The URL as text without a trailing `/`, ready for a `/v3/...` path to be appended.
    base: String,
}

impl Endpoint {
    /// Reads `host:port`, `http://host:port` or `https://host:port[/prefix]`; a string without
    /// a scheme gets `default_scheme`.
    pub(crate) fn parse(raw: &str, default_scheme: &str) -> Result<Endpoint> {
        let invalid = |reason: &str| Error::InvalidEndpoint {
            endpoint: redact_userinfo(raw),
            reason: reason.to_string(),
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(invalid("the endpoint is empty"));
        }
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("{default_scheme}://{trimmed}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(invalid("the scheme must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the URL has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("credentials in the URL are not supported"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("the URL must not have a query or a fragment"));
        }
        let base = url.as_str().trim_end_matches('/').to_string();
        Ok(Endpoint { url, base })
    }

    /// The endpoint's URL.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The full URL of a gateway path on this endpoint.
    pub(crate) fn url_for(&self, path: &str) -> String {
        let mut s = String::with_capacity(self.base.len() + path.len());
        s.push_str(&self.base);
        s.push_str(path);
        s
    }
}

/// The endpoint text with any `user:password@` replaced, so an error never shows a password.
fn redact_userinfo(raw: &str) -> String {
    let (scheme, rest) = match raw.find("://") {
        Some(i) => raw.split_at(i + 3),
        None => ("", raw),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}<redacted>{}", &rest[at..]),
        None => raw.to_string(),
    }
}

#[derive(Debug)]
struct Entry {
    endpoint: Arc<Endpoint>,
    failures: u32,
    skip_until: Option<Instant>,
}

#[derive(Debug)]
struct State {
    entries: Vec<Entry>,
    current: usize,
}

/// The shared endpoint list of a client and its clones.
#[derive(Debug)]
pub(crate) struct Endpoints {
    state: Mutex<State>,
}

const FIRST_SKIP: Duration = Duration::from_secs(1);
const LONGEST_SKIP: Duration = Duration::from_secs(30);

impl Endpoints {
    pub(crate) fn new(endpoints: Vec<Endpoint>) -> Self {
        let entries = endpoints
            .into_iter()
            .map(|e| Entry {
                endpoint: Arc::new(e),
                failures: 0,
                skip_until: None,
            })
            .collect();
        Endpoints {
            state: Mutex::new(State {
                entries,
                current: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the list inconsistent: recover it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The endpoint to use now: the current one if it is not being skipped, else the next one
    /// that is not, else the one whose skip ends first. `None` if the list is empty.
    pub(crate) fn pick(&self) -> Option<Arc<Endpoint>> {
        let mut state = self.lock();
        let n = state.entries.len();
        if n == 0 {
            return None;
        }
        let now = Instant::now();
        let start = state.current % n;
        let healthy = (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| state.entries[i].skip_until.is_none_or(|t| t <= now));
        let chosen = healthy.unwrap_or_else(|| {
            (0..n)
                .min_by_key(|&i| state.entries[i].skip_until)
                .unwrap_or(start)
        });
        state.current = chosen;
        Some(state.entries[chosen].endpoint.clone())
    }

    /// Notes that `endpoint` failed at the connection level: it is skipped for a while.
    pub(crate) fn report_failure(&self, endpoint: &Arc<Endpoint>) {
        let mut state = self.lock();
        let n = state.entries.len();
        if let Some(i) = state
            .entries
            .iter()
            .position(|e| Arc::ptr_eq(&e.endpoint, endpoint))
        {
            let entry = &mut state.entries[i];
            entry.failures = entry.failures.saturating_add(1);
            let factor = 1u32 << entry.failures.saturating_sub(1).min(5);
            entry.skip_until = Some(Instant::now() + (FIRST_SKIP * factor).min(LONGEST_SKIP));
            if state.current == i && n > 1 {
                state.current = (i + 1) % n;
            }
        }
    }

    /// Notes that `endpoint` answered.
    pub(crate) fn report_success(&self, endpoint: &Arc<Endpoint>) {
        let mut state = self.lock();
        if let Some(entry) = state
            .entries
            .iter_mut()
            .find(|e| Arc::ptr_eq(&e.endpoint, endpoint))
        {
            entry.failures = 0;
            entry.skip_until = None;
        }
    }

    /// How many endpoints there are.
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// The endpoints' URLs, in order.
    pub(crate) fn urls(&self) -> Vec<Url> {
        self.lock()
            .entries
            .iter()
            .map(|e| e.endpoint.url().clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_without_scheme_get_http() {
        let e = Endpoint::parse("127.0.0.1:2379", "http").unwrap();
        assert_eq!(
            e.url_for("/v3/kv/range"),
            "http://127.0.0.1:2379/v3/kv/range"
        );
        let e = Endpoint::parse(" https://etcd.example:2379/ ", "http").unwrap();
        assert_eq!(
            e.url_for("/v3/kv/put"),
            "https://etcd.example:2379/v3/kv/put"
        );
    }

    #[test]
    fn a_path_prefix_is_kept_for_proxies() {
        let e = Endpoint::parse("https://proxy.example/etcd/", "http").unwrap();
        assert_eq!(
            e.url_for("/v3/kv/range"),
            "https://proxy.example/etcd/v3/kv/range"
        );
    }

    #[test]
    fn bad_endpoints_are_refused_with_their_text() {
        for bad in [
            "",
            "ftp://h:1",
            "http://",
            "http://h:1/?x=1",
            "http://h:99999",
        ] {
            match Endpoint::parse(bad, "http") {
                Err(Error::InvalidEndpoint { endpoint, .. }) => assert_eq!(endpoint, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn credentials_in_an_endpoint_are_refused_and_never_shown() {
        for (bad, shown) in [
            ("http://u:secret@h:1", "http://<redacted>@h:1"),
            ("u:secret@h:1/x", "<redacted>@h:1/x"),
        ] {
            match Endpoint::parse(bad, "http") {
                Err(e @ Error::InvalidEndpoint { .. }) => {
                    assert!(!e.to_string().contains("secret"), "{e}");
                    let Error::InvalidEndpoint { endpoint, .. } = e else {
                        unreachable!()
                    };
                    assert_eq!(endpoint, shown);
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_failed_endpoint_is_skipped_until_all_have_failed() {
        let list = Endpoints::new(vec![
            Endpoint::parse("a:1", "http").unwrap(),
            Endpoint::parse("b:1", "http").unwrap(),
        ]);
        let a = list.pick().unwrap();
        assert_eq!(a.url().host_str(), Some("a"));
        list.report_failure(&a);
        let b = list.pick().unwrap();
        assert_eq!(b.url().host_str(), Some("b"));
        list.report_failure(&b);
        // Both skipped: the one whose skip ends first (a) comes back.
        assert_eq!(list.pick().unwrap().url().host_str(), Some("a"));
        list.report_success(&b);
        assert_eq!(list.pick().unwrap().url().host_str(), Some("b"));
    }
}
