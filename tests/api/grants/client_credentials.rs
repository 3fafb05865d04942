//! The client-credentials grant (RFC 6749 4.4): an access token for the client itself, for one
//! API it holds a client grant for (the `audience`, RFC 8707) and only scopes of that grant.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Setup, application, error_of, setup};
use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, spawn_app, verify};

/// The fixture's API, and a machine-to-machine application allowed only this grant and
/// granted that API with its scope.
async fn m2m(app: &TestApp) -> Setup {
    setup(app, "RS256").await;
    let s = application(
        app,
        json!({"name": "cron", "grant_types": ["client_credentials"]}),
    )
    .await;
    grant(app, &s, "https://api.example.com", &["read:reports"]).await;
    s
}

/// Grants `s` the API `audience` with `scopes`; returns the grant.
async fn grant(app: &TestApp, s: &Setup, audience: &str, scopes: &[&str]) -> Value {
    app.post(
        "/t/default/api/client-grants",
        json!({"client_id": s.client_id, "audience": audience, "scopes": scopes}),
    )
    .await
    .expect_status(StatusCode::CREATED)
}

/// A second API with two scopes, of which the grant will hold one.
async fn billing_api(app: &TestApp) -> Value {
    app.post(
        "/t/default/api/apis",
        json!({"identifier": "https://billing.example.com", "name": "Billing",
               "scopes": [{"value": "read:invoices"}, {"value": "write:invoices"}]}),
    )
    .await
    .expect_status(StatusCode::CREATED)
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

/// The `scope` claim of the access token in a successful reply.
async fn scope_of(app: &TestApp, reply: &(StatusCode, Value)) -> String {
    assert_eq!(reply.0, StatusCode::OK, "{}", reply.1);
    let (_, at) = verify(app, reply.1["access_token"].as_str().unwrap()).await;
    at["scope"].as_str().unwrap().to_string()
}

const FOR_THE_API: [(&str, &str); 1] = [("audience", "https://api.example.com")];
const FOR_BILLING: [(&str, &str); 1] = [("audience", "https://billing.example.com")];

async fn client_credentials_give_an_access_token_only(db: Db) {
    let app = spawn_app(db).await;
    let s = m2m(&app).await;
    let (st, b) = client_credentials(&app, &s, &FOR_THE_API).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b.get("id_token").is_none() && b.get("refresh_token").is_none());
}

async fn the_access_token_names_the_client_as_subject_with_the_granted_scopes(db: Db) {
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

async fn without_a_scope_parameter_the_token_carries_exactly_the_granted_scopes(db: Db) {
    let app = spawn_app(db).await;
    let s = m2m(&app).await;
    billing_api(&app).await;
    grant(&app, &s, "https://billing.example.com", &["read:invoices"]).await;
    let got = client_credentials(&app, &s, &FOR_BILLING).await;
    assert_eq!(scope_of(&app, &got).await, "read:invoices");
    assert_eq!(got.1["scope"], "read:invoices");
}

async fn an_audience_the_application_holds_no_grant_for_is_invalid_target(db: Db) {
    let app = spawn_app(db).await;
    let s = m2m(&app).await;
    billing_api(&app).await;
    let got = client_credentials(&app, &s, &FOR_BILLING).await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    assert_eq!(
        got.1["error_description"],
        "the application is not granted access to API `https://billing.example.com`"
    );
    // An application created after the upgrade holds no grant at all.
    let fresh = application(
        &app,
        json!({"name": "new", "grant_types": ["client_credentials"]}),
    )
    .await;
    let got = client_credentials(&app, &fresh, &FOR_THE_API).await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
}

async fn a_scope_the_api_defines_but_the_grant_lacks_is_invalid_scope_naming_it(db: Db) {
    let app = spawn_app(db).await;
    let s = m2m(&app).await;
    billing_api(&app).await;
    grant(&app, &s, "https://billing.example.com", &["read:invoices"]).await;
    let got = client_credentials(
        &app,
        &s,
        &[
            ("audience", "https://billing.example.com"),
            ("scope", "read:invoices write:invoices"),
        ],
    )
    .await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    assert!(
        got.1["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("`write:invoices`")),
        "{}",
        got.1
    );
    // Asking for a part of the grant is fine.
    let got = client_credentials(
        &app,
        &s,
        &[
            ("audience", "https://billing.example.com"),
            ("scope", "read:invoices"),
        ],
    )
    .await;
    assert_eq!(scope_of(&app, &got).await, "read:invoices");
}

async fn a_scope_removed_from_the_api_leaves_new_tokens(db: Db) {
    let app = spawn_app(db).await;
    let s = m2m(&app).await;
    let api = billing_api(&app).await;
    grant(
        &app,
        &s,
        "https://billing.example.com",
        &["read:invoices", "write:invoices"],
    )
    .await;
    let got = client_credentials(&app, &s, &FOR_BILLING).await;
    assert_eq!(scope_of(&app, &got).await, "read:invoices write:invoices");
    app.patch(
        &format!("/t/default/api/apis/{}", api["id"].as_str().unwrap()),
        json!({"scopes": [{"value": "read:invoices"}]}),
    )
    .await
    .expect_status(StatusCode::OK);
    let got = client_credentials(&app, &s, &FOR_BILLING).await;
    assert_eq!(scope_of(&app, &got).await, "read:invoices");
    let got = client_credentials(
        &app,
        &s,
        &[
            ("audience", "https://billing.example.com"),
            ("scope", "write:invoices"),
        ],
    )
    .await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
}

async fn deleting_the_grant_stops_new_tokens(db: Db) {
    let app = spawn_app(db).await;
    let s = m2m(&app).await;
    billing_api(&app).await;
    let g = grant(&app, &s, "https://billing.example.com", &["read:invoices"]).await;
    let got = client_credentials(&app, &s, &FOR_BILLING).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    app.delete(&format!(
        "/t/default/api/client-grants/{}",
        g["id"].as_str().unwrap()
    ))
    .await
    .expect_status(StatusCode::NO_CONTENT);
    let got = client_credentials(&app, &s, &FOR_BILLING).await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    // The other grant is untouched.
    let got = client_credentials(&app, &s, &FOR_THE_API).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
}

async fn narrowing_a_grant_narrows_new_tokens(db: Db) {
    let app = spawn_app(db).await;
    let s = m2m(&app).await;
    billing_api(&app).await;
    let g = grant(
        &app,
        &s,
        "https://billing.example.com",
        &["read:invoices", "write:invoices"],
    )
    .await;
    app.patch(
        &format!("/t/default/api/client-grants/{}", g["id"].as_str().unwrap()),
        json!({"scopes": ["write:invoices"]}),
    )
    .await
    .expect_status(StatusCode::OK);
    let got = client_credentials(&app, &s, &FOR_BILLING).await;
    assert_eq!(scope_of(&app, &got).await, "write:invoices");
}

both_backends!(
    client_credentials_give_an_access_token_only,
    the_access_token_names_the_client_as_subject_with_the_granted_scopes,
    client_credentials_without_an_audience_are_invalid_request,
    a_scope_the_api_does_not_define_is_invalid_scope,
    without_a_scope_parameter_the_token_carries_exactly_the_granted_scopes,
    an_audience_the_application_holds_no_grant_for_is_invalid_target,
    a_scope_the_api_defines_but_the_grant_lacks_is_invalid_scope_naming_it,
    a_scope_removed_from_the_api_leaves_new_tokens,
    deleting_the_grant_stops_new_tokens,
    narrowing_a_grant_narrows_new_tokens,
);
