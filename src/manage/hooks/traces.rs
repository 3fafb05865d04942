//! Reading stored flow traces back.

use serde::Serialize;
use sigil_hooks::outcome::HookTrace;
use utoipa::ToSchema;

use crate::clock::rfc3339;
use crate::db::Db;
use crate::flows::Hooks;
use crate::manage::{Page, PageParams, Result, TenantCtx};
use crate::store::StoreError;
use crate::store::hook_traces as store;

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

/// What a stored trace holds that a reader gets (its `status` repeats the row's).
#[derive(serde::Deserialize)]
struct Stored {
    hooks: Vec<HookTrace>,
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
        let Stored { hooks } = serde_json::from_str(&r.trace)
            .map_err(|e| StoreError::BadJson("hook_traces.trace", e))?;
        Ok(Trace {
            hooks,
            id: r.id,
            at: rfc3339(r.at),
            context: r.context,
            status: r.status,
        })
    })
}
