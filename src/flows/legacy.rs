//! A tenant's legacy store: its user-store hook loaded from the store and asked, with the call's
//! metrics and trace (the login name hashed, the password nowhere).

use sigil_hooks::HookError;
use sigil_hooks::outcome::FailurePolicy;
use sigil_hooks::outcome::HookTrace;
use sigil_hooks::prepare::World;
use sigil_hooks::runtime::FlowStep;
use sigil_hooks::user_store::{LegacyProfile, LoginAnswer, StoreAnswer, StoreCall, StoreRun};

use super::{FlowError, Hooks, load};
use crate::fields;
use crate::ids::{IdKind, new_id};
use crate::store::Store;
use crate::store::hook_traces::{TraceRow, hook_names};
use crate::store::hooks::{self as hook_store, By};
use crate::store::legacy as store;
use crate::store::users::normalize_email;
use crate::store::{orgs, roles};

/// How a tenant uses its legacy store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyMode {
    /// Asked at a user's first password login; the user is then created with a local
    /// password and never asked about again.
    Migrate,
    /// Asked at every password login; the local profile is refreshed from it and no password
    /// is kept.
    Delegate,
}

impl LegacyMode {
    /// `migrate`, `delegate`.
    pub fn as_str(self) -> &'static str {
        match self {
            LegacyMode::Migrate => "migrate",
            LegacyMode::Delegate => "delegate",
        }
    }

    /// The mode named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "migrate" => Some(LegacyMode::Migrate),
            "delegate" => Some(LegacyMode::Delegate),
            _ => None,
        }
    }
}

/// A tenant's legacy store, ready to ask.
#[derive(Debug, Clone)]
pub struct LegacyStore {
    /// How the tenant uses it.
    pub mode: LegacyMode,
    /// Its hook's deployed version, prepared, with its secrets, limits and allow-list.
    pub step: FlowStep,
}

/// The deadline of a user-store call when the setting names none: the operator's ceiling for
/// hooks that fetch (a legacy system is an API away; the 50 ms of a pure hook is too short).
pub fn default_deadline_ms(hooks: &Hooks) -> u64 {
    hooks.fetch_ceilings.deadline_ms
}

/// The tenant's legacy store, if it has one with a deployed version.
pub async fn load(
    db: &Store,
    hooks: &Hooks,
    tenant_id: &str,
    now: i64,
) -> Result<Option<LegacyStore>, FlowError> {
    let Some(row) = store::get(db.read().await?.conn(), tenant_id).await? else {
        return Ok(None);
    };
    let mode = LegacyMode::parse(&row.mode).ok_or_else(|| {
        FlowError::Store(crate::store::StoreError::Corrupt {
            column: "legacy_stores.mode".into(),
            reason: format!("unknown mode {:?}", row.mode),
        })
    })?;
    let hook = hook_store::get_hook(db.read().await?.conn(), tenant_id, By::Id(&row.hook_id))
        .await?
        .ok_or(FlowError::NotFound("hook"))?;
    let version = hook.deployed_version.ok_or(FlowError::NotFound(
        "deployed version of the legacy store's hook",
    ))?;
    let mut step = load::step(
        db,
        hooks,
        tenant_id,
        &hook,
        version,
        FailurePolicy::FailClosed,
        now,
    )
    .await?;
    if step.hook.world() != World::UserStore {
        return Err(FlowError::WrongWorld {
            hook: hook.name,
            expected: World::UserStore,
        });
    }
    let deadline = row
        .deadline_ms
        .map_or(default_deadline_ms(hooks), |d| d.max(1) as u64);
    step.limits.deadline_ms = deadline.min(hooks.fetch_ceilings.deadline_ms);
    Ok(Some(LegacyStore { mode, step }))
}

/// A legacy profile checked and resolved against the tenant: ready to be written.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The profile, its fields checked as the management API checks a user's.
    pub profile: LegacyProfile,
    /// Its tenant-wide roles' ids.
    pub role_ids: Vec<String>,
    /// Its memberships: the organization's id and the ids of the member's roles in it.
    pub memberships: Vec<(String, Vec<String>)>,
}

