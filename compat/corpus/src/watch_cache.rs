//! A local copy of a prefix, kept current by a watch: read the prefix, watch from the next
//! revision, apply the events; when the watch breaks (the member went away), watch again from
//! where it got to; when the history it needs was compacted, read the prefix again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etcd_client::{Client, Error, EventType, GetOptions, WatchOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Default)]
struct State {
    entries: BTreeMap<String, String>,
    revision: i64,
    rewatches: u32,
    reloads: u32,
}

/// A prefix's keys and values, as of [`PrefixCache::revision`].
pub struct PrefixCache {
    state: Arc<Mutex<State>>,
    revisions: watch::Receiver<i64>,
    task: JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads the prefix into `state`; returns the revision read at.
async fn load(client: &mut Client, prefix: &str, state: &Mutex<State>) -> Result<i64, Error> {
    let resp = client
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await?;
    let revision = resp.header().map_or(0, |h| h.revision());
    let mut entries = BTreeMap::new();
    for kv in resp.kvs() {
        entries.insert(kv.key_str()?.to_string(), kv.value_str()?.to_string());
    }
    let mut state = lock(state);
    state.entries = entries;
    state.revision = revision;
    Ok(revision)
}

impl PrefixCache {
    /// Reads `prefix` and keeps it current.
    pub async fn start(mut client: Client, prefix: &str) -> Result<PrefixCache, Error> {
        let state = Arc::new(Mutex::new(State::default()));
        let revision = load(&mut client, prefix, &state).await?;
        let (tx, revisions) = watch::channel(revision);
        let task = tokio::spawn(follow(
            client,
            prefix.to_string(),
            state.clone(),
            tx,
            revision,
        ));
        Ok(PrefixCache {
            state,
            revisions,
            task,
        })
    }

    /// A key's value.
    pub fn get(&self, key: &str) -> Option<String> {
        lock(&self.state).entries.get(key).cloned()
    }

    /// Every key and value.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        lock(&self.state).entries.clone()
    }

    /// How many times the watch broke and was made again.
    pub fn rewatches(&self) -> u32 {
        lock(&self.state).rewatches
    }

    /// How many times the prefix was read again after a compaction.
    pub fn reloads(&self) -> u32 {
        lock(&self.state).reloads
    }

    /// Waits until the cache has seen `revision`.
    pub async fn caught_up(&mut self, revision: i64) {
        let _ = self.revisions.wait_for(|seen| *seen >= revision).await;
    }
}

impl Drop for PrefixCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn follow(
    mut client: Client,
    prefix: String,
    state: Arc<Mutex<State>>,
    revisions: watch::Sender<i64>,
    mut revision: i64,
) {
    let pause = Duration::from_millis(100);
    loop {
        let from = WatchOptions::new()
            .with_prefix()
            .with_start_revision(revision + 1);
        let mut stream = match client.watch(prefix.as_str(), Some(from)).await {
            Ok(stream) => stream,
            Err(e) if super::errors::needs_reconnect(&e) => {
                tokio::time::sleep(pause).await;
                continue;
            }
            Err(_) => return,
        };
        loop {
            match stream.message().await {
                Ok(Some(resp)) if resp.canceled() => {
                    if resp.compact_revision() > 0 {
                        // The events between are gone: read the whole prefix again.
                        match load(&mut client, &prefix, &state).await {
                            Ok(read_at) => {
                                revision = read_at;
                                lock(&state).reloads += 1;
                                let _ = revisions.send(revision);
                            }
                            Err(_) => tokio::time::sleep(pause).await,
                        }
                    }
                    break;
                }
                Ok(Some(resp)) => {
                    let mut state = lock(&state);
                    for event in resp.events() {
                        let Some(kv) = event.kv() else { continue };
                        let (Ok(key), Ok(value)) = (kv.key_str(), kv.value_str()) else {
                            continue;
                        };
                        match event.event_type() {
                            EventType::Put => {
                                state.entries.insert(key.to_string(), value.to_string());
                            }
                            EventType::Delete => {
                                state.entries.remove(key);
                            }
                        }
                        revision = revision.max(kv.mod_revision());
                    }
                    state.revision = revision;
                    drop(state);
                    let _ = revisions.send(revision);
                }
                Ok(None) => break,
                Err(_) => {
                    // The member went away: watch again from the last revision applied.
                    lock(&state).rewatches += 1;
                    tokio::time::sleep(pause).await;
                    break;
                }
            }
        }
    }
}
