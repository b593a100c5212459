//! A bank transfer with software transactional memory: ten transfers run at once between
//! four accounts, each reading two balances and writing both back; conflicting transfers are
//! run again, so the total never changes.
//!
//! `scripts/demo.sh stm`, or `cargo run --example stm -- http://127.0.0.1:2379`.

use etcdgw::concurrency::Stm;
use etcdgw::{Client, GetOptions};

/// What a transfer can fail with: etcd's errors, or not enough money.
#[derive(Debug)]
enum TransferError {
    Insufficient { account: String, balance: i64 },
    Etcd(etcdgw::Error),
}

impl From<etcdgw::Error> for TransferError {
    fn from(e: etcdgw::Error) -> Self {
        TransferError::Etcd(e)
    }
}

fn balance(value: Option<Vec<u8>>) -> i64 {
    value
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn transfer(
    client: &Client,
    from: String,
    to: String,
    amount: i64,
) -> Result<u32, TransferError> {
    let done = Stm::run(client, None, |stm| {
        let (from, to) = (from.clone(), to.clone());
        async move {
            let from_balance = balance(stm.get(from.as_str()).await?);
            if from_balance < amount {
                return Err(TransferError::Insufficient {
                    account: from,
                    balance: from_balance,
                });
            }
            let to_balance = balance(stm.get(to.as_str()).await?);
            stm.put(from, (from_balance - amount).to_string(), None);
            stm.put(to, (to_balance + amount).to_string(), None);
            Ok(())
        }
    })
    .await?;
    Ok(done.attempts())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect([&endpoint], None).await?;
    for account in 0..4 {
        client
            .put(format!("demo/bank/{account}"), "100", None)
            .await?;
    }

    let mut transfers = Vec::new();
    for i in 0..10i64 {
        let client = client.clone();
        let (from, to) = (
            format!("demo/bank/{}", i % 4),
            format!("demo/bank/{}", (i + 1) % 4),
        );
        transfers.push(tokio::spawn(async move {
            let outcome = transfer(&client, from.clone(), to.clone(), 10 + i).await;
            match outcome {
                Ok(attempts) => {
                    println!("{from} -> {to}: {} moved in {attempts} attempt(s)", 10 + i)
                }
                Err(TransferError::Insufficient { account, balance }) => {
                    println!("{from} -> {to}: refused, {account} has only {balance}")
                }
                Err(TransferError::Etcd(e)) => return Err(e),
            }
            Ok(())
        }));
    }
    for t in transfers {
        t.await??;
    }
    let accounts = client
        .get("demo/bank/", Some(GetOptions::new().with_prefix()))
        .await?;
    let mut total = 0;
    for kv in accounts.kvs() {
        println!("{} = {}", kv.key_str()?, kv.value_str()?);
        total += kv.value_str()?.parse::<i64>()?;
    }
    println!("total: {total} (always 400)");
    Ok(())
}
