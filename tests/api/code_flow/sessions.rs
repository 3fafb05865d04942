//! The browser session behind single sign-on ends at once when the user is blocked or their
//! sessions are revoked.

use reqwest::StatusCode;
use serde_json::json;

use super::{Browser, has_session, login_for_code, setup};
use crate::both_backends;
use crate::helpers::{Db, Reply, spawn_app};

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
    blocking_the_user_ends_their_browser_session,
    revoking_the_user_s_sessions_ends_their_browser_session,
);
