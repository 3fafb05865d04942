//! The two schemas in `migrations/` are one schema written twice: the store's SQL is
//! dialect-neutral and reads the same columns on both back-ends, so a column added to one
//! dialect's migration and forgotten in the other's must fail here, not in production.

use std::collections::BTreeSet;

use sigil::store::Store;

use crate::helpers::{Db, FreshDb};

/// Every (table, column) of a migrated database, sqlx's bookkeeping table left out.
async fn columns(db: Db) -> BTreeSet<(String, String)> {
    let fresh = FreshDb::new(db).await;
    let store = Store::connect(&fresh.url, 1).await.expect("connects");
    store.migrate().await.expect("migrates");
    let sql = match db {
        Db::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'"
        }
        Db::Postgres => {
            "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'"
        }
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql)
        .fetch_all(store.pool())
        .await
        .expect("lists columns");
    store.close().await;
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_migrations_define_the_same_columns() {
    let sqlite = columns(Db::Sqlite).await;
    let postgres = columns(Db::Postgres).await;
    assert!(sqlite.len() > 50, "the schema was read: {sqlite:?}");
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_postgres:?}"
    );
}

/// The unique rules the store maps to API fields, as each back-end names them: a rule whose
/// constraint a migration renamed (or whose columns changed) must fail here, not turn a
/// conflict into a 500 in production.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_unique_rule_names_a_unique_constraint_of_both_schemas() {
    use sigil::store::unique::RULES;

    let fresh = FreshDb::new(Db::Postgres).await;
    let store = Store::connect(&fresh.url, 1).await.expect("connects");
    store.migrate().await.expect("migrates");
    // Unique constraints, and unique indexes (a partial one cannot be a constraint).
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT conname::TEXT FROM pg_constraint WHERE contype IN ('u', 'p') \
         UNION SELECT c.relname::TEXT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE i.indisunique",
    )
    .fetch_all(store.pool())
    .await
    .expect("lists constraints");
    store.close().await;
    for r in RULES {
        assert!(
            names.iter().any(|(n,)| n == r.constraint),
            "no PostgreSQL constraint {}",
            r.constraint
        );
    }

    let fresh = FreshDb::new(Db::Sqlite).await;
    let store = Store::connect(&fresh.url, 1).await.expect("connects");
    store.migrate().await.expect("migrates");
    let mut reported = BTreeSet::new();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(store.pool())
    .await
    .expect("lists tables");
    for (table,) in tables {
        let indexes: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM pragma_index_list($1) WHERE \"unique\" = 1")
                .bind(&table)
                .fetch_all(store.pool())
                .await
                .expect("lists indexes");
        for (index,) in indexes {
            let cols: Vec<(String,)> =
                sqlx::query_as("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(store.pool())
                    .await
                    .expect("lists index columns");
            let list: Vec<String> = cols.iter().map(|(c,)| format!("{table}.{c}")).collect();
            reported.insert(list.join(", "));
        }
    }
    store.close().await;
    for r in RULES {
        assert!(
            reported.contains(r.sqlite_columns),
            "no SQLite unique index on {} (have {reported:?})",
            r.sqlite_columns
        );
    }
}

/// Migration 0013 fills the metadata key paths from what a database already holds: the
/// top-level keys that are template names, per tenant; an object that is not valid JSON, or
/// not an object, contributes nothing instead of failing the migration (and so the start).
async fn the_metadata_keys_migration_fills_in_existing_keys_and_skips_corrupt_objects(db: Db) {
    let fresh = FreshDb::new(db).await;
    let store = Store::connect(&fresh.url, 1).await.expect("connects");
    let dialect = match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    // The migrations before 0013, applied from a copy of their files.
    let before = std::env::temp_dir().join(format!("sigil-mig-{:x}", rand::random::<u64>()));
    std::fs::create_dir_all(&before).unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < "0013" {
            std::fs::copy(&path, before.join(&name)).unwrap();
        }
    }
    let earlier = sqlx::migrate::Migrator::new(before.as_path())
        .await
        .unwrap();
    earlier.run(store.pool()).await.expect("migrates to 0012");
    std::fs::remove_dir_all(&before).unwrap();
    for sql in [
        "INSERT INTO tenants (id, name, created_at) VALUES ('ten_1', 't1', 0), ('ten_2', 't2', 0)",
        "INSERT INTO users (id, tenant_id, email, email_normalized, created_at, updated_at, \
         user_metadata, app_metadata) VALUES \
         ('u1', 'ten_1', 'a@x', 'a@x', 0, 0, \
          '{\"department\":\"eng\",\"address\":{\"city\":\"L\"},\"has space\":1,\"9x\":2,\"-x\":3}', \
          '{\"plan\":\"pro\"}'), \
         ('u2', 'ten_1', 'b@x', 'b@x', 0, 0, 'not json', '[1,2]'), \
         ('u3', 'ten_2', 'c@x', 'c@x', 0, 0, '{\"other\":1}', '{}')",
    ] {
        sqlx::query(sql).execute(store.pool()).await.expect(sql);
    }
    store.migrate().await.expect("migrates the rest");
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT tenant_id, path FROM metadata_keys ORDER BY tenant_id, path")
            .fetch_all(store.pool())
            .await
            .unwrap();
    store.close().await;
    let rows: Vec<(&str, &str)> = rows.iter().map(|(t, p)| (t.as_str(), p.as_str())).collect();
    assert_eq!(
        rows,
        [
            ("ten_1", "user.app_metadata.plan"),
            ("ten_1", "user.user_metadata.address"),
            ("ten_1", "user.user_metadata.department"),
            ("ten_2", "user.user_metadata.other"),
        ]
    );
}

crate::both_backends!(the_metadata_keys_migration_fills_in_existing_keys_and_skips_corrupt_objects);
