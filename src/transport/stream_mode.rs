//! How a watch or an election observe reaches the client through whatever stands between it
//! and etcd, per endpoint: streamed (one open request whose answers arrive as etcd writes them),
//! or in bounded long polls.
//!
//! A reverse proxy that buffers responses (nginx's default `proxy_buffering on`) holds a
//! streamed answer back until its buffer fills or the answer ends, and an etcd stream never
//! ends by itself: the watch's `created` and its events sit in the proxy. Such an endpoint is
//! found out when a stream's first answer does not come within [`DETECT_AFTER`]: a check watch
//! that the server ends after [`CHECK_DEADLINE`] (`Grpc-Timeout`) shows whether answers arrive
//! as they are written (its `created` at once) or only when the answer ends (all at the
//! deadline). An endpoint that holds answers back gets its streams as long polls from then on:
//! each poll is the same request with a `Grpc-Timeout` of the poll interval, so that the server
//! ends it and the proxy lets it go; the resumable stream (`resume.rs`) opens the next one from
//! where the last one got (a watch from the revision after the last one delivered), so every
//! event arrives once, within about one poll interval. A poll's closing "deadline exceeded"
//! message is its normal end, not a failure (`OpenStream::next`).
//!
//! What was learned is kept per endpoint ([`Learned`], in `Endpoint`) for the client's life;
//! [`StreamMode`] can force either way for every endpoint.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::endpoints::Endpoint;
use super::unary::{encode, grpc_timeout, transport_error, GRPC_TIMEOUT_HEADER};
use super::Transport;
use crate::error::Result;
use crate::rt;
use crate::wire::{paths, watch as w};

/// How watches and election observes are carried
/// ([`ConnectOptions::with_stream_mode`](crate::ConnectOptions::with_stream_mode)).
///
/// In a browser, `Auto` streams (finding out needs the `Grpc-Timeout` header, which etcd's CORS
/// answer does not allow), and `LongPoll` works only through a proxy whose CORS answer allows
/// `grpc-timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StreamMode {
    /// Streamed, except through an endpoint found to hold streamed answers back (a proxy that
    /// buffers responses): its streams go as long polls. The default.
    #[default]
    Auto,
    /// Always streamed: one open request per watch or observe, its answers read as they come.
    Stream,
    /// Always long polls: each poll a request the server ends after the poll interval
    /// ([`ConnectOptions::with_long_poll_interval`](crate::ConnectOptions::with_long_poll_interval)).
    LongPoll,
}

/// The poll interval when none is set: an event waits at most about this long in a buffering
/// proxy.
pub const DEFAULT_LONG_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long a stream's first answer may take before the endpoint is checked for holding
/// answers back.
pub(super) const DETECT_AFTER: Duration = Duration::from_secs(1);
/// The server's deadline for the check watch (`Grpc-Timeout`).
const CHECK_DEADLINE: Duration = Duration::from_secs(1);

/// How soon after its first bytes a held-back answer's end comes (it is all there already).
const WHOLE_WITHIN: Duration = Duration::from_millis(200);

/// The stream settings of a transport.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamConfig {
    pub(crate) mode: StreamMode,
    pub(crate) poll_interval: Duration,
    /// Whether watches on `http://` endpoints share a WebSocket (`websocket.rs`).
    pub(crate) websocket: bool,
    /// How many shared watch requests a client holds per endpoint (`bundle.rs`).
    pub(crate) per_endpoint: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            mode: StreamMode::Auto,
            poll_interval: DEFAULT_LONG_POLL_INTERVAL,
            per_endpoint: super::bundle::DEFAULT_STREAMS_PER_ENDPOINT,
            websocket: true,
        }
    }
}

/// What was learned of one endpoint's streams: nothing yet (0), or one of the two below.
#[derive(Debug, Default)]
pub(crate) struct Learned(AtomicU8);

const STREAMS: u8 = 1;
const HOLDS_BACK: u8 = 2;

impl Learned {
    fn get(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, value: u8) {
        self.0.store(value, Ordering::Relaxed);
    }
}

/// How one stream request goes to one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carriage {
    /// Streamed.
    Stream,
    /// Streamed, but the endpoint is checked if the first answer is late.
    Detect,
    /// A long poll the server ends after this long.
    Poll(Duration),
}

