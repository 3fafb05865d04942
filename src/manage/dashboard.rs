//! The dashboard's place in a tenant: the built-in administrator role, the management API as
//! an audience, and the dashboard as a public OIDC client (code + PKCE) of the tenant it
//! manages. Tenant administrators are users of the tenant holding [`ADMIN_ROLE`]; the
//! management API accepts their access tokens (audience [`MANAGEMENT_AUDIENCE`], scope
//! [`MANAGE_SCOPE`], obtained by the dashboard client, short-lived) as well as API keys.
//!
//! The three rows are made the first time a tenant gets an administrator
//! ([`grant_admin`]), so tenants without one carry none of them; once there they are
//! built in: the API refuses to change or delete them, and to create others under their
//! reserved names.

use serde::Serialize;
use serde_json::{Map, json};
use utoipa::ToSchema;

use super::{ManageError, Result, TenantCtx, record};
use crate::db::Db;
use crate::ids::{IdKind, new_id};
pub use crate::scopes::{MANAGE_SCOPE, MANAGEMENT_AUDIENCE};
use crate::store::apis::{self as api_store, ApiRow};
use crate::store::apps::{self as app_store, AppRow};
use crate::store::roles::{self as role_store, RoleRow};
use crate::store::users::{self as user_store, By};
use crate::store::{ApiScope, ClientType, GrantType, SigningAlg, WriteTx};

/// The built-in role whose holders administer the tenant.
pub const ADMIN_ROLE: &str = "sigil-admin";

/// How long a dashboard access token lives, in seconds: short, because the browser holds it
/// (in memory only) and a new one costs a silent `prompt=none` round trip.
pub const TOKEN_LIFETIME: i64 = 600;

pub use crate::ids::dashboard_client_id as client_id;

/// The dashboard's one redirect URI under the tenant's issuer (exact match, RFC 9700 2.1).
pub fn redirect_uri(issuer: &str) -> String {
    format!("{issuer}/dashboard/callback")
}

/// Where the dashboard sends a browser after logout (exact match, like the redirect URI).
fn post_logout_uri(issuer: &str) -> String {
    format!("{issuer}/dashboard/")
}

/// What a dashboard (or a script) needs to sign a tenant administrator in.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardClient {
    /// The public client's id.
    pub client_id: String,
    /// Its redirect URI.
    pub redirect_uri: String,
    /// The `audience` to request.
    pub audience: String,
    /// The scope to request besides `openid`.
    pub scope: String,
    /// The role that makes a user an administrator.
    pub admin_role: String,
}

/// The dashboard client's settings for a tenant whose issuer is `issuer`.
pub fn client(tenant_id: &str, issuer: &str) -> DashboardClient {
    DashboardClient {
        client_id: client_id(tenant_id),
        redirect_uri: redirect_uri(issuer),
        audience: MANAGEMENT_AUDIENCE.into(),
        scope: MANAGE_SCOPE.into(),
        admin_role: ADMIN_ROLE.into(),
    }
}

/// What the dashboard's page asks for before anyone signs in: public, as any OIDC client's
/// settings are (its id is in every authorization request it makes).
#[derive(Debug, Serialize)]
pub struct PageSettings {
    /// The tenant's name (the path segment).
    pub tenant: String,
    /// The tenant's issuer: where discovery, `/authorize` and `/oauth/token` live.
    pub issuer: String,
    /// Whether the tenant has had an administrator, so that the dashboard client exists; until
    /// then the page explains how to make one instead of sending the browser to a client the
    /// tenant does not have.
    pub ready: bool,
    /// The client's settings.
    #[serde(flatten)]
    pub client: DashboardClient,
}

/// The page settings of tenant `tenant_id` (named `tenant`, issuer `issuer`).
pub async fn page_settings(
    db: &Db,
    tenant_id: &str,
    tenant: &str,
    issuer: &str,
) -> Result<PageSettings> {
    let id = client_id(tenant_id);
    let mut read = db.store.read().await?;
    let ready = app_store::get(read.conn(), tenant_id, &id).await?.is_some();
    Ok(PageSettings {
        tenant: tenant.into(),
        issuer: issuer.into(),
        ready,
        client: client(tenant_id, issuer),
    })
}

