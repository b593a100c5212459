//! A Cloudflare Worker in Rust ([workers-rs](https://github.com/cloudflare/workers-rs)) with an
//! HTTP API over etcd, through etcdgw built for wasm32: Workers cannot run a gRPC client, but
//! they have `fetch`, and etcd's JSON gateway is all etcdgw needs.
//!
//! ```text
//! GET  /kv/<key>            the key's value and mod revision (404 if absent)
//! PUT  /kv/<key>            puts the body as the value; answers the revision
//! POST /txn/<key>           {"expect": "old" | null, "value": "new"}: compare-and-swap in one txn
//! POST /counter/<name>      adds one to counters/<name> inside the lock locks/<name>
//! GET  /cache/<prefix>      the prefix as a Durable Object's cache holds it (?at=REV: once the
//!                           cache has caught up with revision REV)
//! ```
//!
//! `ETCD_ENDPOINTS` (a var: comma-separated URLs) says where etcd is; `ETCD_USER` and
//! `ETCD_PASSWORD` (secrets), if set, are the user it connects as.
//!
//! What Workers allow, and how this code lives with it (README, "On the edge"):
//! - **No I/O on behalf of another request.** workerd ties each fetch, stream and timer to the
//!   request that started it. A `Client` shares work between its callers (a read batch, a token
//!   refresh, liveness probes), so a stateless Worker connects one per request ([`client`];
//!   connecting opens nothing until the first call) and never keeps one in a static. A Durable
//!   Object is one place whose requests may share I/O, so [`PrefixCache`] keeps one client and
//!   one cache (a watch) for its whole life.
//! - **No background work outliving its request.** When the answer is sent, what the request
//!   left running may be cut off. So everything is awaited before answering: the lock is
//!   released with `unlock().await`, not left to the guard's drop (which revokes its lease in
//!   the background), and nothing is spawned but the lease keep-alive the guard stops itself.
//! - **Six connections at once per request.** Over `http://` each request in flight and each
//!   open watch or keep-alive holds one; the lock's counter holds at most four (the lock call,
//!   its lease's keep-alive, a get or a put, a liveness probe), and the Durable Object's cache
//!   one watch plus its reads.
//! - **Hostnames, not IP addresses.** On Cloudflare, fetch to an IP address is refused: name
//!   etcd by a hostname (behind TLS: the gateway speaks https). workerd on a laptop can reach
//!   loopback when its network service allows it (`workerd.capnp` here).

use std::cell::{Cell, RefCell};
use std::time::Duration;

use etcdgw::cache::Cache;
use etcdgw::{Client, Compare, CompareOp, ConnectOptions, Error as EtcdError, Txn, TxnOp};
use futures_util::future::{select, Either};
use serde::Deserialize;
use serde_json::json;
// `wasm_bindgen` is named by what `#[durable_object]` expands to.
use worker::{
    durable_object, event, wasm_bindgen, Context, Delay, DurableObject, Env, Request, Response,
    Result, RouteContext, Router, State,
};

/// How long a request waits on etcd before answering 504.
const DEADLINE: Duration = Duration::from_secs(10);

/// The endpoints and credentials the Worker was given.
fn connect_options(env: &Env) -> Result<(Vec<String>, ConnectOptions)> {
    let endpoints: Vec<String> = env
        .var("ETCD_ENDPOINTS")?
        .to_string()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(String::from)
        .collect();
    let mut options = ConnectOptions::new().with_timeout(DEADLINE);
    if let (Ok(user), Ok(password)) = (env.secret("ETCD_USER"), env.secret("ETCD_PASSWORD")) {
        options = options.with_user(user.to_string(), password.to_string());
    }
    Ok((endpoints, options))
}

/// A client for this request alone (see the crate docs: a stateless Worker must not share one
/// between requests).
async fn client(env: &Env) -> Result<Client> {
    let (endpoints, options) = connect_options(env)?;
    Client::connect(endpoints, Some(options))
        .await
        .map_err(|e| worker::Error::RustError(format!("cannot connect to etcd: {e}")))
}

