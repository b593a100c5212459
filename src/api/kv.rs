//! The KV service: get, put, delete, txn and compact, their options and responses, and a
//! paginated range. The one place each KV request is encoded is its options' `into_request`.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{key_values, KeyRange, KeyValue, ResponseHeader};
use crate::error::{Error, Result};
use crate::transport::{rt, Idempotency, Transport};
use crate::wire::codec::{B64, I64};
use crate::wire::kv as w;
use crate::wire::paths;

pub use crate::wire::kv::{CompareOp, SortOrder, SortTarget};

/// The KV service of a [`Client`]: cheap to clone, sharing the client's connections.
#[derive(Debug, Clone)]
pub struct KvClient {
    transport: Transport,
}

impl KvClient {
    pub(crate) fn new(transport: Transport) -> Self {
        KvClient { transport }
    }

    /// Puts a key, creating it or replacing its value.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty key, before anything is sent; server errors
    /// such as [`LeaseNotFound`](crate::ServerErrorKind::LeaseNotFound) (with a lease that
    /// does not exist), [`KeyNotFound`](crate::ServerErrorKind::KeyNotFound) (with
    /// `ignore_value` on a missing key), [`RequestTooLarge`](crate::ServerErrorKind::RequestTooLarge).
    pub async fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) -> Result<PutResponse> {
        let request = options
            .unwrap_or_default()
            .into_request(key.into(), value.into())?;
        Ok(PutResponse::from(self.put_raw(&request).await?))
    }

    /// Gets one key, or a range of keys with [`GetOptions`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty key without a prefix or from-key option; server
    /// errors such as [`Compacted`](crate::ServerErrorKind::Compacted) and
    /// [`FutureRevision`](crate::ServerErrorKind::FutureRevision) when reading at a revision.
    #[doc(alias = "range")]
    pub async fn get(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetResponse> {
        let request = options.unwrap_or_default().into_request(key.into())?;
        Ok(GetResponse::from(self.range_raw(&request).await?))
    }

    /// Deletes one key, or a range of keys with [`DeleteOptions`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty key without a prefix or from-key option.
    #[doc(alias = "delete_range")]
    pub async fn delete(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<DeleteOptions>,
    ) -> Result<DeleteResponse> {
        let request = options.unwrap_or_default().into_request(key.into())?;
        Ok(DeleteResponse::from(self.delete_raw(&request).await?))
    }

    /// Compacts the key-value history up to `revision`: older revisions can no longer be read
    /// or watched.
    ///
    /// # Errors
    /// [`Compacted`](crate::ServerErrorKind::Compacted) if `revision` is already compacted,
    /// [`FutureRevision`](crate::ServerErrorKind::FutureRevision) if it is ahead of the store.
    pub async fn compact(
        &self,
        revision: i64,
        options: Option<CompactionOptions>,
    ) -> Result<CompactionResponse> {
        let request = options.unwrap_or_default().into_request(revision);
        let reply: w::CompactionResponse = self
            .transport
            .call(paths::KV_COMPACTION, &request, Idempotency::Write)
            .await?;
        Ok(CompactionResponse::from(reply))
    }

    /// Runs a transaction: if every compare holds, the `and_then` operations, else the
    /// `or_else` ones, atomically at one revision.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty key in a compare or an operation; server errors
    /// such as [`TooManyOps`](crate::ServerErrorKind::TooManyOps) and
    /// [`DuplicateKey`](crate::ServerErrorKind::DuplicateKey).
    pub async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        let request = txn.into_request()?;
        Ok(TxnResponse::from(self.txn_raw(&request).await?))
    }

    pub(crate) async fn range_raw(&self, request: &w::RangeRequest) -> Result<w::RangeResponse> {
        self.transport
            .call(paths::KV_RANGE, request, Idempotency::Read)
            .await
    }

    pub(crate) async fn put_raw(&self, request: &w::PutRequest) -> Result<w::PutResponse> {
        self.transport
            .call(paths::KV_PUT, request, Idempotency::Write)
            .await
    }

    pub(crate) async fn delete_raw(
        &self,
        request: &w::DeleteRangeRequest,
    ) -> Result<w::DeleteRangeResponse> {
        self.transport
            .call(paths::KV_DELETE_RANGE, request, Idempotency::Write)
            .await
    }

    pub(crate) async fn txn_raw(&self, request: &w::TxnRequest) -> Result<w::TxnResponse> {
        self.transport
            .call(paths::KV_TXN, request, Idempotency::Write)
            .await
    }

    /// Reads a range too large for one response, `page_size` keys at a time, as a stream of
    /// pages. Every page is read at the revision of the first one, so together they are one
    /// consistent snapshot (unless the options name a revision, which is then used).
    ///
    /// The options may set the range, `keys_only`, `serializable`, a revision and the
    /// min/max revision filters; a limit, a count-only read or a sort other than by key
    /// ascending is refused, since pages continue after the last key of the previous one.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a page size below 1 or options that cannot be paged;
    /// each page can fail like [`get`](Self::get), after which the stream ends.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// use etcdgw::GetOptions;
    /// use futures_util::TryStreamExt;
    ///
    /// let mut pages = client.kv_client().get_pages("logs/", Some(GetOptions::new().with_prefix()), 1000)?;
    /// while let Some(page) = pages.try_next().await? {
    ///     for kv in page.kvs() {
    ///         println!("{}", kv.key_str()?);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_pages(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
        page_size: i64,
    ) -> Result<GetPages> {
        let options = options.unwrap_or_default();
        if page_size < 1 {
            return Err(Error::invalid("the page size must be at least 1"));
        }
        if options.limit != 0 {
            return Err(Error::invalid(
                "a paged read takes its page size, not a limit",
            ));
        }
        if options.count_only {
            return Err(Error::invalid("a count-only read has no pages"));
        }
        if !matches!(options.sort_target, SortTarget::Key)
            || matches!(options.sort_order, SortOrder::Descend)
        {
            return Err(Error::invalid(
                "pages follow key order; sort by key ascending",
            ));
        }
        let mut request = options.into_request(key.into())?;
        request.limit = I64(page_size);
        request.sort_order = SortOrder::None;
        Ok(GetPages::new(self.transport.clone(), request))
    }
}

