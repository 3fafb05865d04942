//! Tenants are fully isolated: for every resource, a key of tenant B can neither read nor change
//! tenant A's objects, whether it addresses them through its own tenant's path (not found) or
//! through A's path (forbidden).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Db, Reply, assert_error, spawn_app};

async fn every_resource_is_isolated(db: Db) {
    let app = spawn_app(db).await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let call = |key: &str, m: Method, p: String, body: Option<Value>| {
        let key = key.to_string();
        let app = &app;
        async move { app.call(m, &p, Some(&key), body).await }
    };

    // Tenant A's objects.
    let role = call(
        &a,
        Method::POST,
        "/t/alpha/api/roles".into(),
        Some(json!({"name": "admin"})),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let user = call(
        &a,
        Method::POST,
        "/t/alpha/api/users".into(),
        Some(json!({"email": "a@alpha.com", "external_id": "ax", "roles": ["admin"]})),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let org = call(
        &a,
        Method::POST,
        "/t/alpha/api/organizations".into(),
        Some(json!({"name": "o", "external_id": "ox"})),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let (s, _) = call(
        &a,
        Method::POST,
        format!(
            "/t/alpha/api/organizations/{}/members",
            org["id"].as_str().unwrap()
        ),
        Some(json!({"user_id": user["id"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let client = call(
        &a,
        Method::POST,
        "/t/alpha/api/applications".into(),
        Some(json!({"name": "app"})),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let api = call(
        &a,
        Method::POST,
        "/t/alpha/api/apis".into(),
        Some(json!({"identifier": "https://alpha.api", "name": "x"})),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let key = call(
        &a,
        Method::POST,
        "/t/alpha/api/api-keys".into(),
        Some(json!({"name": "k"})),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let (uid, oid, rid) = (
        user["id"].as_str().unwrap(),
        org["id"].as_str().unwrap(),
        role["id"].as_str().unwrap(),
    );
    let (cid, aid, kid) = (
        client["client_id"].as_str().unwrap(),
        api["id"].as_str().unwrap(),
        key["id"].as_str().unwrap(),
    );

    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("users/{uid}"), None),
        (
            Method::PATCH,
            format!("users/{uid}"),
            Some(json!({"name": "pwned"})),
        ),
        (Method::DELETE, format!("users/{uid}"), None),
        (
            Method::PATCH,
            format!("users/{uid}/user_metadata"),
            Some(json!({"x": 1})),
        ),
        (
            Method::PUT,
            format!("users/{uid}/app_metadata"),
            Some(json!({"x": 1})),
        ),
        (
            Method::PUT,
            format!("users/{uid}/password"),
            Some(json!({"password": "pwned-pwned"})),
        ),
        (Method::GET, format!("users/{uid}/roles"), None),
        (
            Method::PUT,
            format!("users/{uid}/roles"),
            Some(json!({"roles": []})),
        ),
        (Method::GET, format!("users/{uid}/organizations"), None),
        (Method::GET, "users/by-external-id/ax".to_string(), None),
        (Method::GET, format!("organizations/{oid}"), None),
        (
            Method::PATCH,
            format!("organizations/{oid}"),
            Some(json!({"name": "pwned"})),
        ),
        (Method::DELETE, format!("organizations/{oid}"), None),
        (
            Method::PATCH,
            format!("organizations/{oid}/metadata"),
            Some(json!({"x": 1})),
        ),
        (
            Method::GET,
            "organizations/by-external-id/ox".to_string(),
            None,
        ),
        (Method::GET, format!("organizations/{oid}/members"), None),
        (
            Method::GET,
            format!("organizations/{oid}/members/{uid}"),
            None,
        ),
        (
            Method::PUT,
            format!("organizations/{oid}/members/{uid}"),
            Some(json!({"roles": []})),
        ),
        (
            Method::DELETE,
            format!("organizations/{oid}/members/{uid}"),
            None,
        ),
        (Method::GET, format!("roles/{rid}"), None),
        (
            Method::PATCH,
            format!("roles/{rid}"),
            Some(json!({"permissions": ["x"]})),
        ),
        (Method::DELETE, format!("roles/{rid}"), None),
        (Method::GET, format!("applications/{cid}"), None),
        (
            Method::PATCH,
            format!("applications/{cid}"),
            Some(json!({"name": "pwned"})),
        ),
        (
            Method::POST,
            format!("applications/{cid}/rotate-secret"),
            Some(json!({})),
        ),
        (
            Method::PATCH,
            format!("applications/{cid}/client_metadata"),
            Some(json!({"x": 1})),
        ),
        (Method::DELETE, format!("applications/{cid}"), None),
        (Method::GET, format!("apis/{aid}"), None),
        (
            Method::PATCH,
            format!("apis/{aid}"),
            Some(json!({"name": "pwned"})),
        ),
        (Method::DELETE, format!("apis/{aid}"), None),
        (Method::DELETE, format!("api-keys/{kid}"), None),
    ];
    for (m, rest, body) in &requests {
        // Through B's own path: A's objects do not exist there.
        let got = call(&b, m.clone(), format!("/t/beta/api/{rest}"), body.clone()).await;
        assert!(
            got.0 == StatusCode::NOT_FOUND
                || (got.0 == StatusCode::BAD_REQUEST && rest.contains("roles")),
            "{m} /t/beta/api/{rest} -> {} {}",
            got.0,
            got.1
        );
        // Through A's path: forbidden.
        let got = call(&b, m.clone(), format!("/t/alpha/api/{rest}"), body.clone()).await;
        assert_error(&got, StatusCode::FORBIDDEN, "forbidden", None);
    }
    // B cannot attach A's user to its own organization either.
    let borg = call(
        &b,
        Method::POST,
        "/t/beta/api/organizations".into(),
        Some(json!({"name": "b"})),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let got = call(
        &b,
        Method::POST,
        format!(
            "/t/beta/api/organizations/{}/members",
            borg["id"].as_str().unwrap()
        ),
        Some(json!({"user_id": uid})),
    )
    .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("user_id"),
    );
    // B's lists show none of A's objects.
    for list in [
        "users",
        "organizations",
        "roles",
        "applications",
        "apis",
        "audit-log",
    ] {
        let page = call(&b, Method::GET, format!("/t/beta/api/{list}"), None)
            .await
            .expect_status(StatusCode::OK);
        let text = page.to_string();
        for id in [uid, oid, rid, cid, aid] {
            assert!(!text.contains(id), "{list} of beta shows {id}");
        }
    }
    // And nothing of A changed.
    let u = call(&a, Method::GET, format!("/t/alpha/api/users/{uid}"), None)
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(u["name"], Value::Null);
    assert_eq!(u["roles"], json!(["admin"]));
    assert_eq!(u["user_metadata"], json!({}));
    let (s, _) = call(
        &a,
        Method::GET,
        format!("/t/alpha/api/organizations/{oid}/members/{uid}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let c = call(
        &a,
        Method::GET,
        format!("/t/alpha/api/applications/{cid}"),
        None,
    )
    .await
    .expect_status(StatusCode::OK);
    assert_eq!(c["name"], "app");
    let (s, _) = call(
        key["key"].as_str().unwrap(),
        Method::GET,
        "/t/alpha/api/users".into(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "A's key was not revoked by B");
}

both_backends!(every_resource_is_isolated);
