//! What holds at the token endpoint whatever the grant: client authentication (RFC 6749 2.3,
//! `client_secret_basic` and `client_secret_post`), grant types, and CORS for the
//! application's web origins.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ADA_PASSWORD, Setup, setup, token};
use crate::both_backends;
use crate::helpers::{Db, Reply, spawn_app};

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

both_backends!(
    client_secret_post_authenticates_the_client_too,
    a_wrong_client_secret_is_invalid_client_with_a_basic_challenge,
    a_grant_the_application_is_not_allowed_is_unauthorized_client,
    an_unknown_grant_type_is_unsupported_grant_type,
    an_allowed_web_origin_gets_cors_headers,
    another_origin_gets_no_cors_headers,
);
