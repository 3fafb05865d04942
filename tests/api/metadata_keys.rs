//! `GET /t/{tenant}/api/metadata-keys`: the metadata key paths a tenant's writes have set, as
//! template paths, for the template editor's autocomplete. Every write that sets metadata adds
//! to it (the API's users, organizations and applications, an import, a hook's write at a
//! login); it holds one tenant's keys only, template names only, and at most 1000.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::grants::{ADA_PASSWORD, ada_grant, setup};
use crate::helpers::{Db, Reply, TestApp, assert_error, spawn_app, upload_and_bind};

async fn keys(app: &TestApp, tenant: &str, query: &str) -> Vec<String> {
    let body = app
        .get(&format!("/t/{tenant}/api/metadata-keys{query}"))
        .await
        .expect_status(StatusCode::OK);
    serde_json::from_value(body["data"].clone()).unwrap()
}

async fn keys_written_through_the_api_are_offered_as_template_paths(db: Db) {
    let app = spawn_app(db).await;
    let user = app
        .post(
            "/t/default/api/users",
            json!({"email": "ada@example.com",
                   "user_metadata": {"department": "eng", "address": {"city": "London"}},
                   "app_metadata": {"plan": "pro"}}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let id = user["id"].as_str().unwrap();
    app.patch(
        &format!("/t/default/api/users/{id}/user_metadata"),
        json!({"team": "compilers"}),
    )
    .await
    .expect_status(StatusCode::OK);
    app.post(
        "/t/default/api/organizations",
        json!({"name": "globex", "metadata": {"tier": "gold"}}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    app.post(
        "/t/default/api/applications",
        json!({"name": "web", "client_metadata": {"region": "eu"}}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let line = json!({"email": "grace@example.com", "app_metadata": {"seat": 7}}).to_string();
    let (s, report) = app
        .raw(
            reqwest::Method::POST,
            "/t/default/api/users/import",
            &app.operator_key.clone(),
            line.into_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");

    assert_eq!(
        keys(&app, "default", "").await,
        [
            "client.client_metadata.region",
            "organization.metadata.tier",
            "user.app_metadata.plan",
            "user.app_metadata.seat",
            "user.user_metadata.address",
            "user.user_metadata.address.city",
            "user.user_metadata.department",
            "user.user_metadata.team",
        ]
    );
    // What the editor asks for as the user types.
    assert_eq!(
        keys(&app, "default", "?prefix=user.user_metadata.a").await,
        [
            "user.user_metadata.address",
            "user.user_metadata.address.city"
        ]
    );
    assert_eq!(
        keys(&app, "default", "?prefix=user.user_metadata.d&limit=1").await,
        ["user.user_metadata.department"]
    );
}

async fn a_hook_s_write_at_a_login_is_offered(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    upload_and_bind(&app, &[("stamp", "first_login_stamp", "fail_closed")]).await;
    assert!(
        !keys(&app, "default", "")
            .await
            .contains(&"user.app_metadata.first_login_at".to_string())
    );
    let got = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    assert!(
        keys(&app, "default", "?prefix=user.app_metadata.")
            .await
            .contains(&"user.app_metadata.first_login_at".to_string())
    );
}

async fn another_tenant_s_keys_never_appear(db: Db) {
    let app = spawn_app(db).await;
    let acme = app.tenant("acme").await;
    let (s, body) = app
        .call(
            reqwest::Method::POST,
            "/t/acme/api/users",
            Some(&acme),
            Some(json!({"email": "wile@acme.test", "user_metadata": {"acme_only": true}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    app.post(
        "/t/default/api/users",
        json!({"email": "ada@example.com", "user_metadata": {"mine": 1}}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    assert_eq!(keys(&app, "default", "").await, ["user.user_metadata.mine"]);
    assert_eq!(
        keys(&app, "acme", "").await,
        ["user.user_metadata.acme_only"]
    );
}

async fn only_template_names_are_offered_and_a_bad_query_names_its_field(db: Db) {
    let app = spawn_app(db).await;
    app.post(
        "/t/default/api/users",
        json!({"email": "ada@example.com",
               "user_metadata": {"has space": 1, "a.b": 1, "9lives": 1, "-lead": 1, "ok-name_2": 1}}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    assert_eq!(
        keys(&app, "default", "").await,
        ["user.user_metadata.ok-name_2"]
    );
    for query in ["?limit=0", "?limit=1001", "?limit=x"] {
        let got = app
            .get(&format!("/t/default/api/metadata-keys{query}"))
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some("limit"),
        );
    }
}

async fn a_tenant_keeps_at_most_a_thousand_and_its_writes_still_succeed(db: Db) {
    let app = spawn_app(db).await;
    for batch in 0..11 {
        let meta: serde_json::Map<String, Value> = (0..100)
            .map(|i| (format!("k{batch:02}_{i:03}"), json!(1)))
            .collect();
        app.post(
            "/t/default/api/users",
            json!({"email": format!("u{batch}@example.com"), "user_metadata": meta}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    }
    let all = keys(&app, "default", "?limit=1000").await;
    assert_eq!(all.len(), 1000);
    assert_eq!(all[0], "user.user_metadata.k00_000");
}

both_backends!(
    keys_written_through_the_api_are_offered_as_template_paths,
    a_hook_s_write_at_a_login_is_offered,
    another_tenant_s_keys_never_appear,
    only_template_names_are_offered_and_a_bad_query_names_its_field,
    a_tenant_keeps_at_most_a_thousand_and_its_writes_still_succeed,
);
