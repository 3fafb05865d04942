//! The brute-force lock of password logins (RFC 6749 10.10, RFC 9700 2.4): more than ten
//! attempts for one user from one IP within 15 minutes of the first are refused with the reply
//! of a wrong password, and the lock lifts when the window ends. The client IP is the peer's
//! unless a trusted proxy says otherwise. Parallel guesses are in `attacks::protocol`.

use reqwest::StatusCode;
use serde_json::json;

use super::{ADA_PASSWORD, Setup, ada_grant, setup};
use crate::both_backends;
use crate::helpers::{Db, TestApp, spawn_app, spawn_app_with, spawn_app_with_clock};

/// `oauth::password`'s window.
const LOCK_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Ten wrong passwords for Ada from this client's address, each refused as wrong.
async fn ten_wrong_passwords(app: &TestApp, s: &Setup) {
    for _ in 0..10 {
        let (st, b) = ada_grant(app, s, "wrong password", &[]).await;
        assert_eq!(
            (st, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
}

/// A password grant from `from` (a loopback address of this host), or with an
/// `X-Forwarded-For` header when `forwarded_for` is given; returns the status.
async fn attempt(
    app: &TestApp,
    s: &Setup,
    from: &str,
    forwarded_for: Option<&str>,
    password: &str,
) -> StatusCode {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let mut req = client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, Some(&s.secret));
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.form(&[
        ("grant_type", "password"),
        ("username", "ada@example.com"),
        ("password", password),
    ])
    .send()
    .await
    .unwrap()
    .status()
}

async fn ten_wrong_passwords_lock_the_user_from_that_ip_with_the_generic_reply(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    ten_wrong_passwords(&app, &s).await;
    let (st, locked) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        locked,
        json!({"error": "invalid_grant", "error_description": "Wrong email or password."})
    );
}

async fn a_locked_user_can_still_log_in_from_another_ip(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    ten_wrong_passwords(&app, &s).await;
    assert_eq!(
        attempt(&app, &s, "127.0.0.2", None, ADA_PASSWORD).await,
        StatusCode::OK
    );
}

async fn the_lock_holds_until_its_window_ends(db: Db) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let s = setup(&app, "RS256").await;
    ten_wrong_passwords(&app, &s).await;
    clock.advance_ms(LOCK_WINDOW_MS - 1);
    let (st, _) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "still locked");
}

async fn the_lock_lifts_when_its_window_has_passed(db: Db) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let s = setup(&app, "RS256").await;
    ten_wrong_passwords(&app, &s).await;
    let (st, _) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "locked");
    clock.advance_ms(LOCK_WINDOW_MS);
    let (st, b) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::OK, "the window has passed: {b}");
}

async fn behind_a_trusted_proxy_the_lock_follows_x_forwarded_for(db: Db) {
    // The test client on 127.0.0.1 is the proxy.
    let app = spawn_app_with(db, |s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]
    })
    .await;
    let s = setup(&app, "ES256").await;
    let from_proxy = |ip, pw| attempt(&app, &s, "127.0.0.1", Some(ip), pw);
    for _ in 0..10 {
        assert_eq!(
            from_proxy("203.0.113.9", "wrong password").await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        from_proxy("203.0.113.9", ADA_PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "203.0.113.9 is locked"
    );
    assert_eq!(
        from_proxy("198.51.100.7", ADA_PASSWORD).await,
        StatusCode::OK,
        "another client IP is not"
    );
}

async fn without_a_trusted_proxy_a_forged_x_forwarded_for_does_not_escape_the_lock(db: Db) {
    // Without trust the header is ignored: every attempt counts against the peer address.
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    for i in 0..10 {
        let forged = format!("203.0.113.{i}");
        assert_eq!(
            attempt(&app, &s, "127.0.0.1", Some(&forged), "wrong password").await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        attempt(&app, &s, "127.0.0.1", Some("198.51.100.7"), ADA_PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "a forged header does not escape the lock"
    );
}

both_backends!(
    ten_wrong_passwords_lock_the_user_from_that_ip_with_the_generic_reply,
    a_locked_user_can_still_log_in_from_another_ip,
    the_lock_holds_until_its_window_ends,
    the_lock_lifts_when_its_window_has_passed,
    behind_a_trusted_proxy_the_lock_follows_x_forwarded_for,
    without_a_trusted_proxy_a_forged_x_forwarded_for_does_not_escape_the_lock,
);
