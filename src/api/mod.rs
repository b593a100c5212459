//! The public API, one module per etcd service: options become wire requests here, and wire
//! responses become typed results. Nothing here touches the network; every call goes through
//! the transport's one generic `call`.

/// Defines a response that is only a header (the answer of most writes and admin calls).
macro_rules! header_response {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            header: Option<$crate::api::ResponseHeader>,
        }

        impl $name {
            #[allow(dead_code)]
            pub(crate) fn new(header: Option<$crate::wire::ResponseHeader>) -> Self {
                $name {
                    header: header.map($crate::api::ResponseHeader),
                }
            }

            /// The response header (none in the answers that have none on these versions).
            pub fn header(&self) -> Option<&$crate::api::ResponseHeader> {
                self.header.as_ref()
            }

            /// Takes the response header out.
            pub fn take_header(&mut self) -> Option<$crate::api::ResponseHeader> {
                self.header.take()
            }
        }
    };
}

/// The key-range setters of etcd-client's options, written once for every type that has them
/// (the range field is a [`KeyRange`]; the last setter called wins). `$range` names the one
/// that takes an explicit end: `with_range` in KV and watch options, `with_range_end` in
/// permissions, as in etcd-client. `$set`, when given, is how the type takes a new range
/// (`Permission` keeps the range as etcd stores it, too).
macro_rules! key_range_setters {
    ($range:ident) => {
        key_range_setters!($range, |mut this: Self, range| {
            this.range = range;
            this
        });
    };
    ($range:ident, $set:expr) => {
        /// Covers the keys in `[key, end)`.
        pub fn $range(self, end: impl Into<Vec<u8>>) -> Self {
            ($set)(self, $crate::api::KeyRange::Range(end.into()))
        }

        /// Covers every key at or after the key (every key, if the key is empty).
        pub fn with_from_key(self) -> Self {
            ($set)(self, $crate::api::KeyRange::FromKey)
        }

        /// Covers every key that starts with the key (every key, if the key is empty).
        pub fn with_prefix(self) -> Self {
            ($set)(self, $crate::api::KeyRange::Prefix)
        }

        /// Covers every key.
        pub fn with_all_keys(self) -> Self {
            ($set)(self, $crate::api::KeyRange::AllKeys)
        }
    };
}

pub(crate) mod auth;
pub(crate) mod cluster;
pub(crate) mod election;
pub(crate) mod kv;
pub(crate) mod lease;
pub(crate) mod lock;
pub(crate) mod maintenance;
pub(crate) mod namespace;
pub(crate) mod watch;

use std::fmt;

use crate::error::{Error, Result};
use crate::wire;

/// The header of every response: which cluster and member answered, at which revision.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ResponseHeader(pub(crate) wire::ResponseHeader);

impl ResponseHeader {
    /// The ID of the cluster that answered.
    pub const fn cluster_id(&self) -> u64 {
        self.0.cluster_id.0
    }

    /// The ID of the member that answered.
    pub const fn member_id(&self) -> u64 {
        self.0.member_id.0
    }

    /// The store's revision when the request was served (0 where the server leaves it out,
    /// as in member calls).
    pub const fn revision(&self) -> i64 {
        self.0.revision.0
    }

    /// The raft term when the request was served.
    pub const fn raft_term(&self) -> u64 {
        self.0.raft_term.0
    }
}

impl fmt::Debug for ResponseHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A key and its value, with the revisions etcd keeps for it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KeyValue(pub(crate) wire::KeyValue);

impl KeyValue {
    /// The key's bytes.
    pub fn key(&self) -> &[u8] {
        &self.0.key.0
    }

    /// The key as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8`] if the key is not UTF-8 (etcd keys are bytes).
    pub fn key_str(&self) -> Result<&str> {
        std::str::from_utf8(self.key()).map_err(Error::from)
    }

    /// The value's bytes (empty for a DELETE event, whose `kv` has only key and revision).
    pub fn value(&self) -> &[u8] {
        &self.0.value.0
    }

    /// The value as UTF-8.
    ///
    /// # Errors
    /// [`Error::Utf8`] if the value is not UTF-8.
    pub fn value_str(&self) -> Result<&str> {
        std::str::from_utf8(self.value()).map_err(Error::from)
    }

    /// Takes the key and the value, without copying.
    pub fn into_key_value(self) -> (Vec<u8>, Vec<u8>) {
        (self.0.key.0, self.0.value.0)
    }

