//! Protocol holes: logout CSRF, introspection by public clients, repeated parameters, the
//! brute-force lock, honest errors, `/userinfo` scope and RFC 8707 targets.
//!
//! Items 13-18 of the trust issue.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::code_flow::{self, Browser, VERIFIER, authorize_path, login_for_code};
use crate::grants::{ADA_PASSWORD, Setup, ada_grant, setup};
use crate::helpers::{Db, TestApp, spawn_app};

/// Whether the browser's session still gives a code without the page (`prompt=none`).
async fn still_logged_in(b: &mut Browser, s: &code_flow::Setup) -> bool {
    let p = b
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(p.status, StatusCode::FOUND, "{}", p.body);
    p.location().contains_key("code")
}

/// Item 13. An `id_token_hint` skips the logout confirmation only when it names the browser's
/// own session (its `sid`, or its `sub` when it has none): otherwise a page on another site
/// could log the user out with any ID token it holds (OIDC RP-Initiated Logout 1.0 section 2:
/// "the OP SHOULD ask the End-User whether to log out"; CSRF, RFC 9700 4.7).
async fn logout_with_someone_elses_id_token_asks_first(db: Db) {
    let app = spawn_app(db).await;
    let s = code_flow::setup(&app, json!({})).await;
    let (st, b) = app
        .post(
            "/t/default/api/users",
            json!({"email": "mallory@example.com", "password": "mallory's password"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");

    // Mallory's own ID token, from her own browser.
    let mut mallory = Browser::new(&app);
    let page = mallory.get(&authorize_path(&s.client_id, &[])).await;
    let done = mallory
        .login(&page, "mallory@example.com", "mallory's password")
        .await;
    let code = done.location()["code"].clone();
    let (st, tokens) = code_flow::exchange(&app, &s, &code, Some(VERIFIER)).await;
    assert_eq!(st, StatusCode::OK, "{tokens}");
    let foreign_hint = tokens["id_token"].as_str().unwrap().to_string();

    // Ada's browser, led to a logout link carrying Mallory's token: asked, not logged out.
    let mut ada = Browser::new(&app);
    let code = login_for_code(&mut ada, &s, &[]).await;
    let (st, own) = code_flow::exchange(&app, &s, &code, Some(VERIFIER)).await;
    assert_eq!(st, StatusCode::OK, "{own}");
    let p = ada
        .get(&format!("/t/default/logout?id_token_hint={foreign_hint}"))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.body.contains("name=\"logout\""),
        "the confirmation page: {}",
        p.body
    );
    assert!(still_logged_in(&mut ada, &s).await, "not logged out");

    // Her own token logs her out at once.
    let hint = own["id_token"].as_str().unwrap();
    let p = ada
        .get(&format!("/t/default/logout?id_token_hint={hint}"))
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(!p.body.contains("name=\"logout\""), "{}", p.body);
    assert!(!still_logged_in(&mut ada, &s).await, "logged out");
}

/// Item 14. Introspection is for protected resources that authenticate (RFC 7662 2.1: "the
/// endpoint MUST also require some form of authorization"); a public client's `client_id`
/// alone is no authentication and gets 401 `invalid_client`.
async fn introspection_refuses_public_clients(db: Db) {
    let app = spawn_app(db).await;
    let (st, public) = app
        .post(
            "/t/default/api/applications",
            json!({"name": "spa", "type": "public", "redirect_uris": ["https://spa.example.com/cb"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{public}");
    let res = app
        .client
        .post(format!("{}/t/default/oauth/introspect", app.base))
        .form(&[
            ("client_id", public["client_id"].as_str().unwrap()),
            ("token", "rt_anything"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let b: Value = res.json().await.unwrap();
    assert_eq!(b["error"], "invalid_client");
}

async fn raw_post(app: &TestApp, path: &str, s: &Setup, body: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}{path}", app.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

/// Item 15. "Request and response parameters MUST NOT be included more than once" (RFC 6749
/// 3.1 and 3.2): the token, revocation and introspection endpoints refuse a repeated parameter
/// with `invalid_request` instead of silently taking one of the values.
async fn repeated_parameters_are_refused_at_every_endpoint(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    for (path, body) in [
        (
            "/t/default/oauth/token",
            "grant_type=password&username=ada@example.com&password=correct+horse+battery&scope=openid&scope=openid+offline_access",
        ),
        (
            "/t/default/oauth/token",
            "grant_type=client_credentials&grant_type=password&username=ada@example.com&password=correct+horse+battery",
        ),
        ("/t/default/oauth/revoke", "token=a&token=b"),
        ("/t/default/oauth/introspect", "token=a&token=b"),
    ] {
        let (st, b) = raw_post(&app, path, &s, body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{path} {body}: {b}");
        assert_eq!(b["error"], "invalid_request", "{path}: {b}");
        assert!(
            b["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("repeated")),
            "{b}"
        );
    }
}

/// Item 16. The brute-force lock counts an attempt before verifying the password, atomically
/// (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`), so 50 parallel guesses cannot all pass
/// the check: exactly 10 are verified and 40 are refused as locked (RFC 6749 10.10, RFC 9700
/// 2.4: the password grant must resist online guessing). The locked replies are
/// byte-identical to a wrong password; /metrics is where an operator sees them.
async fn brute_force_lock_holds_under_parallel_guesses(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let guesses = futures::future::join_all((0..50).map(|i| {
        let pw = format!("wrong guess {i}");
        let s = &s;
        let app = &app;
        async move { ada_grant(app, s, &pw, &[]).await }
    }))
    .await;
    let bodies: Vec<&Value> = guesses.iter().map(|g| &g.1).collect();
    for g in &guesses {
        assert_eq!(g.0, StatusCode::BAD_REQUEST);
        assert_eq!(&g.1, bodies[0], "locked and wrong look the same");
    }
    let wrong = app
        .metric("sigil_password_attempts_total{result=\"wrong\"}")
        .await;
    let locked = app
        .metric("sigil_password_attempts_total{result=\"locked\"}")
        .await;
    println!("50 parallel guesses: {wrong} verified and wrong, {locked} locked");
    assert_eq!((wrong, locked), (10.0, 40.0));
    assert_eq!(
        app.metric("sigil_security_events_total{event=\"lock_engaged\"}")
            .await,
        1.0,
        "exactly one guess crossed the limit"
    );
    // The right password is locked out too, for this (user, IP).
    let (st, _) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

/// Item 17. A database failure is never "no such tenant": with the database gone (here the
/// pool closed), the token endpoint, discovery, the login page and the management API answer
/// 503 `temporarily_unavailable` with the cause logged, not 404 or 400 (lying about the kind
/// sends operators and clients the wrong way; the outage tests in `outage` cover a database
/// that stops, stalls and comes back).
async fn database_failure_is_a_503_not_a_missing_tenant(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    app.svc.db.store.close().await;
    let (st, b) = raw_post(
        &app,
        "/t/default/oauth/token",
        &s,
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_eq!(b["error"], "temporarily_unavailable");
    let (st, _) = app
        .call(
            Method::GET,
            "/t/default/.well-known/openid-configuration",
            None,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    let res = app
        .client
        .get(format!("{}{}", app.base, authorize_path(&s.client_id, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let (st, b) = app.get("/t/default/api/users").await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_eq!(b["code"], "temporarily_unavailable");
}

/// Item 18. An access token granted without `openid` is valid but not for `/userinfo`: 403
/// `insufficient_scope` with the `WWW-Authenticate` error (RFC 6750 3.1, OIDC Core 5.3), not a
/// 401 that tells the client its token is bad.
async fn userinfo_without_openid_is_insufficient_scope(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let (st, t) = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "profile")]).await;
    assert_eq!(st, StatusCode::OK, "{t}");
    let res = app
        .client
        .get(format!("{}/t/default/userinfo", app.base))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let www = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(www.contains("insufficient_scope"), "{www}");
    let b: Value = res.json().await.unwrap();
    assert_eq!(b["error"], "insufficient_scope");
}

/// Item 18. An unknown `audience` is `invalid_target` (RFC 8707 2: "the authorization server
/// ... MUST respond with the invalid_target error"), for the password and client-credentials
/// grants and at `/authorize` (returned to the client, RFC 6749 4.1.2.1).
async fn unknown_audience_is_invalid_target(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let (st, b) = ada_grant(
        &app,
        &s,
        ADA_PASSWORD,
        &[("audience", "https://unknown.example.com")],
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["error"], "invalid_target", "{b}");
    let (st, m2m) = app
        .post(
            "/t/default/api/applications",
            json!({"name": "m2m", "grant_types": ["client_credentials"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m2m}");
    let m2m = Setup {
        client_id: m2m["client_id"].as_str().unwrap().into(),
        secret: m2m["client_secret"].as_str().unwrap().into(),
        user_id: String::new(),
        org_id: String::new(),
    };
    let (st, b) = raw_post(
        &app,
        "/t/default/oauth/token",
        &m2m,
        "grant_type=client_credentials&audience=https%3A%2F%2Funknown.example.com",
    )
    .await;
    assert_eq!(
        (st, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target")),
        "{b}"
    );
    let (st, web) = app
        .post(
            "/t/default/api/applications",
            json!({"name": "web", "redirect_uris": [code_flow::REDIRECT]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{web}");
    let mut browser = Browser::new(&app);
    let p = browser
        .get(&authorize_path(
            web["client_id"].as_str().unwrap(),
            &[("audience", "https://unknown.example.com")],
        ))
        .await;
    assert_eq!(p.status, StatusCode::FOUND, "{}", p.body);
    assert_eq!(p.location()["error"], "invalid_target");
}

both_backends!(
    logout_with_someone_elses_id_token_asks_first,
    introspection_refuses_public_clients,
    repeated_parameters_are_refused_at_every_endpoint,
    brute_force_lock_holds_under_parallel_guesses,
    database_failure_is_a_503_not_a_missing_tenant,
    userinfo_without_openid_is_insufficient_scope,
    unknown_audience_is_invalid_target,
);