/// etcd's error as an HTTP answer: what the caller got wrong is a 400, no answer in time a
/// 504, anything else from etcd or on the way a 502. The text names no secret (etcdgw's
/// errors never do).
fn failed(err: EtcdError) -> Result<Response> {
    let status = match &err {
        EtcdError::InvalidArgument { .. } => 400,
        e if e.is_timeout() => 504,
        _ => 502,
    };
    Response::error(err.to_string(), status)
}

/// Runs an etcd call, turning its error into an answer.
macro_rules! etcd {
    ($call:expr) => {
        match $call {
            Ok(value) => value,
            Err(err) => return failed(err),
        }
    };
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The route's catch-all parameter (`*key`, `*prefix`).
fn param(ctx: &RouteContext<()>, name: &str) -> String {
    ctx.param(name).cloned().unwrap_or_default()
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Router::new()
        .get_async("/kv/*key", get)
        .put_async("/kv/*key", put)
        .post_async("/txn/*key", compare_and_swap)
        .post_async("/counter/:name", increment)
        .get_async("/cache/*prefix", |req, ctx| async move {
            // One object per prefix: every request for it meets the same cache.
            let prefix = param(&ctx, "prefix");
            let stub = ctx
                .durable_object("PREFIX_CACHE")?
                .id_from_name(&prefix)?
                .get_stub()?;
            stub.fetch_with_request(req).await
        })
        .run(req, env)
        .await
}

async fn get(_req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let client = client(&ctx.env).await?;
    let answer = etcd!(client.get(param(&ctx, "key"), None).await);
    match answer.kvs().first() {
        Some(kv) => Response::from_json(&json!({
            "key": text(kv.key()),
            "value": text(kv.value()),
            "mod_revision": kv.mod_revision(),
        })),
        None => Response::error("no such key", 404),
    }
}

async fn put(mut req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let value = req.text().await?;
    let client = client(&ctx.env).await?;
    let answer = etcd!(client.put(param(&ctx, "key"), value, None).await);
    let revision = answer.header().map(|h| h.revision()).unwrap_or_default();
    Response::from_json(&json!({ "revision": revision }))
}

/// What a compare-and-swap asks for.
#[derive(Deserialize)]
struct Swap {
    /// The value the key must have; `None`: the key must not exist.
    expect: Option<String>,
    value: String,
}

async fn compare_and_swap(mut req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let swap: Swap = match req.json().await {
        Ok(swap) => swap,
        Err(e) => return Response::error(format!("expected {{expect, value}}: {e}"), 400),
    };
    let key = param(&ctx, "key");
    let guard = match swap.expect {
        Some(expect) => Compare::value(key.as_str(), CompareOp::Equal, expect),
        None => Compare::version(key.as_str(), CompareOp::Equal, 0),
    };
    let txn = Txn::new()
        .when([guard])
        .and_then([TxnOp::put(key.as_str(), swap.value, None)])
        .or_else([TxnOp::get(key.as_str(), None)]);
    let client = client(&ctx.env).await?;
    let answer = etcd!(client.txn(txn).await);
    // When it failed, the value it found instead (the else branch's get).
    let current = answer.op_responses().into_iter().find_map(|op| match op {
        etcdgw::TxnOpResponse::Get(get) => get.kvs().first().map(|kv| text(kv.value())),
        _ => None,
    });
    Response::from_json(&json!({ "succeeded": answer.succeeded(), "current": current }))
}

/// Adds one to `counters/<name>` inside the lock `locks/<name>`: however many requests run at
/// once, in however many isolates, each sees the value the one before it wrote.
async fn increment(_req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let name = param(&ctx, "name");
    let client = client(&ctx.env).await?;
    let counter = format!("counters/{name}");
    // Tied to a lease of 10 s kept alive while held: if this isolate dies inside the critical
    // section, etcd frees the lock when the lease runs out.
    let guard = etcd!(
        client
            .lock_client()
            .lock_guard(format!("locks/{name}"), 10, None)
            .await
    );
    let current = etcd!(client.get(counter.as_str(), None).await)
        .kvs()
        .first()
        .and_then(|kv| text(kv.value()).parse::<u64>().ok())
        .unwrap_or(0);
    let next = current + 1;
    // Written only while the lock's key is still there (the lease was not lost meanwhile).
    let fenced = Txn::new()
        .when([Compare::version(guard.key(), CompareOp::Greater, 0)])
        .and_then([TxnOp::put(counter.as_str(), next.to_string(), None)]);
    let written = etcd!(client.txn(fenced).await).succeeded();
    // Released before answering: a guard dropped would revoke its lease in the background,
    // which may not run once the answer is sent.
    etcd!(guard.unlock().await);
    if !written {
        return Response::error("the lock was lost before the write", 409);
    }
    Response::from_json(&json!({ "value": next }))
}

/// A Durable Object per prefix that keeps a [`Cache`] of it: a local copy read once and then
/// kept current by one watch, answering every request from memory. Its client and cache live
/// as long as the object: a Durable Object's requests may share I/O, a stateless Worker's may
/// not.
#[durable_object]
pub struct PrefixCache {
    env: Env,
    cache: RefCell<Option<Cache>>,
    /// Requests answered, and the one that started the cache (1 unless it had to start
    /// again): a caller can see that the watch outlived the request that opened it.
    requests: Cell<u64>,
    started_by: Cell<u64>,
}

impl PrefixCache {
    /// The cache of `prefix`, started by the first request.
    async fn cache(&self, prefix: &str) -> Result<Cache> {
        if let Some(cache) = self.cache.borrow().as_ref() {
            return Ok(cache.clone());
        }
        let (endpoints, options) = connect_options(&self.env)?;
        let client = Client::connect(endpoints, Some(options))
            .await
            .map_err(|e| worker::Error::RustError(format!("cannot connect to etcd: {e}")))?;
        let cache = Cache::new(&client, prefix, None)
            .map_err(|e| worker::Error::RustError(format!("cannot start the cache: {e}")))?;
        self.started_by.set(self.requests.get());
        *self.cache.borrow_mut() = Some(cache.clone());
        Ok(cache)
    }
}

/// Waits for `future` up to [`DEADLINE`]; `None` if it did not finish.
async fn within<F: std::future::Future>(future: F) -> Option<F::Output> {
    let future = std::pin::pin!(future);
    match select(future, Delay::from(DEADLINE)).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(_) => None,
    }
}

