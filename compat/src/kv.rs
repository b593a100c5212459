//! The KV service: [`KvClient`], [`KvClientPrefix`], and the answers that hold a [`KeyValue`],
//! each a wrapper of etcdgw's that gives etcd-client's [`Error`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytemuck::TransparentWrapper;
use futures_core::Stream;
use futures_util::StreamExt;

use crate::error::{self, Error};
use crate::{
    utf8_prefix, CompactionOptions, CompactionResponse, DeleteOptions, GetOptions, PutOptions,
    Result, Txn,
};

/// A key and its value, with the revisions etcd keeps for it.
#[derive(Clone, PartialEq, Eq, Default, TransparentWrapper)]
#[repr(transparent)]
pub struct KeyValue(etcdgw::KeyValue);

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl KeyValue {
    /// The key's bytes.
    pub fn key(&self) -> &[u8] {
        self.0.key()
    }

    /// The key as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8Error`] if it is not.
    pub fn key_str(&self) -> Result<&str> {
        Ok(std::str::from_utf8(self.key())?)
    }

    /// The key as UTF-8, which the caller promises it is.
    ///
    /// # Safety
    /// None needed here: the bytes are checked anyway, and a key that is not UTF-8 gives its
    /// longest UTF-8 start. `unsafe` as in etcd-client, so that code calling it compiles.
    #[allow(unsafe_code)]
    pub unsafe fn key_str_unchecked(&self) -> &str {
        utf8_prefix(self.key())
    }

    /// The value's bytes.
    pub fn value(&self) -> &[u8] {
        self.0.value()
    }

    /// The value as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8Error`] if it is not.
    pub fn value_str(&self) -> Result<&str> {
        Ok(std::str::from_utf8(self.value())?)
    }

    /// The value as UTF-8, which the caller promises it is.
    ///
    /// # Safety
    /// None needed here, as for [`key_str_unchecked`](Self::key_str_unchecked).
    #[allow(unsafe_code)]
    pub unsafe fn value_str_unchecked(&self) -> &str {
        utf8_prefix(self.value())
    }

    /// Takes the key and the value, without copying.
    pub fn into_key_value(self) -> (Vec<u8>, Vec<u8>) {
        self.0.into_key_value()
    }

    /// The revision of the last write that created the key.
    pub const fn create_revision(&self) -> i64 {
        self.0.create_revision()
    }

    /// The revision of the last write to the key.
    pub const fn mod_revision(&self) -> i64 {
        self.0.mod_revision()
    }

    /// How many times the key was written since it was created.
    pub const fn version(&self) -> i64 {
        self.0.version()
    }

    /// The lease the key is attached to, 0 for none.
    pub const fn lease(&self) -> i64 {
        self.0.lease()
    }
}

impl From<etcdgw::KeyValue> for KeyValue {
    fn from(kv: etcdgw::KeyValue) -> Self {
        KeyValue(kv)
    }
}

impl From<KeyValue> for etcdgw::KeyValue {
    fn from(kv: KeyValue) -> Self {
        kv.0
    }
}

/// Wraps etcdgw's key-values in place (the same layout: no copy, no allocation).
pub(crate) fn key_values(kvs: Vec<etcdgw::KeyValue>) -> Vec<KeyValue> {
    kvs.into_iter().map(KeyValue).collect()
}

/// Writes `$name`'s `header` and `take_header`, forwarded to the etcdgw answer in `.0`.
macro_rules! header_accessors {
    () => {
        /// The response header.
        pub fn header(&self) -> Option<&$crate::ResponseHeader> {
            self.0.header()
        }

        /// Takes the response header out.
        pub fn take_header(&mut self) -> Option<$crate::ResponseHeader> {
            self.0.take_header()
        }
    };
}
pub(crate) use header_accessors;

/// The answer to a put.
#[derive(Debug, Clone)]
#[repr(transparent)]
pub struct PutResponse(etcdgw::PutResponse);

impl PutResponse {
    header_accessors!();

    /// The key before the put, if asked for with [`PutOptions::with_prev_key`] and it existed.
    pub fn prev_key(&self) -> Option<&KeyValue> {
        self.0.prev_key().map(KeyValue::wrap_ref)
    }

