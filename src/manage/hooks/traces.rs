//! Reading stored flow traces back.

use serde::Serialize;
use serde_json::Value;
use sigil_hooks::outcome::HookTrace;
use utoipa::ToSchema;

use crate::clock::rfc3339;
use crate::db::Db;
use crate::flows::Hooks;
use crate::manage::{Page, PageParams, Result, TenantCtx};
use crate::store::hooks as store;

/// A stored trace.
#[derive(Debug, Serialize, ToSchema)]
pub struct Trace {
    /// `trc_...`
    pub id: String,
    /// RFC 3339.
    pub at: String,
    /// What ran: `login:...` or `test:<hook>`.
    pub context: String,
    /// `success`, `denied` or `failed`.
    pub status: String,
    /// Per-hook details.
    pub hooks: Vec<HookTrace>,
}

/// Lists traces, newest first.
pub async fn traces(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    page: &PageParams,
) -> Result<Page<Trace>> {
    hooks.traces.flush().await;
    let rows = store::list_traces(&db.store, &ctx.tenant_id, page.cursor(), page.limit()?).await?;
    Page::from_store(rows, |r| {
        let v: Value = serde_json::from_str(&r.trace).unwrap_or(Value::Null);
        Ok(Trace {
            hooks: serde_json::from_value(v["hooks"].clone()).unwrap_or_default(),
            id: r.id,
            at: rfc3339(r.at),
            context: r.context,
            status: r.status,
        })
    })
}
