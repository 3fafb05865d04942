//! Tenants are fully isolated: a key of tenant B can neither read nor change tenant A's
//! objects, whether it addresses them through its own tenant's path (not found) or through A's
//! path (forbidden), and cannot use the operator's endpoints.
//!
//! The endpoints come from the server's own `/openapi.json`, so a new endpoint is tried as soon
//! as it is documented. Each path parameter is filled with one of A's objects by the rules of
//! [`argument`]; an endpoint those rules cannot fill, or whose request B's own path refuses
//! before looking the object up, fails the test by name.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, assert_error, hook, spawn_app};

/// Tenant A's objects, one of each kind an endpoint can name.
struct Objects {
    user: String,
    org: String,
    role: String,
    client: String,
    api: String,
    key: String,
    key_secret: String,
    hook: String,
    grant: String,
    trace: String,
}

impl Objects {
    fn ids(&self) -> [&str; 9] {
        [
            &self.user,
            &self.org,
            &self.role,
            &self.client,
            &self.api,
            &self.key,
            &self.hook,
            &self.grant,
            &self.trace,
        ]
    }
}

/// How an endpoint is tried with B's key.
#[derive(Debug, PartialEq)]
enum Scope {
    /// It names one of A's objects: through B's own path it must not be found.
    Object,
    /// It names only the tenant (or a name in the caller's own namespace): through B's own
    /// path it is B's business, so only A's path is tried.
    Tenant,
}

/// What fills the path parameter `param` of `template` (after `/t/{tenant}/api/`), and whether
/// it names one of A's objects; `Err` names what is missing from these rules.
fn argument(template: &str, param: &str, o: &Objects) -> Result<(String, bool), String> {
    let before = template
        .split(&format!("/{{{param}}}"))
        .next()
        .unwrap_or_default();
    let resource = before.rsplit('/').next().unwrap_or_default();
    let object = |id: &str| Ok((id.to_string(), true));
    match (param, resource) {
        ("id", "users") => object(&o.user),
        ("id", "organizations") => object(&o.org),
        ("id", "roles") => object(&o.role),
        ("id", "applications") => object(&o.client),
        ("id", "apis") => object(&o.api),
        ("id", "api-keys") => object(&o.key),
        ("id", "hooks") => object(&o.hook),
        ("id", "client-grants") => object(&o.grant),
        ("id", "hook-traces") => object(&o.trace),
        ("user_id", "members") => object(&o.user),
        // The dashboard's administrators are users.
        ("id", "admins") => object(&o.user),
        ("external_id", "by-external-id") if before.ends_with("users/by-external-id") => {
            object("ax")
        }
        ("external_id", "by-external-id") if before.ends_with("organizations/by-external-id") => {
            object("ox")
        }
        // Names within an object already named, or within the caller's own tenant.
        ("role", "roles") => Ok(("admin".into(), false)),
        ("secret", "secrets") => Ok(("s1".into(), false)),
        ("version", "versions") => Ok(("1".into(), false)),
        ("token", "jwt-templates") => Ok(("access_token".into(), false)),
        ("name", "hooks") => Ok(("roles".into(), false)),
        _ => Err(format!(
            "no rule fills {{{param}}} after `{resource}/`: add one to isolation::argument"
        )),
    }
}

/// The path below `/t/{tenant}/api/` with A's objects filled in, and its scope.
fn fill(rest: &str, o: &Objects) -> Result<(String, Scope), String> {
    let mut out = String::new();
    let mut scope = Scope::Tenant;
    let mut tail = rest;
    while let Some(start) = tail.find('{') {
        let end = start + tail[start..].find('}').ok_or("unbalanced braces")?;
        let param = &tail[start + 1..end];
        let (value, names_object) = argument(rest, param, o)?;
        if names_object {
            scope = Scope::Object;
        }
        out.push_str(&tail[..start]);
        out.push_str(&value);
        tail = &tail[end + 1..];
    }
    out.push_str(tail);
    Ok((out, scope))
}

