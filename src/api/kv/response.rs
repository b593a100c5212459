//! The answers of the KV calls.

use crate::api::{key_values, KeyValue, ResponseHeader};
use crate::wire::kv as w;

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

    /// The key-value pair before the put, with [`PutOptions::with_prev_key`](crate::PutOptions::with_prev_key); `None` if the
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

    /// The deleted key-value pairs, with [`DeleteOptions::with_prev_key`](crate::DeleteOptions::with_prev_key).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

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