impl DurableObject for PrefixCache {
    fn new(_state: State, env: Env) -> Self {
        PrefixCache {
            env,
            cache: RefCell::new(None),
            requests: Cell::new(0),
            started_by: Cell::new(0),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        self.requests.set(self.requests.get() + 1);
        let url = req.url()?;
        let prefix = url.path().strip_prefix("/cache/").unwrap_or_default();
        let at = url
            .query_pairs()
            .find(|(name, _)| name == "at")
            .and_then(|(_, value)| value.parse::<i64>().ok());
        let cache = self.cache(prefix).await?;
        if within(cache.ready()).await.is_none() {
            let why = cache
                .last_error()
                .map(|e| e.to_string())
                .unwrap_or_default();
            return Response::error(format!("the cache is not ready: {why}"), 504);
        }
        if let Some(at) = at {
            if within(cache.wait_for_revision(at)).await.is_none() {
                return Response::error(format!("the cache has not reached revision {at}"), 504);
            }
        }
        let snapshot = cache.snapshot();
        let keys: serde_json::Map<String, serde_json::Value> = snapshot
            .iter()
            .map(|kv| (text(kv.key()), json!(text(kv.value()))))
            .collect();
        Response::from_json(&json!({
            "revision": snapshot.revision(),
            "keys": keys,
            "request": self.requests.get(),
            "cache_started_by_request": self.started_by.get(),
        }))
    }
}
