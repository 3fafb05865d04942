//! Bring your own user store: users verified by a legacy API through the `legacy-login`
//! user-store hook at their first login, migrated, and from then on logged in locally (see
//! docs/legacy-store.md). The legacy API is a real local HTTP server ([`mock`]) keeping salted
//! SHA-1 hashes, which Sigil refuses at import.

mod migrate;
mod mock;
mod runner;
mod safety;

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sigil::config::LoginLock;
use sigil_hooks::runtime::HookRuntime;

use crate::code_flow::{Browser, authorize_path};
use crate::grants::{Setup, application, token};
use crate::helpers::{Db, Reply, TestApp, hook, spawn_app_with, upload_version, verify};
use mock::Legacy;

/// The fetch tests' runtime (`legacy.test` is the mock), with a breaker that opens after 3
/// failures for a second, so a test sees it open and close.
fn runtime() -> Arc<HookRuntime> {
    static RT: std::sync::OnceLock<Arc<HookRuntime>> = std::sync::OnceLock::new();
    RT.get_or_init(|| crate::fetch::build_runtime(|f| f.breaker.open_for = Duration::from_secs(1)))
        .clone()
}

/// Grace's password in the legacy system.
const GRACE_PASSWORD: &str = "legacy pass 1";

/// A server whose hooks may reach the mock over plain HTTP (`legacy.test`), with a lock of 3
/// attempts; the tenant's roles `editor` and `billing`, the organization `acme` (external id
/// `L-ORG-7`), the `legacy-login` hook uploaded and deployed with its secrets and allow-list, an
/// application allowed the password grant, and an access-token template that carries the roles.
/// The legacy system holds Grace (editor; billing in acme).
async fn legacy_app(db: Db, mode: &str) -> (TestApp, Setup, Legacy) {
    legacy_app_locking_at(db, mode, 3).await
}

/// [`legacy_app`] with a lock of `max_failures` attempts.
async fn legacy_app_locking_at(db: Db, mode: &str, max_failures: u32) -> (TestApp, Setup, Legacy) {
    let (port, legacy) = mock::start().await;
    legacy.add(
        "grace@legacy.example",
        GRACE_PASSWORD,
        json!({"id": "L-1001", "email_verified": true, "name": "Grace Hopper",
               "roles": ["editor"], "org_id": "L-ORG-7", "org_roles": ["billing"],
               "department": "navy"}),
    );
    let app = spawn_app_with(db, |s| {
        s.hook_runtime = Some(runtime());
        s.login_lock = LoginLock::new(max_failures, 5).unwrap();
    })
    .await;
    for role in ["editor", "billing"] {
        app.post("/t/default/api/roles", json!({"name": role}))
            .await
            .expect_status(StatusCode::CREATED);
    }
    app.post(
        "/t/default/api/organizations",
        json!({"name": "acme", "external_id": "L-ORG-7"}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    upload_legacy_hook(&app, "legacy").await;
    for (name, value) in [
        ("LEGACY_URL", format!("http://legacy.test:{port}")),
        ("LEGACY_KEY", mock::KEY.to_string()),
    ] {
        app.put(
            &format!("/t/default/api/hooks/legacy/secrets/{name}"),
            json!({"value": value}),
        )
        .await
        .expect_status(StatusCode::NO_CONTENT);
    }
    app.put(
        "/t/default/api/hooks/legacy/allow",
        json!({"rules": [{"host": "legacy.test", "paths": ["/v1"], "methods": ["GET", "POST"]}]}),
    )
    .await
    .expect_status(StatusCode::OK);
    let set = app
        .put(
            "/t/default/api/legacy-store",
            json!({"hook": "legacy", "mode": mode}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(set["mode"], mode, "{set}");
    app.put(
        "/t/default/api/jwt-templates/access_token",
        json!({"https://myapp.com/roles": "{{user.roles}}"}),
    )
    .await
    .expect_status(StatusCode::OK);
    let s = application(
        &app,
        json!({"name": "legacy-app", "grant_types": ["password"]}),
    )
    .await;
    (app, s, legacy)
}

/// Uploads `legacy-login` as version 1 of hook `name` and deploys it.
async fn upload_legacy_hook(app: &TestApp, name: &str) {
    let v = upload_version(app, name, "legacy_login").await;
    assert_eq!(v["version"]["world"], "user-store", "{v}");
    app.post(
        &format!("/t/default/api/hooks/{name}/deploy"),
        json!({"version": 1}),
    )
    .await
    .expect_status(StatusCode::OK);
}

/// A password grant for `email`; the status and the body.
async fn login(
    app: &TestApp,
    s: &Setup,
    email: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![("username", email), ("password", password)];
    form.extend_from_slice(extra);
    let (st, body, _) = token(app, s, &form).await;
    (st, body)
}

/// The users of the tenant with this email.
async fn users_named(app: &TestApp, email: &str) -> Vec<Value> {
    let page = app
        .get(&format!("/t/default/api/users?email={email}"))
        .await
        .expect_status(StatusCode::OK);
    page["data"].as_array().unwrap().clone()
}
