//! The refresh-token grant (RFC 6749 6): rotation on every use, reuse detection (RFC 9700
//! 4.14.2), scope narrowing, the checks that still apply on every use, and the lifetime.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sigil::clock::{Clock as _, ManualClock, SystemClock};

use super::{Setup, ada_login, application, enable_refresh, error_of, refresh, setup};
use crate::both_backends;
use crate::helpers::{
    Db, REFRESH_RETRY_GRACE_MS, Reply, TestApp, spawn_app, spawn_app_with, spawn_app_with_clock,
    upload_and_bind, verify,
};

const OFFLINE: [(&str, &str); 1] = [("scope", "openid offline_access")];
const OFFLINE_IN_GLOBEX: [(&str, &str); 2] = [
    ("scope", "openid offline_access"),
    ("organization", "globex"),
];

/// The default refresh-token lifetime of an application, in milliseconds (30 days).
const REFRESH_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;

/// The fixture allowed refresh tokens, and Ada's first one (with `login` parameters).
async fn refreshable(app: &TestApp, login: &[(&str, &str)]) -> (Setup, String) {
    let s = setup(app, "ES256").await;
    enable_refresh(app, &s).await;
    let body = ada_login(app, &s, login).await;
    let rt = body["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token")
        .to_string();
    (s, rt)
}

/// A refresh that must succeed; returns the token response.
#[track_caller]
fn refreshed<'a>(
    app: &'a TestApp,
    s: &'a Setup,
    rt: &'a str,
    scope: Option<&'a str>,
) -> impl Future<Output = Value> + 'a {
    let caller = std::panic::Location::caller();
    async move {
        let (st, body) = refresh(app, s, rt, scope).await;
        assert_eq!(st, StatusCode::OK, "refresh at {caller}: {body}");
        body
    }
}

#[track_caller]
fn assert_invalid_grant(got: &(StatusCode, Value), why: &str) {
    assert_eq!(
        error_of(got),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{why}: {}",
        got.1
    );
}

async fn offline_access_gives_a_refresh_token(db: Db) {
    let app = spawn_app(db).await;
    let (_, rt) = refreshable(&app, &OFFLINE).await;
    assert!(rt.starts_with("rt_"), "{rt}");
}

async fn without_the_refresh_token_grant_offline_access_gives_no_refresh_token(db: Db) {
    let app = spawn_app(db).await;
    setup(&app, "ES256").await;
    let other = application(
        &app,
        json!({"name": "no-refresh", "grant_types": ["password"]}),
    )
    .await;
    let b = ada_login(&app, &other, &OFFLINE).await;
    assert!(b.get("refresh_token").is_none());
    assert_eq!(b["scope"], "openid");
}

async fn a_refresh_token_is_rotated_on_every_use(db: Db) {
    let app = spawn_app(db).await;
    let (s, rt1) = refreshable(&app, &OFFLINE).await;
    let second = refreshed(&app, &s, &rt1, None).await;
    let rt2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2, "rotated on every use");
}

async fn a_refresh_reruns_the_hooks_so_changed_metadata_reaches_the_tokens(db: Db) {
    let app = spawn_app(db).await;
    upload_and_bind(&app, &[("tier", "org_tier", "fail_closed")]).await;
    let (s, rt) = refreshable(&app, &OFFLINE_IN_GLOBEX).await;
    app.patch(
        &format!("/t/default/api/users/{}/user_metadata", s.user_id),
        json!({"department": "research"}),
    )
    .await
    .expect_status(StatusCode::OK);
    let second = refreshed(&app, &s, &rt, None).await;
    let (_, at) = verify(&app, second["access_token"].as_str().unwrap()).await;
    assert_eq!(at["department"], "research");
    assert_eq!(at["org_id"], s.org_id.as_str());
}

