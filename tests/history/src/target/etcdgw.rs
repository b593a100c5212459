//! etcdgw as the client under test: each request through `etcdgw::Client`, each error
//! classified by [`Error::is_outcome_unknown`], each watch an `etcdgw::WatchStream` (which
//! resumes by itself after failures).

use std::time::Duration;

use etcdgw::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, Error, EventType, GetOptions,
    KeyValue, PutOptions, Txn, TxnOp as EtcdTxnOp, TxnOpResponse, WatchOptions,
};

use super::{Connector, Profile, Target, WatchItem, WatchStream};
use crate::model::{
    Answer, CmpOp, CmpTarget, Event, EventKind, KeyRange, Kv, Outcome, Request, Rev, TxnOp,
};

/// How long a request may go unanswered before its member is checked, and how long the check
/// waits: short, so that a silent member is left soon.
const LIVENESS: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(1));

/// Connects etcdgw clients.
pub struct Etcdgw;

impl Connector for Etcdgw {
    type Client = EtcdgwClient;

    fn name(&self) -> &'static str {
        "etcdgw"
    }

    async fn connect(&self, endpoints: Vec<String>, profile: Profile) -> EtcdgwClient {
        let options = ConnectOptions::new()
            .with_timeout(profile.timeout)
            .with_keep_alive(LIVENESS.0, LIVENESS.1)
            .with_read_coalescing(profile.coalescing)
            .with_require_leader(profile.require_leader);
        EtcdgwClient(
            Client::connect(endpoints, Some(options))
                .await
                .expect("connect"),
        )
    }
}

/// An etcdgw client under test.
#[derive(Clone)]
pub struct EtcdgwClient(pub Client);

/// A [`KeyValue`] as the model has it.
pub fn kv(kv: &KeyValue) -> Kv {
    Kv {
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        value: String::from_utf8_lossy(kv.value()).into_owned(),
        create: kv.create_revision(),
        modr: kv.mod_revision(),
        version: kv.version(),
        lease: kv.lease(),
    }
}

fn failure(e: &Error) -> Outcome {
    if e.is_outcome_unknown() {
        Outcome::Unknown {
            error: e.to_string(),
        }
    } else {
        Outcome::Failed {
            error: e.to_string(),
        }
    }
}

fn ranged_get(range: &KeyRange) -> GetOptions {
    match &range.end {
        Some(end) => GetOptions::new().with_range(end.as_bytes()),
        None => GetOptions::new(),
    }
}

fn compare(c: &crate::model::Compare) -> Compare {
    let op = match c.op {
        CmpOp::Equal => CompareOp::Equal,
        CmpOp::NotEqual => CompareOp::NotEqual,
        CmpOp::Greater => CompareOp::Greater,
        CmpOp::Less => CompareOp::Less,
    };
    let key = c.key.as_bytes();
    match &c.target {
        CmpTarget::Value(v) => Compare::value(key, op, v.as_bytes()),
        CmpTarget::Version(n) => Compare::version(key, op, *n),
        CmpTarget::Create(n) => Compare::create_revision(key, op, *n),
        CmpTarget::Mod(n) => Compare::mod_revision(key, op, *n),
        CmpTarget::Lease(n) => Compare::lease(key, op, *n),
    }
}

fn txn_op(op: &TxnOp) -> EtcdTxnOp {
    match op {
        TxnOp::Put { key, value, lease } => EtcdTxnOp::put(
            key.as_bytes(),
            value.as_bytes(),
            Some(PutOptions::new().with_lease(*lease)),
        ),
        TxnOp::Range { range } => EtcdTxnOp::get(range.key.as_bytes(), Some(ranged_get(range))),
        TxnOp::Delete { range } => {
            let options = match &range.end {
                Some(end) => DeleteOptions::new().with_range(end.as_bytes()),
                None => DeleteOptions::new(),
            };
            EtcdTxnOp::delete(range.key.as_bytes(), Some(options))
        }
    }
}

fn rev_of(header: Option<&etcdgw::ResponseHeader>) -> Rev {
    header.map_or(0, |h| h.revision())
}

