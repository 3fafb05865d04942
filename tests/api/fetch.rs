//! Contract 0.2.0's `fetch` and `cache`, exercised on the runtime against a real local HTTP
//! server (the "CRM"): the allow-list, the address rules, secrets substituted by the host, the
//! caps, the breaker, the traces, and the hostile cases of docs/hooks.md "Calling your APIs".

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use sigil::runner::{LocalEvent, LocalRunner};
use sigil_hooks::Limits;
use sigil_hooks::fetch::FetchSettings;
use sigil_hooks::fetch::address::AllowedRanges;
use sigil_hooks::fetch::allow::{AllowList, AllowRule};
use sigil_hooks::host::AddableScopes;
use sigil_hooks::outcome::{FailurePolicy, FlowOutcome, FlowStatus};
use sigil_hooks::runtime::{FlowStep, HookRuntime, RuntimeSettings};

use crate::both_backends;
use crate::grants::{ADA_PASSWORD, ada_grant, setup};
use crate::helpers::{Db, Reply, TestApp, hook, spawn_app_with, upload_and_bind, verify};
use crate::sandbox::{event, prepare};

/// The mock CRM: what it answers, and what it saw.
#[derive(Clone, Default)]
struct Crm {
    hits: Arc<AtomicUsize>,
    authorization: Arc<std::sync::Mutex<Vec<String>>>,
}

async fn account(State(crm): State<Crm>, Path(id): Path<String>, h: HeaderMap) -> Response {
    crm.hits.fetch_add(1, Ordering::SeqCst);
    let auth = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    crm.authorization.lock().unwrap().push(auth.clone());
    if auth != "Bearer s3cr3t-crm-key" {
        return (StatusCode::UNAUTHORIZED, "no").into_response();
    }
    if id == "ext-slow" {
        // Slower than a pure hook's 50 ms deadline, as a real CRM can be.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    axum::Json(json!({"id": id, "plan": "pro", "tier": "gold"})).into_response()
}

/// Starts the mock CRM on 127.0.0.1; its port.
async fn crm() -> (u16, Crm) {
    let state = Crm::default();
    let big = || async {
        // 100 MB, in 64 KiB chunks, as fast as the reader takes them.
        let chunk = axum::body::Bytes::from(vec![b'x'; 64 << 10]);
        let stream =
            futures::stream::iter((0..1600).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
        Body::from_stream(stream)
    };
    let trickle = || async {
        let stream = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((
                Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"x")),
                (),
            ))
        });
        Body::from_stream(stream)
    };
    let app = Router::new()
        .route("/v1/accounts/{id}", get(account))
        .route("/v1/big", get(big))
        .route("/v1/trickle", get(trickle))
        .route(
            "/v1/redirect",
            get(|| async { (StatusCode::FOUND, [("location", "http://10.0.0.1/v1/x")]) }),
        )
        .route(
            "/v1/down",
            get(|State(crm): State<Crm>| async move {
                crm.hits.fetch_add(1, Ordering::SeqCst);
                StatusCode::SERVICE_UNAVAILABLE
            }),
        )
        .route(
            "/v1/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                "late"
            }),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, state)
}

/// A runtime whose hooks may reach loopback (the mock) over plain HTTP, with names the test
/// resolves: `crm.test` and `legacy.test` (the mocks), `private.test` (10.0.0.1), `metadata.test`
/// (169.254.169.254) and `rebind.test` (a public address and a private one).
pub(crate) fn runtime() -> Arc<HookRuntime> {
    static RT: std::sync::OnceLock<Arc<HookRuntime>> = std::sync::OnceLock::new();
    RT.get_or_init(|| build_runtime(|_| ())).clone()
}

pub(crate) fn build_runtime(adjust: impl FnOnce(&mut FetchSettings)) -> Arc<HookRuntime> {
    {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let resolve = HashMap::from([
            ("crm.test".to_string(), vec![ip("127.0.0.1")]),
            ("legacy.test".to_string(), vec![ip("127.0.0.1")]),
            ("private.test".to_string(), vec![ip("10.0.0.1")]),
            ("metadata.test".to_string(), vec![ip("169.254.169.254")]),
            (
                "rebind.test".to_string(),
                vec![ip("93.184.216.34"), ip("10.9.9.9")],
            ),
        ]);
        let mut fetch = FetchSettings::new();
        fetch.allow_http = true;
        fetch.ranges = AllowedRanges::new(vec!["127.0.0.0/8".parse().unwrap()]);
        fetch.resolve = resolve;
        fetch.breaker.threshold = 3;
        fetch.breaker.open_for = Duration::from_secs(60);
        adjust(&mut fetch);
        HookRuntime::with_fetch(
            RuntimeSettings {
                threads: 4,
                per_tenant: 2,
                ..Default::default()
            },
            fetch,
        )
        .expect("hook runtime")
    }
}

