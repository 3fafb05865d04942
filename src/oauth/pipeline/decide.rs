//! The flow half of the pipeline: the event built, the tenant's hooks run, the JWT templates
//! rendered, and what `add-scope` may add.

use serde_json::{Map, Value};
use sigil_hooks::host::AddableScopes;
use sigil_hooks::outcome::{FlowOutcome, FlowStatus};
use sigil_hooks::runtime::FlowStep;

use super::{Decision, Login};
use crate::flows::event;
use crate::flows::{load as flow_load, run as flow_run};
use crate::ids::{IdKind, dashboard_client_id, new_id};
use crate::metrics::{SecurityEvent, security_event};
use crate::oauth::Issuing;
use crate::oauth::claims;
use crate::oauth::{OAuthError, ServerFault};
use crate::scopes::OIDC_SCOPES;
use crate::store::GrantType;
use crate::store::apis as api_store;
use crate::store::consents as consent_store;
use crate::templates::cache::TemplateSet;

/// Builds the event and runs the tenant's flow. A deny is `access_denied` with the hook's
/// reason; a failure under `fail_closed` is a server error whose cause stays in the trace.
///
/// A tenant with no hooks and no JWT templates for this application gets no event at all: it
/// would cost two database reads (roles, organization membership) that nothing uses.
///
/// Nor does the tenant's built-in dashboard client: its tokens are for the management API,
/// which reads the administrator's role itself on every call, and a tenant's hook that fails
/// or denies every login must not keep the administrators out of the page where they mend it
/// (docs/dashboard.md).
pub async fn decide(
    deps: &Issuing<'_>,
    l: &Login<'_>,
) -> Result<(Decision, FlowOutcome), OAuthError> {
    let tenant_id = l.tenant.0;
    let (steps, templates) = if l.app.client_id == dashboard_client_id(tenant_id) {
        (Vec::new(), TemplateSet::default())
    } else {
        let steps =
            flow_load::load_flow(&deps.db.store, deps.hooks, tenant_id, deps.db.now()).await?;
        let templates = deps
            .templates
            .effective(&deps.db.store, tenant_id, &l.app.client_id, deps.db.now())
            .await?;
        (steps, templates)
    };
    let jti = new_id(IdKind::AccessToken, deps.db.now());
    let (id_claims, access_claims, outcome, trace) = if steps.is_empty() && templates.is_empty() {
        (
            Map::new(),
            Map::new(),
            flow_run::nothing_to_run(deps.hooks),
            None,
        )
    } else {
        let mut ev = event::build(
            &deps.db.store,
            l.roles.clone(),
            l.tenant,
            &l.user,
            l.org.as_ref().map(|o| (o, l.org_roles.clone())),
            l.app,
            l.protocol,
            &l.scopes,
            l.audience.as_deref(),
            l.request,
            deps.db.now(),
        )
        .await?;
        ev.transaction.redirect_uri = l.redirect_uri.clone();
        // JWT templates render first; the hooks' claims of the same name replace theirs
        // (claims::custom, below).
        let (id, access) = render_templates(&templates, &ev)?;
        let addable = addable_scopes(deps, l, &steps).await?;
        let (outcome, trace) = flow_run::run_flow(
            deps.hooks,
            tenant_id,
            steps,
            ev,
            addable,
            &jti,
            deps.db.now(),
        )
        .await;
        (id, access, outcome, trace)
    };
    hook_events(deps, l, &outcome);
    if outcome.status != FlowStatus::Success
        && let Some(t) = trace.clone()
    {
        flow_run::save_trace(deps.hooks, t).await;
    }
    match &outcome.status {
        FlowStatus::Success => {}
        FlowStatus::Denied { reason, .. } => return Err(OAuthError::AccessDenied(reason.clone())),
        FlowStatus::Failed {
            hook,
            code,
            message,
        } => {
            return Err(OAuthError::server(ServerFault::HookFailed {
                hook: hook.clone(),
                code: code.to_string(),
                message: message.clone(),
            }));
        }
    }
    let id_claims = claims::custom(id_claims, &outcome.id_token_claims);
    let access_claims = claims::custom(access_claims, &outcome.access_token_claims);
    let mut scopes = l.scopes.clone();
    outcome.apply_scopes(&mut scopes);
    let refresh = scopes.iter().any(|s| s == "offline_access")
        && l.app.grant_types.contains(&GrantType::RefreshToken);
    if !refresh {
        scopes.retain(|s| s != "offline_access");
    }
    Ok((
        Decision {
            jti,
            scopes,
            id_claims,
            access_claims,
            refresh,
            trace,
            trace_routine: outcome.trace.iter().all(|t| t.outcome == "ok"),
        },
        outcome,
    ))
}

