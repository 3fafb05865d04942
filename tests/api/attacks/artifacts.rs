//! What compiling leaves behind: a refused upload stores nothing, a deleted hook's artifacts go
//! with it (and a start-up sweep removes older orphans), and the runtime's prepared-component
//! cache and tenant map stay bounded.
//!
//! Issue 10 item 7; the contract is docs/hooks.md, "Uploads and compilation": what a refused
//! upload compiled, or a deleted hook left behind, must not stay in the database or in memory.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sigil::startup::{Application, Settings};
use sigil_hooks::caches::CacheBounds;
use sigil_hooks::runtime::{HookRuntime, RuntimeSettings};

use super::uploads::{Login, password_grant};
use crate::both_backends;
use crate::helpers::{Db, FreshDb, Reply, TestApp, assert_error, hook, spawn_app, spawn_app_with};
use crate::hooks::upload_with_headers as upload;

/// A valid component of another world (the wrong export): it compiles and fails the world check.
fn wrong_world(salt: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component (core module $m (func (export "run") (result i32) i32.const {salt}))
             (core instance $i (instantiate $m))
             (func (export "run") (result u32) (canon lift (core func $i "run"))))"#
    ))
    .unwrap()
}

/// How many compiled artifacts are stored.
async fn artifacts(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM hook_artifacts")
        .fetch_one(app.svc.db.store.pool())
        .await
        .unwrap();
    n
}

/// How many compiled artifacts of `hash` are stored.
async fn artifacts_of(app: &TestApp, hash: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM hook_artifacts WHERE hash = $1")
        .bind(hash)
        .fetch_one(app.svc.db.store.pool())
        .await
        .unwrap();
    n
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
    let list = app
        .get("/t/default/api/hooks")
        .await
        .expect_status(StatusCode::OK);
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
                .fetch_one(app.svc.db.store.pool())
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
    let pool = first.services().db.store.pool().clone();
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
        .fetch_all(second.services().db.store.pool())
        .await
        .unwrap();
    assert_eq!(
        left,
        vec![("kept-hash".to_string(),)],
        "the orphan is gone, the referenced artifact stays"
    );
    second.services().db.store.close().await;
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
        .await
        .expect_status(StatusCode::OK);
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
    a_component_failing_the_world_check_stores_no_artifact,
    deleting_a_hook_deletes_its_unreferenced_artifacts,
    the_startup_sweep_removes_orphan_artifacts,
    runtime_maps_are_bounded_and_an_evicted_hook_is_prepared_again,
);
