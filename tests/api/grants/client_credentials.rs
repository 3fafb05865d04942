//! The client-credentials grant (RFC 6749 4.4): an access token for the client itself, for one
//! API and scopes it defines.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Setup, application, setup};
use crate::both_backends;
use crate::helpers::{Db, TestApp, spawn_app, verify};

/// The fixture's API, and a machine-to-machine application allowed only this grant.
async fn m2m(app: &TestApp) -> Setup {
    setup(app, "RS256").await;
    application(
        app,
        json!({"name": "cron", "grant_types": ["client_credentials"]}),
    )
    .await
}

async fn client_credentials(
    app: &TestApp,
    s: &Setup,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut f = vec![("grant_type", "client_credentials")];
    f.extend_from_slice(form);
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&f)
        .send()
        .await
        .unwrap();
    (res.status(), res.json::<Value>().await.unwrap())
}

const FOR_THE_API: [(&str, &str); 1] = [("audience", "https://api.example.com")];

async fn client_credentials_give_an_access_token_only(db: Db) {
    let app = spawn_app(db).await;
    let s = m2m(&app).await;
    let (st, b) = client_credentials(&app, &s, &FOR_THE_API).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b.get("id_token").is_none() && b.get("refresh_token").is_none());
}

async fn the_access_token_names_the_client_as_subject_with_all_the_api_s_scopes(db: Db) {
    let app = spawn_app(db).await;
    let s = m2m(&app).await;
    let (_, b) = client_credentials(&app, &s, &FOR_THE_API).await;
    let (h, at) = verify(&app, b["access_token"].as_str().unwrap()).await;
    assert_eq!(h.typ.as_deref(), Some("at+jwt"));
    assert_eq!(
        (at["sub"].as_str(), at["aud"].as_str(), at["scope"].as_str()),
        (
            Some(s.client_id.as_str()),
            Some("https://api.example.com"),
            Some("read:reports")
        )
    );
}

async fn client_credentials_without_an_audience_are_invalid_request(db: Db) {
    let app = spawn_app(db).await;
    let s = m2m(&app).await;
    let (_, b) = client_credentials(&app, &s, &[]).await;
    assert_eq!(b["error"], "invalid_request");
}

async fn a_scope_the_api_does_not_define_is_invalid_scope(db: Db) {
    let app = spawn_app(db).await;
    let s = m2m(&app).await;
    let (_, b) = client_credentials(
        &app,
        &s,
        &[
            ("audience", "https://api.example.com"),
            ("scope", "write:everything"),
        ],
    )
    .await;
    assert_eq!(b["error"], "invalid_scope");
}

both_backends!(
    client_credentials_give_an_access_token_only,
    the_access_token_names_the_client_as_subject_with_all_the_api_s_scopes,
    client_credentials_without_an_audience_are_invalid_request,
    a_scope_the_api_does_not_define_is_invalid_scope,
);
