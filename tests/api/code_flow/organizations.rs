//! Organizations and the post-login hooks in the code flow: the hooks run at `/authorize`,
//! before the code is issued, and their claims, denials and failures show there.

use reqwest::StatusCode;
use serde_json::json;

use super::{
    Browser, Setup, VERIFIER, authorize_path, exchange, login_for_code, login_for_tokens, setup,
    userinfo,
};
use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, spawn_app, upload_and_bind, verify};

/// The fixture plus the organization `globex` (tier gold, Ada a member) and `initech` (Ada not
/// a member); returns globex's id.
async fn with_organizations(app: &TestApp) -> (Setup, String) {
    let s = setup(app, json!({})).await;
    let org = app
        .post(
            "/t/default/api/organizations",
            json!({"name": "globex", "metadata": {"tier": "gold"}}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let org_id = org["id"].as_str().unwrap().to_string();
    app.post("/t/default/api/organizations", json!({"name": "initech"}))
        .await
        .expect_status(StatusCode::CREATED);
    app.post(
        &format!("/t/default/api/organizations/{org_id}/members"),
        json!({"user_id": s.user_id}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    (s, org_id)
}

async fn set_email_verified(app: &TestApp, s: &Setup, verified: bool) {
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({ "email_verified": verified }),
    )
    .await
    .expect_status(StatusCode::OK);
}

async fn the_hooks_claims_reach_both_tokens_and_userinfo(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    upload_and_bind(&app, &[("roles", "roles_claims", "fail_closed")]).await;
    let tokens = login_for_tokens(&mut Browser::new(&app), &app, &s).await;
    let at = tokens["access_token"].as_str().unwrap();
    let (_, id) = verify(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id["https://sigil.example/roles"], json!(["admin"]));
    let (_, atc) = verify(&app, at).await;
    assert_eq!(atc["https://sigil.example/roles"], json!(["admin"]));
    let ui = userinfo(&app, at).await.expect_status(StatusCode::OK);
    assert_eq!(ui["https://sigil.example/roles"], json!(["admin"]));
    assert_eq!(ui["email"], "ada@example.com");
}

async fn the_hooks_run_once_at_authorize_and_count_one_login(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    upload_and_bind(&app, &[("roles", "roles_claims", "fail_closed")]).await;
    login_for_tokens(&mut Browser::new(&app), &app, &s).await;
    let user = app
        .get(&format!("/t/default/api/users/{}", s.user_id))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(user["logins_count"], 1);
}

async fn a_login_through_a_member_organization_gives_its_id_and_its_claims(db: Db) {
    let app = spawn_app(db).await;
    let (s, org_id) = with_organizations(&app).await;
    upload_and_bind(&app, &[("tier", "org_tier", "fail_closed")]).await;
    let mut b = Browser::new(&app);
    let code = login_for_code(&mut b, &s, &[("organization", "globex")]).await;
    let t = exchange(&app, &s, &code, Some(VERIFIER))
        .await
        .expect_status(StatusCode::OK);
    let (_, id) = verify(&app, t["id_token"].as_str().unwrap()).await;
    assert_eq!(id["org_id"], org_id.as_str());
    let (_, at) = verify(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(at["org_id"], org_id.as_str());
    assert_eq!(at["org_tier"], "gold");
}

async fn an_organization_the_user_is_not_in_is_access_denied_at_the_redirect_uri(db: Db) {
    let app = spawn_app(db).await;
    let (s, _) = with_organizations(&app).await;
    let mut b = Browser::new(&app);
    login_for_code(&mut b, &s, &[]).await;
    let p = b
        .get(&authorize_path(
            &s.client_id,
            &[("organization", "initech")],
        ))
        .await;
    assert_eq!(p.status, StatusCode::FOUND);
    assert_eq!(p.location()["error"], "access_denied");
}

async fn a_hook_s_deny_redirects_access_denied_with_its_reason_and_the_state(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    upload_and_bind(
        &app,
        &[("verified", "require_verified_email", "fail_closed")],
    )
    .await;
    let mut b = Browser::new(&app);
    login_for_code(&mut b, &s, &[]).await;
    set_email_verified(&app, &s, false).await;
    let p = b.get(&authorize_path(&s.client_id, &[])).await;
    assert_eq!(p.status, StatusCode::FOUND);
    let q = p.location();
    assert_eq!(q["error"], "access_denied");
    assert!(
        q["error_description"].contains("verify your email"),
        "{q:?}"
    );
    assert_eq!(q["state"], "st-123");
}

async fn a_failing_fail_closed_hook_redirects_server_error_without_detail(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    upload_and_bind(
        &app,
        &[("verified", "require_verified_email", "fail_closed")],
    )
    .await;
    let mut b = Browser::new(&app);
    login_for_code(&mut b, &s, &[]).await;
    app.put("/t/default/api/hooks/verified/limits", json!({"fuel": 1}))
        .await
        .expect_status(StatusCode::OK);
    let p = b.get(&authorize_path(&s.client_id, &[])).await;
    let q = p.location();
    assert_eq!(q["error"], "server_error", "{q:?}");
    assert!(!q["error_description"].contains("fuel"));
}

both_backends!(
    the_hooks_claims_reach_both_tokens_and_userinfo,
    the_hooks_run_once_at_authorize_and_count_one_login,
    a_login_through_a_member_organization_gives_its_id_and_its_claims,
    an_organization_the_user_is_not_in_is_access_denied_at_the_redirect_uri,
    a_hook_s_deny_redirects_access_denied_with_its_reason_and_the_state,
    a_failing_fail_closed_hook_redirects_server_error_without_detail,
);
