//! RP-initiated logout (OIDC RP-Initiated Logout 1.0): with an `id_token_hint` straight back to
//! a registered URI, without one after the user confirms. Another site's logout attempts are
//! in `attacks::protocol`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Browser, Setup, authorize_path, has_session, login_for_code, login_for_tokens, setup};
use crate::both_backends;
use crate::helpers::{Db, TestApp, spawn_app};

/// The fixture, a browser logged in as Ada, and her tokens.
async fn logged_in(app: &TestApp) -> (Setup, Browser, Value) {
    let s = setup(app, json!({})).await;
    let mut b = Browser::new(app);
    let tokens = login_for_tokens(&mut b, app, &s).await;
    (s, b, tokens)
}

async fn logout_to_an_unregistered_uri_is_refused_on_the_page(db: Db) {
    let app = spawn_app(db).await;
    let (s, mut b, t) = logged_in(&app).await;
    let hint = t["id_token"].as_str().unwrap();
    let bad = b
        .get(&format!(
            "/t/default/logout?id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"
        ))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.headers.get("location").is_none());
    assert!(has_session(&mut b, &s).await, "still logged in");
}

async fn logout_with_an_id_token_hint_returns_to_the_registered_uri_with_the_state(db: Db) {
    let app = spawn_app(db).await;
    let (_, mut b, t) = logged_in(&app).await;
    let hint = t["id_token"].as_str().unwrap();
    let out = b
        .get(&format!(
            "/t/default/logout?id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=bye1"
        ))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert_eq!(
        out.headers["location"],
        "https://app.example.com/bye?state=bye1"
    );
}

async fn logout_with_an_id_token_hint_ends_the_session(db: Db) {
    let app = spawn_app(db).await;
    let (s, mut b, t) = logged_in(&app).await;
    let hint = t["id_token"].as_str().unwrap();
    b.get(&format!(
        "/t/default/logout?id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=bye1"
    ))
    .await;
    assert!(!b.cookies.contains_key("sigil_session"));
    let none = b
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(none.location()["error"], "login_required");
}

async fn logout_without_a_hint_asks_the_user_to_confirm(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_code(&mut b, &s, &[]).await;
    let confirm = b.get("/t/default/logout").await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("name=\"logout\""), "{}", confirm.body);
    assert!(
        has_session(&mut b, &s).await,
        "not logged out before confirming"
    );
}

async fn a_logout_confirmation_from_another_browser_is_refused(db: Db) {
    let app = spawn_app(db).await;
    let forged = Browser::new(&app)
        .post("/t/default/logout", &[("logout", ""), ("csrf", "x")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

async fn a_confirmed_logout_ends_the_session(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_code(&mut b, &s, &[]).await;
    let confirm = b.get("/t/default/logout").await;
    let (logout, csrf) = (confirm.field("logout"), confirm.field("csrf"));
    let out = b
        .post("/t/default/logout", &[("logout", &logout), ("csrf", &csrf)])
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.body.contains("signed out"));
    let none = b
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(none.location()["error"], "login_required");
}

both_backends!(
    logout_to_an_unregistered_uri_is_refused_on_the_page,
    logout_with_an_id_token_hint_returns_to_the_registered_uri_with_the_state,
    logout_with_an_id_token_hint_ends_the_session,
    logout_without_a_hint_asks_the_user_to_confirm,
    a_logout_confirmation_from_another_browser_is_refused,
    a_confirmed_logout_ends_the_session,
);