/// A request body that passes validation, so B's own path reaches the lookup of A's object
/// (an empty object when nothing more is needed).
fn body(method: &Method, rest: &str, o: &Objects) -> Option<Value> {
    if [Method::GET, Method::DELETE].contains(method) {
        return None;
    }
    let last = rest.rsplit('/').next().unwrap_or_default();
    Some(match (method.as_str(), last) {
        // A role's name cannot change; its permissions can.
        ("PATCH", "{id}") if rest.starts_with("roles/") => json!({"permissions": ["x"]}),
        // A grant's scopes are all it lets change.
        ("PATCH", "{id}") if rest.starts_with("client-grants/") => json!({"scopes": []}),
        ("PATCH", "{id}") => json!({"name": "pwned"}),
        (_, "user_metadata" | "app_metadata" | "client_metadata" | "metadata") => json!({"x": 1}),
        (_, "password") => json!({"password": "pwned-pwned"}),
        (_, "roles") => json!({"roles": []}),
        ("POST", "members") => json!({"user_id": o.user}),
        ("PUT", "{user_id}") => json!({"roles": []}),
        (_, "deploy") => json!({"version": 1}),
        (_, "{secret}") => json!({"value": "pwned"}),
        (_, "limits") => json!({"fuel": 1000}),
        (_, "allow") => json!({"rules": [{"host": "crm.example.com"}]}),
        (_, "test") => {
            let event: Value =
                serde_json::from_str(include_str!("../../docs/sample-event.json")).unwrap();
            json!({ "event": event })
        }
        _ => json!({}),
    })
}

/// Every documented operation: `(method, path template)`.
async fn operations(app: &TestApp) -> Vec<(Method, String)> {
    let doc = app
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .expect_status(StatusCode::OK);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if let Ok(m) = method.to_uppercase().parse::<Method>()
                && ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str())
            {
                ops.push((m, path.clone()));
            }
        }
    }
    assert!(
        ops.len() > 50,
        "the OpenAPI document lists {} operations",
        ops.len()
    );
    ops
}

