//! etcdgw's host suite: the wasm32 half of each scenario in `tests/hosts/scenarios.rs`, one
//! build for every JavaScript host.
//!
//! Each exported function drives a real etcd member through etcdgw compiled to wasm32 and
//! returns what it saw as JSON; the native half checks that against what it asked for and
//! against what `etcdctl` sees. The same module runs in headless Chromium (`suite.html`), in
//! Node.js and Deno (`run.mjs`) and inside one request of a workerd worker (`worker.mjs`).
//! Every function takes a `progress` callback last: it reports the points where the native
//! half has to act (write with etcdctl, restart the member, check a lock from outside).

use std::fmt::Display;
use std::time::Duration;

use etcdgw::{
    Client, Compare, CompareOp, ConnectOptions, Error, EventType, GetOptions, PutOptions,
    ResignOptions, Txn, TxnOp, WatchOptions,
};
use serde_json::json;
use wasm_bindgen::prelude::*;

type Outcome = Result<String, JsError>;

fn failed(what: &str, err: impl Display) -> JsError {
    JsError::new(&format!("{what}: {err}"))
}

/// Tells the native half how far this test got.
fn report(progress: &js_sys::Function, step: &str) {
    let _ = progress.call1(&JsValue::NULL, &JsValue::from_str(step));
}

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

async fn connect(endpoint: &str, options: Option<ConnectOptions>) -> Result<Client, JsError> {
    Client::connect([endpoint], options)
        .await
        .map_err(|e| failed("connect", e))
}

/// An error by its kind, for the native half to compare: the server's kind when etcd
/// answered, else the variant.
fn kind(err: &Error) -> String {
    if let Some(kind) = err.server_kind() {
        return format!("{kind:?}");
    }
    match err {
        Error::InvalidArgument { .. } => "InvalidArgument",
        Error::InvalidEndpoint { .. } => "InvalidEndpoint",
        Error::Timeout { .. } => "Timeout",
        Error::Transport { .. } => "Transport",
        Error::Decode { .. } => "Decode",
        Error::NotEtcd { .. } => "NotEtcd",
        // Not one a scenario expects: what it was, for the failure message.
        other => return format!("Other: {other:?}"),
    }
    .to_string()
}

