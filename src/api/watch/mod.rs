//! The Watch service: [`WatchStream`] over the gateway, resumed after every drop so that each
//! event arrives exactly once, in revision order.
//!
//! # How a watch travels over HTTP
//! The gateway cannot read a second request from an open HTTP/1.1 body (GATEWAY.md 4.2), so
//! each watch is its own `POST /v3/watch` whose body is one create request, and the answers
//! of all the watches of a [`WatchStream`] are merged into one stream, as on one gRPC stream.
//! Cancelling a watch closes its request; dropping the stream closes them all, and etcd
//! removes the watchers at once (GATEWAY.md 4.3).
//!
//! On plain `http://` endpoints every open watch holds one TCP connection of its own (HTTP/1.1
//! has no multiplexing): 100 watches cost 100 connections to the member. Over `https://`
//! endpoints the gateway speaks HTTP/2, and the watches of a client share one connection.
//!
//! # Recovery
//! When a watch's HTTP stream ends or breaks without the caller asking (the member restarted,
//! was killed or lost its leader, a proxy timed out, an error object then a clean end), the
//! watch is re-created on the same or another endpoint, with backoff, from the revision after
//! the last one delivered, as Go's clientv3 does. Events older than that (a lagging member can
//! send them, etcd issue 20221) are dropped, so the caller sees every event exactly once, in
//! revision order; the `created` answer of a re-created watch is not passed on. Progress
//! notifications move the resume point too. If the revision to resume from has been
//! compacted, the watch ends with [`Error::Compacted`], never with a silent gap. Errors that
//! retrying cannot fix (a message above the size limit, an answer that is not etcd's) end the
//! watch with that error; a cancel by the server is passed on as a canceled [`WatchResponse`]
//! with its reason, and ends the watch.
//!
//! A watch that was never established (its first `created` did not arrive) is not retried
//! beyond the request deadline: the error is reported instead.

mod options;
mod progress;
mod response;
mod stream;
mod task;

use super::namespace::Namespace;
use crate::error::Result;
use crate::transport::Transport;

pub use options::{WatchFilterType, WatchOptions};

use crate::wire::watch as w;

/// Puts an answer split into fragments (`fragment: true` on all but the last) back together:
/// the whole answer once its last piece came, `None` while pieces are kept in `partial`.
fn reassemble(
    partial: &mut Option<w::WatchResponse>,
    piece: w::WatchResponse,
) -> Option<w::WatchResponse> {
    let answer = match partial.take() {
        Some(mut whole) => {
            whole.events.extend(piece.events);
            whole.header = piece.header;
            whole.fragment = piece.fragment;
            whole
        }
        None => piece,
    };
    if answer.fragment {
        *partial = Some(answer);
        return None;
    }
    Some(answer)
}
pub use response::{Event, EventType, WatchResponse};
pub use stream::{WatchRequestSender, WatchResponseStream, WatchStream};

/// The Watch service of a [`Client`](crate::Client).
#[derive(Debug, Clone)]
pub struct WatchClient {
    transport: Transport,
    max_message_size: Option<usize>,
    namespace: Option<Namespace>,
}

impl WatchClient {
    pub(crate) fn new(transport: Transport) -> Self {
        WatchClient {
            transport,
            max_message_size: None,
            namespace: None,
        }
    }

    pub(crate) fn with_namespace(mut self, namespace: Namespace) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// Sets the largest message the watches of this client accept (see
    /// [`ConnectOptions::with_max_message_size`](crate::ConnectOptions::with_max_message_size)).
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.max_message_size = Some(limit);
        self
    }

    /// Watches a key (or a range, with [`WatchOptions`]) and returns the stream of its events.
    ///
    /// It returns once the watch is established: the first message of the stream is its
    /// `created` answer, as with etcd-client. More watches can be added to the same stream
    /// with [`WatchStream::watch`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an empty key without a prefix or from-key option; a
    /// transport error or [`Error::Timeout`](crate::Error::Timeout) if no endpoint answered within the request
    /// deadline.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// use etcdgw::{EventType, WatchOptions};
    ///
    /// let mut stream = client.watch("config/", Some(WatchOptions::new().with_prefix())).await?;
    /// while let Some(resp) = stream.message().await? {
    ///     for event in resp.events() {
    ///         let kv = event.kv().expect("an event has a kv");
    ///         match event.event_type() {
    ///             EventType::Put => println!("{} = {}", kv.key_str()?, kv.value_str()?),
    ///             EventType::Delete => println!("{} deleted", kv.key_str()?),
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn watch(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<WatchStream> {
        WatchStream::open(
            self.transport.clone(),
            self.namespace.clone(),
            self.max_message_size,
            key.into(),
            options,
        )
        .await
    }
}

/// A watch client whose keys live under a prefix (Go's `namespace.NewWatcher`, which
/// etcd-client lacks): watched keys get the prefix, events come back without it, and a
/// from-key or all-keys watch stays inside the namespace.
#[derive(Debug, Clone)]
pub struct WatchClientPrefix {
    watch: WatchClient,
}

impl WatchClientPrefix {
    /// Puts every key of `watch` under `prefix`.
    pub fn new(watch: WatchClient, prefix: impl Into<Vec<u8>>) -> Self {
        WatchClientPrefix {
            watch: watch.with_namespace(Namespace::new(prefix.into())),
        }
    }

    /// Watches a key or a range in the namespace; see [`WatchClient::watch`]. Watches added to
    /// the returned stream are in the namespace too.
    pub async fn watch(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<WatchStream> {
        self.watch.watch(key, options).await
    }
}
