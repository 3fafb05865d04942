//! The resource owner password grant (RFC 6749 4.3): the response, the tokens it signs, the
//! post-login hooks it runs, and its refusals.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{ADA_PASSWORD, Setup, ada_grant, ada_login, application, error_of, setup, token};
use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, spawn_app, upload_and_bind, verify};

/// Everything a full login asks for: OIDC scopes, an API scope, the API as audience, and the
/// organization.
const FULL_LOGIN: [(&str, &str); 3] = [
    ("scope", "openid profile email read:reports"),
    ("audience", "https://api.example.com"),
    ("organization", "globex"),
];

/// The fixture with three hooks bound (roles and permissions, the organization's tier and the
/// user's department, a first-login stamp written back to the user), and Ada's full login.
async fn hooked_login(app: &TestApp) -> (Setup, Value) {
    let s = setup(app, "RS256").await;
    upload_and_bind(
        app,
        &[
            ("roles", "roles_claims", "fail_closed"),
            ("tier", "org_tier", "fail_closed"),
            ("stamp", "first_login_stamp", "fail_closed"),
        ],
    )
    .await;
    let body = ada_login(app, &s, &FULL_LOGIN).await;
    (s, body)
}

async fn the_response_is_a_bearer_token_for_the_granted_scopes_and_is_not_cached(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    let mut form = vec![("username", "ada@example.com"), ("password", ADA_PASSWORD)];
    form.extend_from_slice(&FULL_LOGIN);
    let (status, body, headers) = token(&app, &s, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "openid profile email read:reports");
}

async fn the_username_is_matched_without_regard_to_case(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    let (status, body, _) = token(
        &app,
        &s,
        &[("username", "ADA@example.com"), ("password", ADA_PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["sub"], s.user_id.as_str());
}

async fn the_access_token_is_an_at_jwt_for_the_user_the_client_the_organization_and_the_api(
    db: Db,
) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    let body = ada_login(&app, &s, &FULL_LOGIN).await;
    let (h, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(h.typ.as_deref(), Some("at+jwt"));
    assert_eq!(h.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(at["sub"], s.user_id.as_str());
    assert_eq!(at["client_id"], s.client_id.as_str());
    assert_eq!(at["org_id"], s.org_id.as_str());
    assert_eq!(
        at["aud"],
        json!([
            "https://api.example.com",
            format!("{}/t/default/userinfo", app.base)
        ])
    );
}

async fn the_id_token_is_for_the_client_and_carries_the_profile_claims(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    let body = ada_login(&app, &s, &FULL_LOGIN).await;
    let (_, id) = verify(&app, body["id_token"].as_str().unwrap()).await;
    assert_eq!(
        (id["aud"].clone(), id["azp"].clone()),
        (json!(s.client_id), json!(s.client_id))
    );
    assert_eq!(id["email"], "ada@example.com");
    assert_eq!(id["name"], "Ada");
}

async fn the_hooks_claims_reach_the_access_token(db: Db) {
    let app = spawn_app(db).await;
    let (_, body) = hooked_login(&app).await;
    let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["https://sigil.example/roles"], json!(["admin"]));
    assert_eq!(
        at["https://sigil.example/permissions"],
        json!(["read:reports"])
    );
    assert_eq!(at["org_tier"], "gold");
    assert_eq!(at["department"], "eng");
}

async fn a_claim_a_hook_sets_on_the_access_token_only_stays_off_the_id_token(db: Db) {
    let app = spawn_app(db).await;
    let (_, body) = hooked_login(&app).await;
    let (_, id) = verify(&app, body["id_token"].as_str().unwrap()).await;
    assert_eq!(id["https://sigil.example/roles"], json!(["admin"]));
    assert!(
        id.get("org_tier").is_none(),
        "org_tier was set on the access token only"
    );
}

async fn a_hook_s_metadata_write_back_lands_on_the_user_and_the_login_is_counted(db: Db) {
    let app = spawn_app(db).await;
    let (s, _) = hooked_login(&app).await;
    let u = app
        .get(&format!("/t/default/api/users/{}", s.user_id))
        .await
        .expect_status(StatusCode::OK);
    assert!(u["app_metadata"]["first_login_at"].is_string());
    assert_eq!(u["logins_count"], 1);
}

async fn a_login_leaves_a_successful_trace_of_every_hook_it_ran(db: Db) {
    let app = spawn_app(db).await;
    hooked_login(&app).await;
    let traces = app
        .get("/t/default/api/hook-traces")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(traces["data"][0]["status"], "success");
    assert_eq!(traces["data"][0]["hooks"].as_array().unwrap().len(), 3);
}

async fn a_wrong_password_is_invalid_grant_with_a_generic_message(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let wrong = ada_grant(&app, &s, "wrong password", &[]).await;
    assert_eq!(wrong.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.1,
        json!({"error": "invalid_grant", "error_description": "Wrong email or password."})
    );
}

async fn an_unknown_user_gets_the_same_reply_as_a_wrong_password(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let wrong = ada_grant(&app, &s, "wrong password", &[]).await;
    let (st, body, _) = token(
        &app,
        &s,
        &[
            ("username", "nobody@example.com"),
            ("password", "wrong password"),
        ],
    )
    .await;
    assert_eq!((wrong.0, &wrong.1), (st, &body), "no user enumeration");
}

async fn a_missing_password_is_invalid_request(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let (st, body, _) = token(&app, &s, &[("username", "ada@example.com")]).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{body}"
    );
}

async fn a_scope_no_api_defines_is_invalid_scope(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let got = ada_grant(
        &app,
        &s,
        ADA_PASSWORD,
        &[("scope", "openid delete:everything")],
    )
    .await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_scope")),
        "{}",
        got.1
    );
}

