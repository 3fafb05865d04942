//! Hooks through the management API: upload (validated and compiled in the bounded worker),
//! versions, deploy and rollback, secrets, limits, the flow, test runs, traces, metrics, and
//! tenant isolation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, assert_error, hook, spawn_app};

/// Uploads `bytes` as a new version of hook `name`: status and body.
async fn upload(
    app: &TestApp,
    key: &str,
    tenant: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let (status, _, body) = upload_with_headers(app, key, tenant, name, bytes).await;
    (status, body)
}

/// Uploads `bytes` as a new version of hook `name`: status, headers and body.
pub(crate) async fn upload_with_headers(
    app: &TestApp,
    key: &str,
    tenant: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let res = app
        .client
        .post(format!("{}/t/{tenant}/api/hooks/{name}/versions", app.base))
        .bearer_auth(key)
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

fn sample_event(mode: &str) -> Value {
    let mut e: Value = serde_json::from_str(include_str!("../../docs/sample-event.json")).unwrap();
    e["user"]["user_metadata"]["mode"] = json!(mode);
    e
}

async fn hook_lifecycle_and_flow(db: Db) {
    let app = spawn_app(db).await;
    let key = app.operator_key.clone();
    let (s, up) = upload(&app, &key, "default", "roles", hook("roles_claims")).await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    let id = up["hook_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("hook_"));
    assert_eq!(up["version"]["version"], 1);
    assert_eq!(
        up["version"]["imports"],
        json!(["sigil:hooks/api@0.2.0", "sigil:hooks/types@0.2.0"]),
        "the SDK builds against contract 0.2.0 by default"
    );
    let (s, up2) = upload(&app, &key, "default", "roles", hook("roles_claims")).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        up2["version"]["version"], 2,
        "versions are immutable; a re-upload is a new one"
    );

    // Binding needs a deployed (or pinned) version.
    let got = app
        .put(
            "/t/default/api/flows/post-login",
            json!({"bindings": [{"hook": "roles"}]}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("bindings[0].version"),
    );
    let (s, h) = app
        .post(
            &format!("/t/default/api/hooks/{id}/deploy"),
            json!({"version": 2}),
        )
        .await;
    assert_eq!(
        (s, h["deployed_version"].clone()),
        (StatusCode::OK, json!(2))
    );
    let h = app
        .post("/t/default/api/hooks/roles/rollback", json!({}))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(h["deployed_version"], 1);
    let got = app
        .post("/t/default/api/hooks/roles/rollback", json!({}))
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("version"),
    );
    let got = app
        .post("/t/default/api/hooks/roles/deploy", json!({"version": 9}))
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("version"),
    );

    let (_, hostile) = upload(&app, &key, "default", "hostile", hook("hostile")).await;
    assert_eq!(hostile["version"]["version"], 1);
    let (s, flow) = app
        .put(
            "/t/default/api/flows/post-login",
            json!({"bindings": [{"hook": "roles"}, {"hook": "hostile", "version": 1, "failure_policy": "fail_open"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{flow}");
    assert_eq!(flow["bindings"][1]["failure_policy"], "fail_open");
    let too_many: Vec<Value> = (0..21).map(|_| json!({"hook": "roles"})).collect();
    let got = app
        .put(
            "/t/default/api/flows/post-login",
            json!({"bindings": too_many}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("bindings"),
    );
    let got = app
        .put(
            "/t/default/api/flows/post-login",
            json!({"bindings": [{"hook": "ghost"}]}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("bindings[0].hook"),
    );
    let still = app
        .get("/t/default/api/flows/post-login")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        still["bindings"].as_array().unwrap().len(),
        2,
        "a refused flow changed nothing"
    );
    // The flow names each hook by id and, for people, by name; what it shows can be put back
    // as it is.
    assert_eq!(still["bindings"][0]["hook_name"], "roles", "{still}");
    assert_eq!(still["bindings"][1]["hook_name"], "hostile", "{still}");
    let (s, again) = app
        .put("/t/default/api/flows/post-login", still.clone())
        .await;
    assert_eq!((s, &again), (StatusCode::OK, &still));

    // A bound hook cannot be deleted.
    let got = app.delete("/t/default/api/hooks/hostile").await;
    assert_error(&got, StatusCode::CONFLICT, "in_use", Some("bindings"));

    // Secrets are write-only and reach the hook.
    let (s, _) = app
        .put(
            "/t/default/api/hooks/hostile/secrets/CRM_KEY",
            json!({"value": "k-123456"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let h = app
        .get("/t/default/api/hooks/hostile")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(h["secrets"], json!(["CRM_KEY"]));
    assert!(!h.to_string().contains("k-123456"));
    let (sealed,): (String,) = sqlx::query_as("SELECT sealed FROM hook_secrets")
        .fetch_one(app.svc.db.store.pool())
        .await
        .unwrap();
    assert!(!sealed.contains("k-123456"), "encrypted at rest");

    // Test runs use the production runtime and record a trace.
    let (s, out) = app
        .post(
            "/t/default/api/hooks/hostile/versions/1/test",
            json!({"event": sample_event("secret")}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["id_token_claims"]["crm_key_len"], 8);
    let out = app
        .post(
            "/t/default/api/hooks/hostile/versions/1/test",
            json!({"event": sample_event("restricted")}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(out["status"]["status"], "failed");
    assert_eq!(out["status"]["code"], "restricted_claim");
    assert_eq!(out["trace"][0]["error_code"], "restricted_claim");
    let out = app
        .post(
            &format!("/t/default/api/hooks/{id}/versions/1/test"),
            json!({"event": sample_event("ok")}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        out["access_token_claims"]["https://sigil.example/roles"],
        json!(["admin", "billing"])
    );
    assert!(out["trace"][0]["fuel_used"].as_u64().unwrap() > 0);
    let traces = app
        .get("/t/default/api/hook-traces")
        .await
        .expect_status(StatusCode::OK);
    let traces = traces["data"].as_array().unwrap();
    assert_eq!(traces.len(), 3);
    assert_eq!(traces[0]["context"], format!("test:roles"));
    assert_eq!(traces[1]["status"], "failed");
    assert_eq!(traces[1]["hooks"][0]["error_code"], "restricted_claim");

    // Limits: a tenant can lower, never raise.
    let l = app
        .put(
            "/t/default/api/hook-limits",
            json!({"deadline_ms": 20, "fuel": 999_999_999_999u64}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(l["effective"]["deadline_ms"], 20);
    assert_eq!(l["effective"]["fuel"], 10_000_000);
    let got = app
        .put("/t/default/api/hook-limits", json!({"fuel": 0}))
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("limits.fuel"),
    );
    let h = app
        .put("/t/default/api/hooks/hostile/limits", json!({"fuel": 1000}))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(h["limits"]["fuel"], 1000);
    let out = app
        .post(
            "/t/default/api/hooks/hostile/versions/1/test",
            json!({"event": sample_event("ok")}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        out["status"]["code"], "out_of_fuel",
        "the hook's own lower limit applies"
    );

    // Metrics count what ran.
    let text = app.metrics().await;
    assert!(text.contains("sigil_hook_duration_seconds_count{outcome=\"ok\"}"));
    assert!(text.contains("sigil_flow_runs_total{outcome=\"failed\"}"));

    // Unbind, then delete.
    app.put("/t/default/api/flows/post-login", json!({"bindings": []}))
        .await
        .expect_status(StatusCode::OK);
    let (s, _) = app.delete("/t/default/api/hooks/hostile").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let list = app
        .get("/t/default/api/hooks")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let log = app
        .get("/t/default/api/audit-log")
        .await
        .expect_status(StatusCode::OK);
    let actions: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in ["upload", "deploy", "set_flow", "set_secret", "delete"] {
        assert!(actions.contains(&a), "audit lacks {a}");
    }
    assert!(!log.to_string().contains("k-123456"));
}

async fn bad_uploads_are_refused(db: Db) {
    let app = spawn_app(db).await;
    let key = app.operator_key.clone();
    let got = upload(
        &app,
        &key,
        "default",
        "junk",
        b"definitely not wasm".to_vec(),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", Some("wasm"));
    let sockets =
        wat::parse_str(r#"(component (import "wasi:sockets/tcp@0.2.0" (instance)))"#).unwrap();
    let got = upload(&app, &key, "default", "net", sockets).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", Some("wasm"));
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .contains("wasi:sockets/tcp@0.2.0")
    );
    let wrong_world = wat::parse_str(
        r#"(component (core module $m (func (export "run"))) (core instance $i (instantiate $m))
             (func (export "run") (canon lift (core func $i "run"))))"#,
    )
    .unwrap();
    let got = upload(&app, &key, "default", "other", wrong_world).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", Some("wasm"));
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .contains("sigil:hooks/post-login@0.1.0")
    );
    // Over the limit: the server answers 413 as soon as it sees the length, and may close the
    // connection while the client is still sending; either way nothing is stored.
    // A client of its own: the server may drop this connection, and the shared client must
    // not reuse it for the next request.
    let big = reqwest::Client::new()
        .post(format!("{}/t/default/api/hooks/big/versions", app.base))
        .bearer_auth(&key)
        .body(vec![0u8; 5 << 20])
        .send()
        .await;
    if let Ok(res) = big {
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // The API's JSON error, as for any other body (the dashboard shows its message).
        let body: Value = res.json().await.expect("a JSON error");
        assert_eq!(body["code"], "payload_too_large", "{body}");
    }
    let list = app
        .get("/t/default/api/hooks")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        0,
        "nothing is stored for a refused upload"
    );
}

async fn hooks_are_tenant_isolated(db: Db) {
    let app = spawn_app(db).await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let (s, up) = upload(&app, &a, "alpha", "roles", hook("roles_claims")).await;
    assert_eq!(s, StatusCode::CREATED);
    let id = up["hook_id"].as_str().unwrap();
    for (m, path, body) in [
        (Method::GET, format!("hooks/{id}"), None),
        (Method::GET, "hooks/roles".to_string(), None),
        (
            Method::POST,
            format!("hooks/{id}/deploy"),
            Some(json!({"version": 1})),
        ),
        (
            Method::PUT,
            format!("hooks/{id}/secrets/X"),
            Some(json!({"value": "v"})),
        ),
        (
            Method::POST,
            format!("hooks/{id}/versions/1/test"),
            Some(json!({"event": sample_event("ok")})),
        ),
        (Method::DELETE, format!("hooks/{id}"), None),
    ] {
        let got = app
            .call(
                m.clone(),
                &format!("/t/beta/api/{path}"),
                Some(&b),
                body.clone(),
            )
            .await;
        assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
        let got = app
            .call(m, &format!("/t/alpha/api/{path}"), Some(&b), body)
            .await;
        assert_error(&got, StatusCode::FORBIDDEN, "forbidden", None);
    }
    let got = app
        .call(
            Method::PUT,
            "/t/beta/api/flows/post-login",
            Some(&b),
            Some(json!({"bindings": [{"hook": id, "version": 1}]})),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("bindings[0].hook"),
    );
    let list = app
        .call(Method::GET, "/t/beta/api/hooks", Some(&b), None)
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let traces = app
        .call(Method::GET, "/t/beta/api/hook-traces", Some(&b), None)
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(traces["data"].as_array().unwrap().len(), 0);
}

/// Traces are stored a batch per statement; a tenant's oldest beyond the bound go with the
/// batch that brings many of its traces, and another tenant's are never touched.
async fn a_batch_of_traces_is_stored_and_only_its_tenants_oldest_beyond_the_bound_pruned(db: Db) {
    use sigil::store::hook_traces::{TraceRow, insert_traces};
    let app = spawn_app(db).await;
    app.post("/api/tenants", json!({"name": "other"}))
        .await
        .expect_status(StatusCode::CREATED);
    let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM tenants ORDER BY name")
        .fetch_all(app.svc.db.store.pool())
        .await
        .unwrap();
    let (default, other) = (ids[0].0.clone(), ids[1].0.clone());
    let trace = |tenant: &str, i: usize| TraceRow {
        id: format!("trc_{i:05}"),
        tenant_id: tenant.to_string(),
        at: i as i64,
        context: format!("login:at_{i}"),
        status: "success".into(),
        trace: json!({"i": i}).to_string(),
        user_id: None,
        client_id: None,
        hooks: String::new(),
        runs: 1,
    };
    // The other tenant: three traces, under any bound.
    let mut batch: Vec<TraceRow> = (0..3).map(|i| trace(&other, i)).collect();
    // The default tenant: 200 traces (more than one statement's worth) with a bound of 50,
    // enough in one batch that it is always pruned.
    batch.extend((1000..1200).map(|i| trace(&default, i)));
    let mut tx = app.svc.db.store.begin_write().await.unwrap();
    insert_traces(&mut tx, &batch, 50).await.unwrap();
    tx.commit().await.unwrap();

    let kept: Vec<(String, String)> =
        sqlx::query_as("SELECT tenant_id, id FROM hook_traces ORDER BY id")
            .fetch_all(app.svc.db.store.pool())
            .await
            .unwrap();
    let of = |t: &str| -> Vec<String> {
        kept.iter()
            .filter(|(tenant, _)| tenant == t)
            .map(|(_, id)| id.clone())
            .collect()
    };
    assert_eq!(of(&other), ["trc_00000", "trc_00001", "trc_00002"]);
    let newest: Vec<String> = (1150..1200).map(|i| format!("trc_{i:05}")).collect();
    assert_eq!(of(&default), newest, "the newest 50 of the default tenant");
}

both_backends!(
    a_batch_of_traces_is_stored_and_only_its_tenants_oldest_beyond_the_bound_pruned,
    hook_lifecycle_and_flow,
    bad_uploads_are_refused,
    hooks_are_tenant_isolated
);
