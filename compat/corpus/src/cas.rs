//! A counter incremented by many clients at once: read, then write only if the key did not
//! change in between, else read again.

use etcd_client::{Client, Compare, CompareOp, Error, Txn, TxnOp, TxnOpResponse};

/// Adds one to the counter at `key` (absent is 0) and returns the new value.
pub async fn increment(client: &mut Client, key: &str) -> Result<i64, Error> {
    loop {
        let resp = client.get(key, None).await?;
        let (current, version) = match resp.kvs().first() {
            Some(kv) => (
                kv.value_str()?
                    .parse::<i64>()
                    .map_err(|e| Error::InvalidArgs(e.to_string()))?,
                kv.version(),
            ),
            None => (0, 0),
        };
        let next = current + 1;
        let txn = Txn::new()
            .when([Compare::version(key, CompareOp::Equal, version)])
            .and_then([TxnOp::put(key, next.to_string(), None)])
            .or_else([TxnOp::get(key, None)]);
        let resp = client.txn(txn).await?;
        if resp.succeeded() {
            return Ok(next);
        }
        // Lost the race: the or_else branch read the key again; go round.
        debug_assert!(matches!(
            resp.op_responses().first(),
            Some(TxnOpResponse::Get(_))
        ));
    }
}
