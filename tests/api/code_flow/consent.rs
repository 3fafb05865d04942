//! Consent for third-party applications, and a public client's code exchange.

use reqwest::StatusCode;
use serde_json::json;

use super::{Browser, Page, Setup, VERIFIER, authorize_path, exchange, setup};
use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, spawn_app};

/// A third-party public application, a browser logged in as Ada and the consent page shown.
async fn consent_page(app: &TestApp) -> (Setup, Browser, Page) {
    let s = setup(app, json!({"type": "public", "first_party": false})).await;
    let mut b = Browser::new(app);
    let page = b.get(&authorize_path(&s.client_id, &[])).await;
    let consent = b
        .login(&page, "ada@example.com", "correct horse battery")
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    (s, b, consent)
}

async fn decide(b: &mut Browser, consent: &Page, decision: &str) -> Page {
    let (authz, csrf) = (consent.field("authz"), consent.field("csrf"));
    b.post(
        "/t/default/consent",
        &[("authz", &authz), ("csrf", &csrf), ("decision", decision)],
    )
    .await
}

async fn a_public_application_has_no_secret(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({"type": "public", "first_party": false})).await;
    assert!(s.secret.is_none());
}

async fn a_third_party_application_gets_a_consent_page_listing_the_scopes(db: Db) {
    let app = spawn_app(db).await;
    let (_, _, consent) = consent_page(&app).await;
    for words in [
        "Sign you in with your account",
        "See your name, nickname and picture",
        "See your email address",
        "Keep access when you are not using the application",
    ] {
        assert!(consent.body.contains(words), "{words}: {}", consent.body);
    }
    assert!(
        !consent.body.contains(">offline_access<"),
        "a scope's raw name is not what the user reads: {}",
        consent.body
    );
}

async fn the_consent_page_describes_an_api_s_scopes_as_the_tenant_registered_them(db: Db) {
    let app = spawn_app(db).await;
    app.post(
        "/t/default/api/apis",
        json!({"identifier": "https://api.example.com", "name": "Reports",
               "scopes": [{"value": "read:reports", "description": "Read your <reports>"},
                          {"value": "write:reports"}]}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let s = setup(&app, json!({"type": "public", "first_party": false})).await;
    let mut b = Browser::new(&app);
    let path = authorize_path(&s.client_id, &[("audience", "https://api.example.com")]).replace(
        "scope=openid+profile+email+offline_access",
        "scope=openid+read%3Areports+write%3Areports",
    );
    let page = b.get(&path).await;
    let consent = b
        .login(&page, "ada@example.com", "correct horse battery")
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(
        consent.body.contains("Read your &lt;reports&gt;"),
        "the registered description, escaped: {}",
        consent.body
    );
    assert!(
        consent.body.contains("write:reports on Reports"),
        "no description: the scope with its API's name: {}",
        consent.body
    );
}

async fn denied_consent_goes_back_as_access_denied(db: Db) {
    let app = spawn_app(db).await;
    let (_, mut b, consent) = consent_page(&app).await;
    let denied = decide(&mut b, &consent, "deny").await;
    assert_eq!(denied.location()["error"], "access_denied");
}

async fn prompt_none_without_consent_is_consent_required(db: Db) {
    let app = spawn_app(db).await;
    let (s, mut b, _) = consent_page(&app).await;
    let none = b
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(none.location()["error"], "consent_required");
}

async fn a_public_client_exchanges_its_code_with_pkce_and_no_secret(db: Db) {
    let app = spawn_app(db).await;
    let (s, mut b, consent) = consent_page(&app).await;
    let allowed = decide(&mut b, &consent, "allow").await;
    assert_eq!(allowed.status, StatusCode::SEE_OTHER, "{}", allowed.body);
    exchange(&app, &s, &allowed.location()["code"], Some(VERIFIER))
        .await
        .expect_status(StatusCode::OK);
}

async fn consent_once_given_is_remembered(db: Db) {
    let app = spawn_app(db).await;
    let (s, mut b, consent) = consent_page(&app).await;
    decide(&mut b, &consent, "allow").await;
    let again = b.get(&authorize_path(&s.client_id, &[])).await;
    assert_eq!(again.status, StatusCode::FOUND);
    assert!(again.location().contains_key("code"));
}

both_backends!(
    a_public_application_has_no_secret,
    a_third_party_application_gets_a_consent_page_listing_the_scopes,
    the_consent_page_describes_an_api_s_scopes_as_the_tenant_registered_them,
    denied_consent_goes_back_as_access_denied,
    prompt_none_without_consent_is_consent_required,
    a_public_client_exchanges_its_code_with_pkce_and_no_secret,
    consent_once_given_is_remembered,
);