/// The legacy store's verdict on a password login.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The password is right; here is the user.
    Authenticated(Box<Resolved>),
    /// The user exists there; the password is wrong.
    WrongPassword,
    /// No such user there.
    UnknownUser,
}

/// Why the legacy store gave no verdict.
#[derive(Debug, thiserror::Error)]
pub enum LegacyFailure {
    /// The hook or the legacy system behind it failed (down, slow, a reply it could not read,
    /// no capacity): the login may be tried again.
    #[error("the legacy store did not answer: {0}")]
    Unavailable(HookError),
    /// The password was right but the profile cannot be stored (the trace names the field).
    #[error("the legacy store's profile is refused: {0}")]
    InvalidProfile(String),
    /// Resolving the profile's roles and organizations failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Asks the legacy store to verify a password login and resolves the profile it returns;
/// records the metrics and queues the trace, which names a refused profile's field. `name` is
/// the login name as users are keyed (normalized) and its keyed hash, the only form of it the
/// trace keeps.
pub async fn verify(
    db: &Store,
    hooks: &Hooks,
    tenant: (&str, &str),
    legacy: &LegacyStore,
    (normalized, subject): (&str, &str),
    call: StoreCall,
    now: i64,
) -> Result<Verdict, LegacyFailure> {
    let StoreRun { result, mut trace } = hooks
        .runtime
        .run_user_store(tenant.0, legacy.step.clone(), call)
        .await;
    let verdict = match result {
        Err(e) => Err(LegacyFailure::Unavailable(e)),
        Ok(StoreAnswer::Login(LoginAnswer::WrongPassword)) => Ok(Verdict::WrongPassword),
        Ok(StoreAnswer::Login(LoginAnswer::UnknownUser)) => Ok(Verdict::UnknownUser),
        Ok(StoreAnswer::Login(LoginAnswer::Authenticated(p))) => {
            match resolve(db, tenant.0, normalized, *p).await {
                Ok(r) => Ok(Verdict::Authenticated(Box::new(r))),
                Err(e) => {
                    if let LegacyFailure::InvalidProfile(why) = &e {
                        trace.outcome = "invalid_profile".into();
                        trace.error_code = Some("invalid_profile".into());
                        trace.error = Some(why.clone());
                    }
                    Err(e)
                }
            }
        }
        Ok(other) => Err(LegacyFailure::Unavailable(HookError::Internal(format!(
            "a login was answered with {other:?}"
        )))),
    };
    record(hooks, tenant.0, legacy, subject, &trace, now).await;
    verdict
}

/// Checks a profile as the management API checks a user, and finds its roles and
/// organizations in the tenant; the first thing wrong is named.
async fn resolve(
    db: &Store,
    tenant_id: &str,
    normalized: &str,
    p: LegacyProfile,
) -> Result<Resolved, LegacyFailure> {
    let bad = |e: crate::fields::FieldError| {
        LegacyFailure::InvalidProfile(format!("profile.{}: {}", e.field, e.message))
    };
    fields::email("email", &p.email).map_err(bad)?;
    if normalize_email(&p.email) != normalized {
        return Err(LegacyFailure::InvalidProfile(
            "profile.email: must be the login name the user typed".into(),
        ));
    }
    fields::text("legacy_id", &p.legacy_id, 128).map_err(bad)?;
    fields::opt_text("name", p.name.as_deref(), 255).map_err(bad)?;
    fields::opt_text("given_name", p.given_name.as_deref(), 255).map_err(bad)?;
    fields::opt_text("family_name", p.family_name.as_deref(), 255).map_err(bad)?;
    fields::opt_text("nickname", p.nickname.as_deref(), 255).map_err(bad)?;
    fields::picture(p.picture.as_deref()).map_err(bad)?;
    for (field, v) in [
        ("user_metadata", &p.user_metadata),
        ("app_metadata", &p.app_metadata),
    ] {
        sigil_hooks::metadata::replace(v)
            .map_err(|e| LegacyFailure::InvalidProfile(format!("profile.{field}: {e}")))?;
    }
    let mut read = db.read().await?;
    let tenant_roles = role_ids(read.conn(), tenant_id, "roles", &p.roles).await?;
    let mut memberships = Vec::with_capacity(p.organizations.len());
    for (i, m) in p.organizations.iter().enumerate() {
        let found = match orgs::get(
            read.conn(),
            tenant_id,
            orgs::By::ExternalId(&m.organization),
        )
        .await?
        {
            Some(o) => Some(o),
            None => orgs::get(read.conn(), tenant_id, orgs::By::Name(&m.organization)).await?,
        };
        let org = found.ok_or_else(|| {
            LegacyFailure::InvalidProfile(format!(
                "profile.organizations[{i}]: no organization of this tenant has the external id \
                 or the name {:?}",
                m.organization
            ))
        })?;
        let field = format!("organizations[{i}].roles");
        let ids = role_ids(read.conn(), tenant_id, &field, &m.roles).await?;
        memberships.push((org.id, ids));
    }
    Ok(Resolved {
        profile: p,
        role_ids: tenant_roles,
        memberships,
    })
}

/// The ids of the tenant's roles named `names`; a name the tenant lacks is refused, named.
async fn role_ids(
    conn: crate::store::conn::Exec<'_>,
    tenant_id: &str,
    field: &str,
    names: &[String],
) -> Result<Vec<String>, LegacyFailure> {
    let rows = roles::by_names(conn, tenant_id, names).await?;
    if let Some(missing) = names.iter().find(|n| !rows.iter().any(|r| &r.name == *n)) {
        return Err(LegacyFailure::InvalidProfile(format!(
            "profile.{field}: this tenant has no role {missing:?}"
        )));
    }
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Asks the legacy store something other than a login (a lookup, its user count), with the
/// call's metrics and trace.
pub async fn ask(
    hooks: &Hooks,
    tenant_id: &str,
    legacy: &LegacyStore,
    call: StoreCall,
    now: i64,
) -> Result<StoreAnswer, HookError> {
    let run = hooks
        .runtime
        .run_user_store(tenant_id, legacy.step.clone(), call)
        .await;
    record(hooks, tenant_id, legacy, "", &run.trace, now).await;
    run.result
}

/// Records a user-store call's metrics and queues its trace.
async fn record(
    hooks: &Hooks,
    tenant_id: &str,
    legacy: &LegacyStore,
    subject: &str,
    trace: &HookTrace,
    now: i64,
) {
    hooks.metrics.hook(&trace.outcome, trace.duration_us);
    for (outcome, us) in &trace.fetch_outcomes {
        hooks.metrics.fetch(tenant_id, outcome, *us);
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        status: &'a str,
        /// The login name's keyed hash, never the name (empty for calls without one).
        subject: &'a str,
        mode: &'a str,
        hooks: [&'a HookTrace; 1],
    }
    let status = if trace.error_code.is_some() {
        "failed"
    } else {
        "success"
    };
    let body = Body {
        status,
        subject,
        mode: legacy.mode.as_str(),
        hooks: [trace],
    };
    let text = serde_json::to_string(&body).unwrap_or_else(|e| {
        serde_json::json!({"error": format!("serializing the trace: {e}")}).to_string()
    });
    super::run::save_trace(
        hooks,
        TraceRow {
            id: new_id(IdKind::Trace, now),
            tenant_id: tenant_id.to_string(),
            at: now,
            context: format!("legacy:{}", trace.outcome),
            status: status.into(),
            trace: text,
            // The login name is not a user yet (and only its keyed hash is kept).
            user_id: None,
            client_id: None,
            hooks: hook_names([trace.hook_name.as_str()]),
            runs: 1,
        },
    )
    .await;
}
