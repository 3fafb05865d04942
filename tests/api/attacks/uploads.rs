//! Uploads: compiling is bounded (workers, per-tenant rate), and a refused upload stores nothing.
//!
//! Issue 10 items 6 and 7; the contract is docs/hooks.md, "Uploads and compilation".
//! Compiling untrusted wasm is outside wasmtime's security model and is the most expensive
//! thing a tenant can make the server do, so a tenant's uploads must never take the CPUs other
//! tenants log in with; and what a refused upload compiled, or a deleted hook left behind,
//! must not stay in the database or in memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sigil::startup::{Application, Settings};
use sigil_hooks::caches::CacheBounds;
use sigil_hooks::runtime::{HookRuntime, RuntimeSettings};

use crate::both_backends;
use crate::helpers::{Db, FreshDb, TestApp, assert_error, hook, spawn_app, spawn_app_with};

use crate::hooks::upload_with_headers as upload;

/// A component of another world whose core module defines `n` small functions: it validates
/// (no imports), compiles (every function is compiled whether used or not), then fails the
/// world check. `salt` makes each one distinct, so nothing is served from a cache.
fn many_functions(n: usize, salt: u64) -> Vec<u8> {
    let mut wat = String::with_capacity(n * 80);
    wat.push_str("(component (core module $m (func (export \"run\"))\n");
    for i in 0..n {
        wat.push_str(&format!(
            "(func (param i32) (result i32) local.get 0 i32.const {} i32.mul i32.const {i} i32.add)\n",
            salt.wrapping_add(i as u64) as u32 as i32
        ));
    }
    wat.push_str(
        ")\n(core instance $i (instantiate $m))\n(func (export \"run\") (canon lift (core func $i \"run\"))))",
    );
    wat::parse_str(&wat).unwrap()
}

/// A valid component of another world (the wrong export): it compiles and fails the world check.
fn wrong_world(salt: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component (core module $m (func (export "run") (result i32) i32.const {salt}))
             (core instance $i (instantiate $m))
             (func (export "run") (result u32) (canon lift (core func $i "run"))))"#
    ))
    .unwrap()
}

async fn artifacts(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM hook_artifacts")
        .fetch_one(app.svc.store.pool())
        .await
        .unwrap();
    n
}

async fn artifacts_of(app: &TestApp, hash: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM hook_artifacts WHERE hash = $1")
        .bind(hash)
        .fetch_one(app.svc.store.pool())
        .await
        .unwrap();
    n
}

/// A tenant with a user and a confidential application allowed the password grant.
struct Login {
    tenant: String,
    client_id: String,
    secret: String,
}

