//! Corrupt stored data (a manual edit, a bad restore) is an error the operator sees in the log,
//! never a silent default: a metadata object that does not parse is not merged into as `{}`,
//! limits that do not parse are not read as "no overrides" (which would raise a lowered limit),
//! an unknown grant type is not read as "no grants". The response is a server error that
//! reveals nothing, and the stored value is left as it was.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::grants::{ADA_PASSWORD, ada_grant, setup};
use crate::helpers::{Db, Reply, TestApp, assert_error, spawn_app, upload_and_bind};

/// Runs one raw statement against the server's database, as a manual edit would.
async fn raw(app: &TestApp, sql: &str, id: &str) {
    let done = sqlx::query(sql)
        .bind(id)
        .execute(app.svc.db.store.pool())
        .await
        .expect("raw statement runs");
    assert_eq!(done.rows_affected(), 1, "{sql}");
}

/// One text column of one row, read raw.
async fn column(app: &TestApp, sql: &str, id: &str) -> String {
    let (v,): (String,) = sqlx::query_as(sql)
        .bind(id)
        .fetch_one(app.svc.db.store.pool())
        .await
        .expect("raw read");
    v
}

async fn corrupt_stored_user_metadata_fails_the_write_instead_of_replacing_it(db: Db) {
    let app = spawn_app(db).await;
    let user = app
        .post(
            "/t/default/api/users",
            json!({"email": "ada@example.com", "user_metadata": {"department": "eng"}}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let id = user["id"].as_str().unwrap();
    raw(
        &app,
        "UPDATE users SET user_metadata = '{\"department\": ' WHERE id = $1",
        id,
    )
    .await;
    let got = app
        .patch(
            &format!("/t/default/api/users/{id}/user_metadata"),
            json!({"plan": "pro"}),
        )
        .await;
    assert_error(&got, StatusCode::INTERNAL_SERVER_ERROR, "internal", None);
    assert!(!got.1.to_string().contains("department"), "{}", got.1);
    assert_eq!(
        column(&app, "SELECT user_metadata FROM users WHERE id = $1", id).await,
        "{\"department\": ",
        "the stored value is left for the operator to repair"
    );
    // Reading the user is refused the same way, not answered with `{}`.
    let got = app.get(&format!("/t/default/api/users/{id}")).await;
    assert_error(&got, StatusCode::INTERNAL_SERVER_ERROR, "internal", None);
}

async fn corrupt_stored_app_metadata_fails_the_login_instead_of_the_hook_s_write_replacing_it(
    db: Db,
) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    upload_and_bind(&app, &[("stamp", "first_login_stamp", "fail_closed")]).await;
    raw(
        &app,
        "UPDATE users SET app_metadata = 'not json' WHERE id = $1",
        &s.user_id,
    )
    .await;
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(got.0, StatusCode::INTERNAL_SERVER_ERROR, "{}", got.1);
    assert_eq!(got.1["error"], "server_error");
    assert_eq!(
        column(
            &app,
            "SELECT app_metadata FROM users WHERE id = $1",
            &s.user_id
        )
        .await,
        "not json",
        "the hook's write did not replace the stored object"
    );
}

async fn corrupt_hook_limits_fail_the_login_closed_instead_of_using_defaults(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    // Even a fail-open hook: the flow could not be loaded, so it does not run with limits
    // nobody set.
    upload_and_bind(&app, &[("stamp", "first_login_stamp", "fail_open")]).await;
    let hook = app
        .get("/t/default/api/hooks/stamp")
        .await
        .expect_status(StatusCode::OK);
    raw(
        &app,
        "UPDATE hooks SET limits = '{\"fuel\": \"plenty\"}' WHERE id = $1",
        hook["id"].as_str().unwrap(),
    )
    .await;
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(got.0, StatusCode::INTERNAL_SERVER_ERROR, "{}", got.1);
    assert_eq!(got.1["error"], "server_error");
    let got = app.get("/t/default/api/hooks/stamp").await;
    assert_error(&got, StatusCode::INTERNAL_SERVER_ERROR, "internal", None);
}

async fn corrupt_tenant_hook_limits_fail_the_login_closed_instead_of_using_defaults(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    upload_and_bind(&app, &[("stamp", "first_login_stamp", "fail_open")]).await;
    app.put("/t/default/api/hook-limits", json!({"fuel": 1_000_000}))
        .await
        .expect_status(StatusCode::OK);
    raw(
        &app,
        "UPDATE tenants SET hook_limits = '{\"fuel\": 1000000' WHERE name = $1",
        "default",
    )
    .await;
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(got.0, StatusCode::INTERNAL_SERVER_ERROR, "{}", got.1);
    assert_eq!(got.1["error"], "server_error");
    let got = app.get("/t/default/api/hook-limits").await;
    assert_error(&got, StatusCode::INTERNAL_SERVER_ERROR, "internal", None);
}

async fn an_unknown_stored_grant_type_is_a_server_error_not_a_refusal(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    raw(
        &app,
        "UPDATE applications SET grant_types = '[\"password\", \"implicit\"]' WHERE client_id = $1",
        &s.client_id,
    )
    .await;
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(got.0, StatusCode::INTERNAL_SERVER_ERROR, "{}", got.1);
    assert_eq!(got.1["error"], "server_error");
    let got = app
        .get(&format!("/t/default/api/applications/{}", s.client_id))
        .await;
    assert_error(&got, StatusCode::INTERNAL_SERVER_ERROR, "internal", None);
}

async fn a_stored_flag_that_is_neither_0_nor_1_is_a_server_error(db: Db) {
    let app = spawn_app(db).await;
    let user = app.user("ada@example.com").await;
    let id = user["id"].as_str().unwrap();
    raw(&app, "UPDATE users SET blocked = 7 WHERE id = $1", id).await;
    let got = app.get(&format!("/t/default/api/users/{id}")).await;
    assert_error(&got, StatusCode::INTERNAL_SERVER_ERROR, "internal", None);
}

both_backends!(
    corrupt_stored_user_metadata_fails_the_write_instead_of_replacing_it,
    corrupt_stored_app_metadata_fails_the_login_instead_of_the_hook_s_write_replacing_it,
    corrupt_hook_limits_fail_the_login_closed_instead_of_using_defaults,
    corrupt_tenant_hook_limits_fail_the_login_closed_instead_of_using_defaults,
    an_unknown_stored_grant_type_is_a_server_error_not_a_refusal,
    a_stored_flag_that_is_neither_0_nor_1_is_a_server_error,
);
