//! Waiting for a condition instead of for the machine: [`wait_until`] polls until what the test
//! needs has happened (a key appears, the member holds the watchers, a member is healthy), or
//! panics naming what never happened. A test waits for a fixed time only where time itself is
//! the point (a lease's TTL passing), and says so where it does.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

/// What a condition's poll returns: whether it holds, and what it found.
///
/// `bool` holds when `true`; `Option<T>` when `Some(T)`, giving `T`; `Result<T, E>` when
/// `Ok(T)`, giving `T`, and the last `Err(E)` is shown if the deadline passes (so a failure
/// says what was seen instead, e.g. "3 watchers").
pub trait Condition {
    /// What the wait gives back once the condition holds.
    type Output;
    /// `Ok` once it holds; otherwise what was seen, if anything worth showing.
    fn check(self) -> Result<Self::Output, Option<String>>;
}

impl Condition for bool {
    type Output = ();
    fn check(self) -> Result<(), Option<String>> {
        if self {
            Ok(())
        } else {
            Err(None)
        }
    }
}

impl<T> Condition for Option<T> {
    type Output = T;
    fn check(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T, E: Debug> Condition for Result<T, E> {
    type Output = T;
    fn check(self) -> Result<T, Option<String>> {
        self.map_err(|seen| Some(format!("{seen:?}")))
    }
}

/// Polls `condition` until it holds and returns what it gave; panics if it still does not
/// hold once `deadline` has passed, naming `what` was waited for and the last thing seen.
///
/// The first poll is immediate; then the pause between polls grows from 10 ms to 50 ms, so a
/// condition that holds soon is seen soon, and one that takes seconds costs few polls (some
/// start a process, e.g. etcdctl). The deadline bounds a wait that went wrong: it is never a
/// measurement, and it should be generous (seconds to tens of seconds: a loaded machine is
/// slow, not broken).
///
/// ```no_run
/// # async fn example(client: etcdgw::Client) {
/// use std::time::Duration;
/// use etcdgw_test_support::wait_until;
///
/// wait_until("the key written by the other process", Duration::from_secs(10), || async {
///     client.get("k", None).await.is_ok_and(|resp| resp.count() == 1)
/// })
/// .await;
/// # }
/// ```
#[track_caller]
pub fn wait_until<F, Fut>(
    what: &str,
    deadline: Duration,
    condition: F,
) -> impl Future<Output = <Fut::Output as Condition>::Output>
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Condition,
{
    let caller = std::panic::Location::caller();
    poll_until(what.to_string(), deadline, condition, caller)
}

async fn poll_until<F, Fut>(
    what: String,
    deadline: Duration,
    mut condition: F,
    caller: &'static std::panic::Location<'static>,
) -> <Fut::Output as Condition>::Output
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Condition,
{
    let until = tokio::time::Instant::now() + deadline;
    let mut pause = Duration::from_millis(10);
    loop {
        let seen = match condition().await.check() {
            Ok(output) => return output,
            Err(seen) => seen,
        };
        if tokio::time::Instant::now() >= until {
            match seen {
                Some(seen) => {
                    panic!("waited {deadline:?} for {what} (at {caller}); last seen: {seen}")
                }
                None => panic!("waited {deadline:?} for {what} (at {caller}); it never happened"),
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// [`wait_until`] for a test that runs on plain threads (the blocking client's): the same
/// polls and pauses, slept on the calling thread.
#[track_caller]
pub fn wait_until_blocking<C: Condition>(
    what: &str,
    deadline: Duration,
    mut condition: impl FnMut() -> C,
) -> C::Output {
    let caller = std::panic::Location::caller();
    let until = std::time::Instant::now() + deadline;
    let mut pause = Duration::from_millis(10);
    loop {
        let seen = match condition().check() {
            Ok(output) => return output,
            Err(seen) => seen,
        };
        if std::time::Instant::now() >= until {
            match seen {
                Some(seen) => {
                    panic!("waited {deadline:?} for {what} (at {caller}); last seen: {seen}")
                }
                None => panic!("waited {deadline:?} for {what} (at {caller}); it never happened"),
            }
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_what_the_condition_gave_once_it_holds() {
        let mut polls = 0;
        let got = wait_until("the third poll", Duration::from_secs(5), || {
            polls += 1;
            let n = polls;
            async move { (n >= 3).then_some(n) }
        })
        .await;
        assert_eq!(got, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waited 50ms for something that never holds")]
    async fn panics_naming_what_never_held() {
        wait_until(
            "something that never holds",
            Duration::from_millis(50),
            || async { false },
        )
        .await;
    }

    #[tokio::test]
    #[should_panic(expected = "last seen: \"2 of 3\"")]
    async fn a_failure_shows_the_last_thing_seen() {
        wait_until("three things", Duration::from_millis(50), || async {
            Err::<(), _>("2 of 3")
        })
        .await;
    }
}
