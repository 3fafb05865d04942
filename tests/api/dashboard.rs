//! The dashboard's sign-in: a tenant administrator (a user holding the built-in `sigil-admin`
//! role) logs in through the hosted login page with the dashboard's public client (code +
//! PKCE), and the management API accepts the access token; nobody else's token, and not for
//! another tenant. The built-in rows that make this work cannot be changed through the API.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::code_flow::{Browser, VERIFIER, challenge};
use crate::helpers::{Db, Reply, TestApp, assert_error, spawn_app, upload_and_bind};

const PASSWORD: &str = "correct horse battery";

/// A user of the default tenant with a password; returns its id.
async fn user(app: &TestApp, email: &str) -> String {
    let u = app
        .post(
            "/t/default/api/users",
            json!({"email": email, "password": PASSWORD, "email_verified": true}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    u["id"].as_str().unwrap().to_string()
}

/// Makes `user_id` an administrator with the operator key; returns the dashboard client.
async fn make_admin(app: &TestApp, user_id: &str) -> Value {
    app.put(
        &format!("/t/default/api/dashboard/admins/{user_id}"),
        json!({}),
    )
    .await
    .expect_status(StatusCode::OK)
}

/// Signs `email` in through the hosted login page as `client_id` would (code + PKCE S256, the
/// management API as the audience) and returns the token response.
async fn sign_in(app: &TestApp, client_id: &str, redirect_uri: &str, email: &str) -> Value {
    sign_in_at(&app.base, "default", client_id, redirect_uri, email).await
}

/// [`sign_in`] to tenant `tenant` of the server at `base`.
pub(crate) async fn sign_in_at(
    base: &str,
    tenant: &str,
    client_id: &str,
    redirect_uri: &str,
    email: &str,
) -> Value {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid manage")
        .append_pair("audience", "urn:sigil:management")
        .append_pair("state", "st")
        .append_pair("nonce", "n")
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    let mut b = Browser::at(base);
    let page = b
        .get(&format!("/t/{tenant}/authorize?{}", q.finish()))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let done = b.login_to(tenant, &page, email, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let code = done.location()["code"].clone();
    let res = reqwest::Client::new()
        .post(format!("{base}/t/{tenant}/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// An administrator's dashboard access token, with the client it came from.
async fn admin_token(app: &TestApp, email: &str) -> (String, String, Value) {
    let id = user(app, email).await;
    let client = make_admin(app, &id).await;
    let tokens = sign_in(
        app,
        client["client_id"].as_str().unwrap(),
        client["redirect_uri"].as_str().unwrap(),
        email,
    )
    .await;
    let at = tokens["access_token"].as_str().unwrap().to_string();
    (id, at, client)
}

/// Asserts the management API refuses `token` as not an administrator's dashboard token.
async fn refused(app: &TestApp, token: &str) {
    let res = app
        .call(Method::GET, "/t/default/api/users", Some(token), None)
        .await;
    assert_error(&res, StatusCode::FORBIDDEN, "forbidden", None);
}

async fn an_administrator_s_dashboard_token_manages_the_tenant_as_that_user(db: Db) {
    let app = spawn_app(db).await;
    let (ada, at, client) = admin_token(&app, "ada@example.com").await;
    assert_eq!(client["audience"], "urn:sigil:management");
    assert_eq!(client["admin_role"], "sigil-admin");

    let (s, users) = app
        .call(Method::GET, "/t/default/api/users", Some(&at), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{users}");
    assert!(
        users["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == ada.as_str())
    );
    // A change made with the token is the administrator's in the audit log.
    let (s, role) = app
        .call(
            Method::POST,
            "/t/default/api/roles",
            Some(&at),
            Some(json!({"name": "editor"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{role}");
    let audit = app
        .get("/t/default/api/audit-log")
        .await
        .expect_status(StatusCode::OK);
    let entry = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource_id"] == role["id"])
        .unwrap_or_else(|| panic!("no audit entry for the role: {audit}"));
    assert_eq!(entry["actor"], ada.as_str());
}

async fn a_user_who_is_not_an_administrator_is_refused_with_a_valid_token(db: Db) {
    let app = spawn_app(db).await;
    let (_, _, client) = admin_token(&app, "ada@example.com").await;
    user(&app, "bob@example.com").await;
    let tokens = sign_in(
        &app,
        client["client_id"].as_str().unwrap(),
        client["redirect_uri"].as_str().unwrap(),
        "bob@example.com",
    )
    .await;
    refused(&app, tokens["access_token"].as_str().unwrap()).await;
}

async fn taking_the_role_or_blocking_the_user_ends_their_access_at_once(db: Db) {
    let app = spawn_app(db).await;
    let (ada, at, _) = admin_token(&app, "ada@example.com").await;
    let me = |at: String| {
        let app = &app;
        async move {
            app.call(Method::GET, "/t/default/api/roles", Some(&at), None)
                .await
                .0
        }
    };
    assert_eq!(me(at.clone()).await, StatusCode::OK);
    app.delete(&format!("/t/default/api/dashboard/admins/{ada}"))
        .await
        .expect_status(StatusCode::NO_CONTENT);
    assert_eq!(me(at.clone()).await, StatusCode::FORBIDDEN);

    make_admin(&app, &ada).await;
    assert_eq!(me(at.clone()).await, StatusCode::OK);
    app.patch(
        &format!("/t/default/api/users/{ada}"),
        json!({"blocked": true}),
    )
    .await
    .expect_status(StatusCode::OK);
    // Blocking revokes the user's grants, so the token itself is no longer valid.
    assert_eq!(me(at).await, StatusCode::UNAUTHORIZED);
}

async fn a_management_token_another_application_obtained_is_refused(db: Db) {
    let app = spawn_app(db).await;
    admin_token(&app, "ada@example.com").await;
    let redirect = "https://app.example.com/callback";
    let other = app
        .post(
            "/t/default/api/applications",
            json!({"name": "other", "type": "public", "redirect_uris": [redirect],
                   "grant_types": ["authorization_code"]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let tokens = sign_in(
        &app,
        other["client_id"].as_str().unwrap(),
        redirect,
        "ada@example.com",
    )
    .await;
    refused(&app, tokens["access_token"].as_str().unwrap()).await;
}

async fn a_dashboard_token_acts_on_its_own_tenant_only_and_never_as_an_operator(db: Db) {
    let app = spawn_app(db).await;
    let (_, at, _) = admin_token(&app, "ada@example.com").await;
    app.tenant("acme").await;
    for path in ["/t/acme/api/users", "/t/no-such-tenant/api/users"] {
        let res = app.call(Method::GET, path, Some(&at), None).await;
        assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized", None);
    }
    let res = app.call(Method::GET, "/api/tenants", Some(&at), None).await;
    assert_error(&res, StatusCode::FORBIDDEN, "forbidden", None);
    // Nor is a token that is not a JWT of ours, or an ID token.
    let res = app
        .call(
            Method::GET,
            "/t/default/api/users",
            Some("eyJ.bogus.x"),
            None,
        )
        .await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized", None);
}

async fn the_built_in_role_api_and_client_cannot_be_changed_or_taken(db: Db) {
    let app = spawn_app(db).await;
    let (_, _, client) = admin_token(&app, "ada@example.com").await;
    let res = app
        .post("/t/default/api/roles", json!({"name": "sigil-admin"}))
        .await;
    assert_error(&res, StatusCode::BAD_REQUEST, "invalid_field", Some("name"));
    let res = app
        .post(
            "/t/default/api/apis",
            json!({"identifier": "urn:sigil:management", "name": "mine"}),
        )
        .await;
    assert_error(
        &res,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("identifier"),
    );

    let roles = app
        .get("/t/default/api/roles")
        .await
        .expect_status(StatusCode::OK);
    let role = roles["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "sigil-admin")
        .expect("the built-in role is listed")
        .clone();
    let role_path = format!("/t/default/api/roles/{}", role["id"].as_str().unwrap());
    let res = app.delete(&role_path).await;
    assert_error(&res, StatusCode::CONFLICT, "in_use", Some("name"));
    let res = app
        .patch(&role_path, json!({"permissions": ["pwned"]}))
        .await;
    assert_error(&res, StatusCode::CONFLICT, "in_use", Some("name"));

    let apis = app
        .get("/t/default/api/apis")
        .await
        .expect_status(StatusCode::OK);
    let api = apis["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["identifier"] == "urn:sigil:management")
        .expect("the management API is listed")
        .clone();
    let api_path = format!("/t/default/api/apis/{}", api["id"].as_str().unwrap());
    let res = app.patch(&api_path, json!({"scopes": []})).await;
    assert_error(&res, StatusCode::CONFLICT, "in_use", Some("identifier"));
    let res = app.delete(&api_path).await;
    assert_error(&res, StatusCode::CONFLICT, "in_use", Some("identifier"));

    let app_path = format!(
        "/t/default/api/applications/{}",
        client["client_id"].as_str().unwrap()
    );
    let res = app
        .patch(
            &app_path,
            json!({"redirect_uris": ["https://evil.example/cb"]}),
        )
        .await;
    assert_error(&res, StatusCode::CONFLICT, "in_use", Some("client_id"));
    let res = app.delete(&app_path).await;
    assert_error(&res, StatusCode::CONFLICT, "in_use", Some("client_id"));
    for method in [reqwest::Method::PATCH, reqwest::Method::PUT] {
        let res = app
            .call(
                method,
                &format!("{app_path}/client_metadata"),
                Some(&app.operator_key),
                Some(json!({"x": 1})),
            )
            .await;
        assert_error(&res, StatusCode::CONFLICT, "in_use", Some("client_id"));
    }
    // Still as they were: a second administrator signs in with the same client.
    let (_, at, again) = admin_token(&app, "grace@example.com").await;
    assert_eq!(again, client);
    let (s, _) = app
        .call(Method::GET, "/t/default/api/roles", Some(&at), None)
        .await;
    assert_eq!(s, StatusCode::OK);
}

async fn making_an_administrator_of_an_unknown_user_is_not_found_and_sets_nothing_up(db: Db) {
    let app = spawn_app(db).await;
    let res = app
        .put("/t/default/api/dashboard/admins/usr_nobody", json!({}))
        .await;
    assert_error(&res, StatusCode::NOT_FOUND, "not_found", None);
    let roles = app
        .get("/t/default/api/roles")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(roles["data"], json!([]));
}

/// The tenant's hooks shape its applications' tokens, not the dashboard's: a flow that fails
/// every login keeps users out of the applications, and the administrators still sign in to
/// the dashboard to mend it.
async fn a_broken_post_login_flow_does_not_lock_administrators_out_of_the_dashboard(db: Db) {
    let app = spawn_app(db).await;
    let ada = user(&app, "ada@example.com").await;
    let client = make_admin(&app, &ada).await;
    upload_and_bind(&app, &[("hostile", "hostile", "fail_closed")]).await;
    app.put(
        &format!("/t/default/api/users/{ada}/user_metadata"),
        json!({"mode": "panic"}),
    )
    .await
    .expect_status(StatusCode::OK);
    let web =
        crate::grants::application(&app, json!({"name": "web", "grant_types": ["password"]})).await;
    let (status, body, _) = crate::grants::token(
        &app,
        &web,
        &[("username", "ada@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"], "server_error");

    let tokens = sign_in(
        &app,
        client["client_id"].as_str().unwrap(),
        client["redirect_uri"].as_str().unwrap(),
        "ada@example.com",
    )
    .await;
    let at = tokens["access_token"].as_str().unwrap();
    // She unbinds the hook with the dashboard's token.
    let (s, flow) = app
        .call(
            Method::PUT,
            "/t/default/api/flows/post-login",
            Some(at),
            Some(json!({"bindings": []})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{flow}");
    let (status, body, _) = crate::grants::token(
        &app,
        &web,
        &[("username", "ada@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No trace of a flow for the dashboard's sign-in: only the application's two logins ran one.
    let traces = app
        .get("/t/default/api/hook-traces")
        .await
        .expect_status(StatusCode::OK);
    let clients: Vec<&str> = traces["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["client_id"].as_str())
        .collect();
    assert!(clients.iter().all(|c| *c == web.client_id), "{traces}");
}

both_backends!(
    a_broken_post_login_flow_does_not_lock_administrators_out_of_the_dashboard,
    an_administrator_s_dashboard_token_manages_the_tenant_as_that_user,
    a_user_who_is_not_an_administrator_is_refused_with_a_valid_token,
    taking_the_role_or_blocking_the_user_ends_their_access_at_once,
    a_management_token_another_application_obtained_is_refused,
    a_dashboard_token_acts_on_its_own_tenant_only_and_never_as_an_operator,
    the_built_in_role_api_and_client_cannot_be_changed_or_taken,
    making_an_administrator_of_an_unknown_user_is_not_found_and_sets_nothing_up,
);
