//! The post-login pipeline every grant that logs a user in shares: build the event, run the
//! tenant's flow, apply its outcome (claims, scopes, metadata writes), sign the tokens, and
//! persist the grant (and a rotated refresh token) in one transaction.
//!
//! The code flow splits it in two: the flow runs when the user authenticates at `/authorize`
//! ([`decide`] and [`record_login`], bound to the code), and the tokens are signed when the
//! code is exchanged ([`sign`] and [`persist`]).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::event::{self, RequestInfo};
use super::tokens::{self, TokenRequest};
use super::{OAuthError, OIDC_SCOPES};
use crate::crypto::{Secret, random_secret};
use crate::hooks::event::Protocol;
use crate::hooks::flows;
use crate::hooks::host::AddableScopes;
use crate::hooks::runtime::{FlowOutcome, FlowStatus, FlowStep};
use crate::ids::{IdKind, new_id};
use crate::metadata;
use crate::services::Services;
use crate::store::Tx;
use crate::store::apis as api_store;
use crate::store::apps::AppRow;
use crate::store::hooks::TraceRow;
use crate::store::keys::{self as key_store, GrantRow, RefreshRow};
use crate::store::orgs::OrgRow;
use crate::store::sessions as session_store;
use crate::store::users::{self as user_store, UserRow};
use crate::templates::cache::TemplateSet;

/// A successful token response (RFC 6749 5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    /// The ID token when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// A refresh token when `offline_access` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Granted scopes.
    pub scope: String,
}

/// One login to complete.
#[derive(Debug)]
pub struct Login<'a> {
    /// (tenant id, tenant name).
    pub tenant: (&'a str, &'a str),
    /// The application.
    pub app: &'a AppRow,
    /// The authenticated user.
    pub user: UserRow,
    /// The organization of the login.
    pub org: Option<OrgRow>,
    /// How the user logged in.
    pub protocol: Protocol,
    /// Scopes requested (and allowed).
    pub scopes: Vec<String>,
    /// The API.
    pub audience: Option<String>,
    /// The `redirect_uri` of the authorization request (code flow).
    pub redirect_uri: Option<String>,
    /// The request.
    pub request: &'a RequestInfo,
    /// A password to rehash into argon2id (an imported or weaker hash verified).
    pub rehash_password: Option<String>,
    /// Epoch seconds of the authentication.
    pub auth_time: i64,
    /// The refresh-token family being rotated (refresh grant).
    pub family: Option<String>,
    /// The keyed hash of the refresh token this login rotates (refresh grant): marked used in
    /// the transaction that stores its successor, never before.
    pub rotates: Option<String>,
    /// The login session (`sid`), for logins through the browser.
    pub sid: Option<String>,
}

/// What the flow decided for one login, before anything is signed.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The `jti` of the access token this login issues; the flow's trace is recorded under it.
    pub jti: String,
    /// Granted scopes after the hooks' changes.
    pub scopes: Vec<String>,
    /// Custom ID-token claims.
    pub id_claims: Map<String, Value>,
    /// Custom access-token claims.
    pub access_claims: Map<String, Value>,
    /// Whether a refresh token is issued (`offline_access` granted and the grant allowed).
    pub refresh: bool,
    /// The flow's trace, queued for storage once the login is committed (none when no hook
    /// ran).
    pub trace: Option<TraceRow>,
}

