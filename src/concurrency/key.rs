//! The key layout and the waiting protocol that Go's `concurrency` package, `etcdctl lock` and
//! `etcdctl elect` share: a contender's key is `<prefix>/<lease id in hex>`, the oldest key
//! (lowest create revision) holds the lock or the leadership, and each waiter watches only the
//! key created just before its own, so a release wakes one waiter, not all of them.

use std::time::Duration;

use futures_util::future::{self, Either};
use futures_util::StreamExt;

use super::Session;
use crate::error::{Error, Result};
use crate::rt;
use crate::{
    Client, Compare, CompareOp, EventType, GetOptions, KeyValue, SortOrder, SortTarget, Txn, TxnOp,
    WatchOptions,
};

/// The contender key of a lease under `prefix` (which ends with `/`): Go's `fmt.Sprintf("%s%x",
/// pfx, lease)`, so a negative id (never granted by etcd) is `-` and its magnitude, as in Go.
pub(crate) fn contender_key(prefix: &[u8], lease: i64) -> Vec<u8> {
    let hex = if lease < 0 {
        format!("-{:x}", lease.unsigned_abs())
    } else {
        format!("{lease:x}")
    };
    let mut key = prefix.to_vec();
    key.extend_from_slice(hex.as_bytes());
    key
}

/// `name` with the `/` that Go's `NewMutex` and `NewElection` append.
pub(crate) fn prefix_of(name: Vec<u8>) -> Result<Vec<u8>> {
    if name.is_empty() {
        return Err(Error::invalid("the name is empty"));
    }
    let mut prefix = name;
    prefix.push(b'/');
    Ok(prefix)
}

/// Reads the oldest key under `prefix` (Go's `WithFirstCreate`): the holder of the lock or the
/// leader.
pub(crate) fn first_created() -> GetOptions {
    GetOptions::new()
        .with_prefix()
        .with_sort(SortTarget::Create, SortOrder::Ascend)
        .with_limit(1)
}

/// This process's use of its session's contender key under a prefix, from the request that
/// queues it up until the lock is released or the candidacy withdrawn.
///
/// The session counts its claims on each key: locking one name twice through one session (or
/// campaigning twice) uses the same key, as in Go, and the key is removed only when the last
/// claim ends, never under another claim's feet. A claim dropped without an explicit end
/// removes the key in the background: a wait cancelled by a timeout leaves nothing behind.
pub(crate) struct Claim {
    session: Session,
    key: Vec<u8>,
    /// The key's create revision, once etcd answered.
    rev: Option<i64>,
    /// Whether the claim is still counted (and its key removed when it ends).
    active: bool,
}

impl Claim {
    /// Claims `key` before the request that creates it, so that a drop even before etcd's
    /// answer removes what the request may have created.
    pub(crate) fn new(session: &Session, key: Vec<u8>, rev: Option<i64>) -> Claim {
        session.claim(&key);
        Claim {
            session: session.clone(),
            key,
            rev,
            active: true,
        }
    }

    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }

    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    pub(crate) fn set_rev(&mut self, rev: i64) {
        self.rev = Some(rev);
    }

    /// The delete of the key: only if it is still the one created at `rev` (a late or repeated
    /// release never removes a newer key of the session), or, before etcd answered, only if it
    /// is the session's.
    fn delete(&self) -> Txn {
        let guard = match self.rev {
            Some(rev) => Compare::create_revision(self.key.clone(), CompareOp::Equal, rev),
            None => Compare::lease(self.key.clone(), CompareOp::Equal, self.session.lease()),
        };
        Txn::new()
            .when([guard])
            .and_then([TxnOp::delete(self.key.clone(), None)])
    }

    /// Ends the claim and removes the key now if it was the last claim on it.
    pub(crate) async fn release(mut self) -> Result<()> {
        self.active = false;
        if !self.session.unclaim(&self.key) {
            return Ok(());
        }
        self.session.client().txn(self.delete()).await.map(|_| ())
    }

    /// Ends the claim and returns `err`: the key is removed (best effort, as Go's `Unlock`
    /// after a failed wait) unless the session is over, when it went with the lease.
    pub(crate) async fn fail(self, err: Error) -> Error {
        if self.session.is_alive() {
            let _ = self.release().await;
        } else {
            self.forget();
        }
        err
    }

    /// Ends the claim without touching the key (it is gone, or no longer this claim's).
    pub(crate) fn forget(mut self) {
        self.active = false;
        self.session.unclaim(&self.key);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.active && self.session.unclaim(&self.key) {
            // Without a runtime left, the session's lease ends the key later.
            let client = self.session.client().clone();
            let txn = self.delete();
            rt::try_spawn(async move {
                let _ = client.txn(txn).await;
            });
        }
    }
}

