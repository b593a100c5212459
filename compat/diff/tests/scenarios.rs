// The scenarios, written once against etcd-client's API and included twice by `diff.rs`: in
// `mod real` (`ec` is etcd-client, over gRPC) and in `mod compat` (`ec` is etcdgw-compat, over
// the JSON gateway). Each returns what the caller got, rendered: the variant, the gRPC code and
// the message of an error, or a summary of an answer (nothing that differs between two runs,
// such as ids or revisions).

#[allow(unused_imports)]
use super::Env;
use std::time::Duration;

/// An error as `Variant(code, "message")`. The match is exhaustive: etcdgw-compat's `Error` must
/// have exactly etcd-client's variants for this to compile in both modules.
pub fn render(e: &ec::Error) -> String {
    match e {
        ec::Error::GRpcStatus(s) => format!("GRpcStatus({:?}, {:?})", s.code(), s.message()),
        ec::Error::InvalidArgs(s) => format!("InvalidArgs({s:?})"),
        ec::Error::InvalidUri(u) => format!("InvalidUri({:?})", u.to_string()),
        ec::Error::IoError(e) => format!("IoError({:?})", e.to_string()),
        ec::Error::TransportError(e) => format!("TransportError({:?})", e.to_string()),
        ec::Error::WatchError(s) => format!("WatchError({s:?})"),
        ec::Error::Utf8Error(_) => "Utf8Error".to_string(),
        ec::Error::LeaseKeepAliveError(s) => format!("LeaseKeepAliveError({s:?})"),
        ec::Error::ElectError(s) => format!("ElectError({s:?})"),
        ec::Error::InvalidMetadataValue(_) => "InvalidMetadataValue".to_string(),
        ec::Error::EndpointError(s) => format!("EndpointError({s:?})"),
        ec::Error::EndpointsNotManaged => "EndpointsNotManaged".to_string(),
        ec::Error::Internal(s) => format!("Internal({s:?})"),
    }
}

/// `Ok(<summary>)` or the rendered error.
fn out<T>(result: Result<T, ec::Error>, ok: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(value) => format!("Ok({})", ok(value)),
        Err(e) => render(&e),
    }
}

fn done<T>(_: T) -> String {
    String::new()
}

pub async fn connect(endpoint: &str, options: Option<ec::ConnectOptions>) -> ec::Client {
    ec::Client::connect([endpoint], options)
        .await
        .expect("connect")
}

pub async fn key_not_found(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    let ignore_value = ec::PutOptions::new().with_ignore_value();
    out(c.put(env.key("missing"), "", Some(ignore_value)).await, done)
}

pub async fn empty_key(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    out(c.put("", "v", None).await, done)
}

pub async fn compacted(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    let at = ec::GetOptions::new().with_revision(env.old_revision);
    out(c.get("diff/any", Some(at)).await, done)
}

pub async fn future_revision(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    let at = ec::GetOptions::new().with_revision(env.future_revision);
    out(c.get("diff/any", Some(at)).await, done)
}

fn watch_answer(env: &Env, r: &ec::WatchResponse) -> String {
    format!(
        "created={} canceled={} compact_revision={} cancel_reason={:?} events={} header={}",
        r.created(),
        r.canceled(),
        if r.compact_revision() == env.compact_revision { "the compaction's" } else { "other" },
        r.cancel_reason(),
        r.events().len(),
        r.header().is_some(),
    )
}

/// A watch from a compacted revision: its answers until one cancels it.
pub async fn watch_compacted(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    let from = ec::WatchOptions::new().with_start_revision(env.old_revision);
    let mut stream = match c.watch("diff/any", Some(from)).await {
        Ok(stream) => stream,
        Err(e) => return render(&e),
    };
    let mut answers = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(r)) => {
                answers.push(format!("Ok({})", watch_answer(env, &r)));
                if r.canceled() {
                    break;
                }
            }
            Ok(None) => {
                answers.push("end".to_string());
                break;
            }
            Err(e) => {
                answers.push(render(&e));
                break;
            }
        }
    }
    answers.join(", then ")
}

/// A lease id nobody granted.
const NO_LEASE: i64 = 0x7e57_0000_0001;

pub async fn lease_revoke_not_found(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    out(c.lease_revoke(NO_LEASE).await, done)
}

pub async fn lease_keep_alive_not_found(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    out(c.lease_keep_alive(NO_LEASE).await, done)
}

pub async fn put_with_lease_not_found(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    let with_lease = ec::PutOptions::new().with_lease(NO_LEASE);
    out(c.put(env.key("leased"), "v", Some(with_lease)).await, done)
}

