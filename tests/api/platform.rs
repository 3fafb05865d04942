//! Health, readiness, OpenAPI, error shapes that hold for every endpoint.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, assert_error, spawn_app};

async fn health_and_readiness(db: Db) {
    let app = spawn_app(db).await;
    let (s, b) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, b) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ready")));
    app.svc.db.store.close().await;
    let (s, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        s,
        StatusCode::SERVICE_UNAVAILABLE,
        "a closed database is not ready"
    );
}

/// The OpenAPI document of the running server.
async fn openapi(app: &TestApp) -> Value {
    let doc = app
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .expect_status(StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    doc
}

async fn the_openapi_document_lists_every_resource(db: Db) {
    let app = spawn_app(db).await;
    let doc = openapi(&app).await;
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
        "/t/{tenant}/api/client-grants",
        "/t/{tenant}/api/client-grants/{id}",
        "/t/{tenant}/api/users/{id}/lock",
        "/t/{tenant}/api/api-keys",
        "/t/{tenant}/api/audit-log",
        "/api/tenants",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lacks {p}");
    }
    assert!(doc["components"]["schemas"]["User"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

/// Every operation in `/openapi.json`, fetched from the server: the documentation is complete
/// (tag, a success response, the error body, every path parameter described, the API key
/// required), and the server serves it (without a key it answers 401, not 404 or 405).
async fn every_documented_operation_is_described_served_and_requires_a_key(db: Db) {
    let app = spawn_app(db).await;
    let doc = openapi(&app).await;
    let mut problems = Vec::new();
    let mut count = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(m) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            count += 1;
            let name = format!("{m} {template}");
            let params: Vec<&str> = template
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(p, _)| p))
                .collect();
            let described: Vec<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            for p in &params {
                if !described.contains(p) {
                    problems.push(format!("{name}: path parameter {{{p}}} is not described"));
                }
            }
            if op["tags"].as_array().is_none_or(Vec::is_empty) {
                problems.push(format!("{name}: no tag"));
            }
            let responses = op["responses"].as_object();
            if !responses.is_some_and(|r| r.keys().any(|k| k.starts_with('2'))) {
                problems.push(format!("{name}: no success response"));
            }
            if op["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"]
                != "#/components/schemas/ErrorBody"
            {
                problems.push(format!("{name}: its 4XX response is not an ErrorBody"));
            }
            let requires_key = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("api_key").is_some()));
            if !requires_key {
                problems.push(format!("{name}: does not require the api_key"));
            }
            // Served, and refused without a key (before any lookup or body parsing).
            let path = params.iter().fold(template.clone(), |p, name| {
                let value = if *name == "version" { "1" } else { "x" };
                p.replace(&format!("{{{name}}}"), value)
            });
            let body = [Method::POST, Method::PUT, Method::PATCH]
                .contains(&m)
                .then(|| json!({}));
            let got = app.call(m.clone(), &path, None, body).await;
            if got.0 != StatusCode::UNAUTHORIZED || got.1["code"] != "unauthorized" {
                problems.push(format!(
                    "{name}: without a key {m} {path} answered {} {}",
                    got.0, got.1
                ));
            }
        }
    }
    assert!(count > 50, "the document lists {count} operations");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
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
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("emial"),
    );
    assert!(
        got.1["message"].as_str().unwrap().contains("email"),
        "{:?}",
        got.1
    );
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

/// Every error is JSON in plain words and names the field where one is to blame: a missing
/// field, a wrong type, a body that is not an object, an empty body, a body not sent as JSON,
/// a method the endpoint does not take, a malformed query parameter.
async fn errors_are_json_in_plain_words_naming_the_field(db: Db) {
    let app = spawn_app(db).await;
    let key = app.operator_key.clone();
    let plain = |got: &(StatusCode, Value)| {
        let m = got.1["message"].as_str().unwrap_or_default().to_string();
        for jargon in [
            "struct",
            "at line",
            "invalid type",
            "u32",
            "sequence",
            "CreateUser",
        ] {
            assert!(!m.contains(jargon), "`{jargon}` in {m}");
        }
        m
    };

    let got = app
        .post("/t/default/api/users", json!({"name": "Ada"}))
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("email"),
    );
    assert_eq!(plain(&got), "is required");

    let got = app.post("/t/default/api/users", json!({"email": 42})).await;
    assert_eq!(plain(&got), "must be a string (got the number 42)");

    let got = app
        .post(
            "/t/default/api/apis",
            json!({"identifier": "https://a.example", "name": "A", "scopes": [{"description": "d"}]}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("scopes[0].value"),
    );

    for (body, says) in [
        (&b"[]"[..], "the body must be a JSON object, not an array"),
        (b"\"ada\"", "the body must be a JSON object, not a string"),
        (b"", "the body is empty: send a JSON object"),
    ] {
        let got = app
            .raw(Method::POST, "/t/default/api/users", &key, body.to_vec())
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "invalid_json", None);
        assert_eq!(plain(&got), says);
    }

    // curl's `-d` sends a form type: refused with the way to send JSON, nothing created.
    let res = reqwest::Client::new()
        .post(format!("{}/t/default/api/users", app.base))
        .bearer_auth(&key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"email":"form@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "unsupported_media_type", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("application/json"),
        "{body}"
    );
    let found = app.get("/t/default/api/users?email=form@example.com").await;
    assert_eq!(
        found.1["data"].as_array().map(Vec::len),
        Some(0),
        "{:?}",
        found.1
    );

    let res = reqwest::Client::new()
        .delete(format!("{}/t/default/api/users", app.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET,HEAD,POST");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed", "{body}");

    let got = app.get("/t/default/api/users?limit=abc").await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("limit"),
    );
    assert_eq!(plain(&got), "must be a whole number");
}

both_backends!(
    errors_are_json_in_plain_words_naming_the_field,
    health_and_readiness,
    the_openapi_document_lists_every_resource,
    every_documented_operation_is_described_served_and_requires_a_key,
    malformed_bodies_name_the_problem
);