/// The kind of the error `result` holds; an error itself if it succeeded.
fn error_kind<T>(what: &str, result: etcdgw::Result<T>) -> Result<String, JsError> {
    match result {
        Ok(_) => Err(JsError::new(&format!(
            "{what} succeeded; an error was expected"
        ))),
        Err(e) => Ok(kind(&e)),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Puts, reads (a prefix, a count), a transaction and a delete; returns what each saw.
#[wasm_bindgen]
pub async fn kv(endpoint: String, prefix: String, progress: js_sys::Function) -> Outcome {
    let client = connect(&endpoint, None).await?;
    for (key, value) in [("a", "1"), ("b", "2"), ("c", "3")] {
        client
            .put(format!("{prefix}{key}"), value, None)
            .await
            .map_err(|e| failed("put", e))?;
    }
    let prefixed = || Some(GetOptions::new().with_prefix());
    let listed = client
        .get(prefix.as_str(), prefixed())
        .await
        .map_err(|e| failed("get", e))?;
    let listed: Vec<String> = listed
        .kvs()
        .iter()
        .map(|kv| format!("{}={}", text(kv.key()), text(kv.value())))
        .collect();
    let count = client
        .get(
            prefix.as_str(),
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .map_err(|e| failed("count", e))?
        .count();
    let txn = Txn::new()
        .when([Compare::value(format!("{prefix}a"), CompareOp::Equal, "1")])
        .and_then([TxnOp::put(format!("{prefix}d"), "4", None)])
        .or_else([TxnOp::put(format!("{prefix}e"), "5", None)]);
    let succeeded = client
        .txn(txn)
        .await
        .map_err(|e| failed("txn", e))?
        .succeeded();
    let deleted = client
        .delete(format!("{prefix}b"), None)
        .await
        .map_err(|e| failed("delete", e))?
        .deleted();
    let after = client
        .get(prefix.as_str(), prefixed())
        .await
        .map_err(|e| failed("get after", e))?;
    let after: Vec<String> = after.kvs().iter().map(|kv| text(kv.key())).collect();
    // Point gets all at once: those waiting behind the first go together as one request.
    let keys = ["a", "c", "d", "b", "missing"];
    let gets = (0..40).map(|i| client.get(format!("{prefix}{}", keys[i % keys.len()]), None));
    let mut concurrent = Vec::new();
    for answer in futures_util::future::join_all(gets).await {
        let answer = answer.map_err(|e| failed("concurrent get", e))?;
        concurrent.push(answer.kvs().first().map(|kv| text(kv.value())));
    }
    report(&progress, "done");
    Ok(json!({
        "listed": listed,
        "count": count,
        "txn_succeeded": succeeded,
        "deleted": deleted,
        "after": after,
        "concurrent": concurrent,
    })
    .to_string())
}

/// Watches `prefix` until `expected` events arrived, reporting `watching` once the watch is
/// created and `events:N` as they come (the native half writes them with etcdctl and restarts
/// the member in between). Returns the events and their revisions.
#[wasm_bindgen]
pub async fn watch(
    endpoint: String,
    prefix: String,
    expected: u32,
    progress: js_sys::Function,
) -> Outcome {
    let client = connect(&endpoint, None).await?;
    let mut stream = client
        .watch(
            prefix.as_str(),
            Some(WatchOptions::new().with_prefix().with_prev_key()),
        )
        .await
        .map_err(|e| failed("watch", e))?;
    let created = stream
        .message()
        .await
        .map_err(|e| failed("created", e))?
        .ok_or_else(|| JsError::new("the watch ended before it was created"))?;
    if !created.created() {
        return Err(JsError::new("the first answer is not `created`"));
    }
    report(&progress, "watching");
    let mut events = Vec::new();
    let mut revisions = Vec::new();
    while events.len() < expected as usize {
        let resp = stream
            .message()
            .await
            .map_err(|e| failed("watch message", e))?
            .ok_or_else(|| JsError::new("the watch ended"))?;
        for event in resp.events() {
            let Some(kv) = event.kv() else { continue };
            let line = match event.event_type() {
                EventType::Put => format!("PUT {}={}", text(kv.key()), text(kv.value())),
                EventType::Delete => {
                    let before = event.prev_kv().map(|p| text(p.value())).unwrap_or_default();
                    format!("DELETE {} (was {before})", text(kv.key()))
                }
            };
            events.push(line);
            revisions.push(kv.mod_revision());
        }
        report(&progress, &format!("events:{}", events.len()));
    }
    Ok(json!({ "events": events, "revisions": revisions }).to_string())
}

/// Opens `count` watches on one client (keys `<prefix>00`, `<prefix>01`, ...), reports
/// `watching`, runs a get of each key while they are open, and waits for one event on each (the
/// native half writes every key). Over `http://` a browser allows six connections per host: a
/// client whose watches each held one would leave none for the gets and the later watches.
/// `websocket`: whether the watches may share a WebSocket; without, they share the default
/// four watch requests. Returns how many gets answered and each watch's value.
#[wasm_bindgen]
pub async fn many_watches(
    endpoint: String,
    prefix: String,
    count: u32,
    websocket: bool,
    progress: js_sys::Function,
) -> Outcome {
    let options = ConnectOptions::new().with_websocket(websocket);
    let client = connect(&endpoint, Some(options)).await?;
    let mut streams = Vec::new();
    for i in 0..count {
        let mut stream = client
            .watch(format!("{prefix}{i:02}"), None)
            .await
            .map_err(|e| failed("watch", e))?;
        let created = stream
            .message()
            .await
            .map_err(|e| failed("created", e))?
            .ok_or_else(|| JsError::new("a watch ended before it was created"))?;
        if !created.created() {
            return Err(JsError::new("a watch's first answer is not `created`"));
        }
        streams.push(stream);
    }
    report(&progress, "watching");
    let mut gets = 0;
    for i in 0..count {
        client
            .get(format!("{prefix}{i:02}"), None)
            .await
            .map_err(|e| failed("get", e))?;
        gets += 1;
    }
    let mut values = Vec::new();
    for stream in &mut streams {
        loop {
            let resp = stream
                .message()
                .await
                .map_err(|e| failed("watch message", e))?
                .ok_or_else(|| JsError::new("a watch ended"))?;
            if let Some(kv) = resp.events().first().and_then(|e| e.kv()) {
                values.push(text(kv.value()));
                break;
            }
        }
    }
    Ok(json!({ "gets": gets, "values": values }).to_string())
}

/// Keeps a lease alive in the background with a key attached, reporting `attached`, until
/// the native half, having checked the key with etcdctl after several TTLs, writes
/// `<key>/ack` (not for a fixed time: a loaded machine's etcdctl may answer after it); then
/// revokes it.
#[wasm_bindgen]
pub async fn lease(endpoint: String, key: String, ttl: i32, progress: js_sys::Function) -> Outcome {
    let client = connect(&endpoint, None).await?;
    let lease = client
        .lease_client()
        .grant_managed(i64::from(ttl), None)
        .await
        .map_err(|e| failed("grant", e))?;
    let id = lease.id();
    client
        .put(
            key.as_str(),
            "leased",
            Some(PutOptions::new().with_lease(id)),
        )
        .await
        .map_err(|e| failed("put", e))?;
    report(&progress, "attached");
    let ack = format!("{key}/ack");
    loop {
        let seen = client
            .get(ack.as_str(), None)
            .await
            .map_err(|e| failed("get the ack", e))?;
        if !seen.kvs().is_empty() {
            break;
        }
        sleep(100).await;
    }
    let ttl_left = client
        .lease_time_to_live(id, None)
        .await
        .map_err(|e| failed("time to live", e))?
        .ttl();
    let still_there = client
        .get(key.as_str(), None)
        .await
        .map_err(|e| failed("get", e))?
        .kvs()
        .len();
    lease.revoke().await.map_err(|e| failed("revoke", e))?;
    let after_revoke = client
        .get(key.as_str(), None)
        .await
        .map_err(|e| failed("get after revoke", e))?
        .kvs()
        .len();
    Ok(json!({
        "id": id.to_string(),
        "ttl_left": ttl_left,
        "still_there": still_there,
        "after_revoke": after_revoke,
    })
    .to_string())
}

/// With auth on: a user's token is fetched and sent (reporting `authenticated`); once the
/// native half has turned auth off and on again (the member drops every token) and written
/// `<key>/ack`, the next call is refused the old token and fetches a new one, once. No
/// credentials and a wrong password are refused with their kinds.
#[wasm_bindgen]
pub async fn auth(
    endpoint: String,
    user: String,
    password: String,
    key: String,
    progress: js_sys::Function,
) -> Outcome {
    let client = connect(
        &endpoint,
        Some(ConnectOptions::new().with_user(user.as_str(), password.as_str())),
    )
    .await?;
    client
        .put(key.as_str(), "written with a token", None)
        .await
        .map_err(|e| failed("put as user", e))?;
    let value = client
        .get(key.as_str(), None)
        .await
        .map_err(|e| failed("get as user", e))?
        .kvs()
        .first()
        .map(|kv| text(kv.value()))
        .unwrap_or_default();
    let refreshes_before = client.token_refreshes();
    report(&progress, "authenticated");
    // While auth is off and on again, a get may be refused: that is not what this test is
    // about.
    let ack = format!("{key}/ack");
    loop {
        if let Ok(seen) = client.get(ack.as_str(), None).await {
            if !seen.kvs().is_empty() {
                break;
            }
        }
        sleep(50).await;
    }
    client
        .put(key.as_str(), "written with a new token", None)
        .await
        .map_err(|e| failed("put with a new token", e))?;
    let anonymous = connect(&endpoint, None).await?;
    let anonymous = error_kind("anonymous get", anonymous.get(key.as_str(), None).await)?;
    let wrong = connect(
        &endpoint,
        Some(ConnectOptions::new().with_user(user.as_str(), "not-the-password")),
    )
    .await?;
    let wrong = error_kind(
        "get with a wrong password",
        wrong.get(key.as_str(), None).await,
    )?;
    report(&progress, "done");
    Ok(json!({
        "value": value,
        "anonymous": anonymous,
        "wrong_password": wrong,
        "token_refreshes_before": refreshes_before,
        "token_refreshes": client.token_refreshes(),
    })
    .to_string())
}

/// Errors as typed kinds: from etcd (future revision, compacted, lease not found), refused
/// before sending (an empty key; TLS settings fetch does not take) and from the network (an
/// endpoint nothing listens on); and require-leader, which only a browser refuses (`ok`
/// where a get that requires a leader succeeds).
#[wasm_bindgen]
pub async fn errors(
    endpoint: String,
    dead_endpoint: String,
    key: String,
    progress: js_sys::Function,
) -> Outcome {
    let client = connect(&endpoint, None).await?;
    let future = error_kind(
        "a future revision",
        client
            .get(key.as_str(), Some(GetOptions::new().with_revision(1 << 40)))
            .await,
    )?;
    let empty_key = error_kind("an empty key", client.put("", "v", None).await)?;
    client
        .put(key.as_str(), "1", None)
        .await
        .map_err(|e| failed("put", e))?;
    let second = client
        .put(key.as_str(), "2", None)
        .await
        .map_err(|e| failed("put", e))?;
    let revision = second.header().map(|h| h.revision()).unwrap_or_default();
    client
        .compact(revision, None)
        .await
        .map_err(|e| failed("compact", e))?;
    let compacted = error_kind(
        "a compacted revision",
        client
            .get(
                key.as_str(),
                Some(GetOptions::new().with_revision(revision - 1)),
            )
            .await,
    )?;
    let lease_not_found = error_kind(
        "revoking a lease that does not exist",
        client.lease_revoke(0x5eed_0000_0001).await,
    )?;
    let dead = connect(
        &dead_endpoint,
        Some(ConnectOptions::new().with_timeout(Duration::from_secs(5))),
    )
    .await?;
    let unreachable = error_kind("an endpoint nothing listens on", dead.get("k", None).await)?;
    let require_leader = match Client::connect(
        [endpoint.as_str()],
        Some(ConnectOptions::new().with_require_leader(true)),
    )
    .await
    {
        Ok(client) => match client.get(key.as_str(), None).await {
            Ok(_) => "ok".to_string(),
            Err(e) => kind(&e),
        },
        Err(e) => kind(&e),
    };
    let custom_ca = error_kind(
        "a custom CA on wasm32",
        Client::connect(
            ["https://127.0.0.1:1"],
            Some(ConnectOptions::new().with_tls(
                etcdgw::TlsOptions::new().ca_certificate(etcdgw::Certificate::from_pem("not used")),
            )),
        )
        .await,
    )?;
    report(&progress, "done");
    Ok(json!({
        "future_revision": future,
        "empty_key": empty_key,
        "compacted": compacted,
        "lease_not_found": lease_not_found,
        "unreachable": unreachable,
        "require_leader": require_leader,
        "custom_ca": custom_ca,
    })
    .to_string())
}

/// Takes a lock (reporting `locked:<key>`), holds it until the native half, having seen the
/// lock's key with etcdctl, writes `<name>/ack`; unlocks; then wins an election and resigns.
#[wasm_bindgen]
pub async fn lock_election(endpoint: String, name: String, progress: js_sys::Function) -> Outcome {
    let client = connect(&endpoint, None).await?;
    let guard = client
        .lock_client()
        .lock_guard(format!("{name}/lock"), 10, None)
        .await
        .map_err(|e| failed("lock", e))?;
    let lock_key = text(guard.key());
    report(&progress, &format!("locked:{lock_key}"));
    let ack = format!("{name}/ack");
    loop {
        let seen = client
            .get(ack.as_str(), None)
            .await
            .map_err(|e| failed("get ack", e))?;
        if !seen.kvs().is_empty() {
            break;
        }
        sleep(50).await;
    }
    guard.unlock().await.map_err(|e| failed("unlock", e))?;
    let locks_left = client
        .get(
            format!("{name}/lock"),
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .map_err(|e| failed("count locks", e))?
        .count();

    let lease = client
        .lease_client()
        .grant_managed(10, None)
        .await
        .map_err(|e| failed("grant", e))?;
    let election = format!("{name}/election");
    let mut won = client
        .campaign(election.as_str(), "wasm32", lease.id())
        .await
        .map_err(|e| failed("campaign", e))?;
    let leader = client
        .leader(election.as_str())
        .await
        .map_err(|e| failed("leader", e))?
        .kv()
        .map(|kv| text(kv.value()))
        .unwrap_or_default();
    let key = won
        .take_leader()
        .ok_or_else(|| JsError::new("campaign answered without a leader key"))?;
    client
        .resign(Some(ResignOptions::new().with_leader(key)))
        .await
        .map_err(|e| failed("resign", e))?;
    lease.revoke().await.map_err(|e| failed("revoke", e))?;
    report(&progress, "done");
    Ok(json!({
        "lock_key": lock_key,
        "locks_left": locks_left,
        "leader": leader,
    })
    .to_string())
}

/// Waits until `key` exists: the native half writes it to say it has looked.
async fn wait_for_key(client: &Client, key: &str) -> Result<(), JsError> {
    loop {
        let seen = client.get(key, None).await.map_err(|e| failed("get", e))?;
        if !seen.kvs().is_empty() {
            return Ok(());
        }
        sleep(50).await;
    }
}

/// Opens two watches (reporting `open`), and once the native half has counted them on the
/// server (`<ack>/1`), cancels one and drops the other (reporting `closed`): the fetches must
/// be aborted, so that etcd drops its watchers and the browser its connections. Returns the
/// cancel answer.
#[wasm_bindgen]
pub async fn watch_cancel(endpoint: String, ack: String, progress: js_sys::Function) -> Outcome {
    let client = connect(&endpoint, None).await?;
    let mut first = client
        .watch("b/cancel/first", None)
        .await
        .map_err(|e| failed("watch", e))?;
    let created = first
        .message()
        .await
        .map_err(|e| failed("created", e))?
        .ok_or_else(|| JsError::new("the first watch ended"))?;
    let mut second = client
        .watch("b/cancel/second", None)
        .await
        .map_err(|e| failed("watch", e))?;
    second
        .message()
        .await
        .map_err(|e| failed("created", e))?
        .ok_or_else(|| JsError::new("the second watch ended"))?;
    report(&progress, "open");
    wait_for_key(&client, &format!("{ack}/1")).await?;
    first
        .cancel(created.watch_id())
        .await
        .map_err(|e| failed("cancel", e))?;
    let canceled = first
        .message()
        .await
        .map_err(|e| failed("cancel answer", e))?
        .map(|resp| resp.canceled())
        .unwrap_or(false);
    drop(second);
    report(&progress, "closed");
    wait_for_key(&client, &format!("{ack}/2")).await?;
    Ok(json!({ "canceled": canceled }).to_string())
}

/// How many timers the host has set so far, and how many of them with a delay a JavaScript
/// timer cannot keep (negative, or past 2^31 - 1 ms): every host's wrapper (`suite.html`,
/// `run.mjs`, `worker.mjs`) counts each `setTimeout` in `globalThis.__timers`.
fn timers() -> Result<(f64, f64), JsError> {
    let counts = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("__timers"))
        .map_err(|_| JsError::new("the host counts no timers"))?;
    let field = |name: &str| {
        js_sys::Reflect::get(&counts, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_f64())
            .ok_or_else(|| JsError::new(&format!("no timer count {name}")))
    };
    Ok((field("set")?, field("overflowed")?))
}

/// Long waits on a JavaScript host's timers (issue 29). A first client holds the lock
/// `<name>` (reporting `held:<key>`); a second one then waits for it twice:
/// - without a deadline, for `wait_ms`: it must still be waiting at the end, having set only
///   the timers of its liveness check (every few seconds), not one per millisecond;
/// - with a deadline of 30 days (more than a 32-bit `setTimeout` holds): it must wait, not
///   time out at once, until the first client lets go, and then get the lock.
///
/// Returns the timer counts, what each wait ended with, and the order of events.
#[wasm_bindgen]
pub async fn lock_timers(
    endpoint: String,
    name: String,
    wait_ms: u32,
    progress: js_sys::Function,
) -> Outcome {
    use futures_util::future::{join, select, Either};
    use std::pin::pin;

    let holder = connect(&endpoint, None).await?;
    let waiter = connect(&endpoint, None).await?;
    let lease = |client: &Client| {
        let client = client.clone();
        async move {
            client
                .lease_grant(60, None)
                .await
                .map(|l| l.id())
                .map_err(|e| failed("grant", e))
        }
    };
    let (held_lease, waiting_lease) = (lease(&holder).await?, lease(&waiter).await?);
    let with_lease = |id| Some(etcdgw::LockOptions::new().with_lease(id));
    let held = holder
        .lock(name.as_str(), with_lease(held_lease))
        .await
        .map_err(|e| failed("lock", e))?;
    report(&progress, &format!("held:{}", text(held.key())));

    // 1. No deadline: waits, setting no timer of its own.
    let (set_before, overflowed_before) = timers()?;
    let unbounded = waiter.lock(name.as_str(), with_lease(waiting_lease));
    let unbounded = match select(pin!(unbounded), pin!(sleep(wait_ms))).await {
        Either::Left((Ok(_), _)) => "acquired".to_string(),
        Either::Left((Err(e), _)) => format!("failed: {}", kind(&e)),
        Either::Right(_) => "waiting".to_string(),
    };
    let (set_after, overflowed_after) = timers()?;
    report(&progress, "unbounded done");

    // 2. A 30-day deadline: waits until the holder lets go.
    let month = waiter.with_timeout(Duration::from_secs(30 * 24 * 3600));
    let order = std::cell::RefCell::new(Vec::new());
    let bounded = async {
        let got = month.lock(name.as_str(), with_lease(waiting_lease)).await;
        order.borrow_mut().push(match &got {
            Ok(_) => "acquired".to_string(),
            Err(e) => format!("failed: {}", kind(e)),
        });
        got.map(|resp| text(resp.key()))
    };
    let release = async {
        sleep(wait_ms).await;
        order.borrow_mut().push("released".to_string());
        holder.unlock(held.key().to_vec()).await
    };
    let (bounded, released) = join(bounded, release).await;
    released.map_err(|e| failed("unlock", e))?;
    let bounded_key = bounded.map_err(|e| failed("lock with a 30-day deadline", e))?;
    waiter
        .unlock(bounded_key.clone().into_bytes())
        .await
        .map_err(|e| failed("unlock the second lock", e))?;
    for id in [held_lease, waiting_lease] {
        holder
            .lease_revoke(id)
            .await
            .map_err(|e| failed("revoke", e))?;
    }
    report(&progress, "done");
    Ok(json!({
        "unbounded": unbounded,
        "timers_while_waiting": set_after - set_before,
        "overflowed_timers": overflowed_after - overflowed_before,
        "order": order.into_inner(),
        "bounded_key_under": bounded_key.starts_with(&format!("{name}/")),
    })
    .to_string())
}

/// A lock waited on with a handle's deadline of `deadline_ms`, while another client holds it
/// (reporting `held:<key>`): the waiter connects to `endpoint`, a proxy that keeps what it was
/// sent, so that the native half can read the lock request's headers as they were on the wire
/// (a server deadline, `Grpc-Timeout`, everywhere but in a browser). The holder connects to
/// `direct`. Returns how the wait ended.
#[wasm_bindgen]
pub async fn server_deadline(
    endpoint: String,
    direct: String,
    name: String,
    deadline_ms: u32,
    progress: js_sys::Function,
) -> Outcome {
    let holder = connect(&direct, None).await?;
    let waiter = connect(&endpoint, None).await?;
    let lease = holder
        .lease_grant(60, None)
        .await
        .map_err(|e| failed("grant", e))?
        .id();
    let with_lease = |id| Some(etcdgw::LockOptions::new().with_lease(id));
    let held = holder
        .lock(name.as_str(), with_lease(lease))
        .await
        .map_err(|e| failed("lock", e))?;
    report(&progress, &format!("held:{}", text(held.key())));
    let waiting_lease = holder
        .lease_grant(60, None)
        .await
        .map_err(|e| failed("grant", e))?
        .id();
    let bounded = waiter.with_timeout(Duration::from_millis(u64::from(deadline_ms)));
    let waited = error_kind(
        "a lock held by another client, waited on with a deadline",
        bounded.lock(name.as_str(), with_lease(waiting_lease)).await,
    )?;
    holder
        .unlock(held.key().to_vec())
        .await
        .map_err(|e| failed("unlock", e))?;
    for id in [lease, waiting_lease] {
        holder
            .lease_revoke(id)
            .await
            .map_err(|e| failed("revoke", e))?;
    }
    report(&progress, "done");
    Ok(json!({ "waited": waited }).to_string())
}
