//! The runtime seam: clocks, sleeping, deadlines, spawning, boxed streams and the HTTP client's
//! native-only settings, for native targets (tokio) and for wasm32 in a browser. This is the
//! only file with `cfg(target_arch)`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use std::time::Instant;
#[cfg(target_arch = "wasm32")]
pub(crate) use web_time::Instant;

/// Whether this build runs in a browser (wasm32), where the page's origin is not etcd's: every
/// request is a CORS request, and etcd's preflight answer allows only the `accept`,
/// `content-type` and `authorization` headers (GATEWAY.md 2.7). The transport then sends no
/// other header, and no `Content-Type` either (the gateway ignores it), so that a request
/// without a token is a "simple" one that needs no preflight.
pub(crate) const IN_BROWSER: bool = cfg!(target_arch = "wasm32");

/// A boxed stream: `Send` on native targets, not on wasm32 (browser futures are not `Send`).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type BoxStream<'a, T> = Pin<Box<dyn Stream<Item = T> + Send + 'a>>;
/// A boxed stream: `Send` on native targets, not on wasm32 (browser futures are not `Send`).
#[cfg(target_arch = "wasm32")]
pub(crate) type BoxStream<'a, T> = Pin<Box<dyn Stream<Item = T> + 'a>>;

/// A boxed future, `Send` where the target allows it.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed future, `Send` where the target allows it.
#[cfg(target_arch = "wasm32")]
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Waits for `duration`; [`Duration::MAX`] waits forever, without a timer.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) async fn sleep(duration: Duration) {
    if duration == Duration::MAX {
        return std::future::pending().await;
    }
    tokio::time::sleep(duration).await;
}

/// The longest delay, in milliseconds, a JavaScript host's `setTimeout` keeps: a signed 32-bit
/// count (about 24.8 days). A longer one fires at once (measured: Chromium, Node.js 20 and
/// Deno 2.9 all run a delay of 2^31 ms after about 1 ms; docs/GATEWAY.md 12.4).
#[cfg(any(target_arch = "wasm32", test))]
const LONGEST_TIMER_MS: u32 = i32::MAX.unsigned_abs();

/// The pieces a wait of `duration` is slept in on a JavaScript host: as few as possible, each
/// at most [`LONGEST_TIMER_MS`], rounded up to whole milliseconds so that a wait never ends
/// early.
#[cfg(any(target_arch = "wasm32", test))]
fn timer_pieces(duration: Duration) -> impl Iterator<Item = u32> {
    let longest = Duration::from_millis(u64::from(LONGEST_TIMER_MS));
    let mut left = duration;
    std::iter::from_fn(move || {
        if left.is_zero() {
            return None;
        }
        let piece = left.min(longest);
        left = left.saturating_sub(piece);
        let millis = piece
            .as_millis()
            .saturating_add(u128::from(piece.subsec_nanos() % 1_000_000 != 0));
        Some(u32::try_from(millis).map_or(LONGEST_TIMER_MS, |m| m.min(LONGEST_TIMER_MS)))
    })
}

/// Waits for `duration`, in pieces a JavaScript host's timers keep ([`LONGEST_TIMER_MS`]); a
/// longer wait (a call given a deadline of months) takes one timer per 24.8 days.
/// [`Duration::MAX`] (a call that waits until done) waits forever without a timer.
#[cfg(target_arch = "wasm32")]
pub(crate) async fn sleep(duration: Duration) {
    if duration == Duration::MAX {
        return std::future::pending().await;
    }
    for millis in timer_pieces(duration) {
        gloo_timers::future::TimeoutFuture::new(millis).await;
    }
}

/// The instant `duration` from now; a duration too long for the clock (a caller's
/// `Duration::MAX`, a server's huge TTL) saturates to a century from now instead of
/// overflowing.
pub(crate) fn deadline_in(duration: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    let now = Instant::now();
    now.checked_add(duration)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

/// The deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

/// Runs `future` for at most `duration`; [`Duration::MAX`] is no deadline: the future runs
/// until done, and no timer is set.
pub(crate) async fn timeout<F: Future>(
    duration: Duration,
    future: F,
) -> Result<F::Output, Elapsed> {
    if duration == Duration::MAX {
        return Ok(future.await);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        tokio::time::timeout(duration, future)
            .await
            .map_err(|_| Elapsed)
    }
    #[cfg(target_arch = "wasm32")]
    {
        use futures_util::future::{select, Either};
        let future = std::pin::pin!(future);
        let timer = std::pin::pin!(sleep(duration));
        match select(future, timer).await {
            Either::Left((out, _)) => Ok(out),
            Either::Right(_) => Err(Elapsed),
        }
    }
}

/// Runs `future` in the background.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
    tokio::spawn(future);
}

/// Runs `future` in the background.
#[cfg(target_arch = "wasm32")]
pub(crate) fn spawn<F: Future<Output = ()> + 'static>(future: F) {
    wasm_bindgen_futures::spawn_local(future);
}

/// Runs `future` in the background if a runtime is there to run it (a destructor may run after
/// the runtime is gone); returns whether it was started.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn try_spawn<F: Future<Output = ()> + Send + 'static>(future: F) -> bool {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(future);
            true
        }
        Err(_) => false,
    }
}

