//! The endpoint list: validated URLs, the one requests go to, and which are down.
//!
//! Requests stick to one endpoint (like a pinned gRPC channel) so that a caller sees one
//! member's view of the revisions; an endpoint that fails is skipped (longer after each
//! failure in a row, up to 30 s) and the next healthy one takes over. While an endpoint is
//! down, the transport probes it in the background and brings it back as soon as it answers,
//! so requests do not pay for finding out again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use url::Url;

use super::stream_mode::Learned;
use crate::error::{Error, Result};
use crate::rt::Instant;

/// One validated endpoint.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// Unique in the process: tells two endpoints apart even with the same URL (one removed
    /// and added again is a new endpoint, with nothing known about it yet).
    id: u64,
    url: Url,
    /// The URL as text without a trailing `/`, ready for a `/v3/...` path to be appended.
    base: String,
    /// The URL as the `endpoint` label of metrics.
    #[cfg(feature = "metrics")]
    label: Arc<str>,
    /// The parsed URL of each path used so far: parsing (IDNA included) costs more than a copy.
    paths: Mutex<HashMap<&'static str, Url>>,
    /// Whether its streams arrive as they are written or are held back (`stream_mode.rs`).
    learned: Learned,
    /// Held while the endpoint is checked before its first request, so that calls arriving
    /// together wait for one check instead of each opening a connection for its own.
    pub(super) first_check: tokio::sync::Mutex<()>,
    /// How many of those checks failed: a call that waited for one sees whether it failed.
    pub(super) failed_checks: AtomicU64,
    /// Held by the watch that finds out how the endpoint carries streams (`stream_mode.rs`), so
    /// that watches opened together wait for what it learns instead of each finding out alone.
    pub(super) detecting: tokio::sync::Mutex<()>,
}

