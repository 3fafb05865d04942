//! The fixture of the attack tests that need a tenant whose post-login flow runs the hostile
//! guest (`tests/guests/hostile`), and the password grant they drive it with.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, hook};

/// The API every test tenant defines.
pub(super) const API: &str = "https://api.example.com";
/// The redirect URI of the tenant's application.
pub(super) const REDIRECT: &str = "https://app.example.com/callback";
/// Ada's password.
pub(super) const PASSWORD: &str = "correct horse battery";

/// A tenant ready for password grants.
pub(super) struct Tenant {
    pub name: String,
    pub client_id: String,
    pub secret: String,
}

/// Creates `name` (unless it is `default`) with a user `ada@example.com` (name "Ada", the given
/// `user_metadata`), the API [`API`] with scope `read:reports`, a confidential first-party
/// application allowed the password, refresh-token and code grants, the hostile guest uploaded
/// as `hostile`, and a flow that binds it `times` times with `policy`.
pub(super) async fn tenant_with_hostile(
    app: &TestApp,
    name: &str,
    user_metadata: Value,
    policy: &str,
    times: usize,
) -> Tenant {
    if name != "default" {
        app.tenant(name).await;
    }
    let base = format!("/t/{name}/api");
    let (s, u) = app
        .post(
            &format!("{base}/users"),
            json!({"email": "ada@example.com", "password": PASSWORD, "email_verified": true,
                   "name": "Ada", "user_metadata": user_metadata}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let (s, a) = app
        .post(
            &format!("{base}/apis"),
            json!({"identifier": API, "name": "API", "scopes": [{"value": "read:reports"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let (s, a) = app
        .post(
            &format!("{base}/applications"),
            json!({"name": "web", "redirect_uris": [REDIRECT],
                   "grant_types": ["password", "refresh_token", "authorization_code"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let res = app
        .client
        .post(format!("{}{base}/hooks/hostile/versions", app.base))
        .bearer_auth(&app.operator_key)
        .body(hook("hostile"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    app.post(
        &format!("{base}/hooks/hostile/deploy"),
        json!({"version": 1}),
    )
    .await
    .expect_status(StatusCode::OK);
    let bindings: Vec<Value> = (0..times)
        .map(|_| json!({"hook": "hostile", "failure_policy": policy}))
        .collect();
    let (s, b) = app
        .put(
            &format!("{base}/flows/post-login"),
            json!({"bindings": bindings}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    Tenant {
        name: name.into(),
        client_id: a["client_id"].as_str().unwrap().into(),
        secret: a["client_secret"].as_str().unwrap().into(),
    }
}

/// The password-grant request for `t`'s user, with `extra` form fields.
pub(super) fn grant_request(
    app: &TestApp,
    t: &Tenant,
    extra: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "password"),
        ("username", "ada@example.com"),
        ("password", PASSWORD),
    ];
    form.extend_from_slice(extra);
    app.client
        .post(format!("{}/t/{}/oauth/token", app.base, t.name))
        .basic_auth(&t.client_id, Some(&t.secret))
        .form(&form)
}

/// Runs a password grant; the status and the JSON body.
pub(super) async fn password_grant(
    app: &TestApp,
    t: &Tenant,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let res = grant_request(app, t, extra).send().await.unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}
