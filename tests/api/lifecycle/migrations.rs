//! Several nodes starting at once on one database (issue 13 item 4): the migrations are applied
//! exactly once (sqlx's migrator holds a PostgreSQL advisory lock while it migrates), and the
//! first start's `default` tenant and operator key are made by exactly one of them.

use std::sync::Arc;

use sigil::startup::Application;
use sigil::store::Store;
use tokio::sync::Barrier;

use super::node_settings;
use super::process::Serve;
use crate::both_backends;
use crate::helpers::{Db, FreshDb};

/// How many migrations this binary embeds for `db` (one file each under `migrations/`).
fn embedded_migrations(db: Db) -> usize {
    let dir = match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count()
}

/// N nodes connect, wait for each other, then migrate the same fresh database at once: every
/// one succeeds, and `_sqlx_migrations` holds each version once, applied successfully.
async fn four_nodes_migrating_one_fresh_database_at_once_all_succeed_and_apply_each_migration_once(
    db: Db,
) {
    const NODES: usize = 4;
    let fresh = FreshDb::new(db).await;
    let all_connected = Arc::new(Barrier::new(NODES));
    let nodes: Vec<_> = (0..NODES)
        .map(|_| {
            let url = fresh.url.clone();
            let all_connected = all_connected.clone();
            tokio::spawn(async move {
                // Every node reaches the barrier, connected or not: a node that failed to
                // connect must fail the test, not leave the others waiting for it forever.
                let store = Store::connect(&url, 2).await;
                all_connected.wait().await;
                let store = store.map_err(|e| format!("connecting: {e:?}"))?;
                store
                    .migrate()
                    .await
                    .map(|()| store)
                    .map_err(|e| format!("migrating: {e:?}"))
            })
        })
        .collect();
    let mut stores = Vec::new();
    for (i, n) in nodes.into_iter().enumerate() {
        let store = n.await.unwrap().unwrap_or_else(|e| panic!("node {i}: {e}"));
        stores.push(store);
    }
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT version, COUNT(*) FROM _sqlx_migrations WHERE success GROUP BY version ORDER BY version",
    )
    .fetch_all(stores[0].pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), embedded_migrations(db), "{rows:?}");
    assert!(
        rows.iter().all(|(_, n)| *n == 1),
        "each version once: {rows:?}"
    );
    let (all,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    assert_eq!(all as usize, rows.len(), "no failed or duplicate rows");
    for s in stores {
        s.close().await;
    }
}

/// Two servers built at once on a fresh database: both start, exactly one of them made the
/// `default` tenant and holds the operator key (which works on the other node too), and the
/// database holds one `default` tenant with one operator key.
async fn two_nodes_starting_at_once_on_a_fresh_database_make_one_default_tenant_and_one_operator_key(
    db: Db,
) {
    let fresh = FreshDb::new(db).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let (a, b) = tokio::join!(
        Application::build(node_settings(&fresh.url, &master)),
        Application::build(node_settings(&fresh.url, &master)),
    );
    let (a, b) = (a.expect("node a starts"), b.expect("node b starts"));
    let keys: Vec<_> = [&a, &b]
        .iter()
        .filter_map(|n| n.bootstrap_key().map(|k| k.key.clone()))
        .collect();
    assert_eq!(keys.len(), 1, "exactly one node made the operator key");
    let pool = a.services().db.store.pool().clone();
    let (tenants,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tenants WHERE name = 'default'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tenants, 1);
    let (operator_keys,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM api_keys WHERE is_operator = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(operator_keys, 1);

    // The key works on the node that did not make it.
    let other = if a.bootstrap_key().is_some() { b } else { a };
    let port = other.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(other.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/tenants"))
        .bearer_auth(&keys[0])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// A command (`sigil tenants create`, which migrates first) run and ended beside a running
/// SQLite server, then a write through the server, then another command: the second command
/// sees the write. The migration lock must not touch the database file: a descriptor of it
/// opened and closed by the server dropped the server's own SQLite locks, the ending command
/// then took the database for its own, checkpointed and deleted the write-ahead log, and the
/// server went on writing into the deleted log, where no other process would ever read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_run_beside_a_sqlite_server_see_what_it_writes() {
    let fresh = FreshDb::new(Db::Sqlite).await;
    let serve = Serve::start(&fresh, &[], &[]).await;
    let sigil = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sigil"))
            .args(args)
            .env("DATABASE_URL", &fresh.url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    sigil(&["tenants", "create", "acme"]);
    serve
        .call(
            reqwest::Method::PUT,
            "/t/default/api/jwt-templates/access_token",
            serde_json::json!({"plan": "gold"}),
            reqwest::StatusCode::OK,
        )
        .await;
    let saved = sigil(&["templates", "get", "--tenant", "default"]);
    assert!(saved.contains("gold"), "the server's write: {saved}");
}

both_backends!(
    four_nodes_migrating_one_fresh_database_at_once_all_succeed_and_apply_each_migration_once,
    two_nodes_starting_at_once_on_a_fresh_database_make_one_default_tenant_and_one_operator_key,
);
