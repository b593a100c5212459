//! `Client`'s KV calls: put, get, delete, compact, txn and paged reads (see `api::kv`).

use super::Client;
use crate::api::kv::{
    CompactionOptions, CompactionResponse, DeleteOptions, DeleteResponse, GetOptions, GetPages,
    GetResponse, PutOptions, PutResponse, Txn, TxnResponse,
};
use crate::error::Result;

impl Client {
    /// Puts a key; see [`KvClient::put`](crate::KvClient::put).
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run() -> etcdgw::Result<()> {
    /// use etcdgw::{Client, PutOptions};
    ///
    /// let client = Client::connect(["localhost:2379"], None).await?;
    /// let resp = client.put("greeting", "hello", Some(PutOptions::new().with_prev_key())).await?;
    /// if let Some(prev) = resp.prev_key() {
    ///     println!("replaced {:?}", prev.value_str()?);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) -> Result<PutResponse> {
        self.kv_client().put(key, value, options).await
    }

    /// Gets a key or a range; see [`KvClient::get`](crate::KvClient::get).
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// use etcdgw::GetOptions;
    ///
    /// let resp = client.get("app/", Some(GetOptions::new().with_prefix())).await?;
    /// for kv in resp.kvs() {
    ///     println!("{} = {}", kv.key_str()?, kv.value_str()?);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetResponse> {
        self.kv_client().get(key, options).await
    }

    /// Deletes a key or a range; see [`KvClient::delete`](crate::KvClient::delete).
    pub async fn delete(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<DeleteOptions>,
    ) -> Result<DeleteResponse> {
        self.kv_client().delete(key, options).await
    }

    /// Compacts the history up to `revision`; see [`KvClient::compact`](crate::KvClient::compact).
    pub async fn compact(
        &self,
        revision: i64,
        options: Option<CompactionOptions>,
    ) -> Result<CompactionResponse> {
        self.kv_client().compact(revision, options).await
    }

    /// Runs a transaction; see [`KvClient::txn`](crate::KvClient::txn).
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// use etcdgw::{Compare, CompareOp, Txn, TxnOp};
    ///
    /// // Create the key only if it does not exist yet.
    /// let txn = Txn::new()
    ///     .when([Compare::version("config", CompareOp::Equal, 0)])
    ///     .and_then([TxnOp::put("config", "v1", None)])
    ///     .or_else([TxnOp::get("config", None)]);
    /// let resp = client.txn(txn).await?;
    /// println!("created: {}", resp.succeeded());
    /// # Ok(()) }
    /// ```
    pub async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        self.kv_client().txn(txn).await
    }

    /// Reads a large range page by page; see [`KvClient::get_pages`](crate::KvClient::get_pages).
    pub fn get_pages(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
        page_size: i64,
    ) -> Result<GetPages> {
        self.kv_client().get_pages(key, options, page_size)
    }
}
