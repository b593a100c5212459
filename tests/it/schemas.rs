//! The committed JSON Schemas in `schemas/` match the wire types, and real answers of live
//! servers validate against them with unknown fields forbidden: a field the server sends that
//! our types would drop fails here.

use std::path::PathBuf;

use serde_json::{json, Value};

use etcdgw_test_support::Etcd;

fn committed(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn committed_schemas_match_the_wire_types() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let mut stale = Vec::new();
    for (name, schema) in etcdgw::schema::all() {
        let path = dir.join(format!("{name}.json"));
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk != etcdgw::schema::to_text(&schema) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/ is stale for {stale:?}: run `cargo run --example gen_schemas --features schema`"
    );
}

fn assert_valid(schema_name: &str, instance: &Value) {
    let schema = committed(schema_name);
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{schema_name} rejects {instance}:\n{}",
        errors.join("\n")
    );
}

async fn post(etcd: &Etcd, path: &str, body: Value) -> Value {
    let text = reqwest::Client::new()
        .post(format!("{}{path}", etcd.endpoint()))
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

#[tokio::test]
async fn live_kv_answers_validate_against_the_schemas() {
    let etcd = Etcd::start().await;
    let lease: Value = post(&etcd, "/v3/lease/grant", json!({"TTL": "60"})).await;
    let lease_id = lease["ID"].as_str().unwrap().to_string();

    // Requests are sent as the schemas describe them, so they are checked too.
    let cases: Vec<(&str, &str, &str, Value)> = vec![
        (
            "/v3/kv/put",
            "PutRequest",
            "PutResponse",
            json!({"key": "YQ==", "value": "MQ==", "lease": lease_id}),
        ),
        (
            "/v3/kv/put",
            "PutRequest",
            "PutResponse",
            json!({"key": "YQ==", "value": "Mg==", "prev_kv": true}),
        ),
        (
            "/v3/kv/put",
            "PutRequest",
            "PutResponse",
            json!({"key": "Yg==", "value": "", "prev_kv": true}),
        ),
        (
            "/v3/kv/range",
            "RangeRequest",
            "RangeResponse",
            json!({"key": "YQ==", "range_end": "Yw==", "limit": "1"}),
        ),
        (
            "/v3/kv/range",
            "RangeRequest",
            "RangeResponse",
            json!({"key": "YQ==", "range_end": "Yw==", "count_only": true}),
        ),
        (
            "/v3/kv/range",
            "RangeRequest",
            "RangeResponse",
            json!({"key": "eg=="}),
        ),
        (
            "/v3/kv/range",
            "RangeRequest",
            "RangeResponse",
            json!({"key": "AA==", "range_end": "AA==", "sort_order": "DESCEND", "sort_target": "MOD", "serializable": true, "keys_only": true}),
        ),
        (
            "/v3/kv/txn",
            "TxnRequest",
            "TxnResponse",
            json!({
                "compare": [{"key": "YQ==", "target": "VALUE", "value": "Mg=="}, {"key": "YQ==", "target": "LEASE", "result": "NOT_EQUAL", "lease": "1"}],
                "success": [
                    {"request_put": {"key": "Yw==", "value": "Mw==", "prev_kv": true}},
                    {"request_range": {"key": "YQ==", "range_end": "ZA=="}},
                    {"request_delete_range": {"key": "Yg==", "prev_kv": true}},
                    {"request_txn": {"success": [{"request_range": {"key": "YQ==", "count_only": true}}]}}
                ],
                "failure": [{"request_range": {"key": "YQ=="}}]
            }),
        ),
        (
            "/v3/kv/txn",
            "TxnRequest",
            "TxnResponse",
            json!({"compare": [{"key": "YQ==", "version": "99"}], "failure": [{"request_delete_range": {"key": "eg=="}}]}),
        ),
        (
            "/v3/kv/deleterange",
            "DeleteRangeRequest",
            "DeleteRangeResponse",
            json!({"key": "YQ==", "range_end": "Yw==", "prev_kv": true}),
        ),
        (
            "/v3/kv/deleterange",
            "DeleteRangeRequest",
            "DeleteRangeResponse",
            json!({"key": "eg=="}),
        ),
        (
            "/v3/kv/compaction",
            "CompactionRequest",
            "CompactionResponse",
            json!({"revision": "3", "physical": true}),
        ),
    ];
    for (path, request_schema, response_schema, body) in cases {
        assert_valid(request_schema, &body);
        let answer = post(&etcd, path, body).await;
        assert!(answer.get("error").is_none(), "{path}: {answer}");
        assert_valid(response_schema, &answer);
    }
}

#[tokio::test]
async fn live_watch_answers_validate_against_the_schema() {
    let etcd = Etcd::builder()
        .arg("--experimental-watch-progress-notify-interval=200ms")
        .start()
        .await;
    let put = |key: &str, value: &str| json!({"key": base64_of(key), "value": base64_of(value)});
    post(&etcd, "/v3/kv/put", put("w/a", "1")).await;
    let request = json!({"create_request": {"key": base64_of("w/"), "range_end": base64_of("w0"),
        "prev_kv": true, "progress_notify": true, "start_revision": "2", "filters": ["NODELETE"]}});
    assert_valid("WatchRequest", &request);
    let mut raw = reqwest::Client::new()
        .post(format!("{}/v3/watch", etcd.endpoint()))
        .body(request.to_string())
        .send()
        .await
        .unwrap();
    post(&etcd, "/v3/kv/put", put("w/a", "2")).await;
    post(
        &etcd,
        "/v3/kv/deleterange",
        json!({"key": base64_of("w/a")}),
    )
    .await;
    post(&etcd, "/v3/kv/put", put("w/b", "3")).await;

    let mut text = String::new();
    let mut seen = (false, false, false); // created, events with prev_kv, progress
    while !(seen.0 && seen.1 && seen.2) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), raw.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = text.find('\n') {
            let line: String = text.drain(..=i).collect();
            let message: Value = serde_json::from_str(line.trim()).unwrap();
            let result = &message["result"];
            assert_valid("WatchResponse", result);
            seen.0 |= result["created"] == true;
            seen.1 |= result["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e.get("prev_kv").is_some()));
            seen.2 |= result.get("events").is_none() && result.get("created").is_none();
        }
    }
    // What etcdgw sends besides (it sends no progress_request: docs/GATEWAY.md 4.5).
    let request = json!({"create_request": {"key": "eA==", "watch_id": "3", "fragment": true}});
    assert_valid("WatchRequest", &request);
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn live_lease_lock_and_election_answers_validate_against_the_schemas() {
    let etcd = Etcd::start().await;
    let grant_req = json!({"TTL": "60"});
    assert_valid("LeaseGrantRequest", &grant_req);
    let grant = post(&etcd, "/v3/lease/grant", grant_req).await;
    assert_valid("LeaseGrantResponse", &grant);
    let id = grant["ID"].as_str().unwrap().to_string();
    post(
        &etcd,
        "/v3/kv/put",
        json!({"key": base64_of("k"), "value": base64_of("v"), "lease": id}),
    )
    .await;

    let ttl_req = json!({"ID": id, "keys": true});
    assert_valid("LeaseTimeToLiveRequest", &ttl_req);
    assert_valid(
        "LeaseTimeToLiveResponse",
        &post(&etcd, "/v3/lease/timetolive", ttl_req).await,
    );
    assert_valid(
        "LeaseTimeToLiveResponse",
        &post(&etcd, "/v3/lease/timetolive", json!({"ID": "1"})).await,
    );
    assert_valid("LeaseLeasesRequest", &json!({}));
    assert_valid(
        "LeaseLeasesResponse",
        &post(&etcd, "/v3/lease/leases", json!({})).await,
    );
    let id_req = json!({"ID": id});
    assert_valid("LeaseIdRequest", &id_req);
    let keepalive = post(&etcd, "/v3/lease/keepalive", id_req.clone()).await;
    assert_valid("LeaseKeepAliveResponse", &keepalive["result"]);
    let dead = post(&etcd, "/v3/lease/keepalive", json!({"ID": "99"})).await;
    assert_valid("LeaseKeepAliveResponse", &dead["result"]);

    let lock_req = json!({"name": base64_of("lk"), "lease": id});
    assert_valid("LockRequest", &lock_req);
    let lock = post(&etcd, "/v3/lock/lock", lock_req).await;
    assert_valid("LockResponse", &lock);
    let unlock_req = json!({"key": lock["key"]});
    assert_valid("UnlockRequest", &unlock_req);
    assert_valid(
        "UnlockResponse",
        &post(&etcd, "/v3/lock/unlock", unlock_req).await,
    );

    let campaign_req = json!({"name": base64_of("el"), "lease": id, "value": base64_of("a")});
    assert_valid("CampaignRequest", &campaign_req);
    let campaign = post(&etcd, "/v3/election/campaign", campaign_req).await;
    assert_valid("CampaignResponse", &campaign);
    let proclaim_req = json!({"leader": campaign["leader"], "value": base64_of("b")});
    assert_valid("ProclaimRequest", &proclaim_req);
    assert_valid(
        "ElectionHeaderResponse",
        &post(&etcd, "/v3/election/proclaim", proclaim_req).await,
    );
    let leader_req = json!({"name": base64_of("el")});
    assert_valid("LeaderRequest", &leader_req);
    assert_valid(
        "LeaderResponse",
        &post(&etcd, "/v3/election/leader", leader_req).await,
    );
    let resign_req = json!({"leader": campaign["leader"]});
    assert_valid("ResignRequest", &resign_req);
    assert_valid(
        "ElectionHeaderResponse",
        &post(&etcd, "/v3/election/resign", resign_req).await,
    );

    assert_valid(
        "LeaseRevokeResponse",
        &post(&etcd, "/v3/lease/revoke", id_req).await,
    );
}

#[tokio::test]
async fn live_admin_answers_validate_against_the_schemas() {
    let etcd = Etcd::start().await;
    let empty = json!({});
    assert_valid("MaintenanceEmptyRequest", &empty);
    assert_valid(
        "StatusResponse",
        &post(&etcd, "/v3/maintenance/status", empty.clone()).await,
    );
    assert_valid(
        "HashResponse",
        &post(&etcd, "/v3/maintenance/hash", empty.clone()).await,
    );
    assert_valid(
        "MaybeHeaderResponse",
        &post(&etcd, "/v3/maintenance/defragment", empty.clone()).await,
    );
    let alarm = json!({"action": "GET"});
    assert_valid("AlarmRequest", &alarm);
    assert_valid(
        "AlarmResponse",
        &post(&etcd, "/v3/maintenance/alarm", alarm).await,
    );
    let list = json!({"linearizable": true});
    assert_valid("MemberListRequest", &list);
    assert_valid(
        "MembersResponse",
        &post(&etcd, "/v3/cluster/member/list", list).await,
    );

    let add = json!({"name": "u1", "password": "pw"});
    assert_valid("UserAddRequest", &add);
    assert_valid(
        "AuthHeaderResponse",
        &post(&etcd, "/v3/auth/user/add", add).await,
    );
    let role = json!({"name": "r1"});
    assert_valid("AuthNameRequest", &role);
    assert_valid(
        "AuthHeaderResponse",
        &post(&etcd, "/v3/auth/role/add", role).await,
    );
    let grant = json!({"name": "r1", "perm": {"permType": "READWRITE", "key": base64_of("a/"), "range_end": base64_of("a0")}});
    assert_valid("RoleGrantPermissionRequest", &grant);
    assert_valid(
        "AuthHeaderResponse",
        &post(&etcd, "/v3/auth/role/grant", grant).await,
    );
    let user_role = json!({"user": "u1", "role": "r1"});
    assert_valid("UserGrantRoleRequest", &user_role);
    assert_valid(
        "AuthHeaderResponse",
        &post(&etcd, "/v3/auth/user/grant", user_role).await,
    );
    assert_valid(
        "AuthRolesResponse",
        &post(&etcd, "/v3/auth/user/get", json!({"name": "u1"})).await,
    );
    assert_valid(
        "UserListResponse",
        &post(&etcd, "/v3/auth/user/list", empty.clone()).await,
    );
    let get_role = json!({"role": "r1"});
    assert_valid("AuthRoleRequest", &get_role);
    assert_valid(
        "RoleGetResponse",
        &post(&etcd, "/v3/auth/role/get", get_role).await,
    );
    assert_valid(
        "AuthRolesResponse",
        &post(&etcd, "/v3/auth/role/list", empty.clone()).await,
    );
    let revoke = json!({"role": "r1", "key": base64_of("a/"), "range_end": base64_of("a0")});
    assert_valid("RoleRevokePermissionRequest", &revoke);
    assert_valid(
        "AuthHeaderResponse",
        &post(&etcd, "/v3/auth/role/revoke", revoke).await,
    );

    // With auth on: authenticate and, on 3.5, status.
    post(
        &etcd,
        "/v3/auth/user/add",
        json!({"name": "root", "password": "rootpw"}),
    )
    .await;
    post(&etcd, "/v3/auth/role/add", json!({"name": "root"})).await;
    post(
        &etcd,
        "/v3/auth/user/grant",
        json!({"user": "root", "role": "root"}),
    )
    .await;
    assert_valid(
        "AuthHeaderResponse",
        &post(&etcd, "/v3/auth/enable", empty.clone()).await,
    );
    let login = json!({"name": "root", "password": "rootpw"});
    assert_valid("AuthenticateRequest", &login);
    let token = post(&etcd, "/v3/auth/authenticate", login).await;
    assert_valid("AuthenticateResponse", &token);
    if etcdgw_test_support::etcd::etcd_version() != (3, 4) {
        let text = reqwest::Client::new()
            .post(format!("{}/v3/auth/status", etcd.endpoint()))
            .header("Authorization", token["token"].as_str().unwrap())
            .body("{}")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_valid("AuthStatusResponse", &serde_json::from_str(&text).unwrap());
    }
}
