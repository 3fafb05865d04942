//! Reading stored flow traces back: a filtered list, one trace, and the latency and outcomes
//! over time computed from them ([`super::latency`]).

use serde::{Deserialize, Serialize};
use sigil_hooks::outcome::HookTrace;
use utoipa::{IntoParams, ToSchema};

use crate::clock::rfc3339;
use crate::db::Db;
use crate::flows::Hooks;
use crate::manage::{ManageError, Page, PageParams, Result, TenantCtx};
use crate::store::StoreError;
use crate::store::hook_traces::{self as store, TraceFilter, TraceRow};

/// A stored trace.
#[derive(Debug, Serialize, ToSchema)]
pub struct Trace {
    /// `trc_...`
    pub id: String,
    /// RFC 3339.
    pub at: String,
    /// What ran: `login:...`, `test:<hook>` or `legacy:<outcome>`.
    pub context: String,
    /// `success`, `denied`, `failed` or `aborted` (the hooks succeeded, the login failed after
    /// them).
    pub status: String,
    /// The user who logged in (absent for a legacy-store call, and for traces stored before
    /// this was recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The hooks' durations summed, in microseconds.
    pub duration_us: u64,
    /// The runs this trace stands for: 1, or more for a successful login's trace stored when
    /// the tenant's logins were above the node's trace rate (`--traces-per-second`): it counts
    /// the successful runs not stored since the tenant's trace before it.
    pub runs: u64,
    /// Per-hook details.
    pub hooks: Vec<HookTrace>,
}

/// Which traces to list (every filter is optional; together they all apply).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TraceQuery {
    /// Runs of this user's logins (`usr_...`).
    pub user_id: Option<String>,
    /// Runs of logins to this application.
    pub client_id: Option<String>,
    /// `success`, `denied`, `failed` or `aborted` (docs/hooks.md).
    pub status: Option<String>,
    /// Runs in which the hook of this name ran.
    pub hook: Option<String>,
}

impl TraceQuery {
    /// The store's filter, once the values are checked.
    pub(super) fn filter(&self) -> Result<TraceFilter<'_>> {
        if let Some(s) = &self.status
            && !matches!(s.as_str(), "success" | "denied" | "failed" | "aborted")
        {
            return Err(ManageError::Invalid {
                field: "status".into(),
                message: "must be success, denied, failed or aborted".into(),
            });
        }
        for (field, v) in [
            ("user_id", &self.user_id),
            ("client_id", &self.client_id),
            ("hook", &self.hook),
        ] {
            if let Some(v) = v {
                crate::manage::validate::token(field, v, 255)?;
            }
        }
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.is_empty())
        }
        Ok(TraceFilter {
            user_id: given(&self.user_id),
            client_id: given(&self.client_id),
            status: given(&self.status),
            hook: given(&self.hook),
        })
    }
}

/// What a stored trace holds that a reader gets (its `status` repeats the row's).
#[derive(Deserialize)]
struct Stored {
    hooks: Vec<HookTrace>,
}

fn view(r: TraceRow) -> Result<Trace> {
    let Stored { hooks } =
        serde_json::from_str(&r.trace).map_err(|e| StoreError::BadJson("hook_traces.trace", e))?;
    Ok(Trace {
        duration_us: hooks.iter().map(|h| h.duration_us).sum(),
        hooks,
        id: r.id,
        at: rfc3339(r.at),
        context: r.context,
        status: r.status,
        user_id: r.user_id,
        client_id: r.client_id,
        runs: u64::try_from(r.runs).unwrap_or(1),
    })
}

/// Lists the traces `query` matches, newest first.
pub async fn traces(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    query: &TraceQuery,
    page: &PageParams,
) -> Result<Page<Trace>> {
    let filter = query.filter()?;
    hooks.traces.flush().await;
    let rows = store::list_traces(
        &db.store,
        &ctx.tenant_id,
        &filter,
        page.cursor(),
        page.limit()?,
    )
    .await?;
    Page::from_store(rows, view)
}

/// One trace of the tenant.
pub async fn trace(db: &Db, hooks: &Hooks, ctx: &TenantCtx, id: &str) -> Result<Trace> {
    hooks.traces.flush().await;
    let row = store::get_trace(&db.store, &ctx.tenant_id, id)
        .await?
        .ok_or(ManageError::NotFound("trace"))?;
    view(row)
}