/// Builds the event and runs the tenant's flow. A deny is `access_denied` with the hook's
/// reason; a failure under `fail_closed` is a server error whose cause stays in the trace.
///
/// A tenant with no hooks and no JWT templates for this application gets no event at all: it
/// would cost two database reads (roles, organization membership) that nothing uses.
pub async fn decide(svc: &Services, l: &Login<'_>) -> Result<(Decision, FlowOutcome), OAuthError> {
    let tenant_id = l.tenant.0;
    let steps = flows::load_flow(svc, tenant_id).await?;
    let templates = svc
        .templates
        .effective(&svc.store, tenant_id, &l.app.client_id)
        .await?;
    let jti = new_id(IdKind::AccessToken, svc.now());
    let (mut id_claims, mut access_claims, outcome, trace) = if steps.is_empty()
        && templates.is_empty()
    {
        (Map::new(), Map::new(), flows::nothing_to_run(svc), None)
    } else {
        let mut ev = event::build(
            svc,
            l.tenant,
            &l.user,
            l.org.as_ref(),
            l.app,
            l.protocol,
            &l.scopes,
            l.audience.as_deref(),
            l.request,
        )
        .await?;
        ev.transaction.redirect_uri = l.redirect_uri.clone();
        // JWT templates render first; the hooks' claims of the same name replace theirs.
        let (id, access) = render_templates(&templates, &ev)?;
        let addable = addable_scopes(svc, l, &steps).await?;
        let (outcome, trace) = flows::run_flow(svc, tenant_id, steps, &ev, addable, &jti).await?;
        (id, access, outcome, trace)
    };
    if outcome.status != FlowStatus::Success
        && let Some(t) = trace.clone()
    {
        flows::save_trace(svc, t).await;
    }
    match &outcome.status {
        FlowStatus::Success => {}
        FlowStatus::Denied { reason, .. } => return Err(OAuthError::AccessDenied(reason.clone())),
        FlowStatus::Failed {
            hook,
            code,
            message,
        } => {
            return Err(OAuthError::Server(format!(
                "hook {hook} failed ({code}): {message}"
            )));
        }
    }
    id_claims.extend(outcome.id_token_claims.clone());
    access_claims.extend(outcome.access_token_claims.clone());
    let mut scopes = l.scopes.clone();
    outcome.apply_scopes(&mut scopes);
    let grants: Vec<String> = serde_json::from_str(&l.app.grant_types).unwrap_or_default();
    let refresh =
        scopes.iter().any(|s| s == "offline_access") && grants.iter().any(|g| g == "refresh_token");
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
        },
        outcome,
    ))
}

