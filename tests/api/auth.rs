//! API keys: authentication, tenant scoping, operator powers, revocation, hashing at rest.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Db, Reply, assert_error, spawn_app};

async fn keys_authenticate_and_revoke(db: Db) {
    let app = spawn_app(db).await;
    let got = app
        .call(Method::GET, "/t/default/api/users", None, None)
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized", None);
    let res = app
        .client
        .get(format!("{}/t/default/api/users", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let got = app
        .call(
            Method::GET,
            "/t/default/api/users",
            Some("sk_not_a_real_key"),
            None,
        )
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized", None);
    let got = app
        .call(
            Method::GET,
            "/t/default/api/users",
            Some(&format!("{}x", app.operator_key)),
            None,
        )
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized", None);

    let (s, created) = app
        .post("/t/default/api/api-keys", json!({"name": "ci"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk_"));
    let (s, _) = app
        .call(Method::GET, "/t/default/api/users", Some(&key), None)
        .await;
    assert_eq!(s, StatusCode::OK);

    // Listing never shows the key, only a prefix.
    let list = app
        .get("/t/default/api/api-keys")
        .await
        .expect_status(StatusCode::OK);
    let text = list.to_string();
    assert!(!text.contains(&key) && !text.contains(&app.operator_key));
    assert_eq!(list["data"].as_array().unwrap().len(), 2);

    let id = created["id"].as_str().unwrap();
    let (s, _) = app.delete(&format!("/t/default/api/api-keys/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let got = app
        .call(Method::GET, "/t/default/api/users", Some(&key), None)
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized", None);
    let got = app.delete(&format!("/t/default/api/api-keys/{id}")).await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);

    // Keys are stored as keyed hashes, never in clear.
    let rows: Vec<(String,)> = sqlx::query_as("SELECT secret_hash FROM api_keys")
        .fetch_all(app.svc.db.store.pool())
        .await
        .unwrap();
    assert!(rows.iter().all(|(h,)| !h.starts_with("sk_") && h != &key));
}

async fn tenant_scoping_and_operator_powers(db: Db) {
    let app = spawn_app(db).await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    // A tenant key works on its tenant...
    let (s, _) = app
        .call(Method::GET, "/t/acme/api/users", Some(&acme), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    // ...and is forbidden elsewhere, whether or not that tenant exists.
    for path in [
        "/t/globex/api/users",
        "/t/default/api/users",
        "/t/nosuch/api/users",
    ] {
        let got = app.call(Method::GET, path, Some(&acme), None).await;
        assert_error(&got, StatusCode::FORBIDDEN, "forbidden", None);
    }
    // Tenant keys cannot manage tenants or mint operator keys.
    let got = app
        .call(
            Method::POST,
            "/api/tenants",
            Some(&acme),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden", None);
    let got = app
        .call(Method::GET, "/api/tenants", Some(&globex), None)
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden", None);
    let got = app
        .call(
            Method::POST,
            "/t/acme/api/api-keys",
            Some(&acme),
            Some(json!({"name": "x", "operator": true})),
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden", None);
    // The operator key manages tenants and may act in any of them.
    let (s, list) = app.get("/api/tenants").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3);
    for n in ["default", "acme", "globex"] {
        assert!(names.contains(&n));
    }
    let (s, t) = app.get("/api/tenants/acme").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["issuer"], format!("{}/t/acme", app.base));
    let (s, _) = app.get("/t/acme/api/users").await;
    assert_eq!(s, StatusCode::OK);
    let got = app.get("/t/nosuch/api/users").await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
    let got = app.post("/api/tenants", json!({"name": "acme"})).await;
    assert_error(&got, StatusCode::CONFLICT, "conflict", Some("name"));
    let got = app.post("/api/tenants", json!({"name": "Bad Name"})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", Some("name"));
    // Deleting a tenant removes its keys with it; the default tenant stays.
    let (s, _) = app.delete("/api/tenants/globex").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let got = app
        .call(Method::GET, "/t/globex/api/users", Some(&globex), None)
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized", None);
    let got = app.delete("/api/tenants/default").await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden", None);
}

async fn audit_log_records_changes_without_secrets(db: Db) {
    let app = spawn_app(db).await;
    let user = app
        .post(
            "/t/default/api/users",
            json!({"email": "audit@example.com", "password": "hunter2hunter2"}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let id = user["id"].as_str().unwrap();
    app.patch(&format!("/t/default/api/users/{id}"), json!({"name": "A"}))
        .await
        .expect_status(StatusCode::OK);
    app.put(
        &format!("/t/default/api/users/{id}/password"),
        json!({"password": "another-secret-pw"}),
    )
    .await
    .expect_status(StatusCode::NO_CONTENT);
    let created = app
        .post("/t/default/api/applications", json!({"name": "web"}))
        .await
        .expect_status(StatusCode::CREATED);
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let key = app
        .post("/t/default/api/api-keys", json!({"name": "k"}))
        .await
        .expect_status(StatusCode::CREATED);
    let (s, log) = app.get("/t/default/api/audit-log").await;
    assert_eq!(s, StatusCode::OK);
    let entries = log["data"].as_array().unwrap();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["resource_type"].as_str().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("create", "user"),
        ("update", "user"),
        ("set_password", "user"),
        ("create", "application"),
        ("create", "api_key"),
    ] {
        assert!(
            actions.contains(&expected),
            "missing {expected:?} in {actions:?}"
        );
    }
    // Newest first, by the operator key's id.
    assert_eq!(entries[0]["resource_type"], "api_key");
    let keys = app
        .get("/t/default/api/api-keys")
        .await
        .expect_status(StatusCode::OK);
    let operator_id = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["operator"] == true)
        .unwrap()["id"]
        .clone();
    assert_eq!(entries[0]["actor"], operator_id);
    let text = log.to_string();
    for s in [
        secret.as_str(),
        key["key"].as_str().unwrap(),
        "hunter2hunter2",
        "another-secret-pw",
        app.operator_key.as_str(),
    ] {
        assert!(!text.contains(s), "audit log leaks a secret");
    }
    let only = app
        .get(&format!("/t/default/api/audit-log?resource_id={id}"))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(only["data"].as_array().unwrap().len(), 3);
}

both_backends!(
    keys_authenticate_and_revoke,
    tenant_scoping_and_operator_powers,
    audit_log_records_changes_without_secrets
);
