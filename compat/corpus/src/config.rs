//! Configuration under a prefix: read it all at once, change a value only if nobody changed it
//! since it was read.

use std::collections::BTreeMap;

use etcd_client::{Client, Compare, CompareOp, Error, GetOptions, Txn, TxnOp};

/// A setting and the revision it was last written at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value.
    pub value: String,
    /// The revision of its last write.
    pub mod_revision: i64,
}

/// Every setting under `prefix`, by name (the key without the prefix). Values must be UTF-8.
pub async fn load(client: &mut Client, prefix: &str) -> Result<BTreeMap<String, Setting>, Error> {
    let resp = client
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await?;
    let mut settings = BTreeMap::new();
    for kv in resp.kvs() {
        let name = kv.key_str()?.trim_start_matches(prefix).to_string();
        let setting = Setting {
            value: kv.value_str()?.to_string(),
            mod_revision: kv.mod_revision(),
        };
        settings.insert(name, setting);
    }
    Ok(settings)
}

/// Writes `value` if the key is still at `mod_revision` (0: if it does not exist); returns
/// whether it was written.
pub async fn set_if_unchanged(
    client: &mut Client,
    key: &str,
    value: &str,
    mod_revision: i64,
) -> Result<bool, Error> {
    let txn = Txn::new()
        .when([Compare::mod_revision(key, CompareOp::Equal, mod_revision)])
        .and_then([TxnOp::put(key, value, None)]);
    Ok(client.txn(txn).await?.succeeded())
}
