//! `/healthz` and `/readyz` (issue 13 item 4): readiness names each check (the database, the
//! migrations this binary embeds, the tenants' bound hooks); a database an older binary
//! migrated is not ready, one a newer binary migrated is; a node with bound hooks is ready only
//! once they are prepared, and a hook that fails to prepare does not keep it unready.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Node, metric, only_hash, second_node};
use crate::both_backends;
use crate::helpers::{Db, ready, spawn_app, spawn_app_with, upload_and_bind};

async fn readyz_names_each_check_and_healthz_only_says_alive(db: Db) {
    let app = spawn_app(db).await;
    let (s, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {"database": "ok", "migrations": "ok", "hooks": "ok"}})
    );
    let (s, body) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, body), (StatusCode::OK, json!({"status": "ok"})));
}

/// The newest migration's row removed, as if an older binary had migrated this database: the
/// node answers 503 and says the migrations are behind.
async fn a_database_migrated_by_an_older_binary_is_not_ready(db: Db) {
    let app = spawn_app(db).await;
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(app.svc.db.store.pool())
    .await
    .unwrap();
    let (s, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        json!({"status": "unavailable", "checks": {"database": "ok", "migrations": "behind", "hooks": "ok"}})
    );
}

/// A migration this binary does not know, as a newer binary (a rolling upgrade's first node)
/// would have applied: this node's schema is still complete, so it stays ready.
async fn a_database_migrated_by_a_newer_binary_is_ready(db: Db) {
    let app = spawn_app(db).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99991231000000, 'from a newer binary', TRUE, $1, 0)",
    )
    .bind(vec![0u8; 48])
    .execute(app.svc.db.store.pool())
    .await
    .unwrap();
    let (s, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (s, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
}

/// A second node on a database whose tenant binds a hook that no node has compiled (its
/// stored artifact deleted, nothing on this node's disk or in its memory): while the warm-up
/// waits for the compile worker, `/readyz` says `starting` / `warming`; once it answers 200,
/// the hook is in the node's prepared cache, so the first login neither compiles nor loads.
async fn a_node_with_a_bound_hook_is_ready_only_once_the_hook_is_prepared(db: Db) {
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let first = spawn_app_with(db, |s| s.master_key = Some(master.clone())).await;
    upload_and_bind(&first, &[("roles", "roles_claims", "fail_closed")]).await;
    let hash = only_hash(&first).await;
    sqlx::query("DELETE FROM hook_artifacts")
        .execute(first.svc.db.store.pool())
        .await
        .unwrap();

    let second = second_node(&first, &master, |s| {
        s.artifact_cache = None;
        s.compiler.workers = 1;
    })
    .await;
    // The only compile slot, held: the warm-up cannot finish until it is given back.
    let slot = second.services().hooks.compile_gate.enter().await.unwrap();
    let node = Node::start(second);
    let (s, body) = node.readyz().await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        json!({"status": "starting", "checks": {"database": "ok", "migrations": "ok", "hooks": "warming"}})
    );
    assert!(node.svc.hooks.runtime.cached(&hash).is_none());

    drop(slot);
    assert!(ready(node.port).await, "ready once the hook is prepared");
    assert!(
        node.svc.hooks.runtime.cached(&hash).is_some(),
        "ready means prepared"
    );
    assert_eq!(
        metric(&node.svc, "sigil_hook_prepares_total{source=\"compiled\"}"),
        1.0
    );
    let (_, body) = node.readyz().await;
    assert_eq!(body["checks"]["hooks"], "ok");
    node.stop().await;
}

/// The warm-up's compile refused (no worker free, and no wait allowed): the node logs and
/// counts the failure and becomes ready anyway, saying the hooks are `degraded`.
async fn a_hook_that_fails_to_prepare_at_start_does_not_keep_the_node_unready(db: Db) {
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let first = spawn_app_with(db, |s| s.master_key = Some(master.clone())).await;
    upload_and_bind(&first, &[("roles", "roles_claims", "fail_closed")]).await;
    sqlx::query("DELETE FROM hook_artifacts")
        .execute(first.svc.db.store.pool())
        .await
        .unwrap();

    let second = second_node(&first, &master, |s| {
        s.artifact_cache = None;
        s.compiler.workers = 1;
        s.compiler.queue = Duration::ZERO;
    })
    .await;
    let _slot = second.services().hooks.compile_gate.enter().await.unwrap();
    let node = Node::start(second);
    assert!(ready(node.port).await, "ready despite the failure");
    let (s, body) = node.readyz().await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {"database": "ok", "migrations": "ok", "hooks": "degraded"},
               "hooks_failed": 1})
    );
    assert_eq!(metric(&node.svc, "sigil_hook_warmup_failures_total"), 1.0);
    node.stop().await;
}

both_backends!(
    readyz_names_each_check_and_healthz_only_says_alive,
    a_database_migrated_by_an_older_binary_is_not_ready,
    a_database_migrated_by_a_newer_binary_is_ready,
    a_node_with_a_bound_hook_is_ready_only_once_the_hook_is_prepared,
    a_hook_that_fails_to_prepare_at_start_does_not_keep_the_node_unready,
);
