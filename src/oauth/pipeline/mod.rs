//! The post-login pipeline every grant that logs a user in shares: build the event, run the
//! tenant's flow, apply its outcome (claims, scopes, metadata writes), sign the tokens, and
//! persist the grant (and a rotated refresh token) in one transaction.
//!
//! The code flow splits it in two: the flow runs when the user authenticates at `/authorize`
//! ([`decide`] and [`record_login`], bound to the code), and the tokens are signed when the
//! code is exchanged ([`sign`] and [`persist`]).

mod decide;
mod record;
mod sign;

pub use decide::decide;
pub use record::{changes_user, record_login, rehash};
pub use sign::{Issue, Signed, persist, response, rows, sign};

use serde::Serialize;
use serde_json::{Map, Value};

use super::OAuthError;
use crate::crypto::Secret;
use crate::flows::event::RequestInfo;
use crate::flows::run as flow_run;
use crate::oauth::Issuing;
use crate::store::WriteAnnounced;
use crate::store::apps::AppRow;
use crate::store::hook_traces::TraceRow;
use crate::store::orgs::OrgRow;
use crate::store::refresh_tokens as refresh_store;
use crate::store::rotation as rotation_store;
use crate::store::users::UserRow;
use sigil_hooks::event::Protocol;
use sigil_hooks::outcome::FlowOutcome;

/// A successful token response (RFC 6749 5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    pub token_type: &'static str,
    /// Lifetime of the access token in seconds.
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
    pub rehash_password: Option<crate::crypto::Secret>,
    /// Epoch seconds of the authentication.
    pub auth_time: i64,
    /// The refresh-token family being rotated (refresh grant).
    pub family: Option<String>,
    /// The refresh token this login rotates (refresh grant).
    pub rotates: Option<Rotation>,
    /// The login session (`sid`), for logins through the browser.
    pub sid: Option<String>,
    /// The user's roles and permissions, when the grant read them with its other reads (the
    /// refresh grant, when the tenant's flow binds hooks); the event reads them otherwise.
    pub roles: Option<crate::flows::event::RolesAndPermissions>,
    /// The user's roles in [`Login::org`], when the grant read them already (the refresh
    /// grant, which checks the membership); the event reads them otherwise.
    pub org_roles: Option<Vec<String>>,
}

/// A refresh grant's rotation of the presented token.
#[derive(Debug)]
pub struct Rotation {
    /// The keyed hash of the presented token: marked used in the transaction that stores its
    /// successor, never before.
    pub hash: String,
    /// The successor, derived from the presented token ([`crate::oauth::refresh`]), so a
    /// retry of a refresh whose answer was lost can be given the same one.
    pub successor: Secret,
    /// A retry within the grace window: the presented token is already used and the successor
    /// already stored; it is issued again if it is still unused.
    pub retry: bool,
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
    /// Every hook of the flow returned without error: the trace of such a login may be left
    /// unstored above the tenant's trace rate. A hook that failed open is always traced.
    pub trace_routine: bool,
}

/// Runs the whole pipeline at the token endpoint (password and refresh grants).
///
/// Everything after the flow commits atomically (one transaction, or for a refresh that
/// changes nothing else one statement: [`crate::store::rotation`]): the rotation of the
/// presented refresh token, the user's login record and metadata writes, the grant and the new
/// refresh token. So a failure anywhere issues nothing and spends nothing (the client may
/// retry), and of two concurrent uses of one refresh token exactly one rotates it (RFC 6749
/// 10.4). The flow's trace is written whatever happens after the hooks ran; a login that
/// failed after a successful flow is traced as `aborted`.
pub async fn complete(deps: &Issuing<'_>, l: Login<'_>) -> Result<TokenResponse, OAuthError> {
    // This login writes once its flow has run and its tokens are signed: said now, so that
    // the commits of logins whose flows run meanwhile can wait for it and share one.
    let coming = deps.db.store.announce_write();
    let (decision, outcome) = decide(deps, &l).await?;
    let result = issue_after_flow(deps, &l, &decision, &outcome, coming).await;
    save_trace(deps, decision, result.is_ok()).await;
    result
}

/// Queues the trace of a flow that succeeded, whatever became of the login after it: a login
/// that failed afterwards (a lost refresh race, the database) is traced as `aborted`, so no
/// run of a tenant's hooks goes unrecorded (a routine success above the tenant's trace rate is
/// counted in its next stored trace).
///
/// Takes the decision: it is the login's last use of it, and the trace moves to the writer
/// (or, above the trace rate, is dropped) without a copy.
pub async fn save_trace(deps: &Issuing<'_>, decision: Decision, login_ok: bool) {
    if let Some(mut t) = decision.trace {
        if !login_ok {
            t.status = "aborted".into();
            flow_run::save_trace(deps.hooks, t).await;
        } else if decision.trace_routine {
            flow_run::save_success_trace(deps.hooks, t).await;
        } else {
            flow_run::save_trace(deps.hooks, t).await;
        }
    }
}

/// Signs and records what a successful flow decided (see [`complete`]).
async fn issue_after_flow(
    deps: &Issuing<'_>,
    l: &Login<'_>,
    decision: &Decision,
    outcome: &FlowOutcome,
    coming: WriteAnnounced,
) -> Result<TokenResponse, OAuthError> {
    let rehashed = rehash(deps, l.rehash_password.clone()).await;
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
        rotation: l.rotates.as_ref(),
    };
    let signed = sign(deps, &issue).await?;
    // What is left is the write: it begins now, whichever path it takes.
    drop(coming);
    let lost_race =
        || OAuthError::InvalidGrant("the refresh token is invalid, expired or revoked".into());
    // The common refresh (no metadata written, not a retry): the rotation and what it pays
    // for in one statement where the back-end allows it (store::rotation).
    if let Some(r) = l.rotates.as_ref().filter(|r| !r.retry)
        && !changes_user(l, outcome, rehashed.as_deref())
    {
        let (grant, successor) = rows(deps, &issue, &signed);
        let rotated = rotation_store::rotate_and_issue(
            &deps.db.store,
            &rotation_store::RotateAndIssue {
                spent: &r.hash,
                now: deps.db.now(),
                grant: &grant,
                successor: successor.as_ref(),
            },
        )
        .await?;
        // As below: unless another use rotated it first, or it was revoked meanwhile.
        return if rotated {
            Ok(response(signed, decision))
        } else {
            Err(lost_race())
        };
    }
    let mut tx = deps.db.store.begin_write().await?;
    if let Some(r) = &l.rotates {
        let still_valid = if r.retry {
            let successor = deps.secrets.hash(r.successor.expose());
            refresh_store::still_unused(&mut tx, &successor).await?
        } else {
            refresh_store::rotate(&mut tx, &r.hash, deps.db.now()).await?
        };
        if !still_valid {
            // Another use of the same token rotated it first (or it was revoked meanwhile), or
            // the successor a retry would re-issue was used meanwhile. Not a replay of a token
            // rotated before this request began, so nothing is revoked.
            return Err(lost_race());
        }
    }
    record_login(deps, &mut tx, l, outcome, rehashed).await?;
    persist(deps, &mut tx, &issue, &signed).await?;
    tx.commit().await?;
    Ok(response(signed, decision))
}