/// Tenant A's objects, made with A's key.
async fn tenant_a_objects(app: &TestApp, a: &str) -> Objects {
    let post = |path: &str, body: Value| {
        let path = format!("/t/alpha/api/{path}");
        async move {
            app.call(Method::POST, &path, Some(a), Some(body))
                .await
                .expect_status(StatusCode::CREATED)
        }
    };
    let role = post("roles", json!({"name": "admin"})).await;
    let user = post(
        "users",
        json!({"email": "a@alpha.com", "external_id": "ax", "roles": ["admin"]}),
    )
    .await;
    let org = post("organizations", json!({"name": "o", "external_id": "ox"})).await;
    post(
        &format!("organizations/{}/members", org["id"].as_str().unwrap()),
        json!({"user_id": user["id"]}),
    )
    .await;
    let client = post("applications", json!({"name": "app"})).await;
    let api = post(
        "apis",
        json!({"identifier": "https://alpha.api", "name": "x"}),
    )
    .await;
    let key = post("api-keys", json!({"name": "k"})).await;
    let grant = post(
        "client-grants",
        json!({"client_id": client["client_id"], "audience": "https://alpha.api", "scopes": []}),
    )
    .await;
    let res = app
        .client
        .post(format!("{}/t/alpha/api/hooks/roles/versions", app.base))
        .bearer_auth(a)
        .body(hook("roles_claims"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let up: Value = res.json().await.unwrap();
    // A test run of the hook stores a trace.
    let event: Value = serde_json::from_str(include_str!("../../docs/sample-event.json")).unwrap();
    app.call(
        Method::POST,
        "/t/alpha/api/hooks/roles/versions/1/test",
        Some(a),
        Some(json!({ "event": event })),
    )
    .await
    .expect_status(StatusCode::OK);
    let traces = app
        .call(Method::GET, "/t/alpha/api/hook-traces", Some(a), None)
        .await
        .expect_status(StatusCode::OK);
    let s = |v: &Value| v.as_str().unwrap().to_string();
    Objects {
        user: s(&user["id"]),
        org: s(&org["id"]),
        role: s(&role["id"]),
        client: s(&client["client_id"]),
        api: s(&api["id"]),
        key: s(&key["id"]),
        key_secret: s(&key["key"]),
        hook: s(&up["hook_id"]),
        grant: s(&grant["id"]),
        trace: s(&traces["data"][0]["id"]),
    }
}

async fn every_documented_endpoint_refuses_another_tenant_s_key(db: Db) {
    let app = spawn_app(db).await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let o = tenant_a_objects(&app, &a).await;

    let mut unclassified = Vec::new();
    let mut tried = 0;
    for (m, template) in operations(&app).await {
        if let Some(rest) = template.strip_prefix("/t/{tenant}/api/") {
            let (rest_filled, scope) = match fill(rest, &o) {
                Ok(f) => f,
                Err(why) => {
                    unclassified.push(format!("{m} {template}: {why}"));
                    continue;
                }
            };
            let body = body(&m, rest, &o);
            // Through A's path: forbidden, whatever the body.
            let got = app
                .call(
                    m.clone(),
                    &format!("/t/alpha/api/{rest_filled}"),
                    Some(&b),
                    body.clone(),
                )
                .await;
            assert_eq!(
                got.0,
                StatusCode::FORBIDDEN,
                "{m} /t/alpha/api/{rest_filled} with beta's key: {}",
                got.1
            );
            assert_error(&got, StatusCode::FORBIDDEN, "forbidden", None);
            // Through B's own path: A's object is not there.
            if scope == Scope::Object {
                let got = app
                    .call(
                        m.clone(),
                        &format!("/t/beta/api/{rest_filled}"),
                        Some(&b),
                        body,
                    )
                    .await;
                assert!(
                    got.0 == StatusCode::NOT_FOUND
                        || (got.0 == StatusCode::BAD_REQUEST && rest.contains("roles")),
                    "{m} /t/beta/api/{rest_filled} -> {} {} (a 400 means the request was \
                     refused before the lookup: give {m} {template} a valid body in \
                     isolation::body)",
                    got.0,
                    got.1
                );
            }
            tried += 1;
        } else if let Some(rest) = template.strip_prefix("/api/") {
            // The operator's endpoints: no tenant key may use them.
            let path = format!("/api/{}", rest.replace("{name}", "alpha"));
            if path.contains('{') {
                unclassified.push(format!("{m} {template}: no rule fills its parameters"));
                continue;
            }
            let got = app
                .call(m.clone(), &path, Some(&b), body(&m, rest, &o))
                .await;
            assert_eq!(got.0, StatusCode::FORBIDDEN, "{m} {path}: {}", got.1);
            tried += 1;
        } else {
            unclassified.push(format!(
                "{m} {template}: neither a tenant's management path nor an operator path"
            ));
        }
    }
    assert!(
        unclassified.is_empty(),
        "endpoints the isolation test cannot classify:\n{}",
        unclassified.join("\n")
    );
    println!("{tried} documented operations tried with another tenant's key");

    // And nothing of A changed.
    let get = |path: String| {
        let a = a.clone();
        let app = &app;
        async move { app.call(Method::GET, &path, Some(&a), None).await }
    };
    let u = get(format!("/t/alpha/api/users/{}", o.user))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(u["name"], Value::Null);
    assert_eq!(u["roles"], json!(["admin"]));
    assert_eq!(u["user_metadata"], json!({}));
    get(format!(
        "/t/alpha/api/organizations/{}/members/{}",
        o.org, o.user
    ))
    .await
    .expect_status(StatusCode::OK);
    let c = get(format!("/t/alpha/api/applications/{}", o.client))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(c["name"], "app");
    let h = get(format!("/t/alpha/api/hooks/{}", o.hook))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(h["deployed_version"], Value::Null);
    let (s, _) = app
        .call(Method::GET, "/t/alpha/api/users", Some(&o.key_secret), None)
        .await;
    assert_eq!(s, StatusCode::OK, "A's key was not revoked by B");
}

async fn another_tenant_s_lists_show_none_of_its_objects(db: Db) {
    let app = spawn_app(db).await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let o = tenant_a_objects(&app, &a).await;
    for (m, template) in operations(&app).await {
        let Some(rest) = template.strip_prefix("/t/{tenant}/api/") else {
            continue;
        };
        if m != Method::GET || rest.contains('{') {
            continue;
        }
        let (status, page) = app
            .call(Method::GET, &format!("/t/beta/api/{rest}"), Some(&b), None)
            .await;
        // A setting beta never made (its legacy store) is not found; anything else is a list.
        let unset = status == StatusCode::NOT_FOUND && page["code"] == "not_found";
        assert!(status == StatusCode::OK || unset, "{rest}: {status} {page}");
        let text = page.to_string();
        for id in o.ids() {
            assert!(!text.contains(id), "{rest} of beta shows {id}");
        }
    }
}

async fn a_tenant_cannot_add_another_tenant_s_user_to_its_organization(db: Db) {
    let app = spawn_app(db).await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let o = tenant_a_objects(&app, &a).await;
    let borg = app
        .call(
            Method::POST,
            "/t/beta/api/organizations",
            Some(&b),
            Some(json!({"name": "b"})),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let got = app
        .call(
            Method::POST,
            &format!(
                "/t/beta/api/organizations/{}/members",
                borg["id"].as_str().unwrap()
            ),
            Some(&b),
            Some(json!({"user_id": o.user})),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("user_id"),
    );
}

both_backends!(
    every_documented_endpoint_refuses_another_tenant_s_key,
    another_tenant_s_lists_show_none_of_its_objects,
    a_tenant_cannot_add_another_tenant_s_user_to_its_organization,
);