/// Makes the built-in rows that are missing and points the client at `issuer` (the public URL
/// may have moved since they were made). Returns the administrator role's id.
async fn provision_in(tx: &mut WriteTx, now: i64, ctx: &TenantCtx, issuer: &str) -> Result<String> {
    let tenant = ctx.tenant_id.as_str();
    let api = api_store::get(
        tx.conn(),
        tenant,
        api_store::By::Identifier(MANAGEMENT_AUDIENCE),
    )
    .await?;
    if api.is_none() {
        let row = ApiRow {
            id: new_id(IdKind::Api, now),
            tenant_id: tenant.into(),
            identifier: MANAGEMENT_AUDIENCE.into(),
            name: "Sigil management API".into(),
            scopes: vec![ApiScope {
                value: MANAGE_SCOPE.into(),
                description: Some("Manage this tenant (administrators only)".into()),
            }],
            created_at: now,
            updated_at: now,
        };
        api_store::insert(tx, &row).await?;
        let summary = json!({"identifier": row.identifier, "built_in": true});
        record(tx, now, ctx, "create", "api", &row.id, summary).await?;
    }
    let names = [ADMIN_ROLE.to_string()];
    let role = match role_store::by_names(tx.conn(), tenant, &names).await?.pop() {
        Some(r) => r.id,
        None => {
            let row = RoleRow {
                id: new_id(IdKind::Role, now),
                tenant_id: tenant.into(),
                name: ADMIN_ROLE.into(),
                description: Some("Administers this tenant in the dashboard".into()),
                permissions: Vec::new(),
                created_at: now,
                updated_at: now,
            };
            role_store::insert(tx, &row).await?;
            let summary = json!({"name": row.name, "built_in": true});
            record(tx, now, ctx, "create", "role", &row.id, summary).await?;
            row.id
        }
    };
    let id = client_id(tenant);
    let (uris, logout_uris) = (vec![redirect_uri(issuer)], vec![post_logout_uri(issuer)]);
    match app_store::get_for_update(tx, tenant, &id).await? {
        Some(mut app)
            if app.redirect_uris != uris || app.post_logout_redirect_uris != logout_uris =>
        {
            app.redirect_uris = uris;
            app.post_logout_redirect_uris = logout_uris;
            app.updated_at = now;
            app_store::update(tx, &app).await?;
            let summary = json!({
                "redirect_uris": app.redirect_uris,
                "post_logout_redirect_uris": app.post_logout_redirect_uris,
                "built_in": true,
            });
            record(tx, now, ctx, "update", "application", &id, summary).await?;
        }
        Some(_) => {}
        None => {
            let row = AppRow {
                client_id: id.clone(),
                tenant_id: tenant.into(),
                name: "Sigil dashboard".into(),
                client_type: ClientType::Public,
                secret_hash: None,
                redirect_uris: uris,
                post_logout_redirect_uris: logout_uris,
                allowed_web_origins: Vec::new(),
                // No refresh token in a browser: a new access token comes from a silent
                // `prompt=none` request against the login session.
                grant_types: vec![GrantType::AuthorizationCode],
                client_metadata: Map::new(),
                id_token_lifetime: TOKEN_LIFETIME,
                access_token_lifetime: TOKEN_LIFETIME,
                refresh_token_lifetime: TOKEN_LIFETIME,
                signing_alg: SigningAlg::Es256,
                first_party: true,
                created_at: now,
                updated_at: now,
            };
            app_store::insert(tx, &row).await?;
            let summary = json!({"name": row.name, "type": row.client_type, "built_in": true});
            record(tx, now, ctx, "create", "application", &id, summary).await?;
        }
    }
    Ok(role)
}

