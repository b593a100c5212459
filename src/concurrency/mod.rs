//! Client-side concurrency recipes, as Go's `client/v3/concurrency`: a [`Session`] (a lease
//! kept alive while it lives), a [`Mutex`] with [`try_lock`](Mutex::try_lock), an
//! [`Election`], and software transactional memory ([`Stm`]).
//!
//! They use Go's key layout and waiting protocol, so they interoperate with Go programs,
//! `etcdctl lock` / `etcdctl elect`, and etcd's own lock and election services
//! ([`LockClient`](crate::LockClient), [`ElectionClient`](crate::ElectionClient)): a lock or
//! an election `name` is held through keys `name/<lease id in hex>` tied to the holder's
//! session lease, and the key created first wins.
//!
//! Unlike the server-side services, whose calls block inside one request, these recipes are
//! made of short requests and watches: a wait survives member restarts, can be cancelled by
//! dropping it (its key is removed), and `try_lock` answers at once.
//!
//! ```no_run
//! # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
//! use etcdgw::concurrency::{Mutex, Session};
//!
//! let session = Session::new(&client, None).await?;
//! let guard = Mutex::new(&session, "jobs/compaction").lock().await?;
//! // ... only one process at a time gets here ...
//! guard.unlock().await?;
//! session.close().await?;
//! # Ok(()) }
//! ```

mod election;
mod key;
mod mutex;
mod session;
pub(crate) mod stm;

pub use election::{Election, LeaderStream, Leadership};
pub use mutex::{Mutex, MutexGuard};
pub use session::{Session, SessionEnd, SessionOptions, DEFAULT_SESSION_TTL};
pub use stm::{Isolation, Stm, StmOptions, StmResponse};

#[cfg(test)]
mod tests {
    use super::*;

    fn shared<T: Send + Sync>() {}

    #[test]
    fn handles_can_be_shared_between_tasks() {
        shared::<Session>();
        shared::<Mutex>();
        shared::<MutexGuard>();
        shared::<Election>();
        shared::<Leadership>();
        shared::<Stm>();
        shared::<crate::cache::Cache>();
        shared::<crate::cache::CacheSnapshot>();
        shared::<crate::mirror::Mirror>();
        shared::<crate::mirror::MirrorProgress>();
    }
}
