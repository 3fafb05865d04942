//! Token revocation (RFC 7009), and the other events that end a user's grants. The cascade
//! from a family to its access tokens is in `attacks::sessions`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::grants::{Setup, ada_login, enable_refresh, refresh, setup};
use crate::helpers::{Db, Reply, TestApp, spawn_app};

/// POSTs `token` to `/oauth/{endpoint}` as the fixture's client.
pub(crate) async fn post_token(
    app: &TestApp,
    s: &Setup,
    endpoint: &str,
    token: &str,
) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/t/default/oauth/{endpoint}", app.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    (
        res.status(),
        res.json::<Value>().await.unwrap_or(Value::Null),
    )
}

/// The fixture allowed refresh tokens, and Ada's access and refresh tokens.
pub(crate) async fn issued(app: &TestApp) -> (Setup, String, String) {
    let s = setup(app, "ES256").await;
    enable_refresh(app, &s).await;
    let b = ada_login(app, &s, &[("scope", "openid offline_access")]).await;
    let at = b["access_token"].as_str().unwrap().to_string();
    let rt = b["refresh_token"].as_str().unwrap().to_string();
    (s, at, rt)
}

async fn userinfo_status(app: &TestApp, at: &str) -> StatusCode {
    app.call(Method::GET, "/t/default/userinfo", Some(at), None)
        .await
        .0
}

async fn a_revoked_access_token_is_refused_by_userinfo(db: Db) {
    let app = spawn_app(db).await;
    let (s, at, _) = issued(&app).await;
    post_token(&app, &s, "revoke", &at)
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
}

async fn a_revoked_access_token_introspects_as_inactive(db: Db) {
    let app = spawn_app(db).await;
    let (s, at, _) = issued(&app).await;
    post_token(&app, &s, "revoke", &at)
        .await
        .expect_status(StatusCode::OK);
    let i = post_token(&app, &s, "introspect", &at)
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(i["active"], false);
}

async fn a_revoked_refresh_token_is_invalid_grant(db: Db) {
    let app = spawn_app(db).await;
    let (s, _, rt) = issued(&app).await;
    post_token(&app, &s, "revoke", &rt)
        .await
        .expect_status(StatusCode::OK);
    let (st, b) = refresh(&app, &s, &rt, None).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn revoking_an_unknown_token_is_not_an_error(db: Db) {
    // RFC 7009 2.2.
    let app = spawn_app(db).await;
    let (s, _, _) = issued(&app).await;
    let (st, _) = post_token(&app, &s, "revoke", "whatever").await;
    assert_eq!(st, StatusCode::OK);
}

async fn a_password_change_ends_the_user_s_grants(db: Db) {
    let app = spawn_app(db).await;
    let (s, at, rt) = issued(&app).await;
    app.put(
        &format!("/t/default/api/users/{}/password", s.user_id),
        json!({"password": "a different long password"}),
    )
    .await
    .expect_status(StatusCode::NO_CONTENT);
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
    let (st, _) = refresh(&app, &s, &rt, None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

both_backends!(
    a_revoked_access_token_is_refused_by_userinfo,
    a_revoked_access_token_introspects_as_inactive,
    a_revoked_refresh_token_is_invalid_grant,
    revoking_an_unknown_token_is_not_an_error,
    a_password_change_ends_the_user_s_grants,
);