impl Transport {
    /// How a stream request goes to `endpoint`; `pollable` says whether the request may be
    /// carried by long polls at all (a watch or an observe; not a snapshot or a keep-alive,
    /// whose answers end by themselves).
    pub(super) fn carriage(&self, endpoint: &Endpoint, pollable: bool) -> Carriage {
        let config = self.inner.config.streams;
        if !pollable {
            return Carriage::Stream;
        }
        match config.mode {
            StreamMode::Stream => Carriage::Stream,
            // A page cannot check: the check's Grpc-Timeout is a header etcd's CORS answer does
            // not allow. Long polls there are asked for (through a proxy that allows it).
            StreamMode::Auto if rt::cors_applies() => Carriage::Stream,
            StreamMode::LongPoll => Carriage::Poll(config.poll_interval),
            StreamMode::Auto => match endpoint.learned().get() {
                STREAMS => Carriage::Stream,
                HOLDS_BACK => Carriage::Poll(config.poll_interval),
                _ => Carriage::Detect,
            },
        }
    }

    /// How much longer than its deadline a stream request may take to open, to leave room for
    /// a check and a long poll.
    pub(super) fn open_allowance(&self) -> Duration {
        DETECT_AFTER + CHECK_DEADLINE * 2 + self.inner.config.streams.poll_interval
    }

    /// Checks whether `endpoint` holds streamed answers back, and remembers it: a watch that the
    /// server ends after [`CHECK_DEADLINE`], whose `created` comes at once unless something in
    /// between holds the answer until it ends.
    ///
    /// # Errors
    /// The check's own failure (the endpoint does not answer, or not as etcd).
    pub(super) async fn holds_streams_back(
        &self,
        endpoint: &Arc<Endpoint>,
        token: Option<&Arc<str>>,
    ) -> Result<bool> {
        let check = w::WatchRequest::Create(w::WatchCreateRequest {
            key: crate::wire::codec::B64(b"etcdgw/stream-check".to_vec()),
            ..Default::default()
        });
        let started = rt::Instant::now();
        let request = self
            .post(endpoint, paths::WATCH, encode(&check)?, token)
            .header(GRPC_TIMEOUT_HEADER, grpc_timeout(CHECK_DEADLINE));
        let answer = async {
            let response = request
                .send()
                .await
                .map_err(|e| transport_error(endpoint, e))?;
            let status = response.status().as_u16();
            let mut body = response.bytes_stream();
            // The first bytes: `created`, or the whole answer at the deadline.
            let first = body.next().await;
            let waited = started.elapsed();
            // Held back, the whole answer comes at once: its end follows its first bytes.
            let whole = match &first {
                Some(Ok(_)) => rt::timeout(WHOLE_WITHIN, async {
                    while let Some(Ok(_)) = body.next().await {}
                })
                .await
                .is_ok(),
                _ => false,
            };
            Ok::<_, crate::error::Error>((status, first, waited, whole))
        };
        let (status, first, waited, whole) = rt::timeout(CHECK_DEADLINE * 5, answer)
            .await
            .map_err(|rt::Elapsed| crate::error::Error::Transport {
                endpoint: endpoint.url().clone().into(),
                delivery: crate::error::Delivery::MaybeSent,
                source: "no answer to a check of how the endpoint carries streams".into(),
            })??;
        if let Some(Err(e)) = first {
            return Err(transport_error(endpoint, e));
        }
        if !(200..300).contains(&status) {
            let head = match first {
                Some(Ok(bytes)) => bytes,
                _ => Default::default(),
            };
            return Err(super::decode::not_etcd(endpoint.url(), status, &head));
        }
        // A slow member sends `created` late too, but its answer then still ends at the
        // deadline, apart from it; only a proxy hands over the whole answer at once.
        let holds_back = waited >= CHECK_DEADLINE * 9 / 10 && whole;
        endpoint
            .learned()
            .set(if holds_back { HOLDS_BACK } else { STREAMS });
        if holds_back {
            event!(
                warn,
                "endpoint {} holds streamed answers back (a buffering proxy?): its watches and \
                 observes go as long polls",
                endpoint.url()
            );
        }
        Ok(holds_back)
    }

    /// Notes that a stream's first answer came from `endpoint` as it was written.
    pub(super) fn streams_flow(&self, endpoint: &Endpoint) {
        endpoint.learned().set(STREAMS);
    }
}