/// Waits until every key under `prefix` created at or before `max_create_rev` is deleted (Go's
/// `waitDeletes`): it watches the youngest of them, and when that one goes, looks again. Ends
/// early with the session's error if the session is lost meanwhile.
pub(crate) async fn wait_deletes(
    session: &Session,
    prefix: &[u8],
    max_create_rev: i64,
) -> Result<()> {
    let wait = std::pin::pin!(wait_deletes_inner(session.client(), prefix, max_create_rev));
    let lost = std::pin::pin!(session.lost());
    match future::select(wait, lost).await {
        Either::Left((done, _)) => done,
        Either::Right((err, _)) => Err(err),
    }
}

async fn wait_deletes_inner(client: &Client, prefix: &[u8], max_create_rev: i64) -> Result<()> {
    // Go's `WithLastCreate` and `WithMaxCreateRev`: the youngest key older than ours.
    let options = GetOptions::new()
        .with_prefix()
        .with_sort(SortTarget::Create, SortOrder::Descend)
        .with_limit(1)
        .with_max_create_revision(max_create_rev);
    let mut rechecks = 0u32;
    loop {
        let resp = client.get(prefix, Some(options.clone())).await?;
        let Some(last) = resp.kvs().first() else {
            return Ok(());
        };
        let revision = resp.header().map_or(0, |h| h.revision());
        match wait_delete(client, last, revision).await? {
            Waited::Deleted => rechecks = 0,
            Waited::LookAgain => {
                // The watch ended without news (compacted, cancelled): look again, not in a
                // tight loop.
                rechecks = rechecks.saturating_add(1);
                rt::sleep(rt::backoff(rechecks).min(Duration::from_secs(1))).await;
            }
        }
    }
}

enum Waited {
    Deleted,
    LookAgain,
}

/// Watches `kv`'s key from `revision` (the read that found it) until it is deleted (Go's
/// `waitDelete`). A watch whose start was compacted, or that the server cancelled, says to look
/// again rather than fail: the key may be gone already.
async fn wait_delete(client: &Client, kv: &KeyValue, revision: i64) -> Result<Waited> {
    let options = WatchOptions::new().with_start_revision(revision);
    let mut stream = match client.watch(kv.key(), Some(options)).await {
        Ok(stream) => stream,
        Err(Error::Compacted { .. }) => return Ok(Waited::LookAgain),
        Err(e) => return Err(e),
    };
    while let Some(answer) = stream.next().await {
        match answer {
            Ok(resp) if resp.canceled() => return Ok(Waited::LookAgain),
            Ok(resp) => {
                if resp
                    .events()
                    .iter()
                    .any(|e| e.event_type() == EventType::Delete)
                {
                    return Ok(Waited::Deleted);
                }
            }
            Err(Error::Compacted { .. }) => return Ok(Waited::LookAgain),
            Err(e) => return Err(e),
        }
    }
    Ok(Waited::LookAgain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contender_keys_are_gos_hex_of_the_lease() {
        assert_eq!(
            contender_key(b"lock/", 0x694d_7a1b_2c3d),
            b"lock/694d7a1b2c3d"
        );
        assert_eq!(contender_key(b"p/", 0), b"p/0");
        assert_eq!(contender_key(b"p/", -255), b"p/-ff");
        assert_eq!(contender_key(b"p/", i64::MIN), b"p/-8000000000000000");
    }

    #[test]
    fn prefixes_get_a_slash_and_empty_names_are_refused() {
        assert_eq!(prefix_of(b"job".to_vec()).unwrap(), b"job/");
        assert!(matches!(
            prefix_of(Vec::new()),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
