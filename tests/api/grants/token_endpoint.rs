//! What holds at the token endpoint whatever the grant: client authentication (RFC 6749 2.3,
//! `client_secret_basic` and `client_secret_post`), grant types, and CORS for the
//! application's web origins.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ADA_PASSWORD, Setup, setup, token};
use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, spawn_app};

async fn client_secret_post_authenticates_the_client_too(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .form(&[
            ("grant_type", "password"),
            ("client_id", &s.client_id),
            ("client_secret", &s.secret),
            ("username", "ada@example.com"),
            ("password", ADA_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

async fn a_wrong_client_secret_is_invalid_client_with_a_basic_challenge(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let bad_client = Setup {
        secret: "cs_wrong".into(),
        ..s
    };
    let (st, body, headers) = token(
        &app,
        &bad_client,
        &[("username", "ada@example.com"), ("password", ADA_PASSWORD)],
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
}

/// A token request with only `grant_type`; returns the error code.
async fn error_for_grant(app: &crate::helpers::TestApp, s: &Setup, grant: &str) -> Value {
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[("grant_type", grant)])
        .send()
        .await
        .unwrap();
    let b: Value = res.json().await.unwrap();
    b["error"].clone()
}

async fn a_grant_the_application_is_not_allowed_is_unauthorized_client(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    assert_eq!(
        error_for_grant(&app, &s, "authorization_code").await,
        "unauthorized_client"
    );
}

async fn an_unknown_grant_type_is_unsupported_grant_type(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    assert_eq!(
        error_for_grant(&app, &s, "implicit").await,
        "unsupported_grant_type"
    );
}

/// The CORS preflight's and the token response's `Access-Control-Allow-Origin` for `origin`,
/// with `https://spa.example.com` allowed.
async fn cors_headers(db: Db, origin: &str) -> (Option<String>, Option<String>) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    app.patch(
        &format!("/t/default/api/applications/{}", s.client_id),
        json!({"allowed_web_origins": ["https://spa.example.com"]}),
    )
    .await
    .expect_status(StatusCode::OK);
    let allow_origin = |res: &reqwest::Response| {
        res.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let preflight = app
        .client
        .request(
            Method::OPTIONS,
            format!("{}/t/default/oauth/token", app.base),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .header("origin", origin)
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", ADA_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    (allow_origin(&preflight), allow_origin(&res))
}

async fn an_allowed_web_origin_gets_cors_headers(db: Db) {
    let origin = "https://spa.example.com";
    let (preflight, response) = cors_headers(db, origin).await;
    assert_eq!(preflight.as_deref(), Some(origin));
    assert!(response.is_some());
}

async fn another_origin_gets_no_cors_headers(db: Db) {
    let (preflight, response) = cors_headers(db, "https://evil.example.com").await;
    assert_eq!(preflight, None);
    assert_eq!(response, None);
}

/// Ada's password grant through the client `s` names.
async fn ada(app: &TestApp, s: &Setup) -> (StatusCode, Value) {
    let (st, body, _) = token(
        app,
        s,
        &[("username", "ada@example.com"), ("password", ADA_PASSWORD)],
    )
    .await;
    (st, body)
}

/// The token endpoint keeps its own copy of each application (src/store/hot.rs); a change
/// made through this node is in force from the answer to the change on, never a TTL later.
async fn an_application_changed_is_in_force_at_the_token_endpoint_at_once(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    // The application is cached by this first grant.
    let (st, body) = ada(&app, &s).await;
    assert_eq!(st, StatusCode::OK, "{body}");

    // A rotated secret: the old one is refused by the very next request, the new one taken.
    let rotated = app
        .post(
            &format!("/t/default/api/applications/{}/rotate-secret", s.client_id),
            json!({}),
        )
        .await
        .expect_status(StatusCode::OK);
    let (st, body) = ada(&app, &s).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "the old secret: {body}");
    assert_eq!(body["error"], "invalid_client");
    let s = Setup {
        secret: rotated["client_secret"].as_str().unwrap().to_string(),
        ..s
    };
    let (st, body) = ada(&app, &s).await;
    assert_eq!(st, StatusCode::OK, "the new secret: {body}");

    // A grant taken away.
    app.patch(
        &format!("/t/default/api/applications/{}", s.client_id),
        json!({"grant_types": ["authorization_code"], "redirect_uris": ["https://app.example.com/cb"]}),
    )
    .await
    .expect_status(StatusCode::OK);
    let (st, body) = ada(&app, &s).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "unauthorized_client");

    // The application deleted.
    let (st, body) = app
        .delete(&format!("/t/default/api/applications/{}", s.client_id))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, body) = ada(&app, &s).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
}

both_backends!(
    an_application_changed_is_in_force_at_the_token_endpoint_at_once,
    client_secret_post_authenticates_the_client_too,
    a_wrong_client_secret_is_invalid_client_with_a_basic_challenge,
    a_grant_the_application_is_not_allowed_is_unauthorized_client,
    an_unknown_grant_type_is_unsupported_grant_type,
    an_allowed_web_origin_gets_cors_headers,
    another_origin_gets_no_cors_headers,
);
