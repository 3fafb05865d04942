//! The brute-force lock of password logins (RFC 6749 10.10, RFC 9700 2.4): more than ten
//! attempts for one user from one IP within 15 minutes of the first are refused with the reply
//! of a wrong password, and the lock lifts when the window ends. The client IP is the peer's
//! unless a trusted proxy says otherwise. Parallel guesses are in `attacks::protocol`.
//!
//! The limits are operator settings (`--login-max-failures`, `--login-lock-minutes`); an
//! administrator sees a user's counters at `GET /users/{id}/lock` and lifts them with
//! `DELETE` (or by setting a new password).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sigil::clock::{Clock as _, ManualClock, SystemClock, rfc3339};
use sigil::config::LoginLock;

use super::{ADA_PASSWORD, Setup, ada_grant, setup};
use crate::both_backends;
use crate::helpers::{
    Db, Reply, TestApp, assert_error, spawn_app, spawn_app_with, spawn_app_with_clock,
};

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

/// A server whose lock allows three attempts per five-minute window.
async fn strict(db: Db) -> TestApp {
    spawn_app_with(db, |s| s.login_lock = LoginLock::new(3, 5).unwrap()).await
}

/// `n` wrong passwords for Ada from this client's address.
async fn wrong_passwords(app: &TestApp, s: &Setup, n: usize) {
    for _ in 0..n {
        let (st, _) = ada_grant(app, s, "wrong password", &[]).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
    }
}

fn lock_path(s: &Setup) -> String {
    format!("/t/default/api/users/{}/lock", s.user_id)
}

async fn lock_of(app: &TestApp, s: &Setup) -> Value {
    app.get(&lock_path(s)).await.expect_status(StatusCode::OK)
}

async fn the_configured_limit_locks_and_the_lock_shows_its_counters(db: Db) {
    let clock = ManualClock::new(SystemClock.now_ms());
    let server_clock = clock.clone();
    let app = spawn_app_with(db, move |s| {
        s.clock = server_clock;
        s.login_lock = LoginLock::new(3, 5).unwrap();
    })
    .await;
    let s = setup(&app, "RS256").await;
    let start = clock.now_ms();
    assert_eq!(
        lock_of(&app, &s).await,
        json!({"user_id": s.user_id, "locked": false, "max_failures": 3, "lock_minutes": 5, "ips": []})
    );
    wrong_passwords(&app, &s, 2).await;
    let shown = lock_of(&app, &s).await;
    assert_eq!(shown["locked"], false);
    assert_eq!(
        shown["ips"],
        json!([{"ip": "127.0.0.1", "attempts": 2, "window_start": rfc3339(start),
                "window_end": rfc3339(start + 5 * 60 * 1000), "locked": false}])
    );
    wrong_passwords(&app, &s, 1).await;
    let shown = lock_of(&app, &s).await;
    assert_eq!(
        (
            &shown["locked"],
            &shown["ips"][0]["locked"],
            &shown["ips"][0]["attempts"]
        ),
        (&json!(true), &json!(true), &json!(3))
    );
    let (st, b) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(
        (st, b["error_description"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Wrong email or password.")),
        "the third attempt was the last one compared"
    );
    // The configured window, not the default one, ends the lock.
    clock.advance_ms(5 * 60 * 1000);
    assert_eq!(
        lock_of(&app, &s).await["ips"],
        json!([]),
        "the window ended"
    );
    let (st, b) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::OK, "{b}");
}

async fn lifting_the_lock_lets_the_right_password_in_from_that_ip(db: Db) {
    let app = strict(db).await;
    let s = setup(&app, "RS256").await;
    wrong_passwords(&app, &s, 3).await;
    assert_eq!(lock_of(&app, &s).await["locked"], true);
    app.delete(&lock_path(&s))
        .await
        .expect_status(StatusCode::NO_CONTENT);
    let shown = lock_of(&app, &s).await;
    assert_eq!(
        (&shown["locked"], &shown["ips"]),
        (&json!(false), &json!([]))
    );
    let (st, b) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let log = app
        .get(&format!(
            "/t/default/api/audit-log?resource_id={}",
            s.user_id
        ))
        .await
        .expect_status(StatusCode::OK);
    let lifted = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "lift_lock")
        .expect("the lift is audited");
    assert_eq!(lifted["summary"], json!({"ip": null, "cleared": 1}));
}