/// Options for [`KvClient::get`]. Start from [`GetOptions::new`]; each setter returns `Self`.
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

    /// Reads the keys in `[key, end_key)`.
    pub fn with_range(mut self, end_key: impl Into<Vec<u8>>) -> Self {
        self.range = KeyRange::Range(end_key.into());
        self
    }

    /// Reads every key at or after the key (every key, if the key is empty).
    pub fn with_from_key(mut self) -> Self {
        self.range = KeyRange::FromKey;
        self
    }

    /// Reads every key that starts with the key (every key, if the key is empty).
    pub fn with_prefix(mut self) -> Self {
        self.range = KeyRange::Prefix;
        self
    }

    /// Reads every key.
    pub fn with_all_keys(mut self) -> Self {
        self.range = KeyRange::AllKeys;
        self
    }

    /// Returns at most `limit` keys (0: no limit); [`GetResponse::more`] says whether there
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

/// Options for [`KvClient::put`].
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

    /// Returns the key-value pair as it was before the put ([`PutResponse::prev_key`]).
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

/// Options for [`KvClient::delete`].
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

    /// Deletes the keys in `[key, end_key)`.
    pub fn with_range(mut self, end_key: impl Into<Vec<u8>>) -> Self {
        self.range = KeyRange::Range(end_key.into());
        self
    }

    /// Deletes every key at or after the key (every key, if the key is empty).
    pub fn with_from_key(mut self) -> Self {
        self.range = KeyRange::FromKey;
        self
    }

    /// Deletes every key that starts with the key (every key, if the key is empty).
    pub fn with_prefix(mut self) -> Self {
        self.range = KeyRange::Prefix;
        self
    }

    /// Deletes every key.
    pub fn with_all_keys(mut self) -> Self {
        self.range = KeyRange::AllKeys;
        self
    }

    /// Returns the deleted key-value pairs ([`DeleteResponse::prev_kvs`]).
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

