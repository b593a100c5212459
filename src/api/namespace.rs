//! Namespaces: every key put under a prefix on the way out and the prefix taken off on the way
//! back, as Go's `namespace.NewKV`, `NewLease` and `NewWatcher` do. A namespace is a field of
//! the KV, lease and watch clients (`KvClientPrefix`, `LeaseClientPrefix` and
//! `WatchClientPrefix` are those clients with one); the translations are all here.
//!
//! Ranges stay inside the namespace: a range end of `"\0"` (from-key, all keys, or a prefix of
//! all 0xff bytes) becomes the end of the namespace rather than the end of the key space
//! (etcd-client's from-key reads past it). Txn compares and operations, nested txns, previous
//! key-values, lease time-to-live keys and watch events are all translated.

use std::sync::Arc;

use super::prefix_end;
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
