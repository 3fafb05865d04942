//! What the post-login flow's outcome does to a password grant: a hook's deny, and a failing
//! hook under each failure policy.

use reqwest::StatusCode;
use serde_json::json;

use super::{ADA_PASSWORD, Setup, ada_grant, setup};
use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, spawn_app, spawn_app_with, upload_and_bind};

/// The fixture with the hostile guest bound under `policy`, in the mode where it sets a
/// restricted claim (an error of the hook).
async fn with_failing_hook(app: &TestApp, policy: &str) -> Setup {
    let s = setup(app, "EdDSA").await;
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"user_metadata": {"mode": "restricted"}}),
    )
    .await
    .expect_status(StatusCode::OK);
    upload_and_bind(app, &[("hostile", "hostile", policy)]).await;
    s
}

async fn a_hook_s_deny_is_access_denied_with_its_reason(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "EdDSA").await;
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"email_verified": false}),
    )
    .await
    .expect_status(StatusCode::OK);
    upload_and_bind(
        &app,
        &[("verified", "require_verified_email", "fail_closed")],
    )
    .await;
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
    assert_eq!(got.1["error"], "access_denied");
    assert!(
        got.1["error_description"]
            .as_str()
            .unwrap()
            .contains("verify your email")
    );
}

async fn a_failing_fail_closed_hook_is_a_server_error_that_reveals_nothing(db: Db) {
    let app = spawn_app(db).await;
    let s = with_failing_hook(&app, "fail_closed").await;
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(got.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(got.1["error"], "server_error");
    assert!(!got.1.to_string().contains("sub") && !got.1.to_string().contains("hostile"));
}

async fn the_trace_of_a_failed_login_holds_the_hook_s_error(db: Db) {
    let app = spawn_app(db).await;
    let s = with_failing_hook(&app, "fail_closed").await;
    ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    let traces = app
        .get("/t/default/api/hook-traces")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        traces["data"][0]["hooks"][0]["error_code"], "restricted_claim",
        "the trace holds the cause"
    );
}

/// A wall-clock limit depends on the moment as much as on the hook (a sound hook misses it on
/// a machine short of CPU), so a fail-closed hook stopped by one is RFC 6749's "temporary
/// overloading": 503 `temporarily_unavailable`, which a client may retry, not `server_error`.
async fn a_fail_closed_hook_stopped_by_its_deadline_is_temporarily_unavailable(db: Db) {
    // Fuel out of the way, so the loop meets the deadline however slowly the machine runs it.
    let app = spawn_app_with(db, |s| s.hook_ceilings.fuel = u64::MAX / 2).await;
    let s = setup(&app, "EdDSA").await;
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"user_metadata": {"mode": "loop"}}),
    )
    .await
    .expect_status(StatusCode::OK);
    upload_and_bind(&app, &[("hostile", "hostile", "fail_closed")]).await;
    app.put(
        "/t/default/api/hooks/hostile/limits",
        json!({"deadline_ms": 5}),
    )
    .await
    .expect_status(StatusCode::OK);
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(got.0, StatusCode::SERVICE_UNAVAILABLE, "{}", got.1);
    assert_eq!(got.1["error"], "temporarily_unavailable");
    assert!(!got.1.to_string().contains("hostile"), "{}", got.1);
    let traces = app
        .get("/t/default/api/hook-traces")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(traces["data"][0]["hooks"][0]["error_code"], "timeout");
}

async fn a_failing_fail_open_hook_lets_the_login_through(db: Db) {
    let app = spawn_app(db).await;
    let s = with_failing_hook(&app, "fail_open").await;
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert!(got.1["id_token"].is_string());
}

both_backends!(
    a_hook_s_deny_is_access_denied_with_its_reason,
    a_failing_fail_closed_hook_is_a_server_error_that_reveals_nothing,
    the_trace_of_a_failed_login_holds_the_hook_s_error,
    a_fail_closed_hook_stopped_by_its_deadline_is_temporarily_unavailable,
    a_failing_fail_open_hook_lets_the_login_through,
);
