//! The token service slice: the password grant running the post-login flow, signed tokens
//! verified against the JWKS, `/userinfo` with the hooks' claims, and every error.

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Db, TestApp, hook, spawn_app, spawn_app_with};

pub(crate) struct Setup {
    pub client_id: String,
    pub secret: String,
    pub user_id: String,
    pub org_id: String,
}

pub(crate) async fn upload_and_bind(app: &TestApp, hooks: &[(&str, &str, &str)]) {
    let mut bindings = Vec::new();
    for (name, file, policy) in hooks {
        let res = app
            .client
            .post(format!("{}/t/default/api/hooks/{name}/versions", app.base))
            .bearer_auth(&app.operator_key)
            .body(hook(file))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        app.post(
            &format!("/t/default/api/hooks/{name}/deploy"),
            json!({"version": 1}),
        )
        .await;
        bindings.push(json!({"hook": name, "failure_policy": policy}));
    }
    let (s, b) = app
        .put(
            "/t/default/api/flows/post-login",
            json!({"bindings": bindings}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

pub(crate) async fn setup(app: &TestApp, alg: &str) -> Setup {
    app.post(
        "/t/default/api/roles",
        json!({"name": "admin", "permissions": ["read:reports"]}),
    )
    .await;
    let (_, u) = app
        .post(
            "/t/default/api/users",
            json!({"email": "ada@example.com", "password": "correct horse battery", "email_verified": true, "name": "Ada",
                   "user_metadata": {"department": "eng"}, "app_metadata": {"roles": ["admin"]}, "roles": ["admin"]}),
        )
        .await;
    let (_, o) = app
        .post(
            "/t/default/api/organizations",
            json!({"name": "globex", "metadata": {"tier": "gold"}}),
        )
        .await;
    app.post(
        &format!(
            "/t/default/api/organizations/{}/members",
            o["id"].as_str().unwrap()
        ),
        json!({"user_id": u["id"], "roles": ["admin"]}),
    )
    .await;
    app.post("/t/default/api/apis", json!({"identifier": "https://api.example.com", "name": "API", "scopes": [{"value": "read:reports"}]})).await;
    let (s, a) = app
        .post(
            "/t/default/api/applications",
            json!({"name": "web", "grant_types": ["password"], "signing_alg": alg}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    Setup {
        client_id: a["client_id"].as_str().unwrap().into(),
        secret: a["client_secret"].as_str().unwrap().into(),
        user_id: u["id"].as_str().unwrap().into(),
        org_id: o["id"].as_str().unwrap().into(),
    }
}

pub(crate) async fn token(
    app: &TestApp,
    s: &Setup,
    form: &[(&str, &str)],
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
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

/// The password grant for Ada (created by [`setup`]) with `password` and `extra` parameters.
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

/// Ada's right password in [`setup`].
pub(crate) const ADA_PASSWORD: &str = "correct horse battery";

/// Verifies a JWT against the tenant's JWKS, with the algorithm from the JWK.
pub(crate) async fn verify(app: &TestApp, jwt: &str) -> (jsonwebtoken::Header, Value) {
    let (_, jwks) = app
        .call(Method::GET, "/t/default/.well-known/jwks.json", None, None)
        .await;
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"].as_str() == header.kid.as_deref())
            .unwrap()
            .clone(),
    )
    .unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let alg: jsonwebtoken::Algorithm = jwk
        .common
        .key_algorithm
        .unwrap()
        .to_string()
        .parse()
        .unwrap();
    let mut v = jsonwebtoken::Validation::new(alg);
    v.validate_aud = false;
    v.set_issuer(&[format!("{}/t/default", app.base)]);
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &v).expect("valid signature");
    (data.header, data.claims)
}

async fn password_grant_runs_the_flow(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    upload_and_bind(
        &app,
        &[
            ("roles", "roles_claims", "fail_closed"),
            ("tier", "org_tier", "fail_closed"),
            ("stamp", "first_login_stamp", "fail_closed"),
        ],
    )
    .await;
    let (status, body, headers) = token(
        &app,
        &s,
        &[
            ("username", "ADA@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid profile email read:reports"),
            ("audience", "https://api.example.com"),
            ("organization", "globex"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "openid profile email read:reports");

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
    assert_eq!(at["https://sigil.example/roles"], json!(["admin"]));
    assert_eq!(
        at["https://sigil.example/permissions"],
        json!(["read:reports"])
    );
    assert_eq!(at["org_tier"], "gold");
    assert_eq!(at["department"], "eng");

    let (_, id) = verify(&app, body["id_token"].as_str().unwrap()).await;
    assert_eq!(
        (id["aud"].clone(), id["azp"].clone()),
        (json!(s.client_id), json!(s.client_id))
    );
    assert_eq!(id["email"], "ada@example.com");
    assert_eq!(id["name"], "Ada");
    assert_eq!(id["https://sigil.example/roles"], json!(["admin"]));
    assert!(
        id.get("org_tier").is_none(),
        "org_tier was set on the access token only"
    );

    let (st, ui) = app
        .call(
            Method::GET,
            "/t/default/userinfo",
            Some(body["access_token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{ui}");
    assert_eq!(ui["sub"], s.user_id.as_str());
    assert_eq!(ui["https://sigil.example/roles"], json!(["admin"]));
    assert_eq!(ui["department"], "eng");
    assert_eq!(ui["email_verified"], true);

    // The write-back hook's metadata landed, and the login was counted.
    let (_, u) = app
        .get(&format!("/t/default/api/users/{}", s.user_id))
        .await;
    assert!(u["app_metadata"]["first_login_at"].is_string());
    assert_eq!(u["logins_count"], 1);
    let (_, traces) = app.get("/t/default/api/hook-traces").await;
    assert_eq!(traces["data"][0]["status"], "success");
    assert_eq!(traces["data"][0]["hooks"].as_array().unwrap().len(), 3);

    // client_secret_post works too.
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .form(&[
            ("grant_type", "password"),
            ("client_id", &s.client_id),
            ("client_secret", &s.secret),
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, disco) = app
        .call(
            Method::GET,
            "/t/default/.well-known/openid-configuration",
            None,
            None,
        )
        .await;
    assert_eq!(disco["issuer"], format!("{}/t/default", app.base));
    assert_eq!(
        disco["token_endpoint"],
        format!("{}/t/default/oauth/token", app.base)
    );
}

async fn token_errors(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let wrong = token(
        &app,
        &s,
        &[
            ("username", "ada@example.com"),
            ("password", "wrong password"),
        ],
    )
    .await;
    let unknown = token(
        &app,
        &s,
        &[
            ("username", "nobody@example.com"),
            ("password", "wrong password"),
        ],
    )
    .await;
    assert_eq!(wrong.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.1,
        json!({"error": "invalid_grant", "error_description": "Wrong email or password."})
    );
    assert_eq!(
        (wrong.0, &wrong.1),
        (unknown.0, &unknown.1),
        "no user enumeration"
    );
    let codes = [
        (vec![("username", "ada@example.com")], "invalid_request"),
        (
            vec![
                ("username", "ada@example.com"),
                ("password", "correct horse battery"),
                ("scope", "openid delete:everything"),
            ],
            "invalid_scope",
        ),
        (
            vec![
                ("username", "ada@example.com"),
                ("password", "correct horse battery"),
                ("audience", "https://nope"),
            ],
            "invalid_target",
        ),
    ];
    for (form, code) in codes {
        let got = token(&app, &s, &form).await;
        assert_eq!(
            (got.0, got.1["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{}",
            got.1
        );
    }
    let bad_client = Setup {
        secret: "cs_wrong".into(),
        client_id: s.client_id.clone(),
        user_id: String::new(),
        org_id: String::new(),
    };
    let got = token(
        &app,
        &bad_client,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    assert_eq!(
        (got.0, got.1["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(
        got.2["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    for (grant, code) in [
        ("authorization_code", "unauthorized_client"),
        ("implicit", "unsupported_grant_type"),
    ] {
        let res = app
            .client
            .post(format!("{}/t/default/oauth/token", app.base))
            .basic_auth(&s.client_id, Some(&s.secret))
            .form(&[("grant_type", grant)])
            .send()
            .await
            .unwrap();
        let b: Value = res.json().await.unwrap();
        assert_eq!(b["error"], code);
    }
    // An application without the password grant (the default) may not use it.
    let (_, other) = app
        .post(
            "/t/default/api/applications",
            json!({"name": "spa-backend"}),
        )
        .await;
    let other = Setup {
        client_id: other["client_id"].as_str().unwrap().into(),
        secret: other["client_secret"].as_str().unwrap().into(),
        user_id: String::new(),
        org_id: String::new(),
    };
    let got = token(
        &app,
        &other,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    assert_eq!(got.1["error"], "unauthorized_client");
    // Not a member of that organization; blocked users.
    app.post("/t/default/api/organizations", json!({"name": "initech"}))
        .await;
    let got = token(
        &app,
        &s,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
            ("organization", "initech"),
        ],
    )
    .await;
    assert_eq!(got.1["error"], "invalid_grant");
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"blocked": true}),
    )
    .await;
    let got = token(
        &app,
        &s,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    assert_eq!(got.1["error"], "invalid_grant");
}

async fn hook_deny_and_failure_policies(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "EdDSA").await;
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"email_verified": false}),
    )
    .await;
    upload_and_bind(
        &app,
        &[("verified", "require_verified_email", "fail_closed")],
    )
    .await;
    let got = token(
        &app,
        &s,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    assert_eq!(got.0, StatusCode::FORBIDDEN, "{}", got.1);
    assert_eq!(got.1["error"], "access_denied");
    assert!(
        got.1["error_description"]
            .as_str()
            .unwrap()
            .contains("verify your email")
    );

    // A failing fail-closed hook: 500 server_error with nothing of the hook in the body.
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"email_verified": true, "user_metadata": {"mode": "restricted"}}),
    )
    .await;
    upload_and_bind(&app, &[("hostile", "hostile", "fail_closed")]).await;
    let got = token(
        &app,
        &s,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(got.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(got.1["error"], "server_error");
    assert!(!got.1.to_string().contains("sub") && !got.1.to_string().contains("hostile"));
    let (_, traces) = app.get("/t/default/api/hook-traces").await;
    assert_eq!(
        traces["data"][0]["hooks"][0]["error_code"], "restricted_claim",
        "the trace holds the cause"
    );
    // The same hook fail-open: the login succeeds without its effects.
    let (_, _) = app
        .put(
            "/t/default/api/flows/post-login",
            json!({"bindings": [{"hook": "hostile", "failure_policy": "fail_open"}]}),
        )
        .await;
    let got = token(
        &app,
        &s,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let (h, _) = verify(&app, got.1["id_token"].as_str().unwrap()).await;
    assert_eq!(h.alg, jsonwebtoken::Algorithm::EdDSA);
}

async fn userinfo_checks_tokens_fully(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    let (_, body, _) = token(
        &app,
        &s,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid email"),
        ],
    )
    .await;
    let at = body["access_token"].as_str().unwrap().to_string();
    let id_token = body["id_token"].as_str().unwrap().to_string();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = at.split('.').collect();
    let claims = parts[1];
    let none = format!(
        "{}.{claims}.",
        b64.encode(r#"{"alg":"none","typ":"at+jwt"}"#)
    );
    let kid = jsonwebtoken::decode_header(&at).unwrap().kid.unwrap();
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            alg: jsonwebtoken::Algorithm::HS256,
            kid: Some(kid),
            typ: Some("at+jwt".into()),
            ..Default::default()
        },
        &serde_json::from_slice::<Value>(&b64.decode(claims).unwrap()).unwrap(),
        &jsonwebtoken::EncodingKey::from_secret(b"guessable"),
    )
    .unwrap();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(br#"{"sub":"usr_other"}"#),
        parts[2]
    );
    let other = app.tenant("other").await;
    let _ = other;
    for (what, tok) in [
        ("alg none", none),
        ("HS256", hs),
        ("an ID token", id_token),
        ("tampered", tampered),
        ("garbage", "abc".into()),
    ] {
        let (st, b) = app
            .call(Method::GET, "/t/default/userinfo", Some(&tok), None)
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{what}: {b}");
        assert_eq!(b["error"], "invalid_token", "{what}");
    }
    // A good token of tenant default is not a token of tenant other.
    let (st, _) = app
        .call(Method::GET, "/t/other/userinfo", Some(&at), None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = app
        .call(Method::GET, "/t/default/userinfo", None, None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, ui) = app
        .call(Method::POST, "/t/default/userinfo", Some(&at), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(ui["email"], "ada@example.com");
    assert!(ui.get("name").is_none(), "profile was not granted");
    // Blocking the user stops /userinfo for tokens already issued.
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"blocked": true}),
    )
    .await;
    let (st, _) = app
        .call(Method::GET, "/t/default/userinfo", Some(&at), None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

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

async fn refresh_rotates_reruns_hooks_and_detects_reuse(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    app.patch(
        &format!("/t/default/api/applications/{}", s.client_id),
        json!({"grant_types": ["password", "refresh_token"]}),
    )
    .await;
    upload_and_bind(&app, &[("tier", "org_tier", "fail_closed")]).await;
    let login = [
        ("username", "ada@example.com"),
        ("password", "correct horse battery"),
        ("scope", "openid offline_access"),
        ("organization", "globex"),
    ];
    let (st, first, _) = token(&app, &s, &login).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    let rt1 = first["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token")
        .to_string();
    assert!(rt1.starts_with("rt_"));

    // Changed metadata reaches the tokens on refresh: the hooks run again.
    app.patch(
        &format!("/t/default/api/users/{}/user_metadata", s.user_id),
        json!({"department": "research"}),
    )
    .await;
    let (st, second) = refresh(&app, &s, &rt1, None).await;
    assert_eq!(st, StatusCode::OK, "{second}");
    let (_, at) = verify(&app, second["access_token"].as_str().unwrap()).await;
    assert_eq!(at["department"], "research");
    assert_eq!(at["org_id"], s.org_id.as_str());
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2, "rotated on every use");
    let (_, u) = app
        .get(&format!("/t/default/api/users/{}", s.user_id))
        .await;
    assert_eq!(u["logins_count"], 1, "a refresh is not a login");

    // Widening is refused (and does not spend the token); narrowing is allowed.
    let (st, b) = refresh(&app, &s, &rt2, Some("openid profile")).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (st, narrowed) = refresh(&app, &s, &rt2, Some("offline_access")).await;
    assert_eq!(st, StatusCode::OK, "{narrowed}");
    assert_eq!(narrowed["scope"], "offline_access");
    let rt3 = narrowed["refresh_token"].as_str().unwrap().to_string();

    // Reuse of a rotated token (rt1) revokes the whole family, including the newest (rt3).
    let (st, b) = refresh(&app, &s, &rt1, None).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "reuse refused"
    );
    let (st, b) = refresh(&app, &s, &rt3, None).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "the family is revoked"
    );

    // Membership ended, or user blocked: refused.
    let (_, fresh, _) = token(&app, &s, &login).await;
    app.delete(&format!(
        "/t/default/api/organizations/{}/members/{}",
        s.org_id, s.user_id
    ))
    .await;
    let (st, b) = refresh(&app, &s, fresh["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (_, fresh, _) = token(
        &app,
        &s,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid offline_access"),
        ],
    )
    .await;
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"blocked": true}),
    )
    .await;
    let (st, b) = refresh(&app, &s, fresh["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (st, b) = refresh(&app, &s, "rt_garbage", None).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Without the refresh_token grant, offline_access gives no refresh token.
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"blocked": false}),
    )
    .await;
    let (_, other) = app
        .post(
            "/t/default/api/applications",
            json!({"name": "no-refresh", "grant_types": ["password"]}),
        )
        .await;
    let other = Setup {
        client_id: other["client_id"].as_str().unwrap().into(),
        secret: other["client_secret"].as_str().unwrap().into(),
        user_id: String::new(),
        org_id: String::new(),
    };
    let (st, b, _) = token(
        &app,
        &other,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid offline_access"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(b.get("refresh_token").is_none());
    assert_eq!(b["scope"], "openid");
}

async fn client_credentials_and_brute_force_lock(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    let (_, m2m) = app
        .post(
            "/t/default/api/applications",
            json!({"name": "cron", "grant_types": ["client_credentials"]}),
        )
        .await;
    let (id, secret) = (
        m2m["client_id"].as_str().unwrap(),
        m2m["client_secret"].as_str().unwrap(),
    );
    let cc = |form: Vec<(&'static str, &'static str)>| {
        let req = app
            .client
            .post(format!("{}/t/default/oauth/token", app.base))
            .basic_auth(id, Some(secret));
        async move {
            let mut f = vec![("grant_type", "client_credentials")];
            f.extend(form);
            let res = req.form(&f).send().await.unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    let (st, b) = cc(vec![("audience", "https://api.example.com")]).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b.get("id_token").is_none() && b.get("refresh_token").is_none());
    let (h, at) = verify(&app, b["access_token"].as_str().unwrap()).await;
    assert_eq!(h.typ.as_deref(), Some("at+jwt"));
    assert_eq!(
        (at["sub"].as_str(), at["aud"].as_str(), at["scope"].as_str()),
        (
            Some(id),
            Some("https://api.example.com"),
            Some("read:reports")
        )
    );
    let (_, b) = cc(vec![]).await;
    assert_eq!(b["error"], "invalid_request");
    let (_, b) = cc(vec![
        ("audience", "https://api.example.com"),
        ("scope", "write:everything"),
    ])
    .await;
    assert_eq!(b["error"], "invalid_scope");

    // Ten failures from one IP lock that (user, IP) pair; the reply stays the generic one.
    for _ in 0..10 {
        let (st, b, _) = token(
            &app,
            &s,
            &[
                ("username", "ada@example.com"),
                ("password", "wrong password"),
            ],
        )
        .await;
        assert_eq!(
            (st, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
    let (st, locked, _) = token(
        &app,
        &s,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        locked,
        json!({"error": "invalid_grant", "error_description": "Wrong email or password."})
    );
    // The real user can still log in from elsewhere (another loopback address).
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let res = elsewhere
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

async fn revocation_and_introspection(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    app.patch(
        &format!("/t/default/api/applications/{}", s.client_id),
        json!({"grant_types": ["password", "refresh_token"]}),
    )
    .await;
    let post = |path: &'static str, token: String| {
        let req = app
            .client
            .post(format!("{}/t/default/oauth/{path}", app.base))
            .basic_auth(&s.client_id, Some(&s.secret));
        async move {
            let res = req.form(&[("token", token.as_str())]).send().await.unwrap();
            (
                res.status(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (_, b, _) = token(
        &app,
        &s,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid offline_access"),
        ],
    )
    .await;
    let at = b["access_token"].as_str().unwrap().to_string();
    let rt = b["refresh_token"].as_str().unwrap().to_string();
    let (st, i) = post("introspect", at.clone()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (
            i["active"].clone(),
            i["sub"].clone(),
            i["token_type"].clone()
        ),
        (json!(true), json!(s.user_id), json!("access_token"))
    );
    let (_, i) = post("introspect", rt.clone()).await;
    assert_eq!(
        (i["active"].clone(), i["token_type"].clone()),
        (json!(true), json!("refresh_token"))
    );
    let (_, i) = post("introspect", "not-a-token".into()).await;
    assert_eq!(i, json!({"active": false}));

    // Revoking the access token: introspection and /userinfo stop accepting it.
    let (st, _) = post("revoke", at.clone()).await;
    assert_eq!(st, StatusCode::OK);
    let (_, i) = post("introspect", at.clone()).await;
    assert_eq!(i["active"], false);
    let (st, _) = app
        .call(Method::GET, "/t/default/userinfo", Some(&at), None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Revoking the refresh token ends its family.
    let (st, _) = post("revoke", rt.clone()).await;
    assert_eq!(st, StatusCode::OK);
    let (st, b) = refresh(&app, &s, &rt, None).await;
    assert_eq!(
        (st, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // A password change ends the user's grants.
    let (_, b, _) = token(
        &app,
        &s,
        &[
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid offline_access"),
        ],
    )
    .await;
    app.put(
        &format!("/t/default/api/users/{}/password", s.user_id),
        json!({"password": "a different long password"}),
    )
    .await;
    let (st, _) = app
        .call(
            Method::GET,
            "/t/default/userinfo",
            Some(b["access_token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = refresh(&app, &s, b["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // Unknown tokens are not an error (RFC 7009 2.2); an unauthenticated caller is.
    let (st, _) = post("revoke", "whatever".into()).await;
    assert_eq!(st, StatusCode::OK);
    let res = app
        .client
        .post(format!("{}/t/default/oauth/introspect", app.base))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn cors_for_allowed_web_origins(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "RS256").await;
    app.patch(
        &format!("/t/default/api/applications/{}", s.client_id),
        json!({"allowed_web_origins": ["https://spa.example.com"]}),
    )
    .await;
    for (origin, allowed) in [
        ("https://spa.example.com", true),
        ("https://evil.example.com", false),
    ] {
        let res = app
            .client
            .request(
                Method::OPTIONS,
                format!("{}/t/default/oauth/token", app.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap()),
            allowed.then_some(origin),
            "{origin}"
        );
        let res = app
            .client
            .post(format!("{}/t/default/oauth/token", app.base))
            .header("origin", origin)
            .basic_auth(&s.client_id, Some(&s.secret))
            .form(&[
                ("grant_type", "password"),
                ("username", "ada@example.com"),
                ("password", "correct horse battery"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers().get("access-control-allow-origin").is_some(),
            allowed
        );
    }
}

async fn key_rotation_keeps_tokens_valid(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let login = [
        ("username", "ada@example.com"),
        ("password", "correct horse battery"),
        ("scope", "openid"),
    ];
    let kid = |jwt: &str| jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
    let (_, b0, _) = token(&app, &s, &login).await;
    let at0 = b0["access_token"].as_str().unwrap().to_string();
    let (st, keys) = app
        .post(
            "/t/default/api/signing-keys/rotate",
            json!({"alg": "ES256"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{keys}");
    let statuses: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["previous", "current", "next"]);
    let (_, jwks) = app
        .call(Method::GET, "/t/default/.well-known/jwks.json", None, None)
        .await;
    let es256 = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "ES256")
        .count();
    assert_eq!(es256, 3, "next, current and previous are published: {jwks}");
    // Every other algorithm an application may pick has its current key published too.
    for alg in ["RS256", "EdDSA"] {
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["alg"] == alg)
        );
    }

    let (_, b1, _) = token(&app, &s, &login).await;
    let at1 = b1["access_token"].as_str().unwrap().to_string();
    assert_ne!(kid(&at0), kid(&at1), "the new current key signs");
    let (st, _) = app
        .call(Method::GET, "/t/default/userinfo", Some(&at0), None)
        .await;
    assert_eq!(
        st,
        StatusCode::OK,
        "a token signed before the rotation still verifies"
    );

    // Second rotation: the published next key becomes current.
    let next_kid = keys[2]["kid"].as_str().unwrap().to_string();
    app.post(
        "/t/default/api/signing-keys/rotate",
        json!({"alg": "ES256"}),
    )
    .await;
    let (_, b2, _) = token(&app, &s, &login).await;
    assert_eq!(kid(b2["access_token"].as_str().unwrap()), next_kid);
    // The key of at0 is now retired: its tokens stop verifying.
    let (st, _) = app
        .call(Method::GET, "/t/default/userinfo", Some(&at0), None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = app
        .call(Method::GET, "/t/default/userinfo", Some(&at1), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let got = app
        .post(
            "/t/default/api/signing-keys/rotate",
            json!({"alg": "HS256"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST);
}

async fn forwarded_for_is_trusted_only_from_configured_proxies(db: Db) {
    // Behind a trusted proxy (the test client on 127.0.0.1), the lock follows X-Forwarded-For.
    let app = spawn_app_with(db, |s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]
    })
    .await;
    let s = setup(&app, "ES256").await;
    let attempt = |ip: &'static str, pw: &'static str| {
        let req = app
            .client
            .post(format!("{}/t/default/oauth/token", app.base))
            .basic_auth(&s.client_id, Some(&s.secret))
            .header("x-forwarded-for", ip);
        async move {
            let res = req
                .form(&[
                    ("grant_type", "password"),
                    ("username", "ada@example.com"),
                    ("password", pw),
                ])
                .send()
                .await
                .unwrap();
            res.status()
        }
    };
    for _ in 0..10 {
        assert_eq!(
            attempt("203.0.113.9", "wrong password").await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        attempt("203.0.113.9", "correct horse battery").await,
        StatusCode::BAD_REQUEST,
        "203.0.113.9 is locked"
    );
    assert_eq!(
        attempt("198.51.100.7", "correct horse battery").await,
        StatusCode::OK,
        "another client IP is not"
    );

    // Without trust, the header is ignored: all attempts count against the peer address.
    let app2 = spawn_app(db).await;
    let s2 = setup(&app2, "ES256").await;
    for i in 0..10 {
        let res = app2
            .client
            .post(format!("{}/t/default/oauth/token", app2.base))
            .basic_auth(&s2.client_id, Some(&s2.secret))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .form(&[
                ("grant_type", "password"),
                ("username", "ada@example.com"),
                ("password", "wrong password"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    let res = app2
        .client
        .post(format!("{}/t/default/oauth/token", app2.base))
        .basic_auth(&s2.client_id, Some(&s2.secret))
        .header("x-forwarded-for", "198.51.100.7")
        .form(&[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "a forged header does not escape the lock"
    );
}

both_backends!(
    forwarded_for_is_trusted_only_from_configured_proxies,
    key_rotation_keeps_tokens_valid,
    cors_for_allowed_web_origins,
    revocation_and_introspection,
    client_credentials_and_brute_force_lock,
    password_grant_runs_the_flow,
    refresh_rotates_reruns_hooks_and_detects_reuse,
    token_errors,
    hook_deny_and_failure_policies,
    userinfo_checks_tokens_fully
);
