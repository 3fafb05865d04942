//! What operators see (docs/operating.md): `/metrics` and who may read it, every metric family,
//! the security events counted there, and the request log of the `sigil` binary.

use std::process::{Child, Command, Stdio};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::code_flow::{self, Browser, VERIFIER, exchange, login_for_code};
use crate::grants::{ADA_PASSWORD, ada_grant, ada_login, enable_refresh, refresh, setup};
use crate::helpers::{
    Db, FreshDb, METRICS_TOKEN, Reply, assert_error, spawn_app, spawn_app_with, upload_and_bind,
    verify,
};
use crate::helpers::{free_port, ready};

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
        ("sigil_flows_inline", "counter"),
        ("sigil_flow_duration_seconds", "histogram"),
        ("sigil_password_attempts", "counter"),
        ("sigil_security_events", "counter"),
        ("sigil_hook_traces_dropped", "counter"),
        ("sigil_hook_traces_skipped", "counter"),
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
        "sigil_flows_inline_total 0",
        "sigil_password_attempts_total{result=\"ok\"} 1",
        "sigil_hook_traces_dropped_total 0",
        "sigil_hook_traces_skipped_total 0",
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

/// A tenant's cheap flow runs on the async worker that admitted it from its second login (the
/// first, whose cost is not known yet, runs on the hook pool), and the tokens are the same.
async fn a_cheap_flow_runs_inline_from_its_second_login_and_is_counted(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    upload_and_bind(&app, &[("roles", "roles_claims", "fail_closed")]).await;
    let mut roles = Vec::new();
    for _ in 0..3 {
        let body = ada_login(&app, &s, &[]).await;
        let (_, claims) = verify(&app, body["access_token"].as_str().unwrap()).await;
        roles.push(claims["https://sigil.example/roles"].clone());
    }
    assert!(roles[0].is_array(), "the hook's claim: {roles:?}");
    assert!(roles.iter().all(|r| *r == roles[0]), "{roles:?}");
    let text = app.metrics().await;
    for series in [
        "sigil_flow_runs_total{outcome=\"success\"} 3",
        "sigil_flows_inline_total 2",
    ] {
        assert!(
            text.lines().any(|l| l == series),
            "no `{series}` in:\n{text}"
        );
    }
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
    // An administrator lifts it: counted, and the right password goes through again.
    assert_eq!(
        app.metric("sigil_security_events_total{event=\"lock_lifted\"}")
            .await,
        0.0
    );
    app.call(
        Method::DELETE,
        &format!("/t/default/api/users/{}/lock", s.user_id),
        Some(&app.operator_key),
        None,
    )
    .await
    .expect_status(StatusCode::NO_CONTENT);
    assert_eq!(
        app.metric("sigil_security_events_total{event=\"lock_lifted\"}")
            .await,
        1.0
    );
    assert_eq!(
        login("ada@example.com", ADA_PASSWORD).await.0,
        StatusCode::OK
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
    let retries = "sigil_security_events_total{event=\"refresh_retry\"}";
    assert_eq!(app.metric(series).await, 0.0);
    let second = refresh(&app, &s, rt, None)
        .await
        .expect_status(StatusCode::OK);
    // Presented again at once, while its successor is unused: a retry, counted as one.
    refresh(&app, &s, rt, None)
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(app.metric(retries).await, 1.0);
    assert_eq!(app.metric(series).await, 0.0);
    // Once the successor was used, it is reuse.
    refresh(&app, &s, second["refresh_token"].as_str().unwrap(), None)
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
    a_cheap_flow_runs_inline_from_its_second_login_and_is_counted,
    the_tenant_label_is_opt_in,
    failed_logins_are_counted_by_reason_and_the_lock_engaging_once,
    a_reused_refresh_token_is_counted,
    a_replayed_authorization_code_is_counted,
    hook_denials_and_failures_are_counted_with_the_error_kind,
    the_request_log_names_the_route_and_never_the_query,
);

/// `sigil serve` in a child process, killed when dropped (a failed assertion included).
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The binary with `--log-format json` logs one line per request with the method, the route
/// template, the status, the latency, the tenant and the request id (the caller's when it is a
/// sane token, echoed back; a fresh one otherwise), and never the query string, where codes,
/// tokens and `state` travel, nor a body. The metrics flags reach the server too.
async fn the_request_log_names_the_route_and_never_the_query(db: Db) {
    let fresh = FreshDb::new(db).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let (port, metrics_port) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["--log-format", "json", "serve"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
        .env("SIGIL_METRICS_TENANT_LABELS", "true")
        .env(
            "SIGIL_OPERATOR_KEY_FILE",
            std::env::temp_dir().join(format!("sigil-request-log-{port}-operator-key")),
        )
        .env("DATABASE_URL", &fresh.url)
        .env("SIGIL_MASTER_KEY", &master)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(Some(child));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    assert!(ready(port).await, "sigil serve did not become ready");

    let secrets = ["SECRETCODE1234", "SECRETSTATE5678", "SECRETPASSWORD9"];
    let res = client
        .get(format!(
            "{base}/t/default/.well-known/openid-configuration?code={}&state={}",
            secrets[0], secrets[1]
        ))
        .header("x-request-id", "caller-id-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-request-id"], "caller-id-42", "echoed");
    let res = client
        .post(format!("{base}/t/default/oauth/token?token={}", secrets[0]))
        .header("x-request-id", "not a sane id")
        .form(&[
            ("grant_type", "password"),
            ("client_id", "nobody"),
            ("username", "ada@example.com"),
            ("password", secrets[2]),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let fresh_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(
        fresh_id.len() == 16 && fresh_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "an insane id is replaced: {fresh_id}"
    );
    let res = client
        .get(format!("{base}/no/such/path?access_token={}", secrets[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The metrics flags: a private listener, tenant labels; the main listener answers 404.
    let (st, _, text) = scrape(&format!("http://127.0.0.1:{metrics_port}"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        text.contains(
            "sigil_grants_total{grant_type=\"password\",outcome=\"invalid_client\",tenant=\"default\"} 1"
        ),
        "{text}"
    );
    assert_eq!(scrape(&base, None).await.0, StatusCode::NOT_FOUND);

    let child = server.0.take().unwrap();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    for secret in secrets {
        assert!(
            !stderr.contains(secret) && !stdout.contains(secret),
            "{secret} was logged:\n{stderr}"
        );
    }
    let requests: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "sigil::request")
        .collect();
    let by_id = |id: &str| {
        requests
            .iter()
            .find(|l| l["span"]["request_id"] == id)
            .unwrap_or_else(|| panic!("no request line with id {id} in:\n{stderr}"))
            .clone()
    };
    let discovery = by_id("caller-id-42");
    assert_eq!(discovery["level"], "INFO");
    assert_eq!(discovery["span"]["method"], "GET");
    assert_eq!(
        discovery["span"]["route"],
        "/t/{tenant}/.well-known/openid-configuration"
    );
    assert_eq!(discovery["span"]["tenant"], "default");
    assert_eq!(discovery["status"], 200);
    assert!(discovery["latency_ms"].as_f64().is_some(), "{discovery}");
    let token = by_id(&fresh_id);
    assert_eq!(token["span"]["route"], "/t/{tenant}/oauth/token");
    assert_eq!(token["status"], 401);
    let unmatched = requests
        .iter()
        .find(|l| l["status"] == 404 && l["span"]["route"] == "unmatched")
        .unwrap_or_else(|| panic!("no unmatched request line in:\n{stderr}"));
    assert!(unmatched["span"].get("tenant").is_none());
    assert!(
        stderr.contains("/metrics is served on its own listener"),
        "the startup log says where /metrics is"
    );
}