/// Options for [`KvClient::compact`].
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

/// What a [`Compare`] reads, and the value it compares with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CompareValue {
    Version(i64),
    CreateRevision(i64),
    ModRevision(i64),
    Value(Vec<u8>),
    Lease(i64),
}

/// A condition of a [`Txn`]: a field of a key (or of every key in a range) compared with a
/// value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Compare {
    key: Vec<u8>,
    range: KeyRange,
    op: CompareOp,
    value: CompareValue,
}

impl Compare {
    fn new(key: impl Into<Vec<u8>>, op: CompareOp, value: CompareValue) -> Self {
        Compare {
            key: key.into(),
            range: KeyRange::Key,
            op,
            value,
        }
    }

    /// Compares the key's version (0 if the key does not exist).
    pub fn version(key: impl Into<Vec<u8>>, cmp: CompareOp, version: i64) -> Self {
        Compare::new(key, cmp, CompareValue::Version(version))
    }

    /// Compares the revision that created the key (0 if the key does not exist).
    pub fn create_revision(key: impl Into<Vec<u8>>, cmp: CompareOp, revision: i64) -> Self {
        Compare::new(key, cmp, CompareValue::CreateRevision(revision))
    }

    /// Compares the revision of the key's last write.
    pub fn mod_revision(key: impl Into<Vec<u8>>, cmp: CompareOp, revision: i64) -> Self {
        Compare::new(key, cmp, CompareValue::ModRevision(revision))
    }

    /// Compares the key's value.
    pub fn value(key: impl Into<Vec<u8>>, cmp: CompareOp, value: impl Into<Vec<u8>>) -> Self {
        Compare::new(key, cmp, CompareValue::Value(value.into()))
    }

    /// Compares the key's lease.
    pub fn lease(key: impl Into<Vec<u8>>, cmp: CompareOp, lease: i64) -> Self {
        Compare::new(key, cmp, CompareValue::Lease(lease))
    }

    /// Compares every key in `[key, end)`: the compare holds if it holds for each of them.
    pub fn with_range(mut self, end: impl Into<Vec<u8>>) -> Self {
        self.range = KeyRange::Range(end.into());
        self
    }

    /// Compares every key that starts with the key.
    pub fn with_prefix(mut self) -> Self {
        self.range = KeyRange::Prefix;
        self
    }

    fn into_wire(self) -> Result<w::Compare> {
        let (key, range_end) = self.range.resolve(self.key)?;
        let mut cmp = w::Compare {
            result: self.op,
            key: B64(key),
            range_end: B64(range_end),
            ..Default::default()
        };
        match self.value {
            CompareValue::Version(v) => {
                cmp.target = w::CompareTarget::Version;
                cmp.version = Some(I64(v));
            }
            CompareValue::CreateRevision(v) => {
                cmp.target = w::CompareTarget::Create;
                cmp.create_revision = Some(I64(v));
            }
            CompareValue::ModRevision(v) => {
                cmp.target = w::CompareTarget::Mod;
                cmp.mod_revision = Some(I64(v));
            }
            CompareValue::Value(v) => {
                cmp.target = w::CompareTarget::Value;
                cmp.value = Some(B64(v));
            }
            CompareValue::Lease(v) => {
                cmp.target = w::CompareTarget::Lease;
                cmp.lease = Some(I64(v));
            }
        }
        Ok(cmp)
    }
}

#[derive(Debug, Clone)]
enum TxnOpKind {
    Put(Vec<u8>, Vec<u8>, PutOptions),
    Get(Vec<u8>, GetOptions),
    Delete(Vec<u8>, DeleteOptions),
    Txn(Txn),
}

/// An operation of a [`Txn`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TxnOp(TxnOpKind);

impl TxnOp {
    /// A put, as [`KvClient::put`].
    pub fn put(
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) -> Self {
        TxnOp(TxnOpKind::Put(
            key.into(),
            value.into(),
            options.unwrap_or_default(),
        ))
    }

