//! Namespaces: clients that put every key under a prefix on the way out and take it off on
//! the way back, as Go's `namespace.NewKV`, `NewLease` and `NewWatcher` do.
//!
//! Ranges stay inside the namespace: a range end of `"\0"` (from-key, all keys, or a prefix of
//! all 0xff bytes) becomes the end of the namespace rather than the end of the key space
//! (etcd-client's from-key reads past it). Txn compares and operations, nested txns, previous
//! key-values, lease time-to-live keys and watch events are all translated.

use std::sync::Arc;

use super::kv::{
    DeleteOptions, DeleteResponse, GetOptions, GetResponse, KvClient, PutOptions, PutResponse, Txn,
    TxnResponse,
};
use super::lease::{
    LeaseClient, LeaseGrantOptions, LeaseGrantResponse, LeaseRevokeResponse,
    LeaseTimeToLiveOptions, LeaseTimeToLiveResponse,
};
use super::prefix_end;
use super::watch::{WatchClient, WatchOptions, WatchStream};
use crate::error::Result;
use crate::wire::codec::B64;
use crate::wire::kv as w;
use crate::wire::watch::{WatchCreateRequest, WatchResponse};
use crate::wire::KeyValue;

/// A key prefix, with the translations in both directions.
#[derive(Debug, Clone)]
pub(crate) struct Namespace {
    prefix: Arc<[u8]>,
}

impl Namespace {
    pub(crate) fn new(prefix: Vec<u8>) -> Self {
        Namespace {
            prefix: prefix.into(),
        }
    }

    fn key(&self, key: &mut B64) {
        key.0.splice(0..0, self.prefix.iter().copied());
    }

    /// Go's `prefixInterval`: the key gets the prefix; an end of `"\0"` becomes the end of the
    /// namespace; any other end gets the prefix; no end stays none.
    fn range(&self, key: &mut B64, end: &mut B64) {
        self.key(key);
        if end.0 == [0] {
            end.0 = prefix_end(&self.prefix);
        } else if !end.is_empty() {
            self.key(end);
        }
    }

    fn strip(&self, key: &mut B64) {
        if key.0.starts_with(&self.prefix) {
            key.0.drain(..self.prefix.len());
        }
    }

    fn strip_kv(&self, kv: &mut KeyValue) {
        self.strip(&mut kv.key);
    }

    pub(crate) fn range_request(&self, r: &mut w::RangeRequest) {
        self.range(&mut r.key, &mut r.range_end);
    }

    pub(crate) fn put_request(&self, r: &mut w::PutRequest) {
        self.key(&mut r.key);
    }

    pub(crate) fn delete_request(&self, r: &mut w::DeleteRangeRequest) {
        self.range(&mut r.key, &mut r.range_end);
    }

    pub(crate) fn txn_request(&self, r: &mut w::TxnRequest) {
        for cmp in &mut r.compare {
            self.range(&mut cmp.key, &mut cmp.range_end);
        }
        for op in r.success.iter_mut().chain(r.failure.iter_mut()) {
            match op {
                w::RequestOp::Range(r) => self.range_request(r),
                w::RequestOp::Put(r) => self.put_request(r),
                w::RequestOp::DeleteRange(r) => self.delete_request(r),
                w::RequestOp::Txn(r) => self.txn_request(r),
            }
        }
    }

    pub(crate) fn range_response(&self, r: &mut w::RangeResponse) {
        r.kvs.iter_mut().for_each(|kv| self.strip_kv(kv));
    }

    pub(crate) fn put_response(&self, r: &mut w::PutResponse) {
        if let Some(kv) = r.prev_kv.as_mut() {
            self.strip_kv(kv);
        }
    }

    pub(crate) fn delete_response(&self, r: &mut w::DeleteRangeResponse) {
        r.prev_kvs.iter_mut().for_each(|kv| self.strip_kv(kv));
    }

    pub(crate) fn txn_response(&self, r: &mut w::TxnResponse) {
        for op in &mut r.responses {
            match op {
                w::ResponseOp::Range(r) => self.range_response(r),
                w::ResponseOp::Put(r) => self.put_response(r),
                w::ResponseOp::DeleteRange(r) => self.delete_response(r),
                w::ResponseOp::Txn(r) => self.txn_response(r),
            }
        }
    }

    pub(crate) fn watch_request(&self, r: &mut WatchCreateRequest) {
        self.range(&mut r.key, &mut r.range_end);
    }