async fn login_tenant(app: &TestApp, tenant: &str) -> (String, Login) {
    let key = app.tenant(tenant).await;
    let (s, u) = app
        .call(
            reqwest::Method::POST,
            &format!("/t/{tenant}/api/users"),
            Some(&key),
            Some(json!({"email": "bea@example.com", "password": "correct horse battery", "email_verified": true})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let (s, a) = app
        .call(
            reqwest::Method::POST,
            &format!("/t/{tenant}/api/applications"),
            Some(&key),
            Some(json!({"name": "web", "grant_types": ["password"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let login = Login {
        tenant: tenant.into(),
        client_id: a["client_id"].as_str().unwrap().into(),
        secret: a["client_secret"].as_str().unwrap().into(),
    };
    (key, login)
}

async fn password_grant(app: &TestApp, l: &Login) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/t/{}/oauth/token", app.base, l.tenant))
        .basic_auth(&l.client_id, Some(&l.secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "bea@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Successful password grants per second over `window`, from `clients` concurrent clients.
async fn grant_rate(app: &Arc<TestApp>, l: &Arc<Login>, clients: usize, window: Duration) -> f64 {
    let ok = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (app, l, ok, stop) = (app.clone(), l.clone(), ok.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let (s, body) = password_grant(&app, &l).await;
                    assert_eq!(s, StatusCode::OK, "{body}");
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    // Count what completed inside the window only.
    let done = ok.load(Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    for t in tasks {
        t.await.unwrap();
    }
    done as f64 / secs
}

/// Item 6 (docs/hooks.md "Uploads and compilation"): compiling is bounded. One tenant uploads
/// four distinct 100,000-function components at once, which without bounds means four
/// compilers each with a thread per core; another tenant's password grants keep at least half
/// their throughput, measured in this test before and during the compile load. The 50% bound
/// is the contract; with one single-threaded, lower-priority worker the measured ratio is far
/// above it, so noise on a shared machine does not flake it.
async fn compile_load_leaves_other_tenants_half_their_login_throughput(db: Db) {
    // A debug build of the worker does not compile such a component within its CPU-time
    // limit, so each upload holds its worker for the whole limit (a release build compiles it,
    // and the world check refuses it): compile load either way. The limit is 4 s here, not the
    // default 10 s, so the load (4 uploads one after the other: 16 s or more) outlasts the
    // measurement without slowing the rest of the suite, running beside this test, for longer.
    let app = Arc::new(spawn_app_with(db, |s| s.compiler.timeout = Duration::from_secs(4)).await);
    let (a_key, _) = login_tenant(&app, "alpha").await;
    let (_, b) = login_tenant(&app, "beta").await;
    let b = Arc::new(b);
    let components: Vec<Vec<u8>> = (0..4u64)
        .map(|i| many_functions(100_000, i * 7_919 + 1))
        .collect();
    println!(
        "components: 4 x {} KiB, 100,000 functions each",
        components[0].len() / 1024
    );
    // Warm up the login path (first connections, key material, caches).
    for _ in 0..5 {
        assert_eq!(password_grant(&app, &b).await.0, StatusCode::OK);
    }
    let clients = 4;
    let window = Duration::from_secs(3);
    let before = grant_rate(&app, &b, clients, window).await;

    let started = Instant::now();
    let uploads: Vec<_> = components
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let (app, key) = (app.clone(), a_key.clone());
            tokio::spawn(async move {
                let r = upload(&app, &key, "alpha", &format!("big{i}"), c).await;
                (r, started.elapsed())
            })
        })
        .collect();
    // Let validation finish and the first compile start.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let under_load = grant_rate(&app, &b, clients, window).await;
    let window_end = started.elapsed();
    let mut finished = Vec::new();
    for u in uploads {
        let ((status, _, body), at) = u.await.unwrap();
        let message = body["message"].as_str().unwrap_or_default().to_string();
        println!("upload done after {at:.1?}: {status} {message}");
        // Each one was compiled, then refused by the world check or stopped by the time
        // limit: either way a worker ran for it.
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            message.contains("does not implement the world")
                || message.contains("compilation took longer than")
                || message.contains("compilation did not finish within"),
            "{message}"
        );
        finished.push(at);
    }
    // The baseline is measured on both sides of the load, so a neighbour's build starting or
    // stopping on a shared machine skews the ratio less.
    let after = grant_rate(&app, &b, clients, window).await;
    let baseline = (before + after) / 2.0;
    let ratio = under_load / baseline;
    println!(
        "tenant beta password grants/s ({clients} clients, {window:?} windows): baseline {baseline:.1} \
         (before {before:.1}, after {after:.1}), during compile load {under_load:.1} ({:.0}% of baseline)",
        ratio * 100.0
    );
    assert!(
        finished.iter().any(|at| *at >= window_end),
        "the compile load lasted the whole measurement window (uploads finished at {finished:?}, \
         window ended at {window_end:?})"
    );
    assert!(
        ratio >= 0.5,
        "another tenant's logins kept {:.0}% of their throughput (contract: >= 50%)",
        ratio * 100.0
    );
}

/// Item 6 (docs/hooks.md "Uploads and compilation"; 429 is RFC 6585 section 4, `Retry-After`
/// RFC 9110 section 10.2.3): a tenant over its upload allowance gets `429` with a JSON error
/// naming the limit and a `Retry-After`, before anything is validated or compiled; another
/// tenant is unaffected.
async fn uploads_over_the_rate_limit_get_429_with_retry_after(db: Db) {
    let app = spawn_app(db).await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let burst = sigil_hooks::admission::UploadRate::default().burst;
    for i in 0..burst {
        let (s, _, body) = upload(&app, &a, "alpha", "roles", hook("roles_claims")).await;
        assert_eq!(s, StatusCode::CREATED, "upload {i}: {body}");
    }
    let (s, headers, body) = upload(&app, &a, "alpha", "roles", hook("roles_claims")).await;
    assert_error(
        &(s, body.clone()),
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        None,
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("per minute") && message.contains(&burst.to_string()),
        "the message names the limit: {message}"
    );
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    // Refused before anything else: even garbage gets 429, not 400.
    let (s, _, _) = upload(&app, &a, "alpha", "junk", b"not wasm".to_vec()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let (_, list) = app
        .call(
            reqwest::Method::GET,
            "/t/alpha/api/hooks/roles",
            Some(&a),
            None,
        )
        .await;
    assert_eq!(
        list["versions"].as_array().unwrap().len(),
        burst as usize,
        "a refused upload stores no version"
    );
    // Another tenant has its own allowance.
    let (s, _, body) = upload(&app, &b, "beta", "roles", hook("roles_claims")).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
}

/// Item 7 (docs/hooks.md "Uploads and compilation"): a component that compiles but does not
/// implement the world is refused with a named error, and its compiled artifact is not
/// stored.
async fn a_component_failing_the_world_check_stores_no_artifact(db: Db) {
    let app = spawn_app(db).await;
    let key = app.operator_key.clone();
    let before = artifacts(&app).await;
    let salt = rand::random::<u32>();
    let got = upload(&app, &key, "default", "other", wrong_world(salt)).await;
    assert_error(
        &(got.0, got.2.clone()),
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("wasm"),
    );
    assert!(
        got.2["message"]
            .as_str()
            .unwrap()
            .contains("does not implement the world sigil:hooks/post-login@0.1.0"),
        "{}",
        got.2
    );
    assert_eq!(
        artifacts(&app).await,
        before,
        "no artifact for a refused upload"
    );
    let (_, list) = app.get("/t/default/api/hooks").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "no hook either");
}

/// Item 7 (docs/hooks.md "Uploads and compilation"): deleting a hook deletes the artifacts no
/// other version references; an artifact another hook's version still uses stays, and every
/// stored artifact (compiled by the worker, or serialized from memory) authenticates and loads.
async fn deleting_a_hook_deletes_its_unreferenced_artifacts(db: Db) {
    let app = spawn_app(db).await;
    let key = app.operator_key.clone();
    // This node already has `roles_claims` prepared in memory (as after another tenant's
    // upload of the same bytes); the upload still stores its artifact, serialized from memory.
    let rt = app.svc.hooks.runtime.clone();
    sigil::runner::LocalRunner::with_runtime(rt.clone())
        .prepare(&hook("roles_claims"))
        .unwrap();
    let (s, _, one) = upload(&app, &key, "default", "one", hook("roles_claims")).await;
    assert_eq!(s, StatusCode::CREATED, "{one}");
    let (s, _, two) = upload(&app, &key, "default", "two", hook("org_tier")).await;
    assert_eq!(s, StatusCode::CREATED, "{two}");
    let (s, _, shared) = upload(&app, &key, "default", "shared", hook("org_tier")).await;
    assert_eq!(s, StatusCode::CREATED, "{shared}");
    let h1 = one["version"]["hash"].as_str().unwrap().to_string();
    let h2 = two["version"]["hash"].as_str().unwrap().to_string();
    assert_eq!(artifacts_of(&app, &h1).await, 1, "stored with its version");
    assert_eq!(artifacts_of(&app, &h2).await, 1);
    for h in [&h1, &h2] {
        let (artifact, compat, mac): (Vec<u8>, String, String) =
            sqlx::query_as("SELECT artifact, compat, mac FROM hook_artifacts WHERE hash = $1")
                .bind(h)
                .fetch_one(app.svc.store.pool())
                .await
                .unwrap();
        app.svc
            .hooks
            .seal
            .verify(h, &compat, &artifact, &mac)
            .unwrap();
        sigil_hooks::compile::load(rt.engine(), &artifact).expect("the stored artifact loads");
    }

    let (s, _) = app.delete("/t/default/api/hooks/one").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(artifacts_of(&app, &h1).await, 0, "unreferenced: deleted");
    let (s, _) = app.delete("/t/default/api/hooks/two").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        artifacts_of(&app, &h2).await,
        1,
        "still referenced by `shared`: kept"
    );
    let (s, _) = app.delete("/t/default/api/hooks/shared").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(artifacts(&app).await, 0);

    // The same bytes uploaded again compile and store again.
    let (s, _, again) = upload(&app, &key, "default", "one", hook("roles_claims")).await;
    assert_eq!(s, StatusCode::CREATED, "{again}");
    assert_eq!(artifacts_of(&app, &h1).await, 1);
}

/// Settings for a server on a given database, as the harness makes them (shared runtime, this
/// build's compile worker, light password hashing).
fn settings_for(url: &str, master_key: Option<String>) -> Settings {
    let mut s = Settings::new("127.0.0.1:0".parse().unwrap(), url);
    s.max_connections = 3;
    s.hook_runtime = Some(crate::helpers::shared_runtime());
    s.compiler.exe = env!("CARGO_BIN_EXE_sigil").into();
    s.passwords = sigil::passwords::PasswordHasher::new(4096, 1, 1);
    s.master_key = master_key;
    s
}

/// Item 7 (docs/hooks.md "Uploads and compilation"): an artifact no version references
/// (inserted directly, as an older release could leave one) is deleted when the server starts
/// again on the same database; a referenced one stays.
async fn the_startup_sweep_removes_orphan_artifacts(db: Db) {
    let fresh = FreshDb::new(db).await;
    let master = (db == Db::Postgres).then(|| sigil::crypto::MasterKey::generate().to_base64());
    let first = Application::build(settings_for(&fresh.url, master.clone()))
        .await
        .unwrap();
    let pool = first.services().store.pool().clone();
    let (tenant,): (String,) = sqlx::query_as("SELECT id FROM tenants WHERE name = 'default'")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO hooks (id, tenant_id, name, deployed_version, limits, created_at, updated_at) \
         VALUES ('hook_kept', $1, 'kept', NULL, '{}', 0, 0)",
    )
    .bind(&tenant)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO hook_versions (hook_id, version, tenant_id, hash, size, imports, component, created_at) \
         VALUES ('hook_kept', 1, $1, 'kept-hash', 1, '[]', $2, 0)",
    )
    .bind(&tenant)
    .bind(vec![0u8])
    .execute(&pool)
    .await
    .unwrap();
    for hash in ["kept-hash", "orphan-hash"] {
        sqlx::query(
            "INSERT INTO hook_artifacts (hash, compat, artifact, mac, created_at) VALUES ($1, 'c', $2, 'm', 0)",
        )
        .bind(hash)
        .bind(vec![1u8])
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    drop(first);

    // A restart on the same database sweeps.
    let second = Application::build(settings_for(&fresh.url, master))
        .await
        .unwrap();
    let left: Vec<(String,)> = sqlx::query_as("SELECT hash FROM hook_artifacts ORDER BY hash")
        .fetch_all(second.services().store.pool())
        .await
        .unwrap();
    assert_eq!(
        left,
        vec![("kept-hash".to_string(),)],
        "the orphan is gone, the referenced artifact stays"
    );
    second.services().store.close().await;
}

/// Item 7 (issue 10: "thousands of uploaded versions cannot grow memory without limit"): the
/// prepared-component cache and the per-tenant semaphore map are bounded LRUs. More versions
/// are prepared than the cache holds and it stays at its bound; a hook it dropped is prepared
/// again, from its stored artifact, by the next login that needs it. Test runs for more
/// tenants than the map holds leave it at its bound.
async fn runtime_maps_are_bounded_and_an_evicted_hook_is_prepared_again(db: Db) {
    // A runtime of its own with small bounds (the shared one is used by every other test).
    let rt = HookRuntime::new(RuntimeSettings {
        threads: 2,
        per_tenant: 1,
        caches: CacheBounds {
            prepared: 2,
            tenants: 3,
        },
        ..Default::default()
    })
    .unwrap();
    let app = spawn_app_with(db, |s| s.hook_runtime = Some(rt.clone())).await;
    let key = app.operator_key.clone();
    let mut hashes = Vec::new();
    for (name, file) in [
        ("roles", "roles_claims"),
        ("tenant", "tenant_id_claim"),
        ("tier", "org_tier"),
        ("stamp", "first_login_stamp"),
    ] {
        let (s, _, up) = upload(&app, &key, "default", name, hook(file)).await;
        assert_eq!(s, StatusCode::CREATED, "{up}");
        hashes.push(up["version"]["hash"].as_str().unwrap().to_string());
        assert!(rt.cached_len() <= 2, "prepared cache at most its bound");
    }
    println!(
        "prepared cache after 4 uploads: {} entries",
        rt.cached_len()
    );
    assert_eq!(rt.cached_len(), 2);
    assert!(rt.cached(&hashes[0]).is_none(), "the oldest was dropped");

    // A login that runs the dropped hook prepares it again, transparently.
    app.post("/t/default/api/hooks/roles/deploy", json!({"version": 1}))
        .await;
    let (s, flow) = app
        .put(
            "/t/default/api/flows/post-login",
            json!({"bindings": [{"hook": "roles"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{flow}");
    let (s, u) = app
        .post(
            "/t/default/api/users",
            json!({"email": "bea@example.com", "password": "correct horse battery",
                   "app_metadata": {"roles": ["admin"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let (s, a) = app
        .post(
            "/t/default/api/applications",
            json!({"name": "web", "grant_types": ["password"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let login = Login {
        tenant: "default".into(),
        client_id: a["client_id"].as_str().unwrap().into(),
        secret: a["client_secret"].as_str().unwrap().into(),
    };
    let (s, tokens) = password_grant(&app, &login).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["https://sigil.example/roles"],
        json!(["admin"]),
        "the evicted hook ran"
    );
    assert!(rt.cached(&hashes[0]).is_some(), "prepared again");
    assert_eq!(rt.cached_len(), 2, "still at the bound");

    // Tenant semaphores: test runs by five tenants, the map keeps three.
    let event: Value =
        serde_json::from_str(include_str!("../../../docs/sample-event.json")).unwrap();
    for i in 0..5 {
        let name = format!("t{i}");
        let k = app.tenant(&name).await;
        let (s, _, up) = upload(&app, &k, &name, "roles", hook("roles_claims")).await;
        assert_eq!(s, StatusCode::CREATED, "{up}");
        let (s, out) = app
            .call(
                reqwest::Method::POST,
                &format!("/t/{name}/api/hooks/roles/versions/1/test"),
                Some(&k),
                Some(json!({"event": event})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{out}");
        assert_eq!(out["status"]["status"], "success", "{out}");
        assert!(rt.tenant_slots_len() <= 3, "tenant map at most its bound");
    }
    println!(
        "tenant semaphores after 5 tenants: {}",
        rt.tenant_slots_len()
    );
    assert_eq!(rt.tenant_slots_len(), 3);
}

both_backends!(
    compile_load_leaves_other_tenants_half_their_login_throughput,
    uploads_over_the_rate_limit_get_429_with_retry_after,
    a_component_failing_the_world_check_stores_no_artifact,
    deleting_a_hook_deletes_its_unreferenced_artifacts,
    the_startup_sweep_removes_orphan_artifacts,
    runtime_maps_are_bounded_and_an_evicted_hook_is_prepared_again,
);