    /// A get, as [`KvClient::get`].
    pub fn get(key: impl Into<Vec<u8>>, options: Option<GetOptions>) -> Self {
        TxnOp(TxnOpKind::Get(key.into(), options.unwrap_or_default()))
    }

    /// A delete, as [`KvClient::delete`].
    pub fn delete(key: impl Into<Vec<u8>>, options: Option<DeleteOptions>) -> Self {
        TxnOp(TxnOpKind::Delete(key.into(), options.unwrap_or_default()))
    }

    /// A nested transaction.
    pub fn txn(txn: Txn) -> Self {
        TxnOp(TxnOpKind::Txn(txn))
    }

    fn into_wire(self) -> Result<w::RequestOp> {
        Ok(match self.0 {
            TxnOpKind::Put(key, value, options) => {
                w::RequestOp::Put(options.into_request(key, value)?)
            }
            TxnOpKind::Get(key, options) => w::RequestOp::Range(options.into_request(key)?),
            TxnOpKind::Delete(key, options) => {
                w::RequestOp::DeleteRange(options.into_request(key)?)
            }
            TxnOpKind::Txn(txn) => w::RequestOp::Txn(txn.into_request()?),
        })
    }
}

/// A transaction: `when` every compare holds, `and_then` these operations, `or_else` those.
///
/// Unlike etcd-client, calling a method twice or out of order never panics: each call adds to
/// its list.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Txn {
    compare: Vec<Compare>,
    success: Vec<TxnOp>,
    failure: Vec<TxnOp>,
}

impl Txn {
    /// An empty transaction (which succeeds and does nothing).
    pub const fn new() -> Self {
        Txn {
            compare: Vec::new(),
            success: Vec::new(),
            failure: Vec::new(),
        }
    }

    /// Adds conditions; the transaction succeeds if all of them hold.
    pub fn when(mut self, compares: impl Into<Vec<Compare>>) -> Self {
        self.compare.extend(compares.into());
        self
    }

    /// Adds operations to run if the conditions hold.
    pub fn and_then(mut self, operations: impl Into<Vec<TxnOp>>) -> Self {
        self.success.extend(operations.into());
        self
    }

    /// Adds operations to run if a condition does not hold.
    pub fn or_else(mut self, operations: impl Into<Vec<TxnOp>>) -> Self {
        self.failure.extend(operations.into());
        self
    }

    /// Builds the wire request: the one place a txn is encoded.
    pub(crate) fn into_request(self) -> Result<w::TxnRequest> {
        Ok(w::TxnRequest {
            compare: self
                .compare
                .into_iter()
                .map(Compare::into_wire)
                .collect::<Result<_>>()?,
            success: self
                .success
                .into_iter()
                .map(TxnOp::into_wire)
                .collect::<Result<_>>()?,
            failure: self
                .failure
                .into_iter()
                .map(TxnOp::into_wire)
                .collect::<Result<_>>()?,
        })
    }
}

/// The answer to a get.
#[derive(Debug, Clone)]
pub struct GetResponse {
    header: Option<ResponseHeader>,
    kvs: Vec<KeyValue>,
    more: bool,
    count: i64,
}

impl From<w::RangeResponse> for GetResponse {
    fn from(r: w::RangeResponse) -> Self {
        GetResponse {
            header: Some(ResponseHeader(r.header)),
            kvs: key_values(r.kvs),
            more: r.more,
            count: r.count.0,
        }
    }
}

impl GetResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The keys read (none with count-only), in the requested order.
    pub fn kvs(&self) -> &[KeyValue] {
        &self.kvs
    }

    /// Takes the keys out, without copying.
    pub fn take_kvs(&mut self) -> Vec<KeyValue> {
        std::mem::take(&mut self.kvs)
    }

    /// Whether a limit cut the result short.
    pub const fn more(&self) -> bool {
        self.more
    }

    /// How many keys are in the range, whatever the limit.
    pub const fn count(&self) -> i64 {
        self.count
    }
}

