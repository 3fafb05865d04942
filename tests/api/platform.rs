//! Health, readiness, OpenAPI, error shapes that hold for every endpoint.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Db, assert_error, spawn_app};

async fn health_and_readiness(db: Db) {
    let app = spawn_app(db).await;
    let (s, b) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, b) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ready")));
    app.svc.store.close().await;
    let (s, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        s,
        StatusCode::SERVICE_UNAVAILABLE,
        "a closed database is not ready"
    );
}

async fn openapi_covers_every_resource(db: Db) {
    let app = spawn_app(db).await;
    let (s, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/t/{tenant}/api/users",
        "/t/{tenant}/api/users/{id}",
        "/t/{tenant}/api/users/{id}/user_metadata",
        "/t/{tenant}/api/users/{id}/app_metadata",
        "/t/{tenant}/api/users/{id}/password",
        "/t/{tenant}/api/users/{id}/roles",
        "/t/{tenant}/api/users/by-external-id/{external_id}",
        "/t/{tenant}/api/users/import",
        "/t/{tenant}/api/organizations",
        "/t/{tenant}/api/organizations/{id}/members/{user_id}",
        "/t/{tenant}/api/organizations/by-external-id/{external_id}",
        "/t/{tenant}/api/roles/{id}",
        "/t/{tenant}/api/applications/{id}/rotate-secret",
        "/t/{tenant}/api/apis/{id}",
        "/t/{tenant}/api/api-keys",
        "/t/{tenant}/api/audit-log",
        "/api/tenants",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lacks {p}");
    }
    assert!(doc["components"]["schemas"]["User"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

async fn malformed_bodies_name_the_problem(db: Db) {
    let app = spawn_app(db).await;
    let key = app.operator_key.clone();
    let got = app
        .raw(
            Method::POST,
            "/t/default/api/users",
            &key,
            b"{not json".to_vec(),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_json", None);
    let got = app.post("/t/default/api/users", json!({"email": 42})).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("email"),
    );
    let got = app
        .post(
            "/t/default/api/users",
            json!({"email": "a@b.c", "emial": 1}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", None);
    assert!(got.1["message"].as_str().unwrap().contains("emial"));
    let got = app
        .post(
            "/t/default/api/users",
            json!({"email": "a@b.c", "user_metadata": {"x": [1, {"y": true}]}, "blocked": "yes"}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("blocked"),
    );
    let got = app.get("/t/default/api/nothing-here").await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
    let got = app.get("/t/default/api/users?limit=500").await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("limit"),
    );
    // Over the 1 MiB body limit. Last: the server may close this connection after its 413,
    // so nothing after it reuses the client's pooled connection.
    let big = format!(
        "{{\"email\":\"a@b.c\",\"name\":\"{}\"}}",
        "x".repeat(1_100_000)
    );
    let got = app
        .raw(Method::POST, "/t/default/api/users", &key, big.into_bytes())
        .await;
    assert_error(
        &got,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
    );
}

both_backends!(
    health_and_readiness,
    openapi_covers_every_resource,
    malformed_bodies_name_the_problem
);