/// With hooks bound, the refresh grant reads the user's roles with the token (one connection);
/// a role given or taken between two refreshes is in the next tokens all the same.
async fn a_refresh_with_hooks_bound_carries_the_roles_the_user_has_now(db: Db) {
    let app = spawn_app(db).await;
    upload_and_bind(&app, &[("roles", "roles_claims", "fail_closed")]).await;
    let (s, rt) = refreshable(&app, &OFFLINE).await;
    app.post(
        "/t/default/api/roles",
        json!({"name": "auditor", "permissions": ["read:audit"]}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let permissions = |at: &Value| at["https://sigil.example/permissions"].clone();
    let roles = format!("/t/default/api/users/{}/roles", s.user_id);

    app.post(&roles, json!({"roles": ["auditor"]}))
        .await
        .expect_status(StatusCode::OK);
    let second = refreshed(&app, &s, &rt, None).await;
    let (_, at) = verify(&app, second["access_token"].as_str().unwrap()).await;
    let mut got: Vec<String> = serde_json::from_value(permissions(&at)).unwrap();
    got.sort();
    assert_eq!(got, ["read:audit", "read:reports"]);

    app.put(&roles, json!({"roles": []}))
        .await
        .expect_status(StatusCode::OK);
    let third = refreshed(&app, &s, second["refresh_token"].as_str().unwrap(), None).await;
    let (_, at) = verify(&app, third["access_token"].as_str().unwrap()).await;
    assert_eq!(permissions(&at), json!([]));
}

/// A refresh reads the user's roles in the statement that reads its token; the event it
/// builds lists them, and so the union of their permissions, exactly as a password login does
/// (by role name in the database's collation: the names differ in case so that a byte-wise
/// and a linguistic order would disagree).
async fn a_refresh_with_hooks_bound_sees_the_roles_in_the_order_a_login_does(db: Db) {
    let app = spawn_app(db).await;
    upload_and_bind(&app, &[("roles", "roles_claims", "fail_closed")]).await;
    let s = setup(&app, "ES256").await;
    enable_refresh(&app, &s).await;
    for (name, permission) in [("zeta", "z:1"), ("Mid", "m:1"), ("alpha", "a:1")] {
        app.post(
            "/t/default/api/roles",
            json!({"name": name, "permissions": [permission]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    }
    app.post(
        &format!("/t/default/api/users/{}/roles", s.user_id),
        json!({"roles": ["zeta", "Mid", "alpha"]}),
    )
    .await
    .expect_status(StatusCode::OK);
    let permissions = |at: &Value| at["https://sigil.example/permissions"].clone();

    let login = ada_login(&app, &s, &OFFLINE).await;
    let (_, at) = verify(&app, login["access_token"].as_str().unwrap()).await;
    let at_login = permissions(&at);
    let mut all: Vec<String> = serde_json::from_value(at_login.clone()).unwrap();
    all.sort();
    assert_eq!(all, ["a:1", "m:1", "read:reports", "z:1"], "{at_login}");

    let rt = login["refresh_token"].as_str().unwrap();
    let second = refreshed(&app, &s, rt, None).await;
    let (_, at) = verify(&app, second["access_token"].as_str().unwrap()).await;
    assert_eq!(permissions(&at), at_login);
}

async fn a_refresh_is_not_counted_as_a_login(db: Db) {
    let app = spawn_app(db).await;
    let (s, rt) = refreshable(&app, &OFFLINE).await;
    refreshed(&app, &s, &rt, None).await;
    let u = app
        .get(&format!("/t/default/api/users/{}", s.user_id))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(u["logins_count"], 1, "a refresh is not a login");
}

async fn a_refresh_asking_for_a_wider_scope_is_invalid_scope_and_leaves_the_token_unspent(db: Db) {
    let app = spawn_app(db).await;
    let (s, rt) = refreshable(&app, &OFFLINE).await;
    let got = refresh(&app, &s, &rt, Some("openid profile")).await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    refreshed(&app, &s, &rt, None).await;
}

async fn a_refresh_may_narrow_the_scope(db: Db) {
    let app = spawn_app(db).await;
    let (s, rt) = refreshable(&app, &OFFLINE).await;
    let narrowed = refreshed(&app, &s, &rt, Some("offline_access")).await;
    assert_eq!(narrowed["scope"], "offline_access");
}

async fn a_refresh_token_replayed_after_rotation_revokes_the_family(db: Db) {
    let app = spawn_app(db).await;
    let (s, rt1) = refreshable(&app, &OFFLINE).await;
    let second = refreshed(&app, &s, &rt1, None).await;
    let rt2 = second["refresh_token"].as_str().unwrap();
    let third = refreshed(&app, &s, rt2, Some("offline_access")).await;
    let rt3 = third["refresh_token"].as_str().unwrap();
    assert_invalid_grant(&refresh(&app, &s, &rt1, None).await, "reuse refused");
    assert_invalid_grant(
        &refresh(&app, &s, rt3, None).await,
        "the family is revoked, including its newest token",
    );
}

/// A client that lost the answer to a refresh (the node died after the commit) retries with
/// the same token: within the grace window, while the successor is unused, it gets that same
/// successor and fresh access and ID tokens, and nothing is revoked.
async fn a_refresh_retried_within_the_grace_window_gets_the_same_refresh_token(db: Db) {
    let app = spawn_app(db).await;
    let (s, rt1) = refreshable(&app, &OFFLINE).await;
    let lost = refreshed(&app, &s, &rt1, None).await;
    let retried = refreshed(&app, &s, &rt1, None).await;
    assert_eq!(retried["refresh_token"], lost["refresh_token"]);
    assert_ne!(retried["access_token"], lost["access_token"]);
    for body in [&lost, &retried] {
        crate::code_flow::userinfo(&app, body["access_token"].as_str().unwrap())
            .await
            .expect_status(StatusCode::OK);
    }
    let rt2 = retried["refresh_token"].as_str().unwrap();
    let third = refreshed(&app, &s, rt2, None).await;
    assert_ne!(third["refresh_token"], retried["refresh_token"]);
}

async fn a_rotated_token_presented_after_the_grace_window_revokes_the_family(db: Db) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let (s, rt1) = refreshable(&app, &OFFLINE).await;
    let second = refreshed(&app, &s, &rt1, None).await;
    clock.advance_ms(REFRESH_RETRY_GRACE_MS + 1);
    assert_invalid_grant(&refresh(&app, &s, &rt1, None).await, "reuse refused");
    assert_invalid_grant(
        &refresh(&app, &s, second["refresh_token"].as_str().unwrap(), None).await,
        "the family is revoked",
    );
}

/// The replay comes in the very millisecond of the rotation (the clock stands still), which
/// a grace of 0 must not take for a retry.
async fn with_no_grace_window_an_immediate_replay_revokes_the_family(db: Db) {
    let clock = ManualClock::new(SystemClock.now_ms());
    let app = spawn_app_with(db, move |s| {
        s.refresh_retry_grace = std::time::Duration::ZERO;
        s.clock = clock;
    })
    .await;
    let (s, rt1) = refreshable(&app, &OFFLINE).await;
    let second = refreshed(&app, &s, &rt1, None).await;
    assert_invalid_grant(&refresh(&app, &s, &rt1, None).await, "reuse refused");
    assert_invalid_grant(
        &refresh(&app, &s, second["refresh_token"].as_str().unwrap(), None).await,
        "the family is revoked",
    );
}

async fn a_refresh_after_the_organization_membership_ended_is_invalid_grant(db: Db) {
    let app = spawn_app(db).await;
    let (s, rt) = refreshable(&app, &OFFLINE_IN_GLOBEX).await;
    app.delete(&format!(
        "/t/default/api/organizations/{}/members/{}",
        s.org_id, s.user_id
    ))
    .await
    .expect_status(StatusCode::NO_CONTENT);
    assert_invalid_grant(&refresh(&app, &s, &rt, None).await, "membership ended");
}

async fn a_refresh_for_a_blocked_user_is_invalid_grant(db: Db) {
    let app = spawn_app(db).await;
    let (s, rt) = refreshable(&app, &OFFLINE).await;
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"blocked": true}),
    )
    .await
    .expect_status(StatusCode::OK);
    assert_invalid_grant(&refresh(&app, &s, &rt, None).await, "user blocked");
}

async fn an_unknown_refresh_token_is_invalid_grant(db: Db) {
    let app = spawn_app(db).await;
    let (s, _) = refreshable(&app, &OFFLINE).await;
    assert_invalid_grant(&refresh(&app, &s, "rt_garbage", None).await, "unknown");
}

/// The fixture with refresh tokens on a server with a manual clock, and Ada's first token.
async fn refreshable_at_manual_time(db: Db) -> (TestApp, Arc<ManualClock>, Setup, String) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let (s, rt) = refreshable(&app, &OFFLINE).await;
    (app, clock, s, rt)
}

