//! Single sign-on: a browser session answers later authorization requests without the page,
//! unless `prompt` or `max_age` ask for the password again (OIDC Core 3.1.2.1).

use reqwest::StatusCode;
use serde_json::json;

use super::{Browser, VERIFIER, authorize_path, exchange, login_for_tokens, setup};
use crate::both_backends;
use crate::helpers::{Db, Reply, spawn_app, verify};

async fn a_session_answers_the_next_authorization_without_the_page(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_tokens(&mut b, &app, &s).await;
    let sso = b.get(&authorize_path(&s.client_id, &[])).await;
    assert_eq!(sso.status, StatusCode::FOUND, "{}", sso.body);
    assert!(sso.location().contains_key("code"));
}

async fn a_single_sign_on_login_keeps_the_session_id_and_the_auth_time(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let first = login_for_tokens(&mut b, &app, &s).await;
    let (_, id) = verify(&app, first["id_token"].as_str().unwrap()).await;
    let sso = b.get(&authorize_path(&s.client_id, &[])).await;
    let code = sso.location()["code"].clone();
    let t2 = exchange(&app, &s, &code, Some(VERIFIER))
        .await
        .expect_status(StatusCode::OK);
    let (_, id2) = verify(&app, t2["id_token"].as_str().unwrap()).await;
    assert_eq!(id2["sid"], id["sid"]);
    assert_eq!(id2["auth_time"], id["auth_time"]);
}

async fn prompt_none_with_a_session_gives_a_code(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_tokens(&mut b, &app, &s).await;
    let sso_none = b
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(sso_none.status, StatusCode::FOUND);
    assert!(sso_none.location().contains_key("code"));
}

async fn prompt_login_asks_for_the_password_despite_a_session(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_tokens(&mut b, &app, &s).await;
    let again = b
        .get(&authorize_path(&s.client_id, &[("prompt", "login")]))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.contains("type=\"password\""));
}

async fn max_age_0_asks_for_the_password_despite_a_session(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_tokens(&mut b, &app, &s).await;
    let again = b
        .get(&authorize_path(&s.client_id, &[("max_age", "0")]))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.contains("type=\"password\""));
}

async fn the_login_prompt_login_asked_for_gives_a_code(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_tokens(&mut b, &app, &s).await;
    let fresh = b
        .get(&authorize_path(&s.client_id, &[("prompt", "login")]))
        .await;
    let done = b
        .login(&fresh, "ada@example.com", "correct horse battery")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.location().contains_key("code"));
}

async fn prompt_none_without_a_session_is_login_required_with_state_and_issuer(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut stranger = Browser::new(&app);
    let none = stranger
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(none.status, StatusCode::FOUND);
    let q = none.location();
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], format!("{}/t/default", app.base));
}

both_backends!(
    a_session_answers_the_next_authorization_without_the_page,
    a_single_sign_on_login_keeps_the_session_id_and_the_auth_time,
    prompt_none_with_a_session_gives_a_code,
    prompt_login_asks_for_the_password_despite_a_session,
    max_age_0_asks_for_the_password_despite_a_session,
    the_login_prompt_login_asked_for_gives_a_code,
    prompt_none_without_a_session_is_login_required_with_state_and_issuer,
);
