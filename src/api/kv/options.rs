//! The options of the KV calls, and the one place each KV request is encoded: its options'
//! `into_request`.

use crate::api::KeyRange;
use crate::error::{Error, Result};
use crate::wire::codec::{B64, I64};
use crate::wire::kv as w;

pub use crate::wire::kv::{SortOrder, SortTarget};

/// Options for [`KvClient::get`](crate::KvClient::get). Start from [`GetOptions::new`]; each setter returns `Self`.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct GetOptions {
    range: KeyRange,
    limit: i64,
    revision: i64,
    sort_target: SortTarget,
    sort_order: SortOrder,
    serializable: bool,
    keys_only: bool,
    count_only: bool,
    min_mod_revision: i64,
    max_mod_revision: i64,
    min_create_revision: i64,
    max_create_revision: i64,
}

impl GetOptions {
    /// Options that read the one key, linearizably, at the latest revision.
    pub const fn new() -> Self {
        GetOptions {
            range: KeyRange::Key,
            limit: 0,
            revision: 0,
            sort_target: SortTarget::Key,
            sort_order: SortOrder::None,
            serializable: false,
            keys_only: false,
            count_only: false,
            min_mod_revision: 0,
            max_mod_revision: 0,
            min_create_revision: 0,
            max_create_revision: 0,
        }
    }

    key_range_setters!(with_range);
    /// Returns at most `limit` keys (0: no limit); [`GetResponse::more`](crate::GetResponse::more) says whether there
    /// were more.
    pub const fn with_limit(mut self, limit: i64) -> Self {
        self.limit = limit;
        self
    }

    /// Reads at a past revision (0: the latest).
    pub const fn with_revision(mut self, revision: i64) -> Self {
        self.revision = revision;
        self
    }

    /// Sorts the results. Sorting by key ascending is what the server does anyway, so it is
    /// sent as no sort (as etcd-client does).
    pub fn with_sort(mut self, target: SortTarget, order: SortOrder) -> Self {
        self.sort_order = if target == SortTarget::Key && order == SortOrder::Ascend {
            SortOrder::None
        } else {
            order
        };
        self.sort_target = target;
        self
    }

    /// Serves the read from the member's local data without asking the leader: faster, works
    /// without quorum, but may be stale.
    pub const fn with_serializable(mut self) -> Self {
        self.serializable = true;
        self
    }

    /// Returns keys without values.
    pub const fn with_keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }

    /// Returns only the number of keys.
    pub const fn with_count_only(mut self) -> Self {
        self.count_only = true;
        self
    }

    /// Keeps only keys last modified at or after `revision`.
    pub const fn with_min_mod_revision(mut self, revision: i64) -> Self {
        self.min_mod_revision = revision;
        self
    }

    /// Keeps only keys last modified at or before `revision`.
    pub const fn with_max_mod_revision(mut self, revision: i64) -> Self {
        self.max_mod_revision = revision;
        self
    }

    /// Keeps only keys created at or after `revision`.
    pub const fn with_min_create_revision(mut self, revision: i64) -> Self {
        self.min_create_revision = revision;
        self
    }

    /// Keeps only keys created at or before `revision`.
    pub const fn with_max_create_revision(mut self, revision: i64) -> Self {
        self.max_create_revision = revision;
        self
    }

    /// Builds the wire request: the one place a get is encoded.
    /// The request of one page of a paged read (`KvClient::get_pages`): the options' range,
    /// filters and revision, in key order, `page_size` keys at a time.
    pub(super) fn into_page_request(self, key: Vec<u8>, page_size: i64) -> Result<w::RangeRequest> {
        if page_size < 1 {
            return Err(Error::invalid("the page size must be at least 1"));
        }
        if self.limit != 0 {
            return Err(Error::invalid(
                "a paged read takes its page size, not a limit",
            ));
        }
        if self.count_only {
            return Err(Error::invalid("a count-only read has no pages"));
        }
        if !matches!(self.sort_target, SortTarget::Key)
            || matches!(self.sort_order, SortOrder::Descend)
        {
            return Err(Error::invalid(
                "pages follow key order; sort by key ascending",
            ));
        }
        let mut request = self.into_request(key)?;
        request.limit = I64(page_size);
        request.sort_order = SortOrder::None;
        Ok(request)
    }

    pub(crate) fn into_request(self, key: Vec<u8>) -> Result<w::RangeRequest> {
        let (key, range_end) = self.range.resolve(key)?;
        Ok(w::RangeRequest {
            key: B64(key),
            range_end: B64(range_end),
            limit: I64(self.limit),
            revision: I64(self.revision),
            sort_order: self.sort_order,
            sort_target: self.sort_target,
            serializable: self.serializable,
            keys_only: self.keys_only,
            count_only: self.count_only,
            min_mod_revision: I64(self.min_mod_revision),
            max_mod_revision: I64(self.max_mod_revision),
            min_create_revision: I64(self.min_create_revision),
            max_create_revision: I64(self.max_create_revision),
        })
    }
}

/// Options for [`KvClient::put`](crate::KvClient::put).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct PutOptions {
    lease: i64,
    prev_kv: bool,
    ignore_value: bool,
    ignore_lease: bool,
}

