//! The one resumable stream: watches, election observes and managed lease keep-alives all run
//! through [`resumable`].
//!
//! The api layer says *what*: which request to open next from the state it keeps (a watch's
//! next revision, the leader delivered last, a lease's TTL), and what each message means for
//! the caller ([`Resume`]). This module does the *how*, the same way for all of them: open the
//! stream (with the unary path's retries and deadline), read it under the liveness check, decide
//! whether a failure is one that reopening cures ([`Error::is_transient`]), take a failed member
//! out of rotation, fetch a new token when the server refused the old one, back off, and open
//! again. A state plus a step function unfolded into a stream, with the backoff as a separate
//! piece: the shape of kube-runtime's watcher.

use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::unary::encode;
use super::{CallOptions, OpenStream, Transport};
use crate::error::{Delivery, Error, Result};
use crate::rt;

/// The longest pause between two attempts to reopen a stream.
const LONGEST_RESUME_PAUSE: Duration = Duration::from_secs(2);

/// A request to open: the path, the encoded body and the call's options.
#[derive(Debug)]
pub(crate) struct StreamRequest {
    path: &'static str,
    body: Bytes,
    options: CallOptions,
}

impl StreamRequest {
    /// Encodes `request` for `path`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if it cannot be encoded.
    pub(crate) fn new<Req: Serialize + ?Sized>(
        path: &'static str,
        request: &Req,
        options: CallOptions,
    ) -> Result<Self> {
        Ok(StreamRequest {
            path,
            body: encode(request)?,
            options,
        })
    }
}

/// What to do next, as the state sees it.
#[derive(Debug)]
pub(crate) enum Next {
    /// Open this request after `pause` (the transport's backoff after failures, as the state
    /// adjusted it).
    Open(StreamRequest, Duration),
    /// End the stream with this error.
    Fail(Error),
}

/// What one message means.
#[derive(Debug)]
pub(crate) enum Flow<T> {
    /// Hand this to the caller, and read on.
    Yield(T),
    /// Nothing for the caller; read on.
    Skip,
    /// The stream is over: hand the caller this, if anything, and end.
    End(Option<Result<T>>),
    /// The server refused the request's token (an auth cancel inside a watch stream): fetch a
    /// new token and reopen, once since the last message that went through; if that is not
    /// possible, hand the caller this and end.
    Reauthenticate(Result<T>),
}

/// The state of one resumable stream, kept by the api layer.
pub(crate) trait Resume: Send + 'static {
    /// A message of the stream (the `result` of `{"result": ...}`).
    type Message: DeserializeOwned + Send;
    /// What the caller gets.
    type Item: Send + 'static;

    /// What to open next. `pause` is the transport's backoff: zero for the first open and
    /// after a stream that ended normally, growing with failures in a row.
    fn next(&mut self, pause: Duration) -> Next;

    /// What one message means; `from` is the endpoint that sent it.
    fn on_message(&mut self, message: Self::Message, from: &Url) -> Flow<Self::Item>;

    /// A failed attempt (to open, or of an open stream), whether or not it is resumed.
    fn on_failure(&mut self, err: &Error) {
        let _ = err;
    }

    /// Whether failures are resumed: a stream that never got going reports its failure instead
    /// (the caller's request was wrong, or nothing answers).
    fn established(&self) -> bool;

    /// Whether an established stream is resumed at all (true unless the caller asked not to:
    /// then the first failure, or the member closing the stream, ends it).
    fn resumes(&self) -> bool {
        true
    }

    /// A long poll ended (`stream_mode.rs`): the next request goes on from where this one got,
    /// which is not a resume after a failure.
    fn on_poll_end(&mut self) {}

    /// The stream's body ended without an error. Streams of one answer per request end after
    /// each answer (`true`: open the next one normally); watch and observe bodies never end by
    /// themselves (`false`: the member went away, a failure to resume from).
    fn ends_normally(&self) -> bool {
        false
    }
}

/// A stream of `state`'s items that survives member restarts, failovers and token expiry.
pub(crate) fn resumable<R: Resume>(
    transport: Transport,
    state: R,
) -> rt::BoxStream<'static, Result<R::Item>> {
    let driver = Driver {
        transport,
        state,
        open: None,
        failures: 0,
        reauthenticated: false,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(driver, Driver::step))
}

struct Driver<R> {
    transport: Transport,
    state: R,
    open: Option<OpenStream>,
    /// Failed attempts in a row, for the backoff.
    failures: u32,
    /// Whether a new token was fetched since the last message that went through.
    reauthenticated: bool,
    done: bool,
}

impl<R: Resume> Driver<R> {
    fn end(mut self, last: Option<Result<R::Item>>) -> Option<(Result<R::Item>, Self)> {
        self.done = true;
        self.open = None;
        last.map(|item| (item, self))
    }

