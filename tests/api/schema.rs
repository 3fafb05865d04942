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
