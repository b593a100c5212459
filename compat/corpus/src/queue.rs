//! A work queue: items are keys under a prefix, taken oldest first (by create revision); a
//! worker owns an item once its delete went through, so no item is taken twice.

use etcd_client::{
    Client, Compare, CompareOp, Error, GetOptions, SortOrder, SortTarget, Txn, TxnOp,
};

/// Adds an item.
pub async fn push(client: &mut Client, queue: &str, id: &str, item: &str) -> Result<(), Error> {
    client.put(format!("{queue}/{id}"), item, None).await?;
    Ok(())
}

/// Takes the oldest item, or `None` if the queue is empty.
pub async fn pop(client: &mut Client, queue: &str) -> Result<Option<String>, Error> {
    let prefix = format!("{queue}/");
    loop {
        let oldest = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Create, SortOrder::Ascend)
            .with_limit(1);
        let resp = client.get(prefix.as_str(), Some(oldest)).await?;
        let Some(kv) = resp.kvs().first() else {
            return Ok(None);
        };
        let key = kv.key().to_vec();
        let item = kv.value_str()?.to_string();
        let claim = Txn::new()
            .when([Compare::mod_revision(
                key.clone(),
                CompareOp::Equal,
                kv.mod_revision(),
            )])
            .and_then([TxnOp::delete(key, None)]);
        if client.txn(claim).await?.succeeded() {
            return Ok(Some(item));
        }
        // Another worker took it first: look again.
    }
}