/// The answer to a put.
#[derive(Debug, Clone)]
pub struct PutResponse {
    header: Option<ResponseHeader>,
    prev_kv: Option<KeyValue>,
}

impl From<w::PutResponse> for PutResponse {
    fn from(r: w::PutResponse) -> Self {
        PutResponse {
            header: Some(ResponseHeader(r.header)),
            prev_kv: r.prev_kv.map(KeyValue),
        }
    }
}

impl PutResponse {
    /// The response header; its revision is the put's.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The key-value pair before the put, with [`PutOptions::with_prev_key`]; `None` if the
    /// key was new.
    pub fn prev_key(&self) -> Option<&KeyValue> {
        self.prev_kv.as_ref()
    }

    /// Takes the previous key-value pair out.
    pub fn take_prev_key(&mut self) -> Option<KeyValue> {
        self.prev_kv.take()
    }
}

/// The answer to a delete.
#[derive(Debug, Clone)]
pub struct DeleteResponse {
    header: Option<ResponseHeader>,
    deleted: i64,
    prev_kvs: Vec<KeyValue>,
}

impl From<w::DeleteRangeResponse> for DeleteResponse {
    fn from(r: w::DeleteRangeResponse) -> Self {
        DeleteResponse {
            header: Some(ResponseHeader(r.header)),
            deleted: r.deleted.0,
            prev_kvs: key_values(r.prev_kvs),
        }
    }
}

impl DeleteResponse {
    /// The response header.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// How many keys were deleted.
    pub const fn deleted(&self) -> i64 {
        self.deleted
    }

    /// The deleted key-value pairs, with [`DeleteOptions::with_prev_key`].
    pub fn prev_kvs(&self) -> &[KeyValue] {
        &self.prev_kvs
    }

    /// Takes the deleted key-value pairs out.
    pub fn take_prev_kvs(&mut self) -> Vec<KeyValue> {
        std::mem::take(&mut self.prev_kvs)
    }
}

header_response! {
    /// The answer to a compaction.
    CompactionResponse
}

impl From<w::CompactionResponse> for CompactionResponse {
    fn from(r: w::CompactionResponse) -> Self {
        CompactionResponse::new(Some(r.header))
    }
}

/// The answer to one operation of a transaction.
#[derive(Debug, Clone)]
pub enum TxnOpResponse {
    /// A put's answer.
    Put(PutResponse),
    /// A get's answer.
    Get(GetResponse),
    /// A delete's answer.
    Delete(DeleteResponse),
    /// A nested transaction's answer.
    Txn(TxnResponse),
}

impl From<w::ResponseOp> for TxnOpResponse {
    fn from(op: w::ResponseOp) -> Self {
        match op {
            w::ResponseOp::Range(r) => TxnOpResponse::Get(r.into()),
            w::ResponseOp::Put(r) => TxnOpResponse::Put(r.into()),
            w::ResponseOp::DeleteRange(r) => TxnOpResponse::Delete(r.into()),
            w::ResponseOp::Txn(r) => TxnOpResponse::Txn(r.into()),
        }
    }
}

/// The answer to a transaction.
#[derive(Debug, Clone)]
pub struct TxnResponse {
    header: Option<ResponseHeader>,
    succeeded: bool,
    responses: Vec<TxnOpResponse>,
}

impl From<w::TxnResponse> for TxnResponse {
    fn from(r: w::TxnResponse) -> Self {
        TxnResponse {
            header: Some(ResponseHeader(r.header)),
            succeeded: r.succeeded,
            responses: r.responses.into_iter().map(TxnOpResponse::from).collect(),
        }
    }
}

impl TxnResponse {
    /// The response header; its revision is the transaction's.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// Whether every compare held (and the `and_then` branch ran).
    pub const fn succeeded(&self) -> bool {
        self.succeeded
    }

    /// The answers of the branch that ran, in order (a copy, as in etcd-client; see
    /// [`take_op_responses`](Self::take_op_responses)).
    pub fn op_responses(&self) -> Vec<TxnOpResponse> {
        self.responses.clone()
    }