/// A keeper's refresh of a lease that was revoked since the keep-alive started.
pub async fn keep_alive_of_a_revoked_lease(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    let id = c.lease_grant(60, None).await.expect("grant").id();
    let (mut keeper, mut stream) = c.lease_keep_alive(id).await.expect("keep-alive");
    c.lease_revoke(id).await.expect("revoke");
    if let Err(e) = keeper.keep_alive().await {
        return render(&e);
    }
    out(stream.message().await, |r| match r {
        Some(r) => format!(
            "ttl={} same id={} header={}",
            r.ttl(),
            r.id() == id,
            r.header().is_some()
        ),
        None => "end".to_string(),
    })
}

pub async fn permission_denied(env: &Env) -> String {
    let user = ec::ConnectOptions::new().with_user(super::USER, super::PASSWORD);
    let mut c = connect(&env.endpoint, Some(user)).await;
    out(c.put("diff/forbidden", "v", None).await, done)
}

pub async fn wrong_password(env: &Env) -> String {
    let user = ec::ConnectOptions::new().with_user(super::USER, "not the password");
    out(ec::Client::connect([&env.endpoint], Some(user)).await, done)
}

/// A client authenticated as the test user (the token is fetched in `connect`).
pub async fn authenticated(env: &Env) -> ec::Client {
    let user = ec::ConnectOptions::new().with_user(super::USER, super::PASSWORD);
    connect(&env.endpoint, Some(user)).await
}

/// A read with whatever token the client holds.
pub async fn read(c: &mut ec::Client) -> String {
    out(c.get("diff/readable", None).await, done)
}

pub async fn too_many_txn_ops(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    let ops: Vec<ec::TxnOp> = (0..129)
        .map(|i| ec::TxnOp::put(env.key(&format!("ops/{i}")), "v", None))
        .collect();
    out(c.txn(ec::Txn::new().and_then(ops)).await, done)
}

pub async fn duplicate_key(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    let ops = [
        ec::TxnOp::put(env.key("dup"), "1", None),
        ec::TxnOp::put(env.key("dup"), "2", None),
    ];
    out(c.txn(ec::Txn::new().and_then(ops)).await, done)
}

/// A put of `size` bytes of value.
pub async fn put_of(env: &Env, size: usize) -> String {
    let mut c = connect(&env.endpoint, None).await;
    out(c.put("diff/large", vec![b'x'; size], None).await, done)
}

pub async fn require_leader_put(env: &Env) -> String {
    let options = ec::ConnectOptions::new().with_require_leader(true);
    let mut c = connect(&env.endpoint, Some(options)).await;
    out(c.put(env.key("leaderless"), "v", None).await, done)
}

pub async fn put(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    out(c.put(env.key("k"), "v", None).await, done)
}

pub async fn get(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    out(c.get(env.key("k"), None).await, done)
}

pub async fn watch(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    out(c.watch(env.key("k"), None).await, done)
}

pub async fn get_with_timeout(env: &Env, timeout: Duration) -> String {
    let options = ec::ConnectOptions::new().with_timeout(timeout);
    let mut c = connect(&env.endpoint, Some(options)).await;
    out(c.get(env.key("k"), None).await, done)
}

pub async fn lock_with_timeout(env: &Env, timeout: Duration) -> String {
    let options = ec::ConnectOptions::new().with_timeout(timeout);
    let mut c = connect(&env.endpoint, Some(options)).await;
    out(c.lock(super::LOCK, None).await, done)
}

/// Waits for the lock (held by someone else) until the member goes away.
pub async fn lock(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    out(c.lock(super::LOCK, None).await, done)
}

pub async fn election_leader_of_nobody(env: &Env) -> String {
    let mut c = connect(&env.endpoint, None).await;
    out(c.leader(env.key("election")).await, done)
}

/// A watch that got its `created` answer, for a scenario to break.
pub async fn open_watch(env: &Env) -> ec::WatchStream {
    let mut c = connect(&env.endpoint, None).await;
    let mut stream = c.watch(env.key("watched"), None).await.expect("watch");
    let created = stream.message().await.expect("created").expect("created");
    assert!(created.created());
    stream
}

/// What a watch gives next.
pub async fn next_answer(env: &Env, stream: &mut ec::WatchStream) -> String {
    out(stream.message().await, |r| match r {
        Some(r) => watch_answer(env, &r),
        None => "end".to_string(),
    })
}

pub async fn connect_to(endpoints: &[&str]) -> String {
    out(ec::Client::connect(endpoints, None).await, done)
}
