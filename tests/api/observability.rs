//! What operators see (docs/operating.md): `/metrics` and who may read it, every metric family,
//! and the security events counted there.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::code_flow::{self, Browser, VERIFIER, exchange, login_for_code};
use crate::grants::{ADA_PASSWORD, ada_grant, ada_login, enable_refresh, refresh, setup};
use crate::helpers::{
    Db, FreshDb, METRICS_TOKEN, Reply, assert_error, spawn_app, spawn_app_with, upload_and_bind,
};

/// `GET /metrics` on `base` with an optional bearer token: the status, the content type and
/// the body.
async fn scrape(base: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut req = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (res.status(), content_type, res.text().await.unwrap())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::String(text.into()))
}

async fn metrics_on_the_main_listener_need_the_metrics_token(db: Db) {
    let app = spawn_app(db).await;
    for token in [None, Some("wrong-token"), Some("")] {
        let (st, _, body) = scrape(&app.base, token).await;
        assert_error(
            &(st, json_of(&body)),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            None,
        );
    }
    let (st, content_type, body) = scrape(&app.base, Some(METRICS_TOKEN)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("application/openmetrics-text"));
    assert!(body.ends_with("# EOF\n"));
}

async fn metrics_answer_404_when_neither_a_token_nor_a_listener_is_configured(db: Db) {
    let app = spawn_app_with(db, |s| s.metrics_token = None).await;
    let (st, _, body) = scrape(&app.base, Some(METRICS_TOKEN)).await;
    assert_error(
        &(st, json_of(&body)),
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
}

async fn a_separate_metrics_listener_serves_metrics_and_the_main_one_answers_404(db: Db) {
    let fresh = FreshDb::new(db).await;
    let mut settings = sigil::startup::Settings::new("127.0.0.1:0".parse().unwrap(), &fresh.url);
    settings.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    settings.metrics_token = Some(sigil::crypto::Secret::new(METRICS_TOKEN.into()));
    settings.hook_runtime = Some(crate::helpers::shared_runtime());
    settings.passwords = sigil::passwords::PasswordHasher::new(4096, 1, 1);
    if db == Db::Postgres {
        settings.master_key = Some(sigil::crypto::MasterKey::generate().to_base64());
    }
    let app = sigil::startup::Application::build(settings)
        .await
        .expect("server builds");
    let (main, metrics) = (app.port(), app.metrics_port().expect("a metrics listener"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let (st, _, body) = scrape(&format!("http://127.0.0.1:{metrics}"), None).await;
    assert_eq!(
        st,
        StatusCode::OK,
        "no authentication on the private listener"
    );
    assert!(
        body.contains("# TYPE sigil_password_attempts counter"),
        "{body}"
    );
    let other = reqwest::get(format!("http://127.0.0.1:{metrics}/t/default/api/users"))
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::NOT_FOUND,
        "the metrics listener serves nothing else"
    );
    let (st, _, body) = scrape(&format!("http://127.0.0.1:{main}"), Some(METRICS_TOKEN)).await;
    assert_error(
        &(st, json_of(&body)),
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// Every family `docs/operating.md` lists is exposed once a login has happened.
async fn every_metric_family_is_present_after_a_login(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    upload_and_bind(&app, &[("roles", "roles_claims", "fail_closed")]).await;
    ada_login(&app, &s, &[]).await;
    let text = app.metrics().await;
    for (family, kind) in [
        ("sigil_grants", "counter"),
        ("sigil_token_request_duration_seconds", "histogram"),
        ("sigil_hook_duration_seconds", "histogram"),
        ("sigil_flow_runs", "counter"),
        ("sigil_flow_duration_seconds", "histogram"),
        ("sigil_password_attempts", "counter"),
        ("sigil_security_events", "counter"),
        ("sigil_hook_traces_dropped", "counter"),
        ("sigil_db_pool_connections", "gauge"),
        ("sigil_db_pool_max_connections", "gauge"),
        ("sigil_hook_compiles", "gauge"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} {kind}\n")),
            "no {kind} {family} in:\n{text}"
        );
    }
    for series in [
        "sigil_grants_total{grant_type=\"password\",outcome=\"ok\"} 1",
        "sigil_token_request_duration_seconds_count{grant_type=\"password\"} 1",
        "sigil_hook_duration_seconds_count{outcome=\"ok\"} 1",
        "sigil_flow_runs_total{outcome=\"success\"} 1",
        "sigil_flow_duration_seconds_count{outcome=\"success\"} 1",
        "sigil_password_attempts_total{result=\"ok\"} 1",
        "sigil_hook_traces_dropped_total 0",
        "sigil_db_pool_max_connections 5",
        "sigil_hook_compiles{state=\"waiting\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == series),
            "no `{series}` in:\n{text}"
        );
    }
    assert!(
        !text.contains("tenant="),
        "no tenant label unless the operator asks"
    );
}

/// `--metrics-tenant-labels` adds the tenant to the grant counter and the token latency only.
async fn the_tenant_label_is_opt_in(db: Db) {
    let app = spawn_app_with(db, |s| s.metrics_tenant_labels = true).await;
    let s = setup(&app, "ES256").await;
    ada_login(&app, &s, &[]).await;
    let text = app.metrics().await;
    assert!(text.contains(
        "sigil_grants_total{grant_type=\"password\",outcome=\"ok\",tenant=\"default\"} 1"
    ));
    assert!(text.contains(
        "sigil_token_request_duration_seconds_count{grant_type=\"password\",tenant=\"default\"} 1"
    ));
    let labelled = text.lines().filter(|l| l.contains("tenant=")).count();
    let of_grants = text
        .lines()
        .filter(|l| l.starts_with("sigil_grants") || l.starts_with("sigil_token_request"))
        .filter(|l| !l.starts_with('#'))
        .count();
    assert_eq!(labelled, of_grants, "{text}");
}

/// Unknown user, wrong password, the lock and a blocked user answer alike on the wire (no
/// user enumeration), but each is its own `reason` in `/metrics`; the lock engages once.
async fn failed_logins_are_counted_by_reason_and_the_lock_engaging_once(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let login = |user: &'static str, password: &'static str| {
        let (app, s) = (&app, &s);
        async move {
            let res = app
                .client
                .post(format!("{}/t/default/oauth/token", app.base))
                .basic_auth(&s.client_id, Some(&s.secret))
                .form(&[
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    let unknown = login("nobody@example.com", "whatever").await;
    assert_eq!(unknown.0, StatusCode::BAD_REQUEST);
    for _ in 0..10 {
        assert_eq!(login("ada@example.com", "wrong").await, unknown);
    }
    assert_eq!(
        login("ada@example.com", ADA_PASSWORD).await,
        unknown,
        "locked: the right password answers like a wrong one"
    );
    let reason = |r: &'static str| {
        let app = &app;
        async move {
            app.metric(&format!(
                "sigil_security_events_total{{event=\"login_failed\",reason=\"{r}\"}}"
            ))
            .await
        }
    };
    assert_eq!(reason("unknown_user").await, 1.0);
    assert_eq!(reason("wrong_password").await, 10.0);
    assert_eq!(reason("locked").await, 1.0);
    assert_eq!(
        app.metric("sigil_security_events_total{event=\"lock_engaged\"}")
            .await,
        1.0
    );

    let bob = app
        .post(
            "/t/default/api/users",
            json!({"email": "bob@example.com", "password": "bob's good password"}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    app.patch(
        &format!("/t/default/api/users/{}", bob["id"].as_str().unwrap()),
        json!({"blocked": true}),
    )
    .await
    .expect_status(StatusCode::OK);
    assert_eq!(
        login("bob@example.com", "bob's good password").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(reason("blocked").await, 1.0);
}

async fn a_reused_refresh_token_is_counted(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    enable_refresh(&app, &s).await;
    let first = ada_login(&app, &s, &[("scope", "openid offline_access")]).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let series = "sigil_security_events_total{event=\"refresh_reuse\"}";
    assert_eq!(app.metric(series).await, 0.0);
    refresh(&app, &s, rt, None)
        .await
        .expect_status(StatusCode::OK);
    refresh(&app, &s, rt, None)
        .await
        .expect_status(StatusCode::BAD_REQUEST);
    assert_eq!(app.metric(series).await, 1.0);
}

async fn a_replayed_authorization_code_is_counted(db: Db) {
    let app = spawn_app(db).await;
    let s = code_flow::setup(&app, json!({})).await;
    let code = login_for_code(&mut Browser::new(&app), &s, &[]).await;
    exchange(&app, &s, &code, Some(VERIFIER))
        .await
        .expect_status(StatusCode::OK);
    exchange(&app, &s, &code, Some(VERIFIER))
        .await
        .expect_status(StatusCode::BAD_REQUEST);
    assert_eq!(
        app.metric("sigil_security_events_total{event=\"code_replay\"}")
            .await,
        1.0
    );
}

/// A deny, and a failure under each policy (fail-open's effects are dropped silently for the
/// user, so the operator needs the count), each with the host's error kind.
async fn hook_denials_and_failures_are_counted_with_the_error_kind(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "EdDSA").await;
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"email_verified": false, "user_metadata": {"mode": "restricted"}}),
    )
    .await
    .expect_status(StatusCode::OK);
    upload_and_bind(&app, &[("hostile", "hostile", "fail_open")]).await;
    ada_login(&app, &s, &[]).await;
    let failure = "sigil_security_events_total{event=\"hook_failure\",reason=\"restricted_claim\"}";
    assert_eq!(app.metric(failure).await, 1.0, "fail-open");
    app.put(
        "/t/default/api/flows/post-login",
        json!({"bindings": [{"hook": "hostile", "failure_policy": "fail_closed"}]}),
    )
    .await
    .expect_status(StatusCode::OK);
    let (st, _) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(app.metric(failure).await, 2.0, "fail-closed");

    upload_and_bind(
        &app,
        &[("verified", "require_verified_email", "fail_closed")],
    )
    .await;
    let (st, _) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(
        app.metric("sigil_security_events_total{event=\"hook_deny\"}")
            .await,
        1.0
    );
}

both_backends!(
    metrics_on_the_main_listener_need_the_metrics_token,
    metrics_answer_404_when_neither_a_token_nor_a_listener_is_configured,
    a_separate_metrics_listener_serves_metrics_and_the_main_one_answers_404,
    every_metric_family_is_present_after_a_login,
    the_tenant_label_is_opt_in,
    failed_logins_are_counted_by_reason_and_the_lock_engaging_once,
    a_reused_refresh_token_is_counted,
    a_replayed_authorization_code_is_counted,
    hook_denials_and_failures_are_counted_with_the_error_kind,
);