async fn a_refresh_token_works_until_the_end_of_its_lifetime(db: Db) {
    let (app, clock, s, rt) = refreshable_at_manual_time(db).await;
    clock.advance_ms(REFRESH_LIFETIME_MS - 1);
    refreshed(&app, &s, &rt, None).await;
}

async fn a_refresh_token_used_after_its_lifetime_is_invalid_grant(db: Db) {
    let (app, clock, s, rt) = refreshable_at_manual_time(db).await;
    clock.advance_ms(REFRESH_LIFETIME_MS);
    assert_invalid_grant(&refresh(&app, &s, &rt, None).await, "expired");
}

async fn the_refresh_token_lifetime_is_the_application_s_setting(db: Db) {
    let (app, clock, s, _) = refreshable_at_manual_time(db).await;
    app.patch(
        &format!("/t/default/api/applications/{}", s.client_id),
        json!({"refresh_token_lifetime": 3600}),
    )
    .await
    .expect_status(StatusCode::OK);
    let rt = ada_login(&app, &s, &OFFLINE).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    clock.advance_ms(3600 * 1000);
    assert_invalid_grant(&refresh(&app, &s, &rt, None).await, "expired after an hour");
}

async fn a_rotated_refresh_token_gets_a_full_lifetime_of_its_own(db: Db) {
    let (app, clock, s, rt1) = refreshable_at_manual_time(db).await;
    clock.advance_ms(REFRESH_LIFETIME_MS - 1000);
    let second = refreshed(&app, &s, &rt1, None).await;
    let rt2 = second["refresh_token"].as_str().unwrap();
    // Past the first token's lifetime, within the second's.
    clock.advance_ms(REFRESH_LIFETIME_MS - 1000);
    refreshed(&app, &s, rt2, None).await;
}