    /// Takes the answers of the branch that ran out, without copying.
    pub fn take_op_responses(&mut self) -> Vec<TxnOpResponse> {
        std::mem::take(&mut self.responses)
    }
}

/// A paged range read: a [`Stream`] of [`GetResponse`] pages, from [`KvClient::get_pages`].
pub struct GetPages {
    inner: rt::BoxStream<'static, Result<GetResponse>>,
}

impl std::fmt::Debug for GetPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetPages").finish_non_exhaustive()
    }
}

struct PageState {
    transport: Transport,
    request: w::RangeRequest,
    done: bool,
    buffered: VecDeque<Result<GetResponse>>,
}

impl GetPages {
    fn new(transport: Transport, request: w::RangeRequest) -> Self {
        let state = PageState {
            transport,
            request,
            done: false,
            buffered: VecDeque::new(),
        };
        let stream = futures_util::stream::unfold(state, |mut st| async move {
            if let Some(item) = st.buffered.pop_front() {
                return Some((item, st));
            }
            if st.done {
                return None;
            }
            let result: Result<w::RangeResponse> = st
                .transport
                .call(paths::KV_RANGE, &st.request, Idempotency::Read)
                .await;
            match result {
                Err(e) => {
                    st.done = true;
                    Some((Err(e), st))
                }
                Ok(page) => {
                    // Pin every later page to this page's revision: one snapshot.
                    if st.request.revision.0 == 0 {
                        st.request.revision = page.header.revision;
                    }
                    match page.kvs.last() {
                        Some(last) if page.more => {
                            let mut next = last.key.0.clone();
                            next.push(0);
                            st.request.key = B64(next);
                        }
                        _ => st.done = true,
                    }
                    Some((Ok(GetResponse::from(page)), st))
                }
            }
        });
        GetPages {
            inner: Box::pin(stream),
        }
    }
}

impl Stream for GetPages {
    type Item = Result<GetResponse>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
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

    #[test]
    fn empty_keys_are_refused_before_sending() {
        assert!(PutOptions::new()
            .into_request(vec![], b"v".to_vec())
            .is_err());
        assert!(GetOptions::new().into_request(vec![]).is_err());
        assert!(DeleteOptions::new().into_request(vec![]).is_err());
        let txn =
            Txn::new().and_then([TxnOp::txn(Txn::new().and_then([TxnOp::put("", "v", None)]))]);
        assert!(matches!(
            txn.into_request(),
            Err(Error::InvalidArgument { .. })
        ));
        let txn = Txn::new().when([Compare::version("", CompareOp::Equal, 0)]);
        assert!(txn.into_request().is_err());
    }

    #[test]
    fn txn_builder_never_panics_and_accumulates() {
        let txn = Txn::new()
            .and_then([TxnOp::get("a", None)])
            .when([Compare::value("a", CompareOp::Equal, "1")])
            .when([Compare::lease("a", CompareOp::Equal, 0)])
            .or_else([TxnOp::delete("a", None)])
            .and_then([TxnOp::put("b", "2", None)]);
        let req = txn.into_request().unwrap();
        assert_eq!(
            (req.compare.len(), req.success.len(), req.failure.len()),
            (2, 2, 1)
        );
    }

    #[test]
    fn captured_txn_answer_becomes_typed_op_responses() {
        for (v, body) in fixtures::bodies("22-kv-txn-all-targets") {
            let wire: w::TxnResponse = serde_json::from_slice(&body).unwrap();
            let resp = TxnResponse::from(wire);
            let ops = resp.op_responses();
            assert!(matches!(ops[0], TxnOpResponse::Put(_)), "{v}");
            let TxnOpResponse::Get(get) = &ops[1] else {
                panic!("{v}")
            };
            assert_eq!(get.kvs()[0].key_str().unwrap(), "e/t", "{v}");
            let TxnOpResponse::Txn(inner) = &ops[2] else {
                panic!("{v}")
            };
            assert!(inner.succeeded(), "{v}");
        }
    }
}
