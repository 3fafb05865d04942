//! Hook traces: what each flow run did, kept per tenant up to a bound.

use sqlx::FromRow;

use super::{Page, Store, StoreError, WriteTx};

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
    /// The run's status and its hooks' traces: JSON text, serialized once where the flow ends
    /// (from typed values, never through a `serde_json::Value` tree) and stored as it is.
    pub trace: String,
}

/// How many traces one `INSERT` carries (six parameters each: far below both databases'
/// limits on parameters per statement).
const ROWS_PER_INSERT: usize = 64;

/// How many inserts of a tenant's traces, on average, between two prunings of its oldest.
const PRUNE_EVERY: usize = 32;

/// Records a batch of traces inside `tx`, many per statement. Older traces of each tenant in
/// the batch beyond `keep` are pruned with a probability of one in [`PRUNE_EVERY`] per trace
/// of that tenant the batch holds (in one statement per tenant), so a tenant holds at most
/// about `keep + PRUNE_EVERY`.
pub async fn insert_traces(
    tx: &mut WriteTx,
    traces: &[TraceRow],
    keep: i64,
) -> Result<(), StoreError> {
    for chunk in traces.chunks(ROWS_PER_INSERT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = i * 6;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO hook_traces (id, tenant_id, at, context, status, trace) VALUES {}",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for t in chunk {
            q = q
                .bind(&t.id)
                .bind(&t.tenant_id)
                .bind(t.at)
                .bind(&t.context)
                .bind(&t.status)
                .bind(&t.trace);
        }
        q.execute(tx.conn()).await?;
    }
    let mut tenants: Vec<(&str, usize)> = Vec::new();
    for t in traces {
        match tenants.iter_mut().find(|(id, _)| *id == t.tenant_id) {
            Some((_, n)) => *n += 1,
            None => tenants.push((&t.tenant_id, 1)),
        }
    }
    for (tenant, n) in tenants {
        if rand::Rng::gen_range(&mut rand::thread_rng(), 0..PRUNE_EVERY) < n {
            sqlx::query(
                "DELETE FROM hook_traces WHERE tenant_id = $1 AND id NOT IN \
                 (SELECT id FROM hook_traces WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2)",
            )
            .bind(tenant)
            .bind(keep)
            .execute(tx.conn())
            .await?;
        }
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
