//! Test runs: one hook version against an event with the production runtime, nobody logged in.

use serde::Deserialize;
use sigil_hooks::event::PostLoginEvent;
use sigil_hooks::host::AddableScopes;
use sigil_hooks::outcome::{FailurePolicy, FlowOutcome};
use utoipa::ToSchema;

use super::find;
use crate::db::Db;
use crate::flows::Hooks;
use crate::flows::load::step;
use crate::flows::run::{run_flow, save_trace};
use crate::manage::{Result, TenantCtx};

/// Body of the test endpoint: an event (see `docs/sample-event.json`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRun {
    /// The event to run against.
    pub event: PostLoginEvent,
}

/// Runs one version against an event with the production runtime (same limits, same claim
/// rules, the hook's secrets), without logging anyone in. Metadata writes are reported, not
/// applied. `add-scope` may add what a password grant for the event's transaction could: the
/// OIDC scopes but `offline_access`, and the scopes of the event's audience when it names an
/// API of the tenant.
pub async fn test(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    id_or_name: &str,
    version: i64,
    event: PostLoginEvent,
) -> Result<FlowOutcome> {
    let h = find(db, ctx, id_or_name).await?;
    let now = db.now();
    let s = step(
        &db.store,
        hooks,
        &ctx.tenant_id,
        &h,
        version,
        FailurePolicy::FailClosed,
        now,
    )
    .await?;
    let api_scopes = match event.transaction.audience.as_deref() {
        Some(aud) => {
            crate::store::apis::scope_values(db.store.read().await?.conn(), &ctx.tenant_id, aud)
                .await?
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let addable = AddableScopes::new(
        crate::scopes::OIDC_SCOPES
            .iter()
            .map(|s| s.to_string())
            .chain(api_scopes),
    );
    let (out, trace) = run_flow(
        hooks,
        &ctx.tenant_id,
        vec![s],
        event,
        addable,
        &format!("test:{}", h.name),
        now,
    )
    .await;
    if let Some(t) = trace {
        save_trace(hooks, t).await;
    }
    Ok(out)
}