impl Endpoint {
    /// Reads `host:port`, `http://host:port` or `https://host:port[/prefix]`; a string without
    /// a scheme gets `default_scheme`.
    pub(crate) fn parse(raw: &str, default_scheme: &str) -> Result<Endpoint> {
        let invalid = |reason: &str| Error::InvalidEndpoint {
            endpoint: redact_userinfo(raw).into(),
            reason: reason.to_string().into(),
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
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Ok(Endpoint {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            #[cfg(feature = "metrics")]
            label: Arc::from(base.as_str()),
            url,
            base,
            paths: Mutex::new(HashMap::new()),
            learned: Learned::default(),
            first_check: tokio::sync::Mutex::new(()),
            failed_checks: AtomicU64::new(0),
            detecting: tokio::sync::Mutex::new(()),
        })
    }

    /// The endpoint's process-wide unique id.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// What was learned of how its streams arrive.
    pub(crate) fn learned(&self) -> &Learned {
        &self.learned
    }

    /// The endpoint's URL.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The endpoint's URL as a metrics label (shared, not copied, per request).
    #[cfg(feature = "metrics")]
    pub(crate) fn label(&self) -> Arc<str> {
        self.label.clone()
    }

    /// The full URL of a gateway path on this endpoint, as text.
    pub(crate) fn url_for(&self, path: &str) -> String {
        let mut s = String::with_capacity(self.base.len() + path.len());
        s.push_str(&self.base);
        s.push_str(path);
        s
    }

    /// The full URL of a gateway path on this endpoint, parsed once per path.
    pub(crate) fn parsed_url_for(&self, path: &'static str) -> Url {
        let mut paths = self.paths.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(url) = paths.get(path) {
            return url.clone();
        }
        // The base parsed and a path of plain ASCII appended: parsing cannot fail.
        let url = Url::parse(&self.url_for(path)).unwrap_or_else(|_| self.url.clone());
        paths.insert(path, url.clone());
        url
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
    /// A background probe is running for it.
    probing: bool,
    /// When it last answered (a request or a liveness probe).
    last_alive: Option<Instant>,
}

impl Entry {
    fn new(endpoint: Arc<Endpoint>) -> Self {
        Entry {
            endpoint,
            failures: 0,
            skip_until: None,
            probing: false,
            last_alive: None,
        }
    }
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
    /// Woken when an endpoint is added, for requests waiting on an empty list.
    added: tokio::sync::Notify,
}

const FIRST_SKIP: Duration = Duration::from_secs(1);
const LONGEST_SKIP: Duration = Duration::from_secs(30);

/// What a failure report changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The endpoint was healthy before (so this is news).
    pub(crate) newly_down: bool,
    /// A background probe should start (none is running yet).
    pub(crate) start_probe: bool,
}

impl Endpoints {
    pub(crate) fn new(endpoints: Vec<Endpoint>) -> Self {
        Endpoints {
            state: Mutex::new(State {
                entries: endpoints
                    .into_iter()
                    .map(|e| Entry::new(Arc::new(e)))
                    .collect(),
                current: 0,
            }),
            added: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the list inconsistent: recover it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves when an endpoint is added after this call (create it before looking at the
    /// list, so that an endpoint added in between is not missed).
    pub(crate) fn added(&self) -> tokio::sync::futures::Notified<'_> {
        self.added.notified()
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

    fn position(state: &State, endpoint: &Endpoint) -> Option<usize> {
        state
            .entries
            .iter()
            .position(|e| e.endpoint.id == endpoint.id)
    }

    /// Notes that `endpoint` failed at the connection level: it is skipped for a while, and
    /// the caller is told whether to start probing it.
    pub(crate) fn report_failure(&self, endpoint: &Endpoint) -> Failure {
        let mut state = self.lock();
        let n = state.entries.len();
        let Some(i) = Self::position(&state, endpoint) else {
            return Failure {
                newly_down: false,
                start_probe: false,
            };
        };
        let entry = &mut state.entries[i];
        let newly_down = entry.failures == 0;
        entry.failures = entry.failures.saturating_add(1);
        let factor = 1u32 << entry.failures.saturating_sub(1).min(5);
        entry.skip_until = Some(super::rt::deadline_in(
            (FIRST_SKIP * factor).min(LONGEST_SKIP),
        ));
        let start_probe = !entry.probing;
        entry.probing = true;
        if state.current == i && n > 1 {
            state.current = (i + 1) % n;
        }
        Failure {
            newly_down,
            start_probe,
        }
    }

    /// Keeps a probed endpoint skipped while its probes fail.
    pub(crate) fn still_down(&self, endpoint: &Endpoint) {
        let mut state = self.lock();
        if let Some(i) = Self::position(&state, endpoint) {
            let entry = &mut state.entries[i];
            let factor = 1u32 << entry.failures.saturating_sub(1).min(5);
            entry.skip_until = Some(super::rt::deadline_in(
                (FIRST_SKIP * factor).min(LONGEST_SKIP),
            ));
        }
    }

    /// The background probe of `endpoint` is over (it answered, or left the list).
    pub(crate) fn probe_done(&self, endpoint: &Endpoint) {
        let mut state = self.lock();
        if let Some(i) = Self::position(&state, endpoint) {
            state.entries[i].probing = false;
        }
    }

    /// Notes that `endpoint` answered; returns whether it was down before.
    pub(crate) fn report_success(&self, endpoint: &Endpoint) -> bool {
        let mut state = self.lock();
        match Self::position(&state, endpoint) {
            Some(i) => {
                let entry = &mut state.entries[i];
                let was_down = entry.failures > 0;
                entry.failures = 0;
                entry.skip_until = None;
                entry.last_alive = Some(Instant::now());
                was_down
            }
            None => false,
        }
    }

    /// Notes that `endpoint` answered a liveness probe.
    pub(crate) fn report_alive(&self, endpoint: &Endpoint) {
        let mut state = self.lock();
        if let Some(i) = Self::position(&state, endpoint) {
            state.entries[i].last_alive = Some(Instant::now());
        }
    }

    /// Whether `endpoint` answered within `within` (so a liveness probe can be spared).
    pub(crate) fn answered_within(&self, endpoint: &Endpoint, within: Duration) -> bool {
        let state = self.lock();
        Self::position(&state, endpoint)
            .and_then(|i| state.entries[i].last_alive)
            .is_some_and(|t| t.elapsed() < within)
    }

    /// Whether `endpoint` ever answered (a request or a liveness probe).
    pub(crate) fn verified(&self, endpoint: &Endpoint) -> bool {
        let state = self.lock();
        Self::position(&state, endpoint).is_some_and(|i| state.entries[i].last_alive.is_some())
    }

    /// Whether `endpoint` is still one of the list's.
    pub(crate) fn contains(&self, endpoint: &Endpoint) -> bool {
        Self::position(&self.lock(), endpoint).is_some()
    }

    /// How many endpoints there are.
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// The URL of the endpoint requests go to now (the last one picked), if any.
    pub(crate) fn current_url(&self) -> Option<Url> {
        let state = self.lock();
        let n = state.entries.len();
        (n > 0).then(|| state.entries[state.current % n].endpoint.url().clone())
    }

    /// The endpoints' URLs, in order.
    pub(crate) fn urls(&self) -> Vec<Url> {
        self.lock()
            .entries
            .iter()
            .map(|e| e.endpoint.url().clone())
            .collect()
    }

    /// The endpoints' URLs with whether each is being skipped as down.
    pub(crate) fn health(&self) -> Vec<(Url, bool)> {
        let now = Instant::now();
        self.lock()
            .entries
            .iter()
            .map(|e| {
                (
                    e.endpoint.url().clone(),
                    e.skip_until.is_none_or(|t| t <= now),
                )
            })
            .collect()
    }

    /// Adds an endpoint (a URL already in the list is not added twice).
    pub(crate) fn add(&self, endpoint: Endpoint) -> bool {
        let mut state = self.lock();
        if state
            .entries
            .iter()
            .any(|e| e.endpoint.url() == endpoint.url())
        {
            return false;
        }
        state.entries.push(Entry::new(Arc::new(endpoint)));
        drop(state);
        self.added.notify_waiters();
        true
    }

    /// Removes the endpoint with this URL; returns whether there was one.
    pub(crate) fn remove(&self, url: &Url) -> bool {
        let mut state = self.lock();
        let before = state.entries.len();
        state.entries.retain(|e| e.endpoint.url() != url);
        let n = state.entries.len();
        if n > 0 {
            state.current %= n;
        } else {
            state.current = 0;
        }
        n != before
    }

    /// Replaces the list, keeping what is known of the endpoints that stay.
    pub(crate) fn replace(&self, endpoints: Vec<Endpoint>) {
        let mut state = self.lock();
        let current_url = state
            .entries
            .get(state.current)
            .map(|e| e.endpoint.url().clone());
        let mut old = std::mem::take(&mut state.entries);
        for endpoint in endpoints {
            match old.iter().position(|e| e.endpoint.url() == endpoint.url()) {
                Some(i) => state.entries.push(old.swap_remove(i)),
                None => state.entries.push(Entry::new(Arc::new(endpoint))),
            }
        }
        state.current = current_url
            .and_then(|u| state.entries.iter().position(|e| *e.endpoint.url() == u))
            .unwrap_or(0);
        drop(state);
        self.added.notify_waiters();
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
                Err(Error::InvalidEndpoint { endpoint, .. }) => assert_eq!(&*endpoint, bad),
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
                    assert_eq!(&*endpoint, shown);
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    fn list(names: &[&str]) -> Endpoints {
        Endpoints::new(
            names
                .iter()
                .map(|n| Endpoint::parse(n, "http").unwrap())
                .collect(),
        )
    }

    #[test]
    fn a_failed_endpoint_is_skipped_until_all_have_failed() {
        let list = list(&["a:1", "b:1"]);
        let a = list.pick().unwrap();
        assert_eq!(a.url().host_str(), Some("a"));
        let failure = list.report_failure(&a);
        assert!(failure.newly_down && failure.start_probe);
        assert!(!list.report_failure(&a).start_probe, "one probe at a time");
        let b = list.pick().unwrap();
        assert_eq!(b.url().host_str(), Some("b"));
        list.report_failure(&b);
        // Both skipped: the one whose skip ends first (b, failed once) comes back.
        assert_eq!(list.pick().unwrap().url().host_str(), Some("b"));
        assert!(list.report_success(&a), "a was down");
        assert_eq!(list.pick().unwrap().url().host_str(), Some("a"));
        assert!(list
            .health()
            .iter()
            .any(|(u, up)| u.host_str() == Some("b") && !up));
    }

    #[test]
    fn the_list_can_change_keeping_what_is_known() {
        let list = list(&["a:1", "b:1"]);
        assert!(list.add(Endpoint::parse("c:1", "http").unwrap()));
        assert!(
            !list.add(Endpoint::parse("http://c:1", "http").unwrap()),
            "no duplicates"
        );
        assert_eq!(list.len(), 3);
        assert!(list.remove(&Url::parse("http://a:1").unwrap()));
        assert!(!list.remove(&Url::parse("http://a:1").unwrap()));
        let b = list.pick().unwrap();
        assert_eq!(b.url().host_str(), Some("b"));
        list.report_failure(&b);
        list.replace(vec![
            Endpoint::parse("b:1", "http").unwrap(),
            Endpoint::parse("d:1", "http").unwrap(),
        ]);
        let health = list.health();
        assert_eq!(health.len(), 2);
        assert!(!health[0].1, "b stays known as down");
        assert!(health[1].1);
    }
}
