//! The token endpoint, one file per grant, each test one behaviour named as a sentence.
//!
//! The fixture ([`setup`]) is a confidential application allowed the password grant, the user
//! Ada (role `admin`, member of the organization `globex` with tier `gold`) and the API
//! `https://api.example.com` with the scope `read:reports`.

mod client_credentials;
mod code;
mod lockout;
mod password;
mod password_hooks;
mod refresh;
mod token_endpoint;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp};

/// A client of the token endpoint and the user the fixture made.
pub(crate) struct Setup {
    pub client_id: String,
    pub secret: String,
    pub user_id: String,
    pub org_id: String,
}

/// Ada's password in [`setup`].
pub(crate) const ADA_PASSWORD: &str = "correct horse battery";

/// The fixture: see the module doc. `alg` is the application's signing algorithm.
pub(crate) async fn setup(app: &TestApp, alg: &str) -> Setup {
    app.post(
        "/t/default/api/roles",
        json!({"name": "admin", "permissions": ["read:reports"]}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let u = app
        .post(
            "/t/default/api/users",
            json!({"email": "ada@example.com", "password": ADA_PASSWORD, "email_verified": true, "name": "Ada",
                   "user_metadata": {"department": "eng"}, "app_metadata": {"roles": ["admin"]}, "roles": ["admin"]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
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
        json!({"user_id": u["id"], "roles": ["admin"]}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    app.post("/t/default/api/apis", json!({"identifier": "https://api.example.com", "name": "API", "scopes": [{"value": "read:reports"}]}))
        .await
        .expect_status(StatusCode::CREATED);
    let mut client = application(
        app,
        json!({"name": "web", "grant_types": ["password"], "signing_alg": alg}),
    )
    .await;
    client.user_id = u["id"].as_str().unwrap().into();
    client.org_id = o["id"].as_str().unwrap().into();
    client
}

/// Creates another application of the default tenant from `body`; its user and organization
/// are left empty.
pub(crate) async fn application(app: &TestApp, body: Value) -> Setup {
    let a = app
        .post("/t/default/api/applications", body)
        .await
        .expect_status(StatusCode::CREATED);
    Setup {
        client_id: a["client_id"].as_str().unwrap().into(),
        secret: a["client_secret"].as_str().unwrap().into(),
        user_id: String::new(),
        org_id: String::new(),
    }
}

/// Allows the fixture's application the refresh-token grant too.
pub(crate) async fn enable_refresh(app: &TestApp, s: &Setup) {
    app.patch(
        &format!("/t/default/api/applications/{}", s.client_id),
        json!({"grant_types": ["password", "refresh_token"]}),
    )
    .await
    .expect_status(StatusCode::OK);
}

/// A password grant request (`grant_type=password` plus `form`), authenticated with
/// `client_secret_basic`: the status, the JSON body (Null when none) and the headers.
pub(crate) async fn token(
    app: &TestApp,
    s: &Setup,
    form: &[(&str, &str)],
) -> (StatusCode, Value, HeaderMap) {
    let mut f: Vec<(&str, &str)> = vec![("grant_type", "password")];
    f.extend_from_slice(form);
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&f)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, res.json().await.unwrap_or(Value::Null), headers)
}

/// The password grant for Ada with `password` and `extra` parameters.
pub(crate) async fn ada_grant(
    app: &TestApp,
    s: &Setup,
    password: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![("username", "ada@example.com"), ("password", password)];
    form.extend_from_slice(extra);
    let (st, body, _) = token(app, s, &form).await;
    (st, body)
}

/// Ada's successful password grant with `extra` parameters; returns the token response.
#[track_caller]
pub(crate) fn ada_login<'a>(
    app: &'a TestApp,
    s: &'a Setup,
    extra: &'a [(&'a str, &'a str)],
) -> impl Future<Output = Value> + 'a {
    let caller = std::panic::Location::caller();
    async move {
        let (st, body) = ada_grant(app, s, ADA_PASSWORD, extra).await;
        assert_eq!(st, StatusCode::OK, "login at {caller}: {body}");
        body
    }
}

/// A refresh-token grant request, optionally asking for `scope`.
pub(crate) async fn refresh(
    app: &TestApp,
    s: &Setup,
    rt: &str,
    scope: Option<&str>,
) -> (StatusCode, Value) {
    let mut f = vec![("grant_type", "refresh_token"), ("refresh_token", rt)];
    if let Some(sc) = scope {
        f.push(("scope", sc));
    }
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&f)
        .send()
        .await
        .unwrap();
    let st = res.status();
    (st, res.json().await.unwrap_or(Value::Null))
}

/// The `(status, error code)` of a reply, for comparing with one `assert_eq!`.
pub(crate) fn error_of(r: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (r.0, r.1["error"].as_str())
}
