//! Transactions: compares, operations, and the builder that puts them together.

use super::options::{DeleteOptions, GetOptions, PutOptions};
use crate::api::KeyRange;
use crate::error::Result;
use crate::wire::codec::{B64, I64};
use crate::wire::kv as w;

pub use crate::wire::kv::CompareOp;

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

    key_range_setters!(with_range);
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
    /// A put, as [`KvClient::put`](crate::KvClient::put).
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

    /// A get, as [`KvClient::get`](crate::KvClient::get).
    pub fn get(key: impl Into<Vec<u8>>, options: Option<GetOptions>) -> Self {
        TxnOp(TxnOpKind::Get(key.into(), options.unwrap_or_default()))
    }

    /// A delete, as [`KvClient::delete`](crate::KvClient::delete).
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

#[cfg(test)]
mod tests {
    use super::*;

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
            Err(crate::error::Error::InvalidArgument { .. })
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
}