impl EtcdgwClient {
    async fn answer(&self, request: &Request) -> Result<Answer, Error> {
        let c = &self.0;
        Ok(match request {
            Request::Put {
                key,
                value,
                lease,
                prev_kv,
            } => {
                let mut options = PutOptions::new().with_lease(*lease);
                if *prev_kv {
                    options = options.with_prev_key();
                }
                let resp = c
                    .put(key.as_bytes(), value.as_bytes(), Some(options))
                    .await?;
                Answer::Put {
                    rev: rev_of(resp.header()),
                    prev: resp.prev_key().map(kv),
                }
            }
            Request::Range {
                range,
                serializable,
                keys_only,
                count_only,
                limit,
            } => {
                let mut options = ranged_get(range).with_limit(*limit);
                if *serializable {
                    options = options.with_serializable();
                }
                if *keys_only {
                    options = options.with_keys_only();
                }
                if *count_only {
                    options = options.with_count_only();
                }
                let resp = c.get(range.key.as_bytes(), Some(options)).await?;
                Answer::Range {
                    rev: rev_of(resp.header()),
                    kvs: resp.kvs().iter().map(kv).collect(),
                    count: resp.count(),
                    more: resp.more(),
                }
            }
            Request::Delete { range, prev_kv } => {
                let mut options = match &range.end {
                    Some(end) => DeleteOptions::new().with_range(end.as_bytes()),
                    None => DeleteOptions::new(),
                };
                if *prev_kv {
                    options = options.with_prev_key();
                }
                let resp = c.delete(range.key.as_bytes(), Some(options)).await?;
                Answer::Delete {
                    rev: rev_of(resp.header()),
                    deleted: resp.deleted(),
                    prev: resp.prev_kvs().iter().map(kv).collect(),
                }
            }
            Request::Txn {
                compares,
                success,
                failure,
            } => {
                let txn = Txn::new()
                    .when(compares.iter().map(compare).collect::<Vec<_>>())
                    .and_then(success.iter().map(txn_op).collect::<Vec<_>>())
                    .or_else(failure.iter().map(txn_op).collect::<Vec<_>>());
                let resp = c.txn(txn).await?;
                let rev = rev_of(resp.header());
                let responses = resp
                    .op_responses()
                    .iter()
                    .map(|r| match r {
                        TxnOpResponse::Put(p) => Answer::Put {
                            rev,
                            prev: p.prev_key().map(kv),
                        },
                        TxnOpResponse::Get(g) => Answer::Range {
                            rev,
                            kvs: g.kvs().iter().map(kv).collect(),
                            count: g.count(),
                            more: g.more(),
                        },
                        TxnOpResponse::Delete(d) => Answer::Delete {
                            rev,
                            deleted: d.deleted(),
                            prev: d.prev_kvs().iter().map(kv).collect(),
                        },
                        TxnOpResponse::Txn(t) => Answer::Txn {
                            rev,
                            succeeded: t.succeeded(),
                            responses: Vec::new(),
                        },
                    })
                    .collect();
                Answer::Txn {
                    rev,
                    succeeded: resp.succeeded(),
                    responses,
                }
            }
            Request::LeaseGrant { ttl } => {
                let resp = c.lease_grant(*ttl, None).await?;
                Answer::LeaseGrant {
                    rev: rev_of(resp.header()),
                    id: resp.id(),
                }
            }
            Request::LeaseRevoke { id } => {
                let resp = c.lease_revoke(*id).await?;
                Answer::LeaseRevoke {
                    rev: rev_of(resp.header()),
                }
            }
        })
    }
}

impl Target for EtcdgwClient {
    type Watch = EtcdgwWatch;

    async fn run(&self, request: &Request) -> Outcome {
        match self.answer(request).await {
            Ok(answer) => Outcome::Ok { answer },
            Err(e) => failure(&e),
        }
    }

    async fn watch(
        &self,
        range: &KeyRange,
        start: Rev,
        prev_kv: bool,
        progress_notify: bool,
    ) -> Result<EtcdgwWatch, String> {
        let mut options = WatchOptions::new().with_start_revision(start);
        if progress_notify {
            options = options.with_progress_notify();
        }
        if let Some(end) = &range.end {
            options = options.with_range(end.as_bytes());
        }
        if prev_kv {
            options = options.with_prev_key();
        }
        self.0
            .watch(range.key.as_bytes(), Some(options))
            .await
            .map(EtcdgwWatch)
            .map_err(|e| e.to_string())
    }
}

/// An etcdgw watch under test.
pub struct EtcdgwWatch(etcdgw::WatchStream);

/// A watch event as the model has it.
pub fn event(e: &etcdgw::Event) -> Event {
    let kind = match e.event_type() {
        EventType::Put => EventKind::Put,
        EventType::Delete => EventKind::Delete,
    };
    Event {
        kind,
        kv: e.kv().map(kv).unwrap_or_default(),
        prev: e.prev_kv().map(kv),
    }
}

impl WatchStream for EtcdgwWatch {
    async fn next(&mut self) -> WatchItem {
        match self.0.message().await {
            Ok(Some(resp)) if resp.created() && !resp.canceled() => {
                WatchItem::Created(rev_of(resp.header()))
            }
            Ok(Some(resp)) if resp.canceled() => {
                WatchItem::End(format!("canceled: {}", resp.cancel_reason()))
            }
            Ok(Some(resp)) if resp.events().is_empty() => {
                WatchItem::Progress(rev_of(resp.header()))
            }
            Ok(Some(resp)) => WatchItem::Events(resp.events().iter().map(event).collect()),
            Ok(None) => WatchItem::End("the stream ended".to_string()),
            Err(e) => WatchItem::End(e.to_string()),
        }
    }
}
