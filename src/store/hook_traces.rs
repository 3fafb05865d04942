//! Hook traces: what each flow run did, kept per tenant up to a bound.

use serde_json::Value;
use sqlx::FromRow;

use super::types::JsonText;
use super::{Page, Store, StoreError, WriteTx, to_json};

/// A stored trace.
#[derive(Debug, Clone, FromRow)]
pub struct TraceRow {
    /// `trc_...`
    pub id: String,
    /// The tenant whose flow ran (`ten_...`).
    pub tenant_id: String,
    /// Epoch ms.
    pub at: i64,
    /// What ran it: `login:<token id>`, `test:<hook>`.
    pub context: String,
    /// `success`, `denied`, `failed`.
    pub status: String,
    /// The run's status and its hooks' traces.
    #[sqlx(try_from = "JsonText")]
    pub trace: Value,
}

/// Records a trace inside the caller's transaction (a login records its trace in the same
/// commit as its grant). Older traces beyond `keep` are pruned about once every 32 inserts,
/// in one statement, so a tenant holds at most about `keep + 32`.
pub async fn insert_trace(tx: &mut WriteTx, t: &TraceRow, keep: i64) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO hook_traces (id, tenant_id, at, context, status, trace) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&t.id)
        .bind(&t.tenant_id)
        .bind(t.at)
        .bind(&t.context)
        .bind(&t.status)
        .bind(to_json("trace", &t.trace)?)
        .execute(tx.conn())
        .await?;
    if rand::random::<u8>().is_multiple_of(32) {
        sqlx::query(
            "DELETE FROM hook_traces WHERE tenant_id = $1 AND id NOT IN \
             (SELECT id FROM hook_traces WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2)",
        )
        .bind(&t.tenant_id)
        .bind(keep)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Lists traces, newest first.
pub async fn list_traces(
    store: &Store,
    tenant_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<TraceRow>, StoreError> {
    let rows: Vec<TraceRow> = sqlx::query_as(
        "SELECT id, tenant_id, at, context, status, trace FROM hook_traces \
         WHERE tenant_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(tenant_id)
    .bind(cursor.unwrap_or(""))
    .bind(limit + 1)
    .fetch_all(store.read().await?.conn())
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
}