    pub(crate) fn watch_response(&self, r: &mut WatchResponse) {
        for event in &mut r.events {
            for kv in event.kv.iter_mut().chain(event.prev_kv.iter_mut()) {
                self.strip_kv(kv);
            }
        }
    }

    pub(crate) fn strip_keys(&self, keys: &mut [Vec<u8>]) {
        for key in keys {
            if key.starts_with(&self.prefix) {
                key.drain(..self.prefix.len());
            }
        }
    }
}

/// A KV client whose keys live under a prefix (etcd-client's `KvClientPrefix`).
///
/// # Examples
/// ```no_run
/// # async fn run(client: etcdgw::Client) -> etcdgw::Result<()> {
/// use etcdgw::{GetOptions, KvClientPrefix};
///
/// let tenant = KvClientPrefix::new(client.kv_client(), "tenants/acme/");
/// tenant.put("config", "v1", None).await?; // stored as tenants/acme/config
/// let all = tenant.get("", Some(GetOptions::new().with_all_keys())).await?; // only acme's keys
/// assert_eq!(all.kvs()[0].key(), b"config");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct KvClientPrefix {
    kv: KvClient,
    ns: Namespace,
}

impl KvClientPrefix {
    /// Puts every key of `kv` under `prefix`.
    pub fn new(kv: KvClient, prefix: impl Into<Vec<u8>>) -> Self {
        KvClientPrefix {
            kv,
            ns: Namespace::new(prefix.into()),
        }
    }

    /// Puts a key in the namespace; see [`KvClient::put`].
    pub async fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) -> Result<PutResponse> {
        let mut request = options
            .unwrap_or_default()
            .into_request(key.into(), value.into())?;
        self.ns.put_request(&mut request);
        let mut reply = self.kv.put_raw(&request).await?;
        self.ns.put_response(&mut reply);
        Ok(PutResponse::from(reply))
    }

    /// Gets a key or a range in the namespace; see [`KvClient::get`]. A from-key or all-keys
    /// range ends at the end of the namespace.
    pub async fn get(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetResponse> {
        let mut request = options.unwrap_or_default().into_request(key.into())?;
        self.ns.range_request(&mut request);
        let mut reply = self.kv.range_raw(&request).await?;
        self.ns.range_response(&mut reply);
        Ok(GetResponse::from(reply))
    }

    /// Deletes a key or a range in the namespace; see [`KvClient::delete`].
    pub async fn delete(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<DeleteOptions>,
    ) -> Result<DeleteResponse> {
        let mut request = options.unwrap_or_default().into_request(key.into())?;
        self.ns.delete_request(&mut request);
        let mut reply = self.kv.delete_raw(&request).await?;
        self.ns.delete_response(&mut reply);
        Ok(DeleteResponse::from(reply))
    }

    /// Runs a transaction in the namespace: compares, operations and nested transactions.
    pub async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        let mut request = txn.into_request()?;
        self.ns.txn_request(&mut request);
        let mut reply = self.kv.txn_raw(&request).await?;
        self.ns.txn_response(&mut reply);
        Ok(TxnResponse::from(reply))
    }
}

/// A lease client whose time-to-live keys are shown without a prefix (etcd-client's
/// `LeaseClientPrefix`). Leases themselves are not namespaced.
#[derive(Debug, Clone)]
pub struct LeaseClientPrefix {
    lease: LeaseClient,
    ns: Namespace,
}

impl LeaseClientPrefix {
    /// Strips `prefix` from the keys `time_to_live` lists.
    pub fn new(lease: LeaseClient, prefix: impl Into<Vec<u8>>) -> Self {
        LeaseClientPrefix {
            lease,
            ns: Namespace::new(prefix.into()),
        }
    }

    /// Grants a lease; see [`LeaseClient::grant`].
    pub async fn grant(
        &self,
        ttl: i64,
        options: Option<LeaseGrantOptions>,
    ) -> Result<LeaseGrantResponse> {
        self.lease.grant(ttl, options).await
    }

    /// Revokes a lease; see [`LeaseClient::revoke`].
    pub async fn revoke(&self, id: i64) -> Result<LeaseRevokeResponse> {
        self.lease.revoke(id).await
    }