/// The security events of a login's flow: each hook that denied, each that failed (fail-open
/// ones too: their effects were dropped, which an operator wants to know), and a flow that
/// failed before any hook ran (no capacity, the flow deadline) with the host's error kind.
/// Test runs of a hook are not logins and are not counted.
fn hook_events(deps: &Issuing<'_>, l: &Login<'_>, outcome: &FlowOutcome) {
    let (tenant, client, user) = (l.tenant.0, &l.app.client_id, &l.user.id);
    for t in &outcome.trace {
        let event = match t.outcome.as_str() {
            "denied" => SecurityEvent::HookDeny,
            "failed" | "failed_open" => {
                SecurityEvent::HookFailure(t.error_code.clone().unwrap_or_default())
            }
            _ => continue,
        };
        security_event!(deps.metrics, event, tenant = tenant, client = %client, user = %user,
            hook = %t.hook_name, version = t.version, outcome = %t.outcome,
            "post-login hook refused or failed a login");
    }
    if let FlowStatus::Failed { code, .. } = &outcome.status
        && !outcome.trace.iter().any(|t| t.outcome == "failed")
    {
        security_event!(deps.metrics, SecurityEvent::HookFailure(code.clone()),
            tenant = tenant, client = %client, user = %user,
            "post-login flow failed before its hooks could finish");
    }
}

/// What the login lets `add-scope` add (docs/hooks.md "Scopes"), checked by the hook host at
/// call time: what the application may request for this login's audience (the OIDC scopes and
/// the audience API's scopes, as `scope_policy::check_scopes` allows), never `offline_access`,
/// and for a third-party application only what the user consented to (OIDC Core 3.1.2.4).
/// Nothing for a flow without hooks (no lookups).
async fn addable_scopes(
    deps: &Issuing<'_>,
    l: &Login<'_>,
    steps: &[FlowStep],
) -> Result<AddableScopes, OAuthError> {
    if steps.is_empty() {
        return Ok(AddableScopes::default());
    }
    let api_scopes = match l.audience.as_deref() {
        Some(aud) => api_store::scope_values(deps.db.store.read().await?.conn(), l.tenant.0, aud)
            .await?
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut scopes: Vec<String> = OIDC_SCOPES
        .iter()
        .map(|s| s.to_string())
        .chain(api_scopes)
        .collect();
    if !l.app.first_party {
        let consented = consent_store::consent(&deps.db.store, &l.user.id, &l.app.client_id)
            .await?
            .unwrap_or_default();
        let consented: Vec<&str> = consented.split(' ').collect();
        scopes.retain(|s| consented.contains(&s.as_str()));
    }
    Ok(AddableScopes::new(scopes))
}

/// Custom claims of one token.
type Claims = Map<String, Value>;

/// The claims of the JWT templates that apply to this application (ID token, access token).
fn render_templates(
    set: &TemplateSet,
    ev: &sigil_hooks::event::PostLoginEvent,
) -> Result<(Claims, Claims), OAuthError> {
    if set.is_empty() {
        return Ok((Map::new(), Map::new()));
    }
    let mut event = serde_json::to_value(ev)
        .map_err(|e| OAuthError::server(ServerFault::Serialize("the post-login event", e)))?;
    if let Some(o) = event.as_object_mut() {
        o.remove("secrets");
    }
    let render = |t: &Option<std::sync::Arc<crate::templates::Template>>| {
        t.as_ref().map(|t| t.render(&event)).unwrap_or_default()
    };
    Ok((render(&set.id_token), render(&set.access_token)))
}