impl PutOptions {
    /// Options for a plain put.
    pub const fn new() -> Self {
        PutOptions {
            lease: 0,
            prev_kv: false,
            ignore_value: false,
            ignore_lease: false,
        }
    }

    /// Attaches the key to a lease: the key is deleted when the lease ends.
    pub const fn with_lease(mut self, lease: i64) -> Self {
        self.lease = lease;
        self
    }

    /// Returns the key-value pair as it was before the put ([`PutResponse::prev_key`](crate::PutResponse::prev_key)).
    pub const fn with_prev_key(mut self) -> Self {
        self.prev_kv = true;
        self
    }

    /// Keeps the current value (the value argument must be empty); fails if the key does not
    /// exist.
    pub const fn with_ignore_value(mut self) -> Self {
        self.ignore_value = true;
        self
    }

    /// Keeps the current lease; fails if the key does not exist.
    pub const fn with_ignore_lease(mut self) -> Self {
        self.ignore_lease = true;
        self
    }

    /// Builds the wire request: the one place a put is encoded.
    pub(crate) fn into_request(self, key: Vec<u8>, value: Vec<u8>) -> Result<w::PutRequest> {
        if key.is_empty() {
            return Err(Error::empty_key());
        }
        Ok(w::PutRequest {
            key: B64(key),
            value: B64(value),
            lease: I64(self.lease),
            prev_kv: self.prev_kv,
            ignore_value: self.ignore_value,
            ignore_lease: self.ignore_lease,
        })
    }
}

/// Options for [`KvClient::delete`](crate::KvClient::delete).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct DeleteOptions {
    range: KeyRange,
    prev_kv: bool,
}

impl DeleteOptions {
    /// Options that delete the one key.
    pub const fn new() -> Self {
        DeleteOptions {
            range: KeyRange::Key,
            prev_kv: false,
        }
    }

    key_range_setters!(with_range);
    /// Returns the deleted key-value pairs ([`DeleteResponse::prev_kvs`](crate::DeleteResponse::prev_kvs)).
    pub const fn with_prev_key(mut self) -> Self {
        self.prev_kv = true;
        self
    }

    /// Builds the wire request: the one place a delete is encoded.
    pub(crate) fn into_request(self, key: Vec<u8>) -> Result<w::DeleteRangeRequest> {
        let (key, range_end) = self.range.resolve(key)?;
        Ok(w::DeleteRangeRequest {
            key: B64(key),
            range_end: B64(range_end),
            prev_kv: self.prev_kv,
        })
    }
}

/// Options for [`KvClient::compact`](crate::KvClient::compact).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct CompactionOptions {
    physical: bool,
}

impl CompactionOptions {
    /// Options for a compaction that returns once it is applied logically.
    pub const fn new() -> Self {
        CompactionOptions { physical: false }
    }

    /// Waits until the compaction is physically applied to the backend database.
    pub const fn with_physical(mut self) -> Self {
        self.physical = true;
        self
    }

    pub(crate) fn into_request(self, revision: i64) -> w::CompactionRequest {
        w::CompactionRequest {
            revision: I64(revision),
            physical: self.physical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn get_options_encode_like_the_captured_requests() {
        let cases = [
            (
                "20-kv-range-prefix",
                GetOptions::new().with_prefix(),
                b"e/".to_vec(),
            ),
            (
                "20-kv-range-limit-more",
                GetOptions::new().with_prefix().with_limit(2),
                b"e/".to_vec(),
            ),
            (
                "20-kv-range-count-only",
                GetOptions::new().with_prefix().with_count_only(),
                b"e/".to_vec(),
            ),
            (
                "20-kv-range-all-keys",
                GetOptions::new().with_all_keys().with_count_only(),
                vec![],
            ),
        ];
        for (capture, options, key) in cases {
            let ours = json(&options.into_request(key).unwrap());
            for (v, ex) in fixtures::both(capture) {
                assert_eq!(ours, ex[0].request_json(), "{capture}.{v}");
            }
        }
    }

    #[test]
    fn sorting_by_key_ascending_is_sent_as_no_sort() {
        let req = GetOptions::new()
            .with_sort(SortTarget::Key, SortOrder::Ascend)
            .into_request(b"k".to_vec())
            .unwrap();
        assert_eq!(json(&req), serde_json::json!({"key": "aw=="}));
        let req = GetOptions::new()
            .with_sort(SortTarget::Value, SortOrder::Descend)
            .into_request(b"k".to_vec())
            .unwrap();
        assert_eq!(
            json(&req),
            serde_json::json!({"key": "aw==", "sort_order": "DESCEND", "sort_target": "VALUE"})
        );
    }

    #[test]
    fn put_and_delete_encode_like_the_captured_requests() {
        let put = PutOptions::new()
            .with_prev_key()
            .into_request(b"e/k1".to_vec(), b"c2".to_vec())
            .unwrap();
        for (v, ex) in fixtures::both("21-kv-put-prev-kv") {
            assert_eq!(json(&put), ex[0].request_json(), "{v}");
        }
        let del = DeleteOptions::new()
            .with_prefix()
            .with_prev_key()
            .into_request(b"e/new".to_vec())
            .unwrap();
        for (v, ex) in fixtures::both("21-kv-delete-prefix-prev-kv") {
            assert_eq!(json(&del), ex[0].request_json(), "{v}");
        }
    }
}