    /// Takes the previous key-value out.
    pub fn take_prev_key(&mut self) -> Option<KeyValue> {
        self.0.take_prev_key().map(KeyValue)
    }
}

/// The answer to a get.
#[derive(Debug, Clone)]
#[repr(transparent)]
pub struct GetResponse(etcdgw::GetResponse);

impl GetResponse {
    header_accessors!();

    /// The keys found.
    pub fn kvs(&self) -> &[KeyValue] {
        KeyValue::wrap_slice(self.0.kvs())
    }

    /// Takes the keys found out, without copying.
    pub fn take_kvs(&mut self) -> Vec<KeyValue> {
        key_values(self.0.take_kvs())
    }

    /// Whether there are more keys in the range than the limit let through.
    pub const fn more(&self) -> bool {
        self.0.more()
    }

    /// How many keys are in the range.
    pub const fn count(&self) -> i64 {
        self.0.count()
    }
}

/// The answer to a delete.
#[derive(Debug, Clone)]
#[repr(transparent)]
pub struct DeleteResponse(etcdgw::DeleteResponse);

impl DeleteResponse {
    header_accessors!();

    /// How many keys were deleted.
    pub const fn deleted(&self) -> i64 {
        self.0.deleted()
    }

    /// The deleted keys, if asked for with [`DeleteOptions::with_prev_key`].
    pub fn prev_kvs(&self) -> &[KeyValue] {
        KeyValue::wrap_slice(self.0.prev_kvs())
    }

    /// Takes the deleted keys out, without copying.
    pub fn take_prev_kvs(&mut self) -> Vec<KeyValue> {
        key_values(self.0.take_prev_kvs())
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

impl From<etcdgw::TxnOpResponse> for TxnOpResponse {
    fn from(op: etcdgw::TxnOpResponse) -> Self {
        match op {
            etcdgw::TxnOpResponse::Put(r) => TxnOpResponse::Put(PutResponse(r)),
            etcdgw::TxnOpResponse::Get(r) => TxnOpResponse::Get(GetResponse(r)),
            etcdgw::TxnOpResponse::Delete(r) => TxnOpResponse::Delete(DeleteResponse(r)),
            etcdgw::TxnOpResponse::Txn(r) => TxnOpResponse::Txn(TxnResponse(r)),
        }
    }
}

/// The answer to a transaction.
#[derive(Debug, Clone)]
#[repr(transparent)]
pub struct TxnResponse(etcdgw::TxnResponse);

impl TxnResponse {
    header_accessors!();

    /// Whether every compare held (and the `and_then` branch ran).
    pub const fn succeeded(&self) -> bool {
        self.0.succeeded()
    }

    /// The answers of the branch that ran, in order (a copy, as in etcd-client).
    pub fn op_responses(&self) -> Vec<TxnOpResponse> {
        self.0
            .op_responses()
            .into_iter()
            .map(TxnOpResponse::from)
            .collect()
    }
}

/// Writes the `From` conversions between an answer wrapper and etcdgw's answer.
macro_rules! wraps {
    ($($name:ident),* $(,)?) => {$(
        impl From<etcdgw::$name> for $name {
            fn from(inner: etcdgw::$name) -> Self {
                $name(inner)
            }
        }

        impl From<$name> for etcdgw::$name {
            fn from(outer: $name) -> Self {
                outer.0
            }
        }
    )*};
}
pub(crate) use wraps;

wraps!(PutResponse, GetResponse, DeleteResponse, TxnResponse);

/// The chunks of one range read at one revision (etcd-client's `get_stream`): on every etcd
/// version, as pages (see etcdgw's `KvClient::get_stream`).
pub struct GetStreamResponse(etcdgw::GetStreamResponse);

impl fmt::Debug for GetStreamResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl GetStreamResponse {
    /// The next chunk; `None` after the last.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn message(&mut self) -> Result<Option<GetResponse>> {
        self.next().await.transpose()
    }
}

impl Stream for GetStreamResponse {
    type Item = Result<GetResponse>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0
            .poll_next_unpin(cx)
            .map(|item| item.map(|r| r.map(GetResponse).map_err(Error::from)))
    }
}