    /// The revision of the last write that created the key.
    pub const fn create_revision(&self) -> i64 {
        self.0.create_revision.0
    }

    /// The revision of the last write to the key.
    pub const fn mod_revision(&self) -> i64 {
        self.0.mod_revision.0
    }

    /// How many times the key was written since it was created (1 after the first put).
    pub const fn version(&self) -> i64 {
        self.0.version.0
    }

    /// The lease the key is attached to, 0 for none.
    pub const fn lease(&self) -> i64 {
        self.0.lease.0
    }
}

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Wraps wire key-values without copying them (same layout: the vector is reused in place).
/// A large answer's vector, grown by doubling while it was decoded, gives back its unused
/// capacity (up to half of it): the caller may keep the answer long after (BENCHMARKS.md, W6).
pub(crate) fn key_values(kvs: Vec<wire::KeyValue>) -> Vec<KeyValue> {
    let mut kvs: Vec<KeyValue> = kvs.into_iter().map(KeyValue).collect();
    if kvs.capacity() - kvs.len() > SPARE_KEY_VALUES {
        kvs.shrink_to_fit();
    }
    kvs
}

/// How many unused key-value slots an answer may keep (a few KiB).
const SPARE_KEY_VALUES: usize = 64;

/// Which keys an operation covers, as etcd-client's options set it: the last of `with_range`,
/// `with_prefix`, `with_from_key` and `with_all_keys` wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum KeyRange {
    /// The one key.
    #[default]
    Key,
    /// `[key, end)`.
    Range(Vec<u8>),
    /// Every key starting with the key.
    Prefix,
    /// Every key at or after the key.
    FromKey,
    /// Every key.
    AllKeys,
}

/// etcd's "no end" / "from here on" marker: a single zero byte.
const ZERO: &[u8] = &[0];

impl KeyRange {
    /// The `(key, range_end)` pair etcd reads. An empty key is refused where etcd would refuse
    /// it, before any request is sent; with a prefix or from-key it means "all keys", as in
    /// etcd-client.
    pub(crate) fn resolve(&self, key: Vec<u8>) -> Result<(Vec<u8>, Vec<u8>)> {
        match self {
            KeyRange::Key | KeyRange::Range(_) if key.is_empty() => Err(Error::empty_key()),
            KeyRange::Key => Ok((key, Vec::new())),
            KeyRange::Range(end) => Ok((key, end.clone())),
            KeyRange::Prefix if key.is_empty() => Ok((ZERO.to_vec(), ZERO.to_vec())),
            KeyRange::Prefix => {
                let end = prefix_end(&key);
                Ok((key, end))
            }
            KeyRange::FromKey if key.is_empty() => Ok((ZERO.to_vec(), ZERO.to_vec())),
            KeyRange::FromKey => Ok((key, ZERO.to_vec())),
            KeyRange::AllKeys => Ok((ZERO.to_vec(), ZERO.to_vec())),
        }
    }
}

/// The end of the range of keys that start with `prefix`: the prefix with its last byte below
/// 0xff incremented and what follows dropped; `"\0"` (no end) if every byte is 0xff.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    match prefix.iter().rposition(|&b| b < 0xff) {
        Some(i) => {
            let mut end = prefix[..=i].to_vec();
            end[i] += 1;
            end
        }
        None => ZERO.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte_below_ff() {
        assert_eq!(prefix_end(b"app/"), b"app0");
        assert_eq!(prefix_end(&[b'a', 0xff, 0xff]), b"b");
        assert_eq!(prefix_end(&[0xff, 0xff]), ZERO);
    }

    #[test]
    fn key_ranges_resolve_as_etcd_client_does() {
        assert_eq!(
            KeyRange::Key.resolve(b"k".to_vec()).unwrap(),
            (b"k".to_vec(), vec![])
        );
        assert_eq!(
            KeyRange::Prefix.resolve(vec![]).unwrap(),
            (ZERO.to_vec(), ZERO.to_vec())
        );
        assert_eq!(
            KeyRange::FromKey.resolve(b"k".to_vec()).unwrap(),
            (b"k".to_vec(), ZERO.to_vec())
        );
        assert_eq!(
            KeyRange::AllKeys.resolve(b"ignored".to_vec()).unwrap(),
            (ZERO.to_vec(), ZERO.to_vec())
        );
        assert!(matches!(
            KeyRange::Key.resolve(vec![]),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            KeyRange::Range(b"z".to_vec()).resolve(vec![]),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