async fn lifting_one_ip_leaves_the_others_locked(db: Db) {
    let app = strict(db).await;
    let s = setup(&app, "RS256").await;
    for from in ["127.0.0.1", "127.0.0.2"] {
        for _ in 0..3 {
            assert_eq!(
                attempt(&app, &s, from, None, "wrong password").await,
                StatusCode::BAD_REQUEST
            );
        }
    }
    app.delete(&format!("{}?ip=127.0.0.2", lock_path(&s)))
        .await
        .expect_status(StatusCode::NO_CONTENT);
    let shown = lock_of(&app, &s).await;
    assert_eq!(shown["locked"], true);
    let ips: Vec<&str> = shown["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["127.0.0.1"]);
    assert_eq!(
        attempt(&app, &s, "127.0.0.2", None, ADA_PASSWORD).await,
        StatusCode::OK
    );
    assert_eq!(
        attempt(&app, &s, "127.0.0.1", None, ADA_PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "still locked"
    );
    let got = app.delete(&format!("{}?ip=not-an-ip", lock_path(&s))).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", Some("ip"));
}

async fn an_admin_password_reset_lifts_the_lock(db: Db) {
    let app = strict(db).await;
    let s = setup(&app, "RS256").await;
    wrong_passwords(&app, &s, 3).await;
    app.put(
        &format!("/t/default/api/users/{}/password", s.user_id),
        json!({"password": "a brand new passphrase"}),
    )
    .await
    .expect_status(StatusCode::NO_CONTENT);
    assert_eq!(lock_of(&app, &s).await["locked"], false);
    let (st, b) = ada_grant(&app, &s, "a brand new passphrase", &[]).await;
    assert_eq!(st, StatusCode::OK, "{b}");
}

async fn an_import_that_changes_the_password_lifts_the_lock(db: Db) {
    let app = strict(db).await;
    let s = setup(&app, "RS256").await;
    wrong_passwords(&app, &s, 3).await;
    let line = json!({"email": "ada@example.com",
        "password_hash": bcrypt::hash("imported password", 4).unwrap()});
    let res = app
        .client
        .post(format!(
            "{}/t/default/api/users/import?update=true",
            app.base
        ))
        .bearer_auth(&app.operator_key)
        .body(line.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["updated"], 1, "{report}");
    assert_eq!(lock_of(&app, &s).await["locked"], false);
}

async fn the_lock_of_an_unknown_user_is_not_found_and_other_tenants_are_refused(db: Db) {
    let app = strict(db).await;
    let s = setup(&app, "RS256").await;
    for got in [
        app.get("/t/default/api/users/usr_nosuch/lock").await,
        app.delete("/t/default/api/users/usr_nosuch/lock").await,
    ] {
        assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
    }
    let alpha = app.tenant("alpha").await;
    for m in [Method::GET, Method::DELETE] {
        let got = app.call(m, &lock_path(&s), Some(&alpha), None).await;
        assert_error(&got, StatusCode::FORBIDDEN, "forbidden", None);
        let got = app
            .call(
                Method::GET,
                &format!("/t/alpha/api/users/{}/lock", s.user_id),
                Some(&alpha),
                None,
            )
            .await;
        assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
    }
}

both_backends!(
    ten_wrong_passwords_lock_the_user_from_that_ip_with_the_generic_reply,
    a_locked_user_can_still_log_in_from_another_ip,
    the_lock_holds_until_its_window_ends,
    the_lock_lifts_when_its_window_has_passed,
    behind_a_trusted_proxy_the_lock_follows_x_forwarded_for,
    without_a_trusted_proxy_a_forged_x_forwarded_for_does_not_escape_the_lock,
    the_configured_limit_locks_and_the_lock_shows_its_counters,
    lifting_the_lock_lets_the_right_password_in_from_that_ip,
    lifting_one_ip_leaves_the_others_locked,
    an_admin_password_reset_lifts_the_lock,
    an_import_that_changes_the_password_lifts_the_lock,
    the_lock_of_an_unknown_user_is_not_found_and_other_tenants_are_refused,
);