/// Points every tenant's dashboard client at the issuer `issuer_of` gives for the tenant's name,
/// where it does not already (run at start: the redirect URI is made from the public URL, which
/// the operator may have changed, or which the CLI that made the first administrator guessed
/// differently). Returns how many it changed.
pub async fn follow_public_url(db: &Db, issuer_of: impl Fn(&str) -> String) -> Result<usize> {
    let clients = app_store::with_prefix(
        db.store.read().await?.conn(),
        crate::ids::DASHBOARD_CLIENT_PREFIX,
    )
    .await?;
    let mut changed = 0;
    for app in clients {
        let issuer = issuer_of(&app.tenant_name);
        let current = app.redirect_uris == [redirect_uri(&issuer)]
            && app.post_logout_redirect_uris == [post_logout_uri(&issuer)];
        // Not ours when the id does not name its own tenant: only this module makes the shape.
        if current || app.client_id != client_id(&app.tenant_id) {
            continue;
        }
        let ctx = TenantCtx {
            tenant_id: app.tenant_id,
            tenant_name: app.tenant_name,
            actor: "system".into(),
        };
        let now = db.now();
        let mut tx = db.store.begin_write().await?;
        provision_in(&mut tx, now, &ctx, &issuer).await?;
        tx.commit().await?;
        changed += 1;
    }
    Ok(changed)
}

/// Makes user `user_id` an administrator of the tenant (making the built-in rows first if the
/// tenant has none yet). Idempotent.
pub async fn grant_admin(
    db: &Db,
    ctx: &TenantCtx,
    issuer: &str,
    user_id: &str,
) -> Result<DashboardClient> {
    let now = db.now();
    let mut tx = db.store.begin_write().await?;
    user_store::get_for_update(&mut tx, &ctx.tenant_id, By::Id(user_id))
        .await?
        .ok_or(ManageError::NotFound("user"))?;
    let role = provision_in(&mut tx, now, ctx, issuer).await?;
    user_store::add_roles(&mut tx, user_id, &[role]).await?;
    record(
        &mut tx,
        now,
        ctx,
        "grant_admin",
        "user",
        user_id,
        json!({"role": ADMIN_ROLE}),
    )
    .await?;
    tx.commit().await?;
    Ok(client(&ctx.tenant_id, issuer))
}

/// Takes the administrator role from user `user_id`; their dashboard tokens stop working at
/// once (the role is checked on every call).
pub async fn revoke_admin(db: &Db, ctx: &TenantCtx, user_id: &str) -> Result<()> {
    let now = db.now();
    let mut tx = db.store.begin_write().await?;
    user_store::get_for_update(&mut tx, &ctx.tenant_id, By::Id(user_id))
        .await?
        .ok_or(ManageError::NotFound("user"))?;
    let names = [ADMIN_ROLE.to_string()];
    if let Some(role) = role_store::by_names(tx.conn(), &ctx.tenant_id, &names)
        .await?
        .pop()
        && user_store::remove_role(&mut tx, user_id, &role.id).await?
    {
        record(
            &mut tx,
            now,
            ctx,
            "revoke_admin",
            "user",
            user_id,
            json!({"role": ADMIN_ROLE}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Whether user `user_id` of the tenant may manage it now: the user exists, is not blocked and
/// holds [`ADMIN_ROLE`].
pub async fn is_admin(db: &Db, tenant_id: &str, user_id: &str) -> Result<bool> {
    let mut read = db.store.read().await?;
    let Some(user) = user_store::get(read.conn(), tenant_id, By::Id(user_id)).await? else {
        return Ok(false);
    };
    if user.blocked {
        return Ok(false);
    }
    let roles = user_store::role_names(read.conn(), user_id).await?;
    Ok(roles.iter().any(|r| r == ADMIN_ROLE))
}

/// Refuses a change to one of the built-in rows: `field` is the row's field that makes it built
/// in, `why` says so for the error.
pub(crate) fn refuse_built_in(
    built_in: bool,
    field: &'static str,
    why: &'static str,
) -> Result<()> {
    if built_in {
        return Err(ManageError::InUse { field, why });
    }
    Ok(())
}
