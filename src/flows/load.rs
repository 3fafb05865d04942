//! Loading a tenant's flow for a login: its bindings, each hook's version, secrets and limits,
//! prepared and cached per tenant.

use sigil_hooks::fetch::allow::{AllowList, AllowRule};
use sigil_hooks::outcome::FailurePolicy;
use sigil_hooks::runtime::FlowStep;
use sigil_hooks::{LimitOverrides, Limits};

use super::{FlowError, Hooks, secret_aad};
use crate::store::flows;
use crate::store::hooks::{self as store, By, HookRow};
use crate::store::{Store, StoreError};

/// The stored text of a failure policy.
pub fn policy_text(p: FailurePolicy) -> &'static str {
    match p {
        FailurePolicy::FailClosed => "fail_closed",
        FailurePolicy::FailOpen => "fail_open",
    }
}

/// The stored policy; anything but `fail_open` fails closed.
pub fn policy_of(text: &str) -> FailurePolicy {
    if text == "fail_open" {
        FailurePolicy::FailOpen
    } else {
        FailurePolicy::FailClosed
    }
}

/// Reads stored limit overrides strictly: an object that is not a valid `LimitOverrides` (an
/// unknown field, a wrong type) is corruption, never "no overrides", which would silently raise
/// a limit the operator or the tenant lowered.
pub fn overrides(
    column: &'static str,
    stored: &serde_json::Map<String, serde_json::Value>,
) -> Result<LimitOverrides, StoreError> {
    serde_json::from_value(serde_json::Value::Object(stored.clone()))
        .map_err(|e| StoreError::BadJson(column, e))
}

/// A hook's stored allow-list, read strictly (the API validated it before storing it).
pub fn allow_list(
    column: &'static str,
    stored: &serde_json::Value,
) -> Result<AllowList, StoreError> {
    let rules: Vec<AllowRule> =
        serde_json::from_value(stored.clone()).map_err(|e| StoreError::BadJson(column, e))?;
    AllowList::new(rules).map_err(|e| StoreError::Corrupt {
        column: column.into(),
        reason: e.to_string(),
    })
}

/// What `hook` runs with: the operator's ceilings lowered by the tenant's overrides, then by
/// the hook's own.
async fn limits_for(
    db: &Store,
    hooks: &Hooks,
    tenant_id: &str,
    hook: &HookRow,
) -> Result<Limits, FlowError> {
    let tenant = overrides(
        "tenants.hook_limits",
        &store::tenant_limits(db, tenant_id).await?,
    )?;
    let own = overrides("hooks.limits", &hook.limits)?;
    Ok(hooks.ceilings.lowered(&tenant).lowered(&own))
}

/// The decrypted secrets of a hook.
pub async fn open_secrets(
    db: &Store,
    hooks: &Hooks,
    hook_id: &str,
) -> Result<Vec<(String, String)>, FlowError> {
    let mut out = Vec::new();
    // Read first: a `for` would hold the connection (a temporary of its head) through the loop.
    let sealed_secrets = store::secrets(db.read().await?.conn(), hook_id).await?;
    for (name, sealed, _) in sealed_secrets {
        let plain = hooks
            .secrets
            .open(&sealed, &secret_aad(hook_id, &name))
            .ok_or_else(|| FlowError::Secret {
                name: name.clone(),
                hook_id: hook_id.to_string(),
            })?;
        out.push((name, String::from_utf8_lossy(&plain).into_owned()));
    }
    Ok(out)
}

/// One version of `hook`, ready to run: prepared (from the cache, the stored artifact or the
/// compile worker), with its secrets and limits.
pub async fn step(
    db: &Store,
    hooks: &Hooks,
    tenant_id: &str,
    hook: &HookRow,
    version: i64,
    policy: FailurePolicy,
    now: i64,
) -> Result<FlowStep, FlowError> {
    let (v, bytes) = store::component(db.read().await?.conn(), &hook.id, version)
        .await?
        .ok_or(FlowError::NotFound("hook version"))?;
    let prepared = match hooks.runtime.cached(&v.hash) {
        Some(p) => p,
        None => super::prepare::prepare(db, hooks, &v.hash, bytes, now).await?,
    };
    Ok(FlowStep {
        hook_id: hook.id.clone(),
        hook_name: hook.name.clone(),
        version,
        hook: prepared,
        policy,
        secrets: open_secrets(db, hooks, &hook.id).await?,
        limits: limits_for(db, hooks, tenant_id, hook).await?,
        allow: std::sync::Arc::new(allow_list("hooks.fetch_allow", &hook.fetch_allow)?),
        fuel_seen: Default::default(),
    })
}

/// The tenant's flow, ready to run (from the cache when fresh).
pub async fn load_flow(
    db: &Store,
    hooks: &Hooks,
    tenant_id: &str,
    now: i64,
) -> Result<Vec<FlowStep>, FlowError> {
    if let Some(steps) = hooks.flows.get(tenant_id, now) {
        return Ok(steps);
    }
    let generation = hooks.flows.generation();
    let mut steps = Vec::new();
    // Read first: a `for` would hold the connection (a temporary of its head) through the loop,
    // which reads on other connections.
    let bindings = flows::bindings(db.read().await?.conn(), tenant_id).await?;
    let budget = flows::flow_budget(db.read().await?.conn(), tenant_id).await?;
    for b in bindings {
        let hook = store::get_hook(db.read().await?.conn(), tenant_id, By::Id(&b.hook_id))
            .await?
            .ok_or(FlowError::NotFound("hook"))?;
        let Some(version) = b.version.or(hook.deployed_version) else {
            continue;
        };
        let mut s = step(
            db,
            hooks,
            tenant_id,
            &hook,
            version,
            policy_of(&b.policy),
            now,
        )
        .await?;
        // The binding's deadline and the flow's budget replace the limits' (the API held them
        // to the operator's fetch ceilings); the flow runs on the lowest budget of its steps,
        // so every step gets the flow's.
        if let Some(d) = b.deadline_ms {
            s.limits.deadline_ms = (d.max(1) as u64).min(hooks.fetch_ceilings.deadline_ms);
        }
        if let Some(f) = budget {
            s.limits.flow_deadline_ms =
                (f.max(1) as u64).min(hooks.fetch_ceilings.flow_deadline_ms);
        }
        steps.push(s);
    }
    hooks.flows.put(tenant_id, &steps, now, generation);
    Ok(steps)
}