/// Runs `future` in the background if a runtime is there to run it; returns whether it was
/// started.
#[cfg(target_arch = "wasm32")]
pub(crate) fn try_spawn<F: Future<Output = ()> + 'static>(future: F) -> bool {
    wasm_bindgen_futures::spawn_local(future);
    true
}

#[cfg(all(feature = "tls", not(target_arch = "wasm32")))]
mod tls;

/// HTTP client settings: most of them only a native socket has (a browser's fetch decides
/// them itself).
#[derive(Debug, Clone, Default)]
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) struct NativeHttpSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) tcp_keepalive: Option<Duration>,
    pub(crate) http2_keep_alive: Option<(Duration, Duration)>,
    pub(crate) keep_alive_while_idle: bool,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsOptions>,
}

impl NativeHttpSettings {
    /// The scheme an endpoint without one gets: `https` when TLS options are set.
    pub(crate) fn default_scheme(&self) -> &'static str {
        #[cfg(feature = "tls")]
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
/// used (a certificate that is not PEM, a key that does not fit), and in a browser for the TLS
/// settings a page cannot choose (a CA or a client certificate: the browser decides).
pub(crate) fn http_client(settings: &NativeHttpSettings) -> crate::error::Result<reqwest::Client> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        // TlsOptions::timeout covers the handshake, which reqwest's connect timeout includes.
        #[cfg(feature = "tls")]
        let connect_timeout = settings
            .tls
            .as_ref()
            .and_then(|t| t.timeout)
            .map_or(settings.connect_timeout, |tls| {
                tls.max(settings.connect_timeout)
            });
        #[cfg(not(feature = "tls"))]
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
        // Without TLS options, reqwest's own rustls setup (the system's roots) serves https.
        #[cfg(feature = "tls")]
        if let Some(options) = &settings.tls {
            builder = builder.tls_backend_preconfigured(tls::client_config(options)?);
            if options.assume_http2 {
                // Every endpoint is https:// with TLS options, so this never reaches a plain
                // port (where prior-knowledge HTTP/2 would go to etcd's gRPC server).
                builder = builder.http2_prior_knowledge();
            }
        }
        builder
            .build()
            .map_err(|e| crate::error::Error::invalid(format!("cannot build the HTTP client: {e}")))
    }
    #[cfg(target_arch = "wasm32")]
    {
        #[cfg(feature = "tls")]
        if let Some(tls) = &settings.tls {
            if !tls.ca_certificates.is_empty()
                || tls.identity.is_some()
                || tls.domain_name.is_some()
                || tls.danger_accept_invalid_certs
                || tls.webpki_roots
                || tls.assume_http2
            {
                return Err(crate::error::Error::invalid(
                    "in a browser, TLS is the browser's: a custom CA or roots, a client certificate, a domain name, HTTP/2 by prior knowledge or accepting invalid certificates cannot be set",
                ));
            }
        }
        reqwest::Client::builder()
            .build()
            .map_err(|e| crate::error::Error::invalid(format!("cannot build the HTTP client: {e}")))
    }
}

/// Whether an HTTP error happened before a connection existed, so the request was certainly
/// not sent. A browser's fetch does not say, so there it is always "maybe sent".
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_waits_are_cut_into_pieces_a_javascript_timer_keeps() {
        let longest = u64::from(LONGEST_TIMER_MS);
        let pieces = |d: Duration| timer_pieces(d).collect::<Vec<_>>();
        assert_eq!(pieces(Duration::ZERO), Vec::<u32>::new());
        assert_eq!(pieces(Duration::from_micros(1)), [1]);
        assert_eq!(pieces(Duration::from_millis(1500)), [1500]);
        // 30 days: one full piece of 2^31 - 1 ms, then the rest.
        let thirty_days = Duration::from_secs(30 * 24 * 3600);
        let rest = u32::try_from(30 * 24 * 3_600_000 - longest).unwrap();
        assert_eq!(pieces(thirty_days), [LONGEST_TIMER_MS, rest]);
        // u32::MAX ms (the old piece, which JavaScript read as -1): two pieces, none negative.
        let old = pieces(Duration::from_millis(u64::from(u32::MAX)));
        assert!(
            old.iter().all(|&p| p <= LONGEST_TIMER_MS && p > 0),
            "{old:?}"
        );
        assert_eq!(
            old.iter().map(|&p| u64::from(p)).sum::<u64>(),
            u64::from(u32::MAX)
        );
        // A century: every piece fits, and nothing is lost to rounding.
        let century = Duration::from_secs(100 * 365 * 24 * 3600);
        let total: u64 = timer_pieces(century).map(u64::from).sum();
        assert_eq!(u128::from(total), century.as_millis());
    }

    #[tokio::test]
    async fn no_deadline_is_no_timeout() {
        let out = timeout(Duration::MAX, async { 7 }).await;
        assert_eq!(out, Ok(7));
        let never = timeout(Duration::from_millis(10), sleep(Duration::MAX)).await;
        assert_eq!(never, Err(Elapsed));
    }
}
