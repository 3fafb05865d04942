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
    /// The user who logged in (`usr_...`), when the run was a login or a test with one.
    pub user_id: Option<String>,
    /// The application logged in to.
    pub client_id: Option<String>,
    /// The names of the hooks that ran, as [`hook_names`] writes them.
    pub hooks: String,
    /// The runs this trace stands for: 1, or for a successful login's trace stored above the
    /// tenant's trace rate, also the successful runs not stored since the tenant's last stored
    /// trace (`crate::flows::trace_rate`).
    pub runs: i64,
}

/// The `hooks` column: each name preceded and followed by a space (` roles stamp `), which
/// no hook name contains, so that [`TraceFilter::hook`] matches a whole name.
pub fn hook_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from(" ");
    for n in names {
        out.push_str(n);
        out.push(' ');
    }
    out
}

/// Which traces a listing returns; `None` matches any.
#[derive(Debug, Default, Clone, Copy)]
pub struct TraceFilter<'a> {
    /// The user who logged in.
    pub user_id: Option<&'a str>,
    /// The application.
    pub client_id: Option<&'a str>,
    /// `success`, `denied`, `failed` or `aborted`.
    pub status: Option<&'a str>,
    /// A hook's name: runs in which it ran.
    pub hook: Option<&'a str>,
}

impl TraceFilter<'_> {
    /// The `LIKE` pattern of the hook filter ('' for any): the name with `\`, `%` and `_`
    /// escaped, between spaces.
    fn hook_pattern(&self) -> String {
        self.hook
            .map_or_else(String::new, |h| format!("% {} %", super::like::escaped(h)))
    }
}

const COLUMNS: &str = "id, tenant_id, at, context, status, trace, user_id, client_id, hooks, runs";

/// Parameters per row of an insert: one per column.
const PARAMS: usize = 10;

/// The filter's conditions, its parameters numbered from `$3` (`$1` is the tenant, `$2` the
/// cursor).
const FILTERED: &str = "($3 = '' OR user_id = $3) AND ($4 = '' OR client_id = $4) \
    AND ($5 = '' OR status = $5) AND ($6 = '' OR hooks LIKE $6 ESCAPE '\\')";

/// How many traces one `INSERT` carries ([`PARAMS`] parameters each: far below both databases'
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
                let params: Vec<String> = (1..=PARAMS)
                    .map(|k| format!("${}", i * PARAMS + k))
                    .collect();
                format!("({})", params.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO hook_traces ({COLUMNS}) VALUES {}",
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
                .bind(&t.trace)
                .bind(&t.user_id)
                .bind(&t.client_id)
                .bind(&t.hooks)
                .bind(t.runs);
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

/// Lists the traces `filter` matches, newest first.
pub async fn list_traces(
    store: &Store,
    tenant_id: &str,
    filter: &TraceFilter<'_>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<TraceRow>, StoreError> {
    let rows = select(store, tenant_id, filter, cursor, limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
}

/// The newest `limit` traces `filter` matches, newest first.
pub async fn recent_traces(
    store: &Store,
    tenant_id: &str,
    filter: &TraceFilter<'_>,
    limit: i64,
) -> Result<Vec<TraceRow>, StoreError> {
    select(store, tenant_id, filter, None, limit).await
}

async fn select(
    store: &Store,
    tenant_id: &str,
    filter: &TraceFilter<'_>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Vec<TraceRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM hook_traces \
         WHERE tenant_id = $1 AND ($2 = '' OR id < $2) AND {FILTERED} ORDER BY id DESC LIMIT $7"
    ))
    .bind(tenant_id)
    .bind(cursor.unwrap_or(""))
    .bind(filter.user_id.unwrap_or(""))
    .bind(filter.client_id.unwrap_or(""))
    .bind(filter.status.unwrap_or(""))
    .bind(filter.hook_pattern())
    .bind(limit)
    .fetch_all(store.read().await?.conn())
    .await?)
}

/// One trace of the tenant.
pub async fn get_trace(
    store: &Store,
    tenant_id: &str,
    id: &str,
) -> Result<Option<TraceRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM hook_traces WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(store.read().await?.conn())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_filter_matches_whole_names_only() {
        let f = TraceFilter {
            hook: Some("a_b%"),
            ..TraceFilter::default()
        };
        assert_eq!(f.hook_pattern(), "% a\\_b\\% %");
        assert_eq!(hook_names(["roles", "stamp"]), " roles stamp ");
        assert_eq!(TraceFilter::default().hook_pattern(), "");
    }
}
