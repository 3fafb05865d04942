//! Applications (OAuth clients): registration rules that later grants rely on.
//!
//! Safe defaults per RFC 9700: redirect URIs are registered exactly and compared as exact
//! strings (2.1), the resource owner password grant is off unless a confidential application
//! enables it (2.4), and public clients (no secret) cannot use client credentials.

mod rules;
mod secret;

use rules::{alg, grants, lifetime, uris};
pub use secret::{RotatedSecret, rotate_secret};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::dashboard::refuse_built_in;
use super::users::{MetadataOp, apply_metadata};
use super::{
    ManageError, NameFilter, Page, PageParams, Result, TenantCtx, invalid, record, validate,
};
use crate::clock::rfc3339;
use crate::crypto::SecretHasher;
use crate::crypto::random_secret;
use crate::db::Db;
use crate::ids::{IdKind, new_id};
use crate::store::apps::{self as store, AppRow};
use crate::store::{ClientType, GrantType, WriteTx};

/// Grant types an application may be allowed.
pub const GRANT_TYPES: [&str; 4] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
];
pub use crate::keys::SIGNING_ALGS;

const DEFAULT_ID_TOKEN_LIFETIME: i64 = 3600;
/// Short by default: a JWT access token stays valid until it expires (RFC 9700 4.14 advises
/// short lifetimes; revocation is checked by introspection).
const DEFAULT_ACCESS_TOKEN_LIFETIME: i64 = 900;
const DEFAULT_REFRESH_TOKEN_LIFETIME: i64 = 30 * 24 * 3600;

/// An application as the API shows it (never the secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct Application {
    /// The OAuth `client_id`.
    pub client_id: String,
    /// Display name (shown on the login page).
    pub name: String,
    /// `confidential` (has a secret) or `public` (SPA, native app).
    #[serde(rename = "type")]
    pub client_type: String,
    /// Exact-match redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact-match post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Origins allowed to call the token endpoints from a browser (CORS).
    pub allowed_web_origins: Vec<String>,
    /// Allowed grant types.
    pub grant_types: Vec<String>,
    /// JSON object, readable by hooks.
    #[schema(value_type = Object)]
    pub client_metadata: Value,
    /// Lifetime of ID tokens, in seconds.
    pub id_token_lifetime: i64,
    /// Lifetime of access tokens, in seconds.
    pub access_token_lifetime: i64,
    /// Lifetime of refresh tokens, in seconds.
    pub refresh_token_lifetime: i64,
    /// `RS256`, `ES256` or `EdDSA`.
    pub signing_alg: String,
    /// First-party applications skip the consent screen.
    pub first_party: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// A new application, with its secret shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationCreated {
    /// The application.
    #[serde(flatten)]
    pub application: Application,
    /// The client secret (confidential applications); Sigil keeps only a hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

fn view(r: AppRow) -> Result<Application> {
    Ok(Application {
        redirect_uris: r.redirect_uris,
        post_logout_redirect_uris: r.post_logout_redirect_uris,
        allowed_web_origins: r.allowed_web_origins,
        grant_types: r.grant_types.iter().map(|g| g.to_string()).collect(),
        client_metadata: Value::Object(r.client_metadata),
        client_id: r.client_id,
        name: r.name,
        client_type: r.client_type.to_string(),
        id_token_lifetime: r.id_token_lifetime,
        access_token_lifetime: r.access_token_lifetime,
        refresh_token_lifetime: r.refresh_token_lifetime,
        signing_alg: r.signing_alg.to_string(),
        first_party: r.first_party,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
    })
}

/// Body of `POST /applications`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    /// Display name.
    pub name: String,
    /// `confidential` (default) or `public`.
    #[serde(rename = "type", default = "confidential")]
    pub client_type: String,
    /// Exact-match redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Exact-match post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// CORS origins.
    #[serde(default)]
    pub allowed_web_origins: Vec<String>,
    /// Default `["authorization_code", "refresh_token"]`; `password` needs a confidential
    /// application and must be listed explicitly.
    pub grant_types: Option<Vec<String>>,
    /// JSON object, at most 16 KB.
    #[schema(value_type = Option<Object>)]
    pub client_metadata: Option<Value>,
    /// Seconds (60 to 86400; default 3600).
    pub id_token_lifetime: Option<i64>,
    /// Seconds (60 to 86400; default 900).
    pub access_token_lifetime: Option<i64>,
    /// Seconds (60 to 31536000; default 2592000).
    pub refresh_token_lifetime: Option<i64>,
    /// `RS256` (default), `ES256` or `EdDSA`.
    pub signing_alg: Option<String>,
    /// Default true.
    pub first_party: Option<bool>,
}

fn confidential() -> String {
    "confidential".into()
}