    /// Tells a lease's TTL and, with keys, those in the namespace without the prefix.
    pub async fn time_to_live(
        &self,
        id: i64,
        options: Option<LeaseTimeToLiveOptions>,
    ) -> Result<LeaseTimeToLiveResponse> {
        let mut resp = self.lease.time_to_live(id, options).await?;
        self.ns.strip_keys(resp.keys_mut());
        Ok(resp)
    }
}

/// A watch client whose keys live under a prefix (Go's `namespace.NewWatcher`, which
/// etcd-client lacks): watched keys get the prefix, events come back without it, and a
/// from-key or all-keys watch stays inside the namespace.
#[derive(Debug, Clone)]
pub struct WatchClientPrefix {
    watch: WatchClient,
}

impl WatchClientPrefix {
    /// Puts every key of `watch` under `prefix`.
    pub fn new(watch: WatchClient, prefix: impl Into<Vec<u8>>) -> Self {
        WatchClientPrefix {
            watch: watch.with_namespace(Namespace::new(prefix.into())),
        }
    }

    /// Watches a key or a range in the namespace; see [`WatchClient::watch`]. Watches added to
    /// the returned stream are in the namespace too.
    pub async fn watch(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<WatchStream> {
        self.watch.watch(key, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::codec::I64;

    fn ns() -> Namespace {
        Namespace::new(b"ns/".to_vec())
    }

    #[test]
    fn ranges_stay_inside_the_namespace() {
        type Case = (&'static [u8], &'static [u8], &'static [u8], &'static [u8]);
        let cases: [Case; 4] = [
            (b"a", b"", b"ns/a", b""),        // one key
            (b"a", b"c", b"ns/a", b"ns/c"),   // a range
            (b"a", b"\0", b"ns/a", b"ns0"),   // from key: up to the end of the namespace
            (b"\0", b"\0", b"ns/\0", b"ns0"), // all keys
        ];
        for (key, end, want_key, want_end) in cases {
            let (mut k, mut e) = (B64(key.to_vec()), B64(end.to_vec()));
            ns().range(&mut k, &mut e);
            assert_eq!((k.0.as_slice(), e.0.as_slice()), (want_key, want_end));
        }
        let mut k = B64(b"x".to_vec());
        let mut e = B64(vec![0]);
        Namespace::new(vec![0xff, 0xff]).range(&mut k, &mut e);
        assert_eq!(
            e.0,
            vec![0],
            "a prefix of 0xff bytes has no end but the key space's"
        );
    }

    #[test]
    fn txn_compares_ops_and_nested_txns_get_the_prefix_and_answers_lose_it() {
        let mut req = w::TxnRequest {
            compare: vec![w::Compare {
                key: B64(b"k".to_vec()),
                range_end: B64(vec![0]),
                version: Some(I64(0)),
                ..Default::default()
            }],
            success: vec![w::RequestOp::Txn(w::TxnRequest {
                success: vec![w::RequestOp::Put(w::PutRequest {
                    key: B64(b"p".to_vec()),
                    ..Default::default()
                })],
                ..Default::default()
            })],
            failure: vec![w::RequestOp::DeleteRange(w::DeleteRangeRequest {
                key: B64(b"d".to_vec()),
                ..Default::default()
            })],
        };
        ns().txn_request(&mut req);
        assert_eq!(req.compare[0].key.0, b"ns/k");
        assert_eq!(req.compare[0].range_end.0, b"ns0");
        let w::RequestOp::Txn(inner) = &req.success[0] else {
            panic!()
        };
        let w::RequestOp::Put(put) = &inner.success[0] else {
            panic!()
        };
        assert_eq!(put.key.0, b"ns/p");
        let w::RequestOp::DeleteRange(del) = &req.failure[0] else {
            panic!()
        };
        assert_eq!(del.key.0, b"ns/d");

        let kv = KeyValue {
            key: B64(b"ns/x".to_vec()),
            ..Default::default()
        };
        let mut resp = w::TxnResponse {
            responses: vec![w::ResponseOp::Txn(w::TxnResponse {
                responses: vec![w::ResponseOp::Range(w::RangeResponse {
                    kvs: vec![kv],
                    ..Default::default()
                })],
                ..Default::default()
            })],
            ..Default::default()
        };
        ns().txn_response(&mut resp);
        let w::ResponseOp::Txn(inner) = &resp.responses[0] else {
            panic!()
        };
        let w::ResponseOp::Range(range) = &inner.responses[0] else {
            panic!()
        };
        assert_eq!(range.kvs[0].key.0, b"x");
    }
}
