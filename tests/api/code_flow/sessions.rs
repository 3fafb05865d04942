//! The browser session behind single sign-on: it ends after its idle lifetime without use (3
//! days by default), at its absolute lifetime whatever the use (7 days), and at once when the
//! user is blocked or their sessions are revoked. Time is the server's manual clock.

use reqwest::StatusCode;
use serde_json::json;

use super::{Browser, has_session, login_for_code, setup};
use crate::both_backends;
use crate::helpers::{Db, Reply, spawn_app, spawn_app_with_clock};

const DAY_MS: i64 = 24 * 3600 * 1000;
/// `SessionPolicy::default()`.
const IDLE_MS: i64 = 3 * DAY_MS;
const ABSOLUTE_MS: i64 = 7 * DAY_MS;

async fn a_session_used_within_its_idle_lifetime_lives_on(db: Db) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_code(&mut b, &s, &[]).await;
    clock.advance_ms(IDLE_MS - 1);
    assert!(has_session(&mut b, &s).await);
}

async fn a_session_unused_for_its_idle_lifetime_ends(db: Db) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_code(&mut b, &s, &[]).await;
    clock.advance_ms(IDLE_MS);
    assert!(!has_session(&mut b, &s).await);
}

async fn each_use_of_a_session_restarts_its_idle_lifetime(db: Db) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_code(&mut b, &s, &[]).await;
    clock.advance_ms(2 * DAY_MS);
    assert!(has_session(&mut b, &s).await);
    // Four days after the login, two after the last use.
    clock.advance_ms(2 * DAY_MS);
    assert!(has_session(&mut b, &s).await);
}

async fn a_session_in_use_ends_at_its_absolute_lifetime(db: Db) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_code(&mut b, &s, &[]).await;
    for day in [2, 4, 6] {
        clock.advance_ms(2 * DAY_MS);
        assert!(has_session(&mut b, &s).await, "day {day}");
    }
    clock.advance_ms(ABSOLUTE_MS - 6 * DAY_MS - 1);
    assert!(has_session(&mut b, &s).await, "just before the end");
    clock.advance_ms(1);
    assert!(!has_session(&mut b, &s).await, "seven days after the login");
}

async fn blocking_the_user_ends_their_browser_session(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_code(&mut b, &s, &[]).await;
    let user = format!("/t/default/api/users/{}", s.user_id);
    app.patch(&user, json!({"blocked": true}))
        .await
        .expect_status(StatusCode::OK);
    app.patch(&user, json!({"blocked": false}))
        .await
        .expect_status(StatusCode::OK);
    assert!(
        !has_session(&mut b, &s).await,
        "unblocking does not revive it"
    );
}

async fn revoking_the_user_s_sessions_ends_their_browser_session(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    login_for_code(&mut b, &s, &[]).await;
    let body = app
        .delete(&format!("/t/default/api/users/{}/sessions", s.user_id))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(body["sessions_ended"], 1);
    assert!(!has_session(&mut b, &s).await);
}

both_backends!(
    a_session_used_within_its_idle_lifetime_lives_on,
    a_session_unused_for_its_idle_lifetime_ends,
    each_use_of_a_session_restarts_its_idle_lifetime,
    a_session_in_use_ends_at_its_absolute_lifetime,
    blocking_the_user_ends_their_browser_session,
    revoking_the_user_s_sessions_ends_their_browser_session,
);
