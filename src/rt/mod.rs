//! The runtime seam: clocks, sleeping, deadlines, backoff, spawning, boxed streams, the
//! HTTP client's two builds (`http.rs`), for native targets (tokio) and for wasm32 on a
//! JavaScript host (a browser, Node.js, Deno, workerd), and which host that is (`host.rs`).
//! Every layer uses it (the transport, the api, the recipes); it uses none of them. This
//! directory is the only place with `cfg(target_arch)`.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use std::time::Instant;
#[cfg(target_arch = "wasm32")]
pub(crate) use web_time::Instant;

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

const FIRST_BACKOFF: Duration = Duration::from_millis(25);
const LONGEST_BACKOFF: Duration = Duration::from_secs(1);

/// The pause before retry number `attempt` (1 for the first retry): doubling from 25 ms up to
/// 1 s, each with up to 50% random jitter so that many clients do not retry in step. The
/// transport's retries and resumes use it, and so do the recipes' loops (with a cap of their
/// own where they want a longer pause).
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(10))
        .min(LONGEST_BACKOFF);
    let random = RandomState::new().build_hasher().finish();
    let jitter_permille = random % 500;
    base + base * u32::try_from(jitter_permille).unwrap_or(0) / 1000
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

/// A runtime to start background tasks on: natively the tokio runtime the caller runs in, in a
/// browser the page's event loop. Found once, it starts tasks from anywhere without failing,
/// so a call that needs a task finds it before it does anything else, and says so if there is
/// none, rather than panicking as `tokio::spawn` does outside a runtime.
#[derive(Debug, Clone)]
pub(crate) struct Spawner {
    #[cfg(not(target_arch = "wasm32"))]
    handle: tokio::runtime::Handle,
}

impl Spawner {
    /// The runtime this call runs in, to run `task` (what needs it, for the error) on.
    ///
    /// # Errors
    /// [`Error::NoRuntime`](crate::Error::NoRuntime) natively outside a tokio runtime (a
    /// browser always has its event loop).
    pub(crate) fn current(task: &'static str) -> crate::error::Result<Spawner> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            tokio::runtime::Handle::try_current()
                .map(|handle| Spawner { handle })
                .map_err(|_| crate::error::Error::NoRuntime { task })
        }
        #[cfg(target_arch = "wasm32")]
        {
            let _ = task;
            Ok(Spawner {})
        }
    }

    /// Runs `future` in the background. A runtime shut down since drops it unrun.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        drop(self.handle.spawn(future));
    }

    /// Runs `future` in the background.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn spawn<F: Future<Output = ()> + 'static>(&self, future: F) {
        wasm_bindgen_futures::spawn_local(future);
    }
}

/// Runs `future` in the background if a runtime is there to run it (a destructor may run after
/// the runtime is gone, or outside one); returns whether it was started. For work that may be
/// left undone (a courtesy delete the lease's TTL does anyway); a call that needs its task
/// takes a [`Spawner`] first and reports its absence.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn try_spawn<F: Future<Output = ()> + Send + 'static>(future: F) -> bool {
    Spawner::current("a background task")
        .map(|spawner| spawner.spawn(future))
        .is_ok()
}

/// Runs `future` in the background; returns whether it was started (always, on a page's
/// event loop).
#[cfg(target_arch = "wasm32")]
pub(crate) fn try_spawn<F: Future<Output = ()> + 'static>(future: F) -> bool {
    wasm_bindgen_futures::spawn_local(future);
    true
}

#[cfg(all(feature = "__tls", not(target_arch = "wasm32")))]
mod tls;

mod host;
pub(crate) use host::{cors_applies, websocket_usable};
pub(crate) mod websocket;

mod http;
pub(crate) use http::{http_client, never_connected, CustomClient, NativeHttpSettings};

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

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(1) >= FIRST_BACKOFF && backoff(1) < FIRST_BACKOFF * 2);
        assert!(backoff(30) <= LONGEST_BACKOFF * 3 / 2);
    }

    #[test]
    fn outside_a_runtime_nothing_is_spawned_and_nothing_panics() {
        let err = Spawner::current("a test task").unwrap_err();
        assert!(
            matches!(
                err,
                crate::Error::NoRuntime {
                    task: "a test task",
                    ..
                }
            ),
            "{err:?}"
        );
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        assert!(!try_spawn(async move {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }));
        assert!(!ran.load(std::sync::atomic::Ordering::Relaxed));
    }

    #[tokio::test]
    async fn inside_a_runtime_tasks_start() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        Spawner::current("a test task").unwrap().spawn(async move {
            let _ = tx.send(7);
        });
        assert_eq!(rx.await, Ok(7));
    }

    #[tokio::test]
    async fn no_deadline_is_no_timeout() {
        let out = timeout(Duration::MAX, async { 7 }).await;
        assert_eq!(out, Ok(7));
        let never = timeout(Duration::from_millis(10), sleep(Duration::MAX)).await;
        assert_eq!(never, Err(Elapsed));
    }
}