both_backends!(
    a_refresh_with_hooks_bound_carries_the_roles_the_user_has_now,
    a_refresh_with_hooks_bound_sees_the_roles_in_the_order_a_login_does,
    offline_access_gives_a_refresh_token,
    without_the_refresh_token_grant_offline_access_gives_no_refresh_token,
    a_refresh_token_is_rotated_on_every_use,
    a_refresh_reruns_the_hooks_so_changed_metadata_reaches_the_tokens,
    a_refresh_is_not_counted_as_a_login,
    a_refresh_asking_for_a_wider_scope_is_invalid_scope_and_leaves_the_token_unspent,
    a_refresh_may_narrow_the_scope,
    a_refresh_token_replayed_after_rotation_revokes_the_family,
    a_refresh_retried_within_the_grace_window_gets_the_same_refresh_token,
    a_rotated_token_presented_after_the_grace_window_revokes_the_family,
    with_no_grace_window_an_immediate_replay_revokes_the_family,
    a_refresh_after_the_organization_membership_ended_is_invalid_grant,
    a_refresh_for_a_blocked_user_is_invalid_grant,
    an_unknown_refresh_token_is_invalid_grant,
    a_refresh_token_works_until_the_end_of_its_lifetime,
    a_refresh_token_used_after_its_lifetime_is_invalid_grant,
    the_refresh_token_lifetime_is_the_application_s_setting,
    a_rotated_refresh_token_gets_a_full_lifetime_of_its_own,
);
