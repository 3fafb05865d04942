//! JWT templates through the management API: validation with positions, save, audit,
//! per-application overrides, preview, and template claims in real tokens (with a hook
//! overriding one).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, spawn_app, upload_and_bind, verify};

fn access_template() -> Value {
    json!({
        "department": "{{user.user_metadata.department}}",
        "org_tier": "{{organization.metadata.tier}}",
        "https://sigil.example/roles": "{{user.app_metadata.roles}}",
        "region": "{{user.user_metadata.region || organization.metadata.region || 'eu'}}",
        "logins": "{{user.logins_count}}"
    })
}

async fn seed(app: &TestApp) -> (String, String, String) {
    let u = app
        .post(
            "/t/default/api/users",
            json!({"email": "ada@example.com", "password": "correct horse battery", "email_verified": true,
                   "given_name": "Ada", "family_name": "Lovelace",
                   "user_metadata": {"department": "engineering"}, "app_metadata": {"roles": ["admin", "billing"]}}),
        )
        .await.expect_status(StatusCode::CREATED);
    let o = app
        .post(
            "/t/default/api/organizations",
            json!({"name": "globex", "metadata": {"tier": "gold"}}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    app.post(
        &format!(
            "/t/default/api/organizations/{}/members",
            o["id"].as_str().unwrap()
        ),
        json!({"user_id": u["id"]}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let a = app
        .post(
            "/t/default/api/applications",
            json!({"name": "web", "grant_types": ["password"], "client_metadata": {"plan": "pro"}}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    (
        u["id"].as_str().unwrap().into(),
        a["client_id"].as_str().unwrap().into(),
        a["client_secret"].as_str().unwrap().into(),
    )
}

async fn templates_validate_save_preview_and_audit(db: Db) {
    let app = spawn_app(db).await;
    let (user_id, client_id, _) = seed(&app).await;

    // Invalid templates are refused with every error's position, and nothing is saved.
    let (s, e) = app
        .put(
            "/t/default/api/jwt-templates/access_token",
            json!({"dept": "x {{user.user_metadta.department}}", "sub": "{{user.id}}", "bad": "{{user.email"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["code"], "invalid_template");
    let errors = e["errors"].as_array().unwrap();
    let find = |code: &str| {
        errors
            .iter()
            .find(|x| x["code"] == code)
            .unwrap_or_else(|| panic!("{code} in {e}"))
    };
    assert_eq!(find("syntax")["pointer"], "/bad");
    assert_eq!(find("unknown_field")["pointer"], "/dept");
    assert_eq!(find("unknown_field")["offset"], 9); // at `user_metadta`
    assert_eq!(find("restricted_claim")["pointer"], "/sub");
    let (s, e) = app
        .put(
            "/t/default/api/jwt-templates/access_token",
            json!(["not", "an", "object"]),
        )
        .await;
    assert_eq!(
        (s, e["errors"][0]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("not_an_object"))
    );
    let (s, e) = app
        .put("/t/default/api/jwt-templates/refresh_token", json!({}))
        .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("token"))
    );
    let saved = app
        .get("/t/default/api/jwt-templates")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(saved["access_token"], Value::Null);

    let (s, b) = app
        .put(
            "/t/default/api/jwt-templates/access_token",
            access_template(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.put(
        "/t/default/api/jwt-templates/id_token",
        json!({"full_name": "{{user.given_name}} {{user.family_name}}", "plan": "{{client.client_metadata.plan}}"}),
    )
    .await.expect_status(StatusCode::OK);
    let saved = app
        .get("/t/default/api/jwt-templates")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(saved["access_token"], access_template());
    let log = app
        .get("/t/default/api/audit-log?resource_type=jwt_template")
        .await
        .expect_status(StatusCode::OK);
    assert!(
        log["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["action"] == "set" && x["resource_id"] == "access_token"),
        "{log}"
    );

    // Preview against the sample event, an unsaved template, and a real user.
    let (s, p) = app
        .post("/t/default/api/jwt-templates/preview", json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["access_token"]["department"], "engineering");
    assert_eq!(p["access_token"]["org_tier"], "gold");
    assert_eq!(p["access_token"]["region"], "eu");
    assert_eq!(p["access_token"]["logins"], 42);
    assert_eq!(p["id_token"]["full_name"], "Ada Lovelace");
    let p = app
        .post(
            "/t/default/api/jwt-templates/preview",
            json!({"template": {"who": "{{user.email}} ({{tenant.name}})"}}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(p["access_token"], json!({"who": "ada@example.com (acme)"}));
    let (s, p) = app
        .post(
            "/t/default/api/jwt-templates/preview",
            json!({"template": {"x": "{{nope.a}}"}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(p["errors"][0]["pointer"], "/template/x");
    let (s, p) = app
        .post(
            "/t/default/api/jwt-templates/preview",
            json!({"user_id": user_id, "client_id": client_id, "organization": "globex"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        p["access_token"]["https://sigil.example/roles"],
        json!(["admin", "billing"])
    );
    assert_eq!(p["access_token"]["org_tier"], "gold");
    assert_eq!(p["access_token"]["logins"], 0);
    assert_eq!(p["id_token"]["plan"], "pro");

    // An application's override replaces the tenant's template for that token only.
    let (s, b) = app
        .put(
            &format!("/t/default/api/applications/{client_id}/jwt-templates/access_token"),
            json!({"app_only": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let p = app
        .post(
            "/t/default/api/jwt-templates/preview",
            json!({"client_id": client_id}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(p["access_token"], json!({"app_only": true}));
    assert_eq!(p["id_token"]["full_name"], "Ada Lovelace");
    let (s, _) = app
        .put(
            "/t/default/api/applications/app_nope/jwt-templates/access_token",
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .delete(&format!(
            "/t/default/api/applications/{client_id}/jwt-templates/access_token"
        ))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.delete("/t/default/api/jwt-templates/id_token").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.delete("/t/default/api/jwt-templates/id_token").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn password_grant(app: &TestApp, client_id: &str, secret: &str) -> Value {
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid profile"),
            ("organization", "globex"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn template_claims_reach_tokens_and_hooks_override(db: Db) {
    let app = spawn_app(db).await;
    let (_, client_id, secret) = seed(&app).await;
    let mut t = access_template();
    t["https://sigil.example/roles"] = json!("from-template");
    app.put("/t/default/api/jwt-templates/access_token", t)
        .await
        .expect_status(StatusCode::OK);
    app.put(
        "/t/default/api/jwt-templates/id_token",
        json!({"full_name": "{{user.given_name}} {{user.family_name}}", "missing": "{{user.user_metadata.nope}}"}),
    )
    .await.expect_status(StatusCode::OK);
    // Templates alone, no hook bound yet: the event is built for them.
    let body = password_grant(&app, &client_id, &secret).await;
    let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["department"], "engineering");
    assert_eq!(at["https://sigil.example/roles"], "from-template");
    // roles_claims sets https://sigil.example/roles on both tokens: the hook wins.
    upload_and_bind(&app, &[("roles", "roles_claims", "fail_closed")]).await;
    let body = password_grant(&app, &client_id, &secret).await;
    let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["department"], "engineering");
    assert_eq!(at["org_tier"], "gold");
    assert_eq!(at["region"], "eu");
    assert_eq!(
        at["https://sigil.example/roles"],
        json!(["admin", "billing"])
    );
    let (_, id) = verify(&app, body["id_token"].as_str().unwrap()).await;
    assert_eq!(id["full_name"], "Ada Lovelace");
    assert!(id.get("missing").is_none());
    assert!(id.get("department").is_none());
    let (s, ui) = app
        .call(
            Method::GET,
            "/t/default/userinfo",
            Some(body["access_token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ui["full_name"], "Ada Lovelace");
}

/// The template editor previews a draft of one token beside what the other token's live
/// template gives, for the same event.
async fn a_draft_previews_beside_the_live_template_of_the_other_token(db: Db) {
    let app = spawn_app(db).await;
    let (user_id, client_id, _) = seed(&app).await;
    app.put(
        "/t/default/api/jwt-templates/id_token",
        json!({"full_name": "{{user.given_name}} {{user.family_name}}"}),
    )
    .await
    .expect_status(StatusCode::OK);
    app.put(
        "/t/default/api/jwt-templates/access_token",
        access_template(),
    )
    .await
    .expect_status(StatusCode::OK);

    let p = app
        .post(
            "/t/default/api/jwt-templates/preview",
            json!({"template": {"dept": "{{user.user_metadata.department}}"}, "token": "id_token",
                   "user_id": user_id, "client_id": client_id}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(p["id_token"], json!({"dept": "engineering"}));
    assert_eq!(p["access_token"]["department"], "engineering");
    assert_eq!(p["access_token"]["logins"], 0);

    // Without `token`, the draft is the access token's, as before.
    let p = app
        .post(
            "/t/default/api/jwt-templates/preview",
            json!({"template": {"who": "{{user.email}}"}}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(p["access_token"], json!({"who": "ada@example.com"}));
    assert_eq!(p["id_token"], json!({"full_name": "Ada Lovelace"}));

    let (s, e) = app
        .post(
            "/t/default/api/jwt-templates/preview",
            json!({"template": {}, "token": "refresh_token"}),
        )
        .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("token")),
        "{e}"
    );
    let (s, e) = app
        .post(
            "/t/default/api/jwt-templates/preview",
            json!({"token": "id_token"}),
        )
        .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("token")),
        "{e}"
    );
}

both_backends!(
    templates_validate_save_preview_and_audit,
    a_draft_previews_beside_the_live_template_of_the_other_token,
    template_claims_reach_tokens_and_hooks_override,
);