/// Body of `PATCH /applications/{client_id}`; `client_metadata` merges.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApp {
    /// Display name.
    pub name: Option<String>,
    /// Replaces the list.
    pub redirect_uris: Option<Vec<String>>,
    /// Replaces the list.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Replaces the list.
    pub allowed_web_origins: Option<Vec<String>>,
    /// Replaces the list.
    pub grant_types: Option<Vec<String>>,
    /// Merged into `client_metadata`.
    #[schema(value_type = Option<Object>)]
    pub client_metadata: Option<Value>,
    /// New lifetime of ID tokens, in seconds.
    pub id_token_lifetime: Option<i64>,
    /// New lifetime of access tokens, in seconds.
    pub access_token_lifetime: Option<i64>,
    /// New lifetime of refresh tokens, in seconds.
    pub refresh_token_lifetime: Option<i64>,
    /// `RS256`, `ES256` or `EdDSA`.
    pub signing_alg: Option<String>,
    /// Skip consent.
    pub first_party: Option<bool>,
}

/// Registers an application; a confidential one gets a secret, shown once.
pub async fn create(
    db: &Db,
    secrets: &SecretHasher,
    ctx: &TenantCtx,
    input: CreateApp,
) -> Result<ApplicationCreated> {
    validate::text("name", &input.name, 255)?;
    let client_type: ClientType = input
        .client_type
        .parse()
        .map_err(|_| invalid("type", "must be `confidential` or `public`"))?;
    let default_grants = vec![
        GrantType::AuthorizationCode.to_string(),
        GrantType::RefreshToken.to_string(),
    ];
    let now = db.now();
    let secret = (client_type == ClientType::Confidential).then(|| random_secret("cs_"));
    let row = AppRow {
        client_id: new_id(IdKind::Application, now),
        tenant_id: ctx.tenant_id.clone(),
        name: input.name,
        secret_hash: secret.as_ref().map(|s| secrets.hash(s.expose())),
        redirect_uris: uris(
            "redirect_uris",
            &input.redirect_uris,
            validate::redirect_uri,
        )?,
        post_logout_redirect_uris: uris(
            "post_logout_redirect_uris",
            &input.post_logout_redirect_uris,
            validate::redirect_uri,
        )?,
        allowed_web_origins: uris(
            "allowed_web_origins",
            &input.allowed_web_origins,
            validate::web_origin,
        )?,
        grant_types: grants(
            client_type,
            input.grant_types.as_ref().unwrap_or(&default_grants),
        )?,
        client_type,
        client_metadata: validate::metadata_object(
            "client_metadata",
            input.client_metadata.as_ref(),
        )?,
        id_token_lifetime: lifetime(
            "id_token_lifetime",
            input.id_token_lifetime,
            DEFAULT_ID_TOKEN_LIFETIME,
            86_400,
        )?,
        access_token_lifetime: lifetime(
            "access_token_lifetime",
            input.access_token_lifetime,
            DEFAULT_ACCESS_TOKEN_LIFETIME,
            86_400,
        )?,
        refresh_token_lifetime: lifetime(
            "refresh_token_lifetime",
            input.refresh_token_lifetime,
            DEFAULT_REFRESH_TOKEN_LIFETIME,
            365 * 86_400,
        )?,
        signing_alg: alg(input.signing_alg.as_deref())?,
        first_party: input.first_party.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    let mut tx = db.store.begin_write().await?;
    store::insert(&mut tx, &row).await?;
    register_metadata(&mut tx, &row).await?;
    let summary =
        json!({"name": row.name, "type": row.client_type, "grant_types": row.grant_types});
    record(
        &mut tx,
        now,
        ctx,
        "create",
        "application",
        &row.client_id,
        summary,
    )
    .await?;
    tx.commit().await?;
    Ok(ApplicationCreated {
        application: view(row)?,
        client_secret: secret.map(|s| s.expose().to_string()),
    })
}

/// An application by client id.
pub async fn get(db: &Db, ctx: &TenantCtx, client_id: &str) -> Result<Application> {
    store::get(db.store.read().await?.conn(), &ctx.tenant_id, client_id)
        .await?
        .ok_or(ManageError::NotFound("application"))
        .and_then(view)
}

/// Lists applications.
pub async fn list(
    db: &Db,
    ctx: &TenantCtx,
    filter: &NameFilter,
    page: &PageParams,
) -> Result<Page<Application>> {
    let search = filter.search(db.store.backend())?;
    let rows = store::list(
        db.store.read().await?.conn(),
        &ctx.tenant_id,
        search,
        page.cursor(),
        page.limit()?,
    )
    .await?;
    Page::from_store(rows, view)
}

async fn lock(tx: &mut WriteTx, ctx: &TenantCtx, id: &str) -> Result<AppRow> {
    store::get_for_update(tx, &ctx.tenant_id, id)
        .await?
        .ok_or(ManageError::NotFound("application"))
}

/// Applies a PATCH.
pub async fn update(
    db: &Db,
    ctx: &TenantCtx,
    client_id: &str,
    input: UpdateApp,
) -> Result<Application> {
    refuse_dashboard(ctx, client_id)?;
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(&mut tx, ctx, client_id).await?;
    let mut changed = Vec::new();
    if let Some(n) = input.name {
        validate::text("name", &n, 255)?;
        row.name = n;
        changed.push("name");
    }
    if let Some(l) = input.redirect_uris {
        row.redirect_uris = uris("redirect_uris", &l, validate::redirect_uri)?;
        changed.push("redirect_uris");
    }
    if let Some(l) = input.post_logout_redirect_uris {
        row.post_logout_redirect_uris =
            uris("post_logout_redirect_uris", &l, validate::redirect_uri)?;
        changed.push("post_logout_redirect_uris");
    }
    if let Some(l) = input.allowed_web_origins {
        row.allowed_web_origins = uris("allowed_web_origins", &l, validate::web_origin)?;
        changed.push("allowed_web_origins");
    }
    if let Some(l) = input.grant_types {
        row.grant_types = grants(row.client_type, &l)?;
        changed.push("grant_types");
    }
    if let Some(p) = &input.client_metadata {
        row.client_metadata = apply_metadata(
            "client_metadata",
            &row.client_metadata,
            p,
            MetadataOp::Merge,
        )?;
        changed.push("client_metadata");
    }
    if input.id_token_lifetime.is_some() {
        row.id_token_lifetime = lifetime("id_token_lifetime", input.id_token_lifetime, 0, 86_400)?;
        changed.push("id_token_lifetime");
    }
    if input.access_token_lifetime.is_some() {
        row.access_token_lifetime = lifetime(
            "access_token_lifetime",
            input.access_token_lifetime,
            0,
            86_400,
        )?;
        changed.push("access_token_lifetime");
    }
    if input.refresh_token_lifetime.is_some() {
        row.refresh_token_lifetime = lifetime(
            "refresh_token_lifetime",
            input.refresh_token_lifetime,
            0,
            365 * 86_400,
        )?;
        changed.push("refresh_token_lifetime");
    }
    if input.signing_alg.is_some() {
        row.signing_alg = alg(input.signing_alg.as_deref())?;
        changed.push("signing_alg");
    }
    if let Some(fp) = input.first_party {
        row.first_party = fp;
        changed.push("first_party");
    }
    row.updated_at = db.now();
    store::update(&mut tx, &row).await?;
    if input.client_metadata.is_some() {
        register_metadata(&mut tx, &row).await?;
    }
    let summary = json!({"fields": changed});
    record(
        &mut tx,
        db.now(),
        ctx,
        "update",
        "application",
        client_id,
        summary,
    )
    .await?;
    tx.commit().await?;
    view(row)
}

/// Merges into or replaces `client_metadata` under the row lock.
pub async fn write_metadata(
    db: &Db,
    ctx: &TenantCtx,
    client_id: &str,
    op: MetadataOp,
    patch: Value,
) -> Result<Value> {
    refuse_dashboard(ctx, client_id)?;
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(&mut tx, ctx, client_id).await?;
    row.client_metadata = apply_metadata("client_metadata", &row.client_metadata, &patch, op)?;
    row.updated_at = db.now();
    store::update(&mut tx, &row).await?;
    register_metadata(&mut tx, &row).await?;
    let keys: Vec<&String> = patch
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    let summary = json!({"field": "client_metadata", "keys": keys});
    record(
        &mut tx,
        db.now(),
        ctx,
        "write_metadata",
        "application",
        client_id,
        summary,
    )
    .await?;
    tx.commit().await?;
    Ok(Value::Object(row.client_metadata))
}

/// Deletes an application.
pub async fn delete(db: &Db, ctx: &TenantCtx, client_id: &str) -> Result<()> {
    refuse_dashboard(ctx, client_id)?;
    let mut tx = db.store.begin_write().await?;
    if !store::delete(&mut tx, &ctx.tenant_id, client_id).await? {
        return Err(ManageError::NotFound("application"));
    }
    crate::store::templates::delete_for_client(&mut tx, &ctx.tenant_id, client_id).await?;
    record(
        &mut tx,
        db.now(),
        ctx,
        "delete",
        "application",
        client_id,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Refuses to change or delete the tenant's built-in dashboard client (docs/dashboard.md).
fn refuse_dashboard(ctx: &TenantCtx, client_id: &str) -> Result<()> {
    refuse_built_in(
        client_id == super::dashboard::client_id(&ctx.tenant_id),
        "client_id",
        "the dashboard application is built in",
    )
}

/// Registers the application's metadata key paths (the template editor's suggestions).
async fn register_metadata(tx: &mut WriteTx, row: &AppRow) -> Result<()> {
    crate::store::metadata_keys::register(
        tx,
        &row.tenant_id,
        crate::store::metadata_keys::CLIENT_METADATA,
        &row.client_metadata,
    )
    .await?;
    Ok(())
}