fn allow(hosts: &[&str]) -> AllowList {
    AllowList::new(
        hosts
            .iter()
            .map(|h| AllowRule {
                host: h.to_string(),
                paths: vec!["/v1".into()],
                methods: vec![],
            })
            .collect(),
    )
    .unwrap()
}

fn step(name: &str, allow: AllowList, limits: Limits) -> FlowStep {
    step_on(&runtime(), name, allow, limits)
}

fn step_on(rt: &Arc<HookRuntime>, name: &str, allow: AllowList, limits: Limits) -> FlowStep {
    FlowStep {
        hook_id: format!("hook_{name}"),
        hook_name: name.into(),
        version: 1,
        hook: prepare(rt, &hook(name)),
        policy: FailurePolicy::FailClosed,
        secrets: vec![("CRM_KEY".into(), "s3cr3t-crm-key".into())],
        limits,
        allow: Arc::new(allow),
        fuel_seen: Default::default(),
    }
}

/// Runs the flow on a plain thread (the local runner blocks), as `sigil hooks test` does.
async fn run(steps: Vec<FlowStep>, meta: Value) -> FlowOutcome {
    run_on(runtime(), steps, meta).await
}

pub(crate) async fn run_on(rt: Arc<HookRuntime>, steps: Vec<FlowStep>, meta: Value) -> FlowOutcome {
    let e = event(|e| e["user"]["user_metadata"] = meta);
    tokio::task::spawn_blocking(move || {
        LocalRunner::with_runtime(rt).run(&steps, &LocalEvent::new(e), AddableScopes::default())
    })
    .await
    .unwrap()
}

fn generous() -> Limits {
    Limits {
        deadline_ms: 2_000,
        flow_deadline_ms: 5_000,
        ..Limits::default()
    }
}