/// What the login lets `add-scope` add (docs/hooks.md "Scopes"), checked by the hook host at
/// call time: what the application may request for this login's audience (the OIDC scopes and
/// the audience API's scopes, as `password::check_scopes` allows), never `offline_access`,
/// and for a third-party application only what the user consented to (OIDC Core 3.1.2.4).
/// Nothing for a flow without hooks (no lookups).
async fn addable_scopes(
    svc: &Services,
    l: &Login<'_>,
    steps: &[FlowStep],
) -> Result<AddableScopes, OAuthError> {
    if steps.is_empty() {
        return Ok(AddableScopes::default());
    }
    let api_scopes = match l.audience.as_deref() {
        Some(aud) => api_store::scope_values(svc.store.pool(), l.tenant.0, aud)
            .await?
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut scopes: Vec<String> = OIDC_SCOPES
        .iter()
        .map(|s| s.to_string())
        .chain(api_scopes)
        .collect();
    if l.app.first_party == 0 {
        let consented = session_store::consent(&svc.store, &l.user.id, &l.app.client_id)
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
    ev: &crate::hooks::event::PostLoginEvent,
) -> Result<(Claims, Claims), OAuthError> {
    if set.is_empty() {
        return Ok((Map::new(), Map::new()));
    }
    let mut event = serde_json::to_value(ev).map_err(|e| OAuthError::Server(e.to_string()))?;
    if let Some(o) = event.as_object_mut() {
        o.remove("secrets");
    }
    let render = |t: &Option<std::sync::Arc<crate::templates::Template>>| {
        t.as_ref().map(|t| t.render(&event)).unwrap_or_default()
    };
    Ok((render(&set.id_token), render(&set.access_token)))
}

/// Rehashes a password verified against an imported or weaker hash (off the async threads).
pub async fn rehash(svc: &Services, password: Option<String>) -> Option<String> {
    let pw = password?;
    let h = svc.passwords.clone();
    tokio::task::spawn_blocking(move || h.hash(&pw))
        .await
        .ok()
        .and_then(Result::ok)
}

/// Applies the login to the user record inside `tx`: the hooks' metadata writes (merged once,
/// after the whole flow succeeded), a rehashed password, `last_login` and `logins_count`.
pub async fn record_login(
    svc: &Services,
    tx: &mut Tx,
    l: &Login<'_>,
    outcome: &FlowOutcome,
    rehashed: Option<String>,
) -> Result<UserRow, OAuthError> {
    let now = svc.now();
    // A refresh that writes no metadata changes nothing on the user: skip the write.
    if l.protocol == Protocol::RefreshToken
        && rehashed.is_none()
        && outcome.user_metadata.is_empty()
        && outcome.app_metadata.is_empty()
    {
        return Ok(l.user.clone());
    }
    let mut row = user_store::get(
        &mut **tx,
        l.tenant.0,
        user_store::By::Id(&l.user.id),
        svc.store.for_update(),
    )
    .await?
    .ok_or_else(|| OAuthError::InvalidGrant("the user no longer exists".into()))?;
    for (writes, slot) in [
        (&outcome.user_metadata, &mut row.user_metadata),
        (&outcome.app_metadata, &mut row.app_metadata),
    ] {
        if !writes.is_empty() {
            let cur: Value = serde_json::from_str(slot).unwrap_or(json!({}));
            *slot = metadata::merge(&cur, &Value::Object(writes.clone()))
                .map_err(|e| OAuthError::Server(format!("hook metadata write refused: {e}")))?
                .to_string();
        }
    }
    if let Some(h) = rehashed {
        row.password_hash = Some(h);
    }
    // A refresh is not a new login: it does not count as one.
    if l.protocol != Protocol::RefreshToken {
        row.last_login = Some(now);
        row.logins_count += 1;
    }
    row.updated_at = now;
    user_store::update(tx, &row).await?;
    Ok(row)
}

/// Everything needed to sign and record one issuance.
#[derive(Debug)]
pub struct Issue<'a> {
    /// (tenant id, tenant name).
    pub tenant: (&'a str, &'a str),
    /// The application.
    pub app: &'a AppRow,
    /// The user.
    pub user: &'a UserRow,
    /// The organization of the login.
    pub org_id: Option<&'a str>,
    /// The API.
    pub audience: Option<&'a str>,
    /// The flow's decision.
    pub decision: &'a Decision,
    /// Epoch seconds of the authentication.
    pub auth_time: i64,
    /// OIDC `nonce` (code flow).
    pub nonce: Option<&'a str>,
    /// The login session.
    pub sid: Option<&'a str>,
    /// The family a rotated refresh token continues.
    pub family: Option<String>,
}

/// Signed tokens, not yet recorded.
#[derive(Debug)]
pub struct Signed {
    issued: tokens::Issued,
    refresh_token: Option<Secret>,
    /// The refresh-token family, when a refresh token was issued.
    pub family_id: Option<String>,
}

/// Signs the tokens. Done before the write transaction: a tenant's first token generates its
/// signing key, which is a write of its own.
pub async fn sign(svc: &Services, i: &Issue<'_>) -> Result<Signed, OAuthError> {
    let issuer = svc.issuer(i.tenant.1);
    let d = i.decision;
    let issued = tokens::issue(
        svc,
        &TokenRequest {
            issuer: &issuer,
            tenant_id: i.tenant.0,
            user: i.user,
            app: i.app,
            scopes: &d.scopes,
            audience: i.audience,
            org_id: i.org_id,
            id_claims: &d.id_claims,
            access_claims: &d.access_claims,
            auth_time: i.auth_time,
            jti: &d.jti,
            nonce: i.nonce,
            sid: i.sid,
        },
    )
    .await?;
    let refresh_token = d.refresh.then(|| random_secret("rt_"));
    let family_id = d.refresh.then(|| {
        i.family
            .clone()
            .unwrap_or_else(|| new_id(IdKind::RefreshFamily, svc.now()))
    });
    Ok(Signed {
        issued,
        refresh_token,
        family_id,
    })
}

/// Records the grant (what `/userinfo` answers) and the refresh token inside `tx`.
pub async fn persist(
    svc: &Services,
    tx: &mut Tx,
    i: &Issue<'_>,
    s: &Signed,
) -> Result<(), OAuthError> {
    let now = svc.now();
    let d = i.decision;
    key_store::insert_grant(
        tx,
        &GrantRow {
            jti: s.issued.jti.clone(),
            tenant_id: i.tenant.0.into(),
            user_id: i.user.id.clone(),
            client_id: i.app.client_id.clone(),
            scope: d.scopes.join(" "),
            id_claims: Value::Object(d.id_claims.clone()).to_string(),
            expires_at: now + s.issued.expires_in * 1000,
            revoked_at: None,
            family_id: s.family_id.clone().or_else(|| i.family.clone()),
        },
    )
    .await?;
    if let (Some(rt), Some(family)) = (&s.refresh_token, &s.family_id) {
        key_store::insert_refresh(
            tx,
            &RefreshRow {
                token_hash: svc.secrets.hash(rt.expose()),
                family_id: family.clone(),
                tenant_id: i.tenant.0.into(),
                user_id: i.user.id.clone(),
                client_id: i.app.client_id.clone(),
                org_id: i.org_id.map(str::to_string),
                scope: d.scopes.join(" "),
                audience: i.audience.map(str::to_string),
                auth_time: i.auth_time,
                created_at: now,
                expires_at: now + i.app.refresh_token_lifetime * 1000,
                used_at: None,
                revoked_at: None,
                sid: i.sid.map(str::to_string),
            },
        )
        .await?;
    }
    Ok(())
}

/// The token response for signed tokens.
pub fn response(s: Signed, d: &Decision) -> TokenResponse {
    TokenResponse {
        access_token: s.issued.access_token,
        token_type: "Bearer",
        expires_in: s.issued.expires_in,
        id_token: s.issued.id_token,
        refresh_token: s.refresh_token.map(|t| t.expose().to_string()),
        scope: d.scopes.join(" "),
    }
}

/// Runs the whole pipeline at the token endpoint (password and refresh grants).
///
/// Everything after the flow commits in one transaction: the rotation of the presented refresh
/// token, the user's login record and metadata writes, the grant and the new refresh token. So
/// a failure anywhere issues nothing and spends nothing (the client may retry), and of two
/// concurrent uses of one refresh token exactly one rotates it (RFC 6749 10.4). The flow's
/// trace is written whatever happens after the hooks ran; a login that failed after a
/// successful flow is traced as `aborted`.
pub async fn complete(svc: &Services, l: Login<'_>) -> Result<TokenResponse, OAuthError> {
    let (decision, outcome) = decide(svc, &l).await?;
    let result = issue_after_flow(svc, &l, &decision, &outcome).await;
    save_trace(svc, &decision, result.is_ok()).await;
    result
}

/// Queues the trace of a flow that succeeded, whatever became of the login after it: a login
/// that failed afterwards (a lost refresh race, the database) is traced as `aborted`, so no
/// run of a tenant's hooks goes unrecorded.
pub async fn save_trace(svc: &Services, decision: &Decision, login_ok: bool) {
    if let Some(mut t) = decision.trace.clone() {
        if !login_ok {
            t.status = "aborted".into();
        }
        flows::save_trace(svc, t).await;
    }
}

/// Signs and records what a successful flow decided (see [`complete`]).
async fn issue_after_flow(
    svc: &Services,
    l: &Login<'_>,
    decision: &Decision,
    outcome: &FlowOutcome,
) -> Result<TokenResponse, OAuthError> {
    let rehashed = rehash(svc, l.rehash_password.clone()).await;
    let issue = Issue {
        tenant: l.tenant,
        app: l.app,
        user: &l.user,
        org_id: l.org.as_ref().map(|o| o.id.as_str()),
        audience: l.audience.as_deref(),
        decision,
        auth_time: l.auth_time,
        nonce: None,
        sid: l.sid.as_deref(),
        family: l.family.clone(),
    };
    let signed = sign(svc, &issue).await?;
    let mut tx = svc.store.begin_write().await?;
    if let Some(hash) = &l.rotates
        && !key_store::rotate(&mut tx, hash, svc.now()).await?
    {
        // Another use of the same token rotated it first (or it was revoked meanwhile). Not a
        // replay of a token rotated before this request began, so nothing is revoked.
        return Err(OAuthError::InvalidGrant(
            "the refresh token is invalid, expired or revoked".into(),
        ));
    }
    record_login(svc, &mut tx, l, outcome, rehashed).await?;
    persist(svc, &mut tx, &issue, &signed).await?;
    tx.commit().await?;
    Ok(response(signed, decision))
}