    /// A failure of the open stream or of opening: resume if it is worth it, else end with it.
    fn failed(&mut self, err: Error) -> Option<Error> {
        self.open = None;
        self.state.on_failure(&err);
        if self.state.established() && self.state.resumes() && err.is_transient() {
            self.failures = self.failures.saturating_add(1);
            event!(info, "stream resumes after: {}", err);
            None
        } else {
            Some(err)
        }
    }

    async fn step(mut self) -> Option<(Result<R::Item>, Self)> {
        loop {
            if self.done {
                return None;
            }
            if self.open.is_none() {
                let pause = match self.failures {
                    0 => Duration::ZERO,
                    n => rt::backoff(n).min(LONGEST_RESUME_PAUSE),
                };
                let request = match self.state.next(pause) {
                    Next::Open(request, pause) => {
                        if !pause.is_zero() {
                            rt::sleep(pause).await;
                        }
                        request
                    }
                    Next::Fail(err) => return self.end(Some(Err(err))),
                };
                // Boxed: opening (retries, failover, a socket's upgrade) is a large future,
                // and inline it would make every idle watch's state that large.
                let open = Box::pin(self.transport.open_encoded(
                    request.path,
                    request.body,
                    request.options,
                ));
                match open.await {
                    Ok(stream) => self.open = Some(stream),
                    Err(err) => match self.failed(err) {
                        None => continue,
                        Some(err) => return self.end(Some(Err(err))),
                    },
                }
            }
            let Some(stream) = self.open.as_mut() else {
                continue;
            };
            // A member that stops answering (stopped, cut off) is found by the liveness check.
            let endpoint = stream.endpoint_handle();
            let polls = stream.polls();
            let read = if stream.supervised() {
                stream.next::<R::Message>().await
            } else {
                // Boxed: the liveness check is a request future, too large to carry inline in
                // every watch's state (a shared carrier's watches, the many, never take this).
                Box::pin(
                    self.transport
                        .watched(&endpoint, stream.next::<R::Message>()),
                )
                .await
            };
            match read {
                Ok(Some(message)) => {
                    self.failures = 0;
                    match self.state.on_message(message, endpoint.url()) {
                        Flow::Yield(item) => {
                            self.reauthenticated = false;
                            return Some((Ok(item), self));
                        }
                        Flow::Skip => {}
                        Flow::End(last) => return self.end(last),
                        Flow::Reauthenticate(fallback) => {
                            if self.reauthenticated || !self.transport.has_credentials() {
                                return self.end(Some(fallback));
                            }
                            self.reauthenticated = true;
                            let used = stream.token().cloned();
                            self.open = None;
                            let refresh =
                                Box::pin(self.transport.refresh_token_after(used.as_ref()));
                            if let Err(err) = refresh.await {
                                return self.end(Some(Err(err)));
                            }
                        }
                    }
                }
                Ok(None) if polls => {
                    // A long poll's normal end: the next one goes on from here.
                    self.open = None;
                    self.state.on_poll_end();
                }
                Ok(None) if self.state.ends_normally() => self.open = None,
                Ok(None) if self.state.established() && !self.state.resumes() => {
                    return self.end(Some(Err(Error::Transport {
                        endpoint: endpoint.url().clone().into(),
                        delivery: Delivery::MaybeSent,
                        source: "the member closed the stream".into(),
                    })));
                }
                Ok(None) if self.state.established() => {
                    // The body never ends by itself: the member went away. Resume.
                    self.open = None;
                    self.failures = self.failures.saturating_add(1);
                }
                Ok(None) => {
                    return self.end(Some(Err(Error::Decode {
                        endpoint: endpoint.url().clone().into(),
                        status: 200,
                        reason: "the stream ended before its first answer".into(),
                        body_head: Box::default(),
                    })));
                }
                Err(err) => {
                    if self.state.established() && err.is_transient() {
                        // This member broke the stream or stopped answering: resume elsewhere.
                        self.transport.endpoint_failed(&endpoint, &err);
                    }
                    if let Some(err) = self.failed(err) {
                        return self.end(Some(Err(err)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state with nothing in it, to measure the stream's own share.
    struct Nothing;

    impl Resume for Nothing {
        type Message = serde_json::Value;
        type Item = ();

        fn next(&mut self, _: Duration) -> Next {
            Next::Fail(Error::invalid("not opened in this test"))
        }

        fn on_message(&mut self, _: serde_json::Value, _: &Url) -> Flow<()> {
            Flow::Skip
        }

        fn established(&self) -> bool {
            false
        }
    }

    #[test]
    fn an_idle_stream_s_state_stays_small() {
        // Every open watch holds one of these while it waits for its next message: a thousand
        // watches hold a thousand. Opening (retries, failover, a socket's upgrade: about 18 KiB
        // inline) and the liveness check are boxed while they run, not carried in it.
        let driver = Driver {
            transport: Transport::for_tests(),
            state: Nothing,
            open: None,
            failures: 0,
            reauthenticated: false,
            done: false,
        };
        let step = driver.step();
        let size = std::mem::size_of_val(&step);
        assert!(size <= 2048, "a stream's step is {size} bytes");
    }
}
