//! A blocking client, for scripts and programs without async code (feature `blocking`, native
//! targets only): [`Client`] has the async [`Client`](crate::Client)'s calls, with the same
//! names, arguments and typed results, and returns when the answer is there. Streams (a
//! [`WatchStream`], an election's [`ObserveStream`], a [`SnapshotStreaming`], paged reads) are
//! iterators; guards ([`LockGuard`], [`concurrency::MutexGuard`]) release when dropped.
//!
//! ```no_run
//! use etcdgw::blocking::Client;
//! use etcdgw::GetOptions;
//!
//! fn main() -> etcdgw::Result<()> {
//!     let client = Client::from_env()?; // ETCDCTL_ENDPOINTS, ETCDCTL_USER, ... as etcdctl
//!     client.put("app/greeting", "hello", None)?;
//!     for kv in client.get("app/", Some(GetOptions::new().with_prefix()))?.kvs() {
//!         println!("{} = {}", kv.key_str()?, kv.value_str()?);
//!     }
//!     Ok(())
//! }
//! ```
//!
//! The async client's service handles (`kv_client()`, `lock_client()`, ...) have no blocking
//! form; what scripts need from them is on [`Client`] itself:
//! [`lock_guard`](Client::lock_guard), [`lease_grant_managed`](Client::lease_grant_managed) and
//! [`lease_keep_alive_managed`](Client::lease_keep_alive_managed).
//!
//! # How it runs
//! Each client (with its clones) runs the async client on a runtime of its own: a tokio
//! runtime driven by a thread named `etcdgw-blocking`, which also runs the client's background
//! work (lease keep-alives, liveness checks) while no call is waiting. A call waits on the
//! caller's thread, so threads can share one client (it is `Clone`, `Send` and `Sync`) and
//! wait at once. The runtime stops when the client, its clones and everything made from them
//! (streams, guards, leases) are gone. The program itself needs no tokio and no async code.
//!
//! Called inside an async runtime (a tokio task, `block_on`, or a `spawn_blocking` closure),
//! every call fails with [`Error::BlockingInAsync`](crate::Error::BlockingInAsync) before sending anything, instead of
//! stalling or panicking: use the async [`Client`](crate::Client) there.

mod client;
pub mod concurrency;
mod runtime;
mod streams;

pub use client::Client;
pub use streams::{
    GetPages, LeaseKeepAliveStream, LeaseKeeper, LockGuard, ManagedLease, ObserveStream,
    SnapshotStreaming, WatchStream,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn shared<T: Send + Sync>() {}
    fn sent<T: Send>() {}

    #[test]
    fn handles_can_be_shared_or_moved_between_threads() {
        shared::<Client>();
        shared::<concurrency::Session>();
        shared::<concurrency::Mutex>();
        shared::<concurrency::Election>();
        sent::<WatchStream>();
        sent::<ObserveStream>();
        sent::<LockGuard>();
        sent::<ManagedLease>();
        sent::<SnapshotStreaming>();
        sent::<GetPages>();
        sent::<LeaseKeeper>();
        sent::<LeaseKeepAliveStream>();
        sent::<concurrency::MutexGuard>();
        sent::<concurrency::Leadership>();
        sent::<concurrency::LeaderStream>();
    }

    #[test]
    fn a_client_made_and_used_without_a_server_says_where_it_failed() {
        // Port 9 (discard) has no listener: connect is lazy, the first call fails typed.
        let client = Client::connect(["http://127.0.0.1:9"], None).unwrap();
        let err = client.get("k", None).unwrap_err();
        assert!(matches!(err, Error::Transport { .. }), "{err}");
        // Refused before sending, as in the async client.
        assert!(matches!(
            client.put("", "v", None),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[tokio::test]
    async fn calls_inside_an_async_runtime_are_refused_not_run() {
        let err = Client::connect(["http://127.0.0.1:9"], None).unwrap_err();
        assert!(
            matches!(err, Error::BlockingInAsync { call } if call == "etcdgw::blocking::Client::connect"),
            "{err}"
        );
    }

    #[test]
    fn a_client_made_outside_is_refused_inside() {
        let client = Client::connect(["http://127.0.0.1:9"], None).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = runtime.block_on(async { client.get("k", None).unwrap_err() });
        assert!(
            matches!(err, Error::BlockingInAsync { call } if call == "etcdgw::blocking::Client::get"),
            "{err}"
        );
        // Dropping the client inside the runtime neither blocks nor panics.
        runtime.block_on(async move { drop(client) });
    }
}