/// The KV service's client.
#[derive(Debug, Clone)]
pub struct KvClient(etcdgw::KvClient);

impl KvClient {
    pub(crate) fn new(inner: etcdgw::KvClient) -> Self {
        KvClient(inner)
    }

    /// The largest answer accepted, in bytes of the gateway's JSON (etcdgw sets no limit by
    /// default; etcd-client's is 4 MiB of protobuf).
    pub fn max_decoding_message_size(self, limit: usize) -> Self {
        KvClient(self.0.max_decoding_message_size(limit))
    }

    /// The largest request sent, in bytes of the gateway's JSON.
    pub fn max_encoding_message_size(self, limit: usize) -> Self {
        KvClient(self.0.max_encoding_message_size(limit))
    }

    /// Puts a key.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`]; see the crate docs for the rest.
    pub async fn put(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) -> Result<PutResponse> {
        let key = key.into();
        let empty = key.is_empty();
        self.0
            .put(key, value, options)
            .await
            .map(PutResponse)
            .map_err(|e| error::keyed(empty, e))
    }

    /// Gets a key, or a range with [`GetOptions`].
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn get(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetResponse> {
        let key = key.into();
        let empty = key.is_empty();
        self.0
            .get(key, options)
            .await
            .map(GetResponse)
            .map_err(|e| error::keyed(empty, e))
    }

    /// Gets a key or a range as a stream of chunks, at one revision.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn get_stream(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetStreamResponse> {
        let key = key.into();
        let empty = key.is_empty();
        self.0
            .get_stream(key, options)
            .await
            .map(GetStreamResponse)
            .map_err(|e| error::keyed(empty, e))
    }

    /// Deletes a key, or a range with [`DeleteOptions`].
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn delete(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<DeleteOptions>,
    ) -> Result<DeleteResponse> {
        let key = key.into();
        let empty = key.is_empty();
        self.0
            .delete(key, options)
            .await
            .map(DeleteResponse)
            .map_err(|e| error::keyed(empty, e))
    }

    /// Compacts the history up to `revision`.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn compact(
        &mut self,
        revision: i64,
        options: Option<CompactionOptions>,
    ) -> Result<CompactionResponse> {
        Ok(self.0.compact(revision, options).await?)
    }

    /// Runs a transaction.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`].
    pub async fn txn(&mut self, txn: Txn) -> Result<TxnResponse> {
        self.0.txn(txn).await.map(TxnResponse).map_err(Error::from)
    }
}

/// A KV client whose keys live under a prefix.
#[derive(Debug, Clone)]
pub struct KvClientPrefix(etcdgw::KvClientPrefix);

impl KvClientPrefix {
    /// Puts every key of `kv` under `pfx`.
    pub fn new(kv: KvClient, pfx: Vec<u8>) -> Self {
        KvClientPrefix(etcdgw::KvClientPrefix::new(kv.0, pfx))
    }

    /// Puts a key in the namespace.
    ///
    /// # Errors
    /// As [`KvClient::put`].
    pub async fn put(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) -> Result<PutResponse> {
        self.0
            .put(key, value, options)
            .await
            .map(PutResponse)
            .map_err(Error::from)
    }

    /// Gets a key or a range in the namespace.
    ///
    /// # Errors
    /// As [`KvClient::get`].
    pub async fn get(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetResponse> {
        self.0
            .get(key, options)
            .await
            .map(GetResponse)
            .map_err(Error::from)
    }

    /// Deletes a key or a range in the namespace.
    ///
    /// # Errors
    /// As [`KvClient::delete`].
    pub async fn delete(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<DeleteOptions>,
    ) -> Result<DeleteResponse> {
        self.0
            .delete(key, options)
            .await
            .map(DeleteResponse)
            .map_err(Error::from)
    }

    /// Runs a transaction in the namespace.
    ///
    /// # Errors
    /// As [`KvClient::txn`].
    pub async fn txn(&mut self, txn: Txn) -> Result<TxnResponse> {
        self.0.txn(txn).await.map(TxnResponse).map_err(Error::from)
    }
}
