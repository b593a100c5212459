//! The cache's background work: read the prefix at one revision, watch it from the next, and
//! read it again (passing on the difference) when the watch cannot go on.

use super::*;

/// The background work: read, watch, read again when the watch cannot go on.
pub(super) struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) client: Client,
    pub(super) prefix: Vec<u8>,
    pub(super) page_size: i64,
    pub(super) progress: mpsc::UnboundedReceiver<()>,
    pub(super) failures: u32,
}

impl Worker {
    pub(super) async fn run(mut self) {
        loop {
            let cause = if self.shared.read().ready {
                UpdateCause::Relisted
            } else {
                UpdateCause::Listed
            };
            let revision = match self.list().await {
                Ok((revision, changes)) => {
                    self.shared.apply(cause, revision, changes);
                    revision
                }
                Err(err) => {
                    self.failed(err).await;
                    continue;
                }
            };
            if let Err(err) = self.watch(revision).await {
                if !matches!(err, Error::Compacted { .. }) {
                    self.failed(err).await;
                }
            }
        }
    }

    async fn failed(&mut self, err: Error) {
        self.shared.report(err);
        self.failures = self.failures.saturating_add(1);
        rt::sleep(rt::backoff(self.failures).min(LONGEST_PAUSE)).await;
    }

    /// Reads the prefix at one revision, page by page, and returns that revision and the
    /// difference with what the cache holds.
    async fn list(&self) -> Result<(i64, Vec<CacheChange>)> {
        let old = self.shared.read().data.clone();
        let mut pages = self.client.get_pages(
            self.prefix.clone(),
            Some(GetOptions::new().with_prefix()),
            self.page_size,
        )?;
        let mut revision = 0;
        let mut changes = Vec::new();
        let mut last: Option<Vec<u8>> = None;
        while let Some(mut page) = pages.try_next().await? {
            if revision == 0 {
                revision = page.header().map_or(0, |h| h.revision());
            }
            for kv in page.take_kvs() {
                deleted_between(
                    &old,
                    last.as_deref(),
                    Some(kv.key()),
                    revision,
                    &mut changes,
                );
                match old.get(kv.key()) {
                    Some(prev) if prev.mod_revision() == kv.mod_revision() => {}
                    prev => changes.push(CacheChange::Put {
                        prev: prev.cloned(),
                        kv: kv.clone(),
                    }),
                }
                last = Some(kv.key().to_vec());
            }
        }
        deleted_between(&old, last.as_deref(), None, revision, &mut changes);
        if revision == 0 {
            return Err(Error::invalid(
                "unexpected answer from etcd: a read without a revision",
            ));
        }
        Ok((revision, changes))
    }

    /// Follows the prefix from the revision after `revision` until the watch cannot go on.
    async fn watch(&mut self, revision: i64) -> Result<()> {
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(revision.saturating_add(1));
        let mut stream = self
            .client
            .watch(self.prefix.clone(), Some(options))
            .await?;
        loop {
            let next = {
                let answer = stream.next();
                let asked = std::pin::pin!(self.progress.recv());
                match future::select(answer, asked).await {
                    Either::Left((answer, _)) => Some(answer),
                    Either::Right(_) => None,
                }
            };
            match next {
                // Someone waits for a revision: ask the watch how far it got.
                None => stream.request_progress().await?,
                Some(None) => return Err(Error::StreamClosed),
                // The watch resumes such failures itself and never hands them out: this is a
                // progress confirmation that failed (a member restarting under it). The watch
                // goes on, and whoever waits asks again; reading the prefix again would be waste.
                Some(Some(Err(err))) if err.is_transient() => self.shared.report(err),
                Some(Some(Err(err))) => return Err(err),
                Some(Some(Ok(resp))) => {
                    if let Some(err) = resp.cancel_error() {
                        return Err(err);
                    }
                    if resp.created() {
                        self.failures = 0;
                        continue;
                    }
                    self.events(resp);
                }
            }
        }
    }

    /// Applies one watch answer: events, or a progress answer that moves the revision.
    fn events(&self, mut resp: WatchResponse) {
        let events = resp.take_events();
        if events.is_empty() {
            if resp.is_progress_notify() {
                if let Some(header) = resp.header() {
                    self.shared.advance(header.revision());
                }
            }
            return;
        }
        let mut revision = 0;
        let mut changes = Vec::with_capacity(events.len());
        {
            // What each event replaces, read before any of them is applied.
            let state = self.shared.read();
            let mut seen: BTreeMap<Vec<u8>, Option<KeyValue>> = BTreeMap::new();
            for event in events {
                let Some(kv) = event.kv() else { continue };
                revision = revision.max(kv.mod_revision());
                let prev = match seen.get(kv.key()) {
                    Some(prev) => prev.clone(),
                    None => state.data.get(kv.key()).cloned(),
                };
                match event.event_type() {
                    EventType::Put => {
                        seen.insert(kv.key().to_vec(), Some(kv.clone()));
                        changes.push(CacheChange::Put {
                            kv: kv.clone(),
                            prev,
                        });
                    }
                    EventType::Delete => {
                        seen.insert(kv.key().to_vec(), None);
                        if let Some(prev) = prev {
                            changes.push(CacheChange::Delete {
                                prev,
                                revision: kv.mod_revision(),
                            });
                        }
                    }
                }
            }
        }
        self.shared.apply(UpdateCause::Watched, revision, changes);
    }
}

/// Pushes a delete for every key of `old` strictly between `after` and `before` (unbounded
/// where `None`): keys the new read skipped.
fn deleted_between(
    old: &Map,
    after: Option<&[u8]>,
    before: Option<&[u8]>,
    revision: i64,
    changes: &mut Vec<CacheChange>,
) {
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
    if let (Some(a), Some(b)) = (after, before) {
        if a >= b {
            return;
        }
    }
    for (_, prev) in old.range::<[u8], _>((lower, upper)) {
        changes.push(CacheChange::Delete {
            prev: prev.clone(),
            revision,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(keys: &[&str]) -> Map {
        keys.iter()
            .map(|k| {
                let kv = KeyValue(crate::wire::KeyValue {
                    key: crate::wire::codec::B64(k.as_bytes().to_vec()),
                    ..Default::default()
                });
                (k.as_bytes().to_vec(), kv)
            })
            .collect()
    }

    fn deleted(old: &Map, after: Option<&str>, before: Option<&str>) -> Vec<String> {
        let mut changes = Vec::new();
        deleted_between(
            old,
            after.map(str::as_bytes),
            before.map(str::as_bytes),
            9,
            &mut changes,
        );
        changes
            .iter()
            .map(|c| String::from_utf8(c.key().to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn a_new_read_deletes_exactly_the_keys_it_skipped() {
        let old = map(&["a", "b", "c", "d"]);
        assert_eq!(deleted(&old, None, Some("b")), ["a"]);
        assert_eq!(deleted(&old, Some("a"), Some("d")), ["b", "c"]);
        assert_eq!(deleted(&old, Some("b"), None), ["c", "d"]);
        assert_eq!(deleted(&old, Some("b"), Some("b")), Vec::<String>::new());
        assert_eq!(deleted(&old, None, None), ["a", "b", "c", "d"]);
    }
}