async fn an_unknown_audience_is_invalid_target(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[("audience", "https://nope")]).await;
    assert_eq!(
        error_of(&got),
        (StatusCode::BAD_REQUEST, Some("invalid_target")),
        "{}",
        got.1
    );
}

async fn an_application_without_the_password_grant_may_not_use_it(db: Db) {
    let app = spawn_app(db).await;
    setup(&app, "ES256").await;
    // The default grants of a new application do not include the password grant.
    let other = application(&app, json!({"name": "spa-backend"})).await;
    let got = ada_grant(&app, &other, ADA_PASSWORD, &[]).await;
    assert_eq!(got.1["error"], "unauthorized_client");
}

async fn a_login_through_an_organization_the_user_is_not_in_is_invalid_grant(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    app.post("/t/default/api/organizations", json!({"name": "initech"}))
        .await
        .expect_status(StatusCode::CREATED);
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[("organization", "initech")]).await;
    assert_eq!(got.1["error"], "invalid_grant");
}

async fn a_blocked_user_is_invalid_grant(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"blocked": true}),
    )
    .await
    .expect_status(StatusCode::OK);
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(got.1["error"], "invalid_grant");
}

async fn tokens_are_signed_with_the_application_s_algorithm(db: Db) {
    let app = spawn_app(db).await;
    setup(&app, "RS256").await;
    for alg in ["RS256", "ES256", "EdDSA"] {
        let s = application(
            &app,
            json!({"name": alg, "grant_types": ["password"], "signing_alg": alg}),
        )
        .await;
        let body = ada_login(&app, &s, &[("scope", "openid")]).await;
        for t in ["access_token", "id_token"] {
            let (h, _) = verify(&app, body[t].as_str().unwrap()).await;
            assert_eq!(h.alg, alg.parse().unwrap(), "{alg} {t}");
        }
    }
}

both_backends!(
    the_response_is_a_bearer_token_for_the_granted_scopes_and_is_not_cached,
    the_username_is_matched_without_regard_to_case,
    the_access_token_is_an_at_jwt_for_the_user_the_client_the_organization_and_the_api,
    the_id_token_is_for_the_client_and_carries_the_profile_claims,
    the_hooks_claims_reach_the_access_token,
    a_claim_a_hook_sets_on_the_access_token_only_stays_off_the_id_token,
    a_hook_s_metadata_write_back_lands_on_the_user_and_the_login_is_counted,
    a_login_leaves_a_successful_trace_of_every_hook_it_ran,
    a_wrong_password_is_invalid_grant_with_a_generic_message,
    an_unknown_user_gets_the_same_reply_as_a_wrong_password,
    a_missing_password_is_invalid_request,
    a_scope_no_api_defines_is_invalid_scope,
    an_unknown_audience_is_invalid_target,
    an_application_without_the_password_grant_may_not_use_it,
    a_login_through_an_organization_the_user_is_not_in_is_invalid_grant,
    a_blocked_user_is_invalid_grant,
    tokens_are_signed_with_the_application_s_algorithm,
);