async fn fetch(port: u16, path: &str, hosts: &[&str], extra: Value) -> FlowOutcome {
    let mut f = json!({"url": format!("http://crm.test:{port}{path}")});
    if let (Some(f), Some(extra)) = (f.as_object_mut(), extra.as_object()) {
        f.extend(extra.clone());
    }
    run(
        vec![step("fetcher", allow(hosts), generous())],
        json!({"fetch": f}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_reaches_an_allow_listed_api_with_the_secret_added_by_the_host() {
    let (port, crm) = crm().await;
    let headers = json!({"headers": [["Authorization", "Bearer {{secrets.CRM_KEY}}"]]});
    let out = fetch(
        port,
        "/v1/accounts/ext-42?email=a@b.c",
        &["crm.test"],
        headers,
    )
    .await;
    assert_eq!(out.status, FlowStatus::Success, "{out:?}");
    assert_eq!(out.id_token_claims["status"], json!(200));
    let body: Value = serde_json::from_str(out.id_token_claims["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["plan"], json!("pro"));
    assert_eq!(
        crm.authorization.lock().unwrap().as_slice(),
        ["Bearer s3cr3t-crm-key"],
        "the host substituted the secret on the way out"
    );
    let trace = &out.trace[0].fetches[0];
    assert_eq!(trace.method, "GET");
    assert_eq!(
        trace.target,
        format!("http://crm.test:{port}/v1/accounts/ext-42?email=…"),
        "no query value in the trace"
    );
    assert_eq!(trace.status, Some(200));
    let all = serde_json::to_string(&out).unwrap();
    assert!(
        !all.contains("s3cr3t"),
        "the secret appears nowhere in the outcome"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_fetches_fail_with_named_errors() {
    let (port, _crm) = crm().await;
    let cases: Vec<(String, Value, &str, &str)> = vec![
        (
            format!("http://elsewhere.test:{port}/v1/x"),
            json!({}),
            "denied",
            "not on the hook's allow-list",
        ),
        (
            format!("http://127.0.0.1:{port}/v1/x"),
            json!({}),
            "denied",
            "an IP address is not allowed",
        ),
        (
            "http://private.test/v1/x".into(),
            json!({}),
            "denied",
            "a private address",
        ),
        (
            "http://metadata.test/v1/x".into(),
            json!({}),
            "denied",
            "the cloud metadata address",
        ),
        (
            "http://rebind.test/v1/x".into(),
            json!({}),
            "denied",
            "10.9.9.9, a private address",
        ),
        (
            format!("http://crm.test:{port}/admin"),
            json!({}),
            "denied",
            "GET /admin",
        ),
        (
            format!("http://crm.test:{port}/v1/x"),
            json!({"headers": [["x-key", "{{secrets.OTHER_HOOKS_KEY}}"]]}),
            "denied",
            "the hook has no secret `OTHER_HOOKS_KEY`",
        ),
        (
            format!("http://crm.test:{port}/v1/big"),
            json!({}),
            "too-large",
            "",
        ),
        (
            format!("http://crm.test:{port}/v1/trickle"),
            json!({"timeout_ms": 300}),
            "timeout",
            "",
        ),
        (
            format!("http://crm.test:{port}/v1/accounts/1"),
            json!({"times": 1000}),
            "budget-exhausted",
            "",
        ),
    ];
    let hosts = ["crm.test", "private.test", "metadata.test", "rebind.test"];
    for (url, extra, error, detail) in cases {
        let mut f = json!({"url": url});
        f.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let out = run(
            vec![step("fetcher", allow(&hosts), generous())],
            json!({"fetch": f}),
        )
        .await;
        assert_eq!(out.status, FlowStatus::Success, "{url}: {out:?}");
        assert_eq!(out.id_token_claims["error"], json!(error), "{url}: {out:?}");
        let got = out.id_token_claims["detail"].as_str().unwrap();
        assert!(got.contains(detail), "{url}: {got}");
        let traced = out.trace[0].fetches.last().unwrap();
        assert_eq!(
            traced.error.as_deref(),
            Some(error.replace('-', "_").as_str()),
            "{url}"
        );
    }
    // A redirect is the hook's to read, not followed (here, to a private address).
    let out = fetch(port, "/v1/redirect", &["crm.test"], json!({})).await;
    assert_eq!(out.id_token_claims["status"], json!(302));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_api_opens_the_circuit_and_fails_fast() {
    let (port, crm) = crm().await;
    for _ in 0..3 {
        let out = fetch(port, "/v1/down", &["crm.test"], json!({})).await;
        assert_eq!(out.id_token_claims["status"], json!(503));
    }
    let out = fetch(port, "/v1/down", &["crm.test"], json!({})).await;
    assert_eq!(out.id_token_claims["error"], json!("circuit-open"));
    assert_eq!(
        crm.hits.load(Ordering::SeqCst),
        3,
        "the open circuit sent nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_is_per_hook_and_bounded_per_tenant() {
    let ops = json!({"cache": [
        ["set", "plan", "pro"], ["get", "plan"], ["get", "nothing"],
        ["set", "a", "1"], ["set", "b", "2"], ["set", "c", "3"], ["set", "d", "4"],
        ["set", "e", "5"],
    ]});
    // A runtime of its own, whose tenants may keep five entries.
    let rt = build_runtime(|f| f.cache.tenant_entries = 5);
    let steps = vec![step_on(&rt, "fetcher", AllowList::default(), generous())];
    let out = run_on(rt, steps, ops).await;
    let got = out.id_token_claims["cache"].as_array().unwrap().clone();
    assert_eq!(got[1], json!("pro"));
    assert_eq!(got[2], Value::Null);
    assert!(got[7].as_str().unwrap().starts_with("Quota("), "{got:?}");
    assert_eq!((out.trace[0].cache_hits, out.trace[0].cache_misses), (1, 1));
}

/// docs/hooks.md "Compatibility": the example hooks built against contract 0.1.0 (the SDK's
/// `contract-0-1`, as the 0.1.0 SDK built them) run unchanged in one flow with a 0.2.0 hook
/// that fetches (`crm-enrich`), each given the event of its own version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_built_against_0_1_0_run_unchanged_beside_0_2_0_hooks() {
    use sigil_hooks::prepare::Contract;

    let (port, crm) = crm().await;
    let old = |name: &str| {
        let bytes = std::fs::read(sigil_test_guests::path_0_1(name)).unwrap();
        prepare(&runtime(), &bytes)
    };
    let (roles, org_tier) = (old("roles_claims"), old("org_tier"));
    assert_eq!(roles.contract, Contract::V0_1);
    let mut crm_step = step("crm_enrich", allow(&["crm.test"]), generous());
    assert_eq!(crm_step.hook.contract, Contract::V0_2);
    crm_step
        .secrets
        .push(("CRM_URL".into(), format!("http://crm.test:{port}")));
    let old_step = |h| {
        let mut s = step("crm_enrich", AllowList::default(), generous());
        s.hook = h;
        s
    };
    let steps = vec![old_step(roles), crm_step, old_step(org_tier)];
    let e = event(|e| e["user"]["app_metadata"]["roles"] = json!(["admin"]));
    let run_once = |steps: Vec<FlowStep>, e| {
        tokio::task::spawn_blocking(move || {
            LocalRunner::with_runtime(runtime()).run(
                &steps,
                &LocalEvent::new(e),
                AddableScopes::default(),
            )
        })
    };
    let out = run_once(steps.clone(), e.clone()).await.unwrap();
    assert_eq!(out.status, FlowStatus::Success, "{out:?}");
    let ns = "https://sigil.example/";
    assert_eq!(
        out.id_token_claims[&format!("{ns}roles")],
        json!(["admin"]),
        "0.1.0 roles-claims"
    );
    assert_eq!(
        out.id_token_claims["https://myapp.com/plan"],
        json!("pro"),
        "0.2.0 crm-enrich"
    );
    assert_eq!(
        out.access_token_claims["https://myapp.com/account_tier"],
        json!("gold")
    );
    assert_eq!(
        out.access_token_claims["org_tier"],
        json!("gold"),
        "0.1.0 org-tier"
    );
    // The second login is served from the hook's cache: the CRM is asked once.
    let again = run_once(steps, e).await.unwrap();
    assert_eq!(
        again.id_token_claims["https://myapp.com/plan"],
        json!("pro")
    );
    assert_eq!(crm.hits.load(Ordering::SeqCst), 1);
    assert_eq!(again.trace[1].cache_hits, 1);
}

/// Gives hook `crm` the mock CRM's URL and its key, through the API.
async fn crm_secrets(app: &TestApp, port: u16) {
    for (name, value) in [
        ("CRM_URL", format!("http://crm.test:{port}")),
        ("CRM_KEY", "s3cr3t-crm-key".to_string()),
    ] {
        app.put(
            &format!("/t/default/api/hooks/crm/secrets/{name}"),
            json!({"value": value}),
        )
        .await
        .expect_status(StatusCode::NO_CONTENT);
    }
}

/// Sets a user's `external_id` (what `crm-enrich` looks the user up by).
async fn external_id(app: &TestApp, user_id: &str, id: &str) {
    app.patch(
        &format!("/t/default/api/users/{user_id}"),
        json!({"external_id": id}),
    )
    .await
    .expect_status(StatusCode::OK);
}

/// A server whose hooks may reach the mock CRM, the password-grant fixture with Ada's
/// `external_id` set to `id`, and `crm-enrich` uploaded, deployed and bound as hook `crm`
/// (fail closed; its allow-list and secrets are each test's).
async fn crm_bound(db: Db, id: &str) -> (TestApp, crate::grants::Setup) {
    let app = spawn_app_with(db, |s| s.hook_runtime = Some(runtime())).await;
    let s = setup(&app, "ES256").await;
    external_id(&app, &s.user_id, id).await;
    upload_and_bind(&app, &[("crm", "crm_enrich", "fail_closed")]).await;
    (app, s)
}

/// The customer's case end to end, over HTTP: `crm-enrich` uploaded, allow-listed and given its
/// secrets through the management API, then a password grant whose tokens carry the plan the
/// CRM gave; with the CRM down, the login goes through without them and the trace says why.
async fn a_password_grant_carries_the_plan_from_the_crm_and_goes_on_without_it_when_it_is_down(
    db: Db,
) {
    let (port, crm) = crm().await;
    let (app, s) = crm_bound(db, "ext-7").await;
    // A rule the API refuses names its field.
    let bad = app
        .put(
            "/t/default/api/hooks/crm/allow",
            json!({"rules": [{"host": "10.0.0.1"}]}),
        )
        .await
        .expect_status(StatusCode::BAD_REQUEST);
    assert_eq!(bad["field"], "allow[0].host", "{bad}");
    let hook = app
        .put(
            "/t/default/api/hooks/crm/allow",
            json!({"rules": [{"host": "crm.test", "paths": ["/v1/accounts"], "methods": ["get"]}]}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(hook["allow"]["rules"][0]["methods"], json!(["GET"]));
    crm_secrets(&app, port).await;
    let (st, body) = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    let (_, id) = verify(&app, body["id_token"].as_str().unwrap()).await;
    assert_eq!(at["https://myapp.com/plan"], json!("pro"));
    assert_eq!(at["https://myapp.com/account_tier"], json!("gold"));
    assert_eq!(id["https://myapp.com/plan"], json!("pro"));
    assert_eq!(crm.hits.load(Ordering::SeqCst), 1);

    // The CRM is gone (nothing listens there): the hook logs why and the login goes on.
    let gone = crate::helpers::free_port();
    app.put(
        "/t/default/api/hooks/crm/secrets/CRM_URL",
        json!({"value": format!("http://crm.test:{gone}")}),
    )
    .await
    .expect_status(StatusCode::NO_CONTENT);
    external_id(&app, &s.user_id, "ext-8").await;
    let (st, body) = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    assert!(at.get("https://myapp.com/plan").is_none(), "{at}");
    let traces = app
        .get("/t/default/api/hook-traces")
        .await
        .expect_status(StatusCode::OK);
    let run = &traces["data"][0]["hooks"][0];
    assert_eq!(run["fetches"][0]["error"], "connect", "{traces}");
    assert!(
        run["logs"][0]
            .as_str()
            .unwrap()
            .starts_with("CRM lookup failed"),
        "{traces}"
    );
    assert!(
        !traces.to_string().contains("s3cr3t"),
        "no secret in the traces"
    );
    let metrics = app.metrics().await;
    for outcome in ["2xx", "connect"] {
        let line = format!("sigil_hook_fetch_duration_seconds_count{{outcome=\"{outcome}\"}} 1");
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
}

/// docs/hooks.md "Calling your APIs", time: a CRM slower than a pure hook's 50 ms deadline
/// times out (leaving the hook a moment to go on without it), until the binding gets a deadline
/// of its own (and the flow a budget), within the operator's fetch ceilings.
async fn a_binding_s_own_deadline_gives_its_hook_time_for_a_slow_api(db: Db) {
    let (port, _crm) = crm().await;
    let (app, s) = crm_bound(db, "ext-slow").await;
    app.put(
        "/t/default/api/hooks/crm/allow",
        json!({"rules": [{"host": "crm.test"}]}),
    )
    .await
    .expect_status(StatusCode::OK);
    crm_secrets(&app, port).await;
    // 50 ms is too short for this CRM: the fetch times out, a moment before the hook's
    // deadline, and the hook goes on without the claims, as it was written to.
    let (st, body) = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    assert!(at.get("https://myapp.com/plan").is_none(), "{at}");
    let traces = app
        .get("/t/default/api/hook-traces")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        traces["data"][0]["hooks"][0]["fetches"][0]["error"], "timeout",
        "{traces}"
    );

    let over = app
        .put(
            "/t/default/api/flows/post-login",
            json!({"bindings": [{"hook": "crm", "deadline_ms": 5000}]}),
        )
        .await
        .expect_status(StatusCode::BAD_REQUEST);
    assert_eq!(over["field"], "bindings[0].deadline_ms", "{over}");
    let flow = app
        .put(
            "/t/default/api/flows/post-login",
            json!({"bindings": [{"hook": "crm", "deadline_ms": 1000}], "budget_ms": 1500}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(flow["budget_ms"], 1500, "{flow}");
    assert_eq!(flow["bindings"][0]["deadline_ms"], 1000, "{flow}");
    let (st, body) = ada_grant(&app, &s, ADA_PASSWORD, &[("scope", "openid")]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["https://myapp.com/plan"], json!("pro"));
}

both_backends!(
    a_password_grant_carries_the_plan_from_the_crm_and_goes_on_without_it_when_it_is_down,
    a_binding_s_own_deadline_gives_its_hook_time_for_a_slow_api,
    a_code_flow_login_runs_a_0_1_0_hook_and_a_0_2_0_hook_that_fetches
);

/// `sigil hooks test --record` runs a fetching hook against the real API and keeps its answers;
/// `--replay` runs the same login again without asking the API, and gets the same outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_test_records_a_login_s_fetches_and_replays_them_offline() {
    let (port, crm) = crm().await;
    let dir = std::env::temp_dir().join(format!("sigil-tape-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = dir.join("fetcher.wasm");
    std::fs::write(&wasm, hook("fetcher")).unwrap();
    let url = format!("http://crm.test:{port}/v1/accounts/42?email=a@b.c");
    let e = event(|e| {
        e["user"]["user_metadata"] = json!({"fetch": {
            "url": url,
            "headers": [["authorization", "Bearer {{secrets.CRM_KEY}}"]],
        }})
    });
    let event_file = dir.join("event.json");
    std::fs::write(&event_file, serde_json::to_string(&e).unwrap()).unwrap();
    let tape = dir.join("tape.json");
    let run = move |mode: &'static str, tape: std::path::PathBuf| {
        let (wasm, event_file) = (wasm.clone(), event_file.clone());
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_sigil"))
                .args(["hooks", "test"])
                .arg(&wasm)
                .arg("--event")
                .arg(&event_file)
                .args([
                    "--secret",
                    "CRM_KEY=s3cr3t-crm-key",
                    "--allow",
                    "crm.test/v1:GET",
                ])
                .args([
                    "--hook-fetch-allow-http",
                    "--hook-fetch-allow-range",
                    "127.0.0.0/8",
                ])
                .args(["--hook-fetch-resolve", "crm.test=127.0.0.1"])
                .arg(mode)
                .arg(&tape)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "{mode}: {stderr}");
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        })
    };
    let live = run("--record", tape.clone()).await.unwrap();
    assert_eq!(live["id_token_claims"]["status"], json!(200), "{live}");
    assert_eq!(crm.hits.load(Ordering::SeqCst), 1);
    let recorded = std::fs::read_to_string(&tape).unwrap();
    assert!(
        !recorded.contains("s3cr3t"),
        "no request header is recorded: {recorded}"
    );

    let replayed = run("--replay", tape.clone()).await.unwrap();
    assert_eq!(
        crm.hits.load(Ordering::SeqCst),
        1,
        "the replay asked nobody"
    );
    assert_eq!(replayed["id_token_claims"], live["id_token_claims"]);
}

/// The code flow with a flow of two hooks uploaded through the API: `roles_claims` as the
/// 0.1.0 SDK built it, and the 0.2.0 `crm-enrich`, which asks the CRM at the login page; the
/// exchange's tokens and `/userinfo` carry both hooks' claims.
async fn a_code_flow_login_runs_a_0_1_0_hook_and_a_0_2_0_hook_that_fetches(db: Db) {
    use crate::code_flow::{self, Browser};

    let (port, crm) = crm().await;
    let app = spawn_app_with(db, |s| s.hook_runtime = Some(runtime())).await;
    let s = code_flow::setup(&app, json!({})).await;
    external_id(&app, &s.user_id, "ext-9").await;
    // The 0.1.0 build, uploaded as any hook is.
    let old = std::fs::read(sigil_test_guests::path_0_1("roles_claims")).unwrap();
    let res = app
        .client
        .post(format!("{}/t/default/api/hooks/roles/versions", app.base))
        .bearer_auth(&app.operator_key)
        .body(old)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let up: Value = res.json().await.unwrap();
    assert_eq!(
        up["version"]["imports"],
        json!(["sigil:hooks/api@0.1.0", "sigil:hooks/types@0.1.0"])
    );
    app.post("/t/default/api/hooks/roles/deploy", json!({"version": 1}))
        .await
        .expect_status(StatusCode::OK);
    upload_and_bind(&app, &[("crm", "crm_enrich", "fail_closed")]).await;
    app.put(
        "/t/default/api/hooks/crm/allow",
        json!({"rules": [{"host": "crm.test", "paths": ["/v1/accounts"]}]}),
    )
    .await
    .expect_status(StatusCode::OK);
    crm_secrets(&app, port).await;
    app.put(
        "/t/default/api/flows/post-login",
        json!({"bindings": [{"hook": "roles"}, {"hook": "crm"}]}),
    )
    .await
    .expect_status(StatusCode::OK);

    let mut b = Browser::new(&app);
    let tokens = code_flow::login_for_tokens(&mut b, &app, &s).await;
    let (_, at) = verify(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(at["https://sigil.example/roles"], json!(["admin"]), "{at}");
    assert_eq!(at["https://myapp.com/account_tier"], json!("gold"), "{at}");
    let (st, info) = code_flow::userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{info}");
    assert_eq!(info["https://myapp.com/plan"], json!("pro"), "{info}");
    assert_eq!(crm.hits.load(Ordering::SeqCst), 1);
}
