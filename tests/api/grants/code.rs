//! The authorization-code grant (RFC 6749 4.1.3) with PKCE (RFC 7636): what the exchange
//! checks, what it signs, that a code works once (a replay revokes what it issued, RFC 6749
//! 4.1.2) and only for 60 seconds. The browser side is in `code_flow`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::code_flow::{
    Browser, Setup, VERIFIER, exchange, login_for_code, login_for_tokens, setup, setup_second_app,
    userinfo,
};
use crate::helpers::{Db, Reply, TestApp, spawn_app, spawn_app_with_clock, verify};

use super::error_of;

/// `sigil::oauth::authorize::CODE_LIFETIME_MS`.
const CODE_LIFETIME_MS: i64 = 60_000;

/// The fixture and a fresh code for it.
async fn code(app: &TestApp) -> (Setup, String) {
    let s = setup(app, json!({})).await;
    let code = login_for_code(&mut Browser::new(app), &s, &[]).await;
    (s, code)
}

/// A token request with the refresh token of `tokens`.
async fn use_refresh_token(app: &TestApp, s: &Setup, tokens: &Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, s.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

async fn the_id_token_carries_the_nonce_the_session_the_auth_time_and_the_at_hash(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let tokens = login_for_tokens(&mut Browser::new(&app), &app, &s).await;
    let at = tokens["access_token"].as_str().unwrap();
    let (_, id) = verify(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["sub"], s.user_id.as_str());
    assert!(id["sid"].as_str().unwrap().starts_with("ses_"));
    assert!(id["auth_time"].as_i64().unwrap() > 0);
    assert_eq!(id["at_hash"], sigil::oauth::tokens::at_hash("RS256", at));
}

async fn a_refresh_keeps_the_session_id_of_the_login(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let tokens = login_for_tokens(&mut Browser::new(&app), &app, &s).await;
    let (_, id) = verify(&app, tokens["id_token"].as_str().unwrap()).await;
    let refreshed = use_refresh_token(&app, &s, &tokens)
        .await
        .expect_status(StatusCode::OK);
    let (_, id2) = verify(&app, refreshed["id_token"].as_str().unwrap()).await;
    assert_eq!(id2["sid"], id["sid"]);
}

async fn an_exchange_without_the_verifier_is_invalid_grant(db: Db) {
    let app = spawn_app(db).await;
    let (s, code) = code(&app).await;
    let got = exchange(&app, &s, &code, None).await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn an_exchange_with_the_wrong_verifier_is_invalid_grant(db: Db) {
    let app = spawn_app(db).await;
    let (s, code) = code(&app).await;
    let wrong = "x".repeat(43);
    let got = exchange(&app, &s, &code, Some(&wrong)).await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{}",
        got.1
    );
}

async fn a_malformed_verifier_is_invalid_request(db: Db) {
    let app = spawn_app(db).await;
    let (s, code) = code(&app).await;
    let got = exchange(&app, &s, &code, Some("short")).await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

async fn an_exchange_must_name_the_redirect_uri_of_the_request(db: Db) {
    let app = spawn_app(db).await;
    let (s, code) = code(&app).await;
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, s.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://app.example.com/other"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

async fn another_client_cannot_redeem_a_code(db: Db) {
    let app = spawn_app(db).await;
    let (_, code) = code(&app).await;
    let other = setup_second_app(&app).await;
    let got = exchange(&app, &other, &code, Some(VERIFIER)).await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn refused_exchanges_do_not_spend_the_code(db: Db) {
    let app = spawn_app(db).await;
    let (s, code) = code(&app).await;
    let other = setup_second_app(&app).await;
    let wrong = "x".repeat(43);
    exchange(&app, &s, &code, None).await;
    exchange(&app, &s, &code, Some(&wrong)).await;
    exchange(&app, &s, &code, Some("short")).await;
    exchange(&app, &other, &code, Some(VERIFIER)).await;
    let tokens = exchange(&app, &s, &code, Some(VERIFIER))
        .await
        .expect_status(StatusCode::OK);
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, at).await.0, StatusCode::OK);
}

async fn a_replayed_code_is_invalid_grant(db: Db) {
    let app = spawn_app(db).await;
    let (s, code) = code(&app).await;
    exchange(&app, &s, &code, Some(VERIFIER))
        .await
        .expect_status(StatusCode::OK);
    let got = exchange(&app, &s, &code, Some(VERIFIER)).await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn a_replayed_code_revokes_the_tokens_its_first_exchange_issued(db: Db) {
    let app = spawn_app(db).await;
    let (s, code) = code(&app).await;
    let tokens = exchange(&app, &s, &code, Some(VERIFIER))
        .await
        .expect_status(StatusCode::OK);
    exchange(&app, &s, &code, Some(VERIFIER)).await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, at).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        use_refresh_token(&app, &s, &tokens).await.0,
        StatusCode::BAD_REQUEST
    );
}

async fn a_code_redeemed_within_its_60_seconds_works(db: Db) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let (s, code) = code(&app).await;
    clock.advance_ms(CODE_LIFETIME_MS - 1);
    exchange(&app, &s, &code, Some(VERIFIER))
        .await
        .expect_status(StatusCode::OK);
}

async fn a_code_redeemed_after_its_60_seconds_is_invalid_grant(db: Db) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let (s, code) = code(&app).await;
    clock.advance_ms(CODE_LIFETIME_MS);
    let got = exchange(&app, &s, &code, Some(VERIFIER)).await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{}",
        got.1
    );
}

both_backends!(
    the_id_token_carries_the_nonce_the_session_the_auth_time_and_the_at_hash,
    a_refresh_keeps_the_session_id_of_the_login,
    an_exchange_without_the_verifier_is_invalid_grant,
    an_exchange_with_the_wrong_verifier_is_invalid_grant,
    a_malformed_verifier_is_invalid_request,
    an_exchange_must_name_the_redirect_uri_of_the_request,
    another_client_cannot_redeem_a_code,
    refused_exchanges_do_not_spend_the_code,
    a_replayed_code_is_invalid_grant,
    a_replayed_code_revokes_the_tokens_its_first_exchange_issued,
    a_code_redeemed_within_its_60_seconds_works,
    a_code_redeemed_after_its_60_seconds_is_invalid_grant,
);
