//! The KV service: get, put, delete, txn and compact, their options and responses, and a
//! paginated range. The one place each KV request is encoded is its options' `into_request`
//! (`options.rs`, `txn.rs`); a namespace, when the client has one, is applied here on the way
//! out and taken off on the way back.

mod options;
mod pages;
mod response;
mod txn;

use super::namespace::Namespace;
use crate::error::Result;
use crate::transport::{Idempotency, Transport};
use crate::wire::kv as w;
use crate::wire::paths;

pub use options::{
    CompactionOptions, DeleteOptions, GetOptions, PutOptions, SortOrder, SortTarget,
};
pub use pages::{GetPages, GetStreamResponse};
pub use response::{
    CompactionResponse, DeleteResponse, GetResponse, PutResponse, TxnOpResponse, TxnResponse,
};
pub use txn::{Compare, CompareOp, Txn, TxnOp};

/// The KV service of a [`Client`](crate::Client): cheap to clone, sharing the client's connections.
#[derive(Debug, Clone)]
pub struct KvClient {
    transport: Transport,
    /// The prefix every key is put under, for [`KvClientPrefix`].
    namespace: Option<Namespace>,
}

impl KvClient {
    pub(crate) fn new(transport: Transport) -> Self {
        KvClient {
            transport,
            namespace: None,
        }
    }

    /// Limits the size of this client's answers: one larger than `limit` bytes fails with
    /// [`Error::MessageTooLarge`](crate::Error::MessageTooLarge), without being read further
    /// (etcd-client's `max_decoding_message_size`). The limit counts the gateway's JSON, which
    /// is larger than the protobuf etcd-client counts: keys and values in base64 (4/3 of their
    /// size) and field names. Without it, answers have no limit (etcd-client's is 4 MiB by
    /// default). Gets of a client with a limit never go together with others' (read
    /// coalescing), since a batch's answer holds theirs too.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// use etcdgw::{Error, GetOptions};
    ///
    /// let kv = client.kv_client().max_decoding_message_size(1 << 20);
    /// match kv.get("config/", Some(GetOptions::new().with_prefix())).await {
    ///     Ok(resp) => println!("{} keys", resp.kvs().len()),
    ///     Err(Error::MessageTooLarge { limit, .. }) => println!("over {limit} bytes: page it"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.transport = self.transport.with_max_response_bytes(limit);
        self
    }

    /// Limits the size of this client's requests: one whose JSON is larger than `limit` bytes
    /// fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument) before anything is
    /// sent (etcd-client's `max_encoding_message_size`). Without it, the client sets no limit
    /// of its own; etcd refuses requests over its `--max-request-bytes` (1.5 MiB by default)
    /// with [`RequestTooLarge`](crate::ServerErrorKind::RequestTooLarge).
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
        self.transport = self.transport.with_max_request_bytes(limit);
        self
    }

    /// Puts a key, creating it or replacing its value.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an empty key, before anything is sent; server errors
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
        let reply = self
            .call(
                paths::KV_PUT,
                request,
                Idempotency::Write,
                Namespace::put_request,
                Namespace::put_response,
            )
            .await?;
        Ok(PutResponse::from(reply))
    }

    /// Gets one key, or a range of keys with [`GetOptions`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an empty key without a prefix or from-key option; server
    /// errors such as [`Compacted`](crate::ServerErrorKind::Compacted) and
    /// [`FutureRevision`](crate::ServerErrorKind::FutureRevision) when reading at a revision.
    #[doc(alias = "range")]
    pub async fn get(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetResponse> {
        let mut request = options.unwrap_or_default().into_request(key.into())?;
        if let Some(ns) = &self.namespace {
            ns.range_request(&mut request);
        }
        // The transport's range path: point gets waiting behind others go together.
        let mut reply = self.transport.range(&request).await?;
        if let Some(ns) = &self.namespace {
            ns.range_response(&mut reply);
        }
        Ok(GetResponse::from(reply))
    }

    /// Deletes one key, or a range of keys with [`DeleteOptions`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an empty key without a prefix or from-key option.
    #[doc(alias = "delete_range")]
    pub async fn delete(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<DeleteOptions>,
    ) -> Result<DeleteResponse> {
        let request = options.unwrap_or_default().into_request(key.into())?;
        let reply = self
            .call(
                paths::KV_DELETE_RANGE,
                request,
                Idempotency::Write,
                Namespace::delete_request,
                Namespace::delete_response,
            )
            .await?;
        Ok(DeleteResponse::from(reply))
    }

    /// Sends one KV request, in the client's namespace if it has one: `into` puts the
    /// request's keys in it, `out_of` takes the answer's keys out of it.
    async fn call<Req, Resp>(
        &self,
        path: &'static str,
        mut request: Req,
        idempotency: Idempotency,
        into: fn(&Namespace, &mut Req),
        out_of: fn(&Namespace, &mut Resp),
    ) -> Result<Resp>
    where
        Req: serde::Serialize,
        Resp: serde::de::DeserializeOwned + crate::wire::Answer,
    {
        if let Some(ns) = &self.namespace {
            into(ns, &mut request);
        }
        let mut reply = self.transport.call(path, &request, idempotency).await?;
        if let Some(ns) = &self.namespace {
            out_of(ns, &mut reply);
        }
        Ok(reply)
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
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an empty key in a compare or an operation; server errors
    /// such as [`TooManyOps`](crate::ServerErrorKind::TooManyOps) and
    /// [`DuplicateKey`](crate::ServerErrorKind::DuplicateKey).
    pub async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        let request = txn.into_request()?;
        let reply = self
            .call(
                paths::KV_TXN,
                request,
                Idempotency::Write,
                Namespace::txn_request,
                Namespace::txn_response,
            )
            .await?;
        Ok(TxnResponse::from(reply))
    }

    /// Gets a key or a range as a stream of chunks, as etcd-client's `get_stream` (etcd 3.7's
    /// `RangeStream`): the keys of one [`get`](Self::get), at one revision, in chunks of
    /// about a megabyte, so that a large range never has to fit in memory at once. The header,
    /// [`more`](GetResponse::more) and [`count`](GetResponse::count) of the whole answer are
    /// on the last chunk; a missing key gives one empty chunk.
    ///
    /// `RangeStream` is gRPC-only, so over the gateway the chunks are pages read at the
    /// revision of the first one; this works on every etcd version, not only 3.7. A sorted
    /// or count-only read comes as one chunk.
    ///
    /// # Errors
    /// As [`get`](Self::get), for the options here; a chunk that fails ends the stream with
    /// its error.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
    /// use etcdgw::GetOptions;
    ///
    /// let mut chunks = client.kv_client().get_stream("logs/", Some(GetOptions::new().with_prefix())).await?;
    /// while let Some(chunk) = chunks.message().await? {
    ///     for kv in chunk.kvs() {
    ///         println!("{}", kv.key_str()?);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_stream(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetStreamResponse> {
        let mut request = options.unwrap_or_default().into_request(key.into())?;
        if let Some(ns) = &self.namespace {
            ns.range_request(&mut request);
        }
        Ok(GetStreamResponse::new(
            self.transport.clone(),
            request,
            self.namespace.clone(),
        ))
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
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a page size below 1 or options that cannot be paged;
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
        let mut request = options
            .unwrap_or_default()
            .into_page_request(key.into(), page_size)?;
        if let Some(ns) = &self.namespace {
            ns.range_request(&mut request);
        }
        Ok(GetPages::new(
            self.transport.clone(),
            request,
            self.namespace.clone(),
        ))
    }
}

/// A KV client whose keys live under a prefix (etcd-client's `KvClientPrefix`, Go's
/// `namespace.NewKV`): keys get the prefix on the way out and lose it on the way back, and a
/// from-key or all-keys range ends at the end of the namespace (see `api::namespace`).
///
/// # Examples
/// ```no_run
/// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
/// use etcdgw::{GetOptions, KvClientPrefix};
///
/// let tenant = KvClientPrefix::new(client.kv_client(), "tenants/acme/".into());
/// tenant.put("config", "v1", None).await?; // stored as tenants/acme/config
/// let all = tenant.get("", Some(GetOptions::new().with_all_keys())).await?; // only acme's keys
/// assert_eq!(all.kvs()[0].key(), b"config");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct KvClientPrefix {
    kv: KvClient,
}

impl KvClientPrefix {
    /// Puts every key of `kv` under `prefix` (a `Vec<u8>`, as in etcd-client, so that
    /// `"foo/".into()` infers).
    pub fn new(kv: KvClient, prefix: Vec<u8>) -> Self {
        KvClientPrefix {
            kv: KvClient {
                namespace: Some(Namespace::new(prefix)),
                ..kv
            },
        }
    }

    /// Puts a key in the namespace; see [`KvClient::put`].
    pub async fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) -> Result<PutResponse> {
        self.kv.put(key, value, options).await
    }

    /// Gets a key or a range in the namespace; see [`KvClient::get`].
    pub async fn get(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetResponse> {
        self.kv.get(key, options).await
    }

    /// Deletes a key or a range in the namespace; see [`KvClient::delete`].
    pub async fn delete(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<DeleteOptions>,
    ) -> Result<DeleteResponse> {
        self.kv.delete(key, options).await
    }

    /// Runs a transaction in the namespace: compares, operations and nested transactions.
    pub async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        self.kv.txn(txn).await
    }

    /// Compacts the history (of the whole key space: compaction has no namespace).
    pub async fn compact(
        &self,
        revision: i64,
        options: Option<CompactionOptions>,
    ) -> Result<CompactionResponse> {
        self.kv.compact(revision, options).await
    }

    /// Reads a range of the namespace page by page; see [`KvClient::get_pages`].
    ///
    /// # Errors
    /// As [`KvClient::get_pages`].
    pub fn get_pages(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
        page_size: i64,
    ) -> Result<GetPages> {
        self.kv.get_pages(key, options, page_size)
    }
}
