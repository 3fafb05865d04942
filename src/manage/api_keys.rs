//! Management API keys: `sk_` followed by 256 random bits, stored as a keyed hash.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{ManageError, Page, PageParams, Result, TenantCtx, record, validate};
use crate::clock::rfc3339;
use crate::crypto::SecretHasher;
use crate::crypto::random_secret;
use crate::db::Db;
use crate::ids::{IdKind, new_id};
use crate::store::{WriteTx, api_keys as store};

/// An API key as listed (never the key itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    /// `key_...`
    pub id: String,
    /// A label for people (which integration uses the key).
    pub name: String,
    /// The first characters of the key.
    pub prefix: String,
    /// Whether it may manage tenants.
    pub operator: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, when revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// A new key: the only time the key is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    /// `key_...`
    pub id: String,
    /// A label for people (which integration uses the key).
    pub name: String,
    /// Whether it may manage tenants.
    pub operator: bool,
    /// The key. Store it now: Sigil keeps only a hash.
    pub key: String,
}

/// Body of `POST /t/{tenant}/api/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// Label, 1 to 100 characters.
    pub name: String,
    /// Operator keys can manage tenants; only an operator key can create one.
    #[serde(default)]
    pub operator: bool,
}

/// Creates a key inside the caller's transaction.
pub(crate) async fn create_in(
    tx: &mut WriteTx,
    db: &Db,
    secrets: &SecretHasher,
    ctx: &TenantCtx,
    name: &str,
    operator: bool,
) -> Result<ApiKeyCreated> {
    let now = db.now();
    let secret = random_secret("sk_");
    let row = store::ApiKeyRow {
        id: new_id(IdKind::ApiKey, now),
        tenant_id: ctx.tenant_id.clone(),
        name: name.to_string(),
        secret_hash: secrets.hash(secret.expose()),
        prefix: secret.expose().chars().take(10).collect(),
        is_operator: operator,
        created_at: now,
        revoked_at: None,
    };
    store::insert(&mut *tx, &row).await?;
    record(
        tx,
        now,
        ctx,
        "create",
        "api_key",
        &row.id,
        json!({"name": name, "operator": operator}),
    )
    .await?;
    Ok(ApiKeyCreated {
        id: row.id,
        name: row.name,
        operator,
        key: secret.expose().to_string(),
    })
}

/// Creates a key; `caller_is_operator` gates operator keys.
pub async fn create(
    db: &Db,
    secrets: &SecretHasher,
    ctx: &TenantCtx,
    caller_is_operator: bool,
    input: CreateApiKey,
) -> Result<ApiKeyCreated> {
    validate::text("name", &input.name, 100)?;
    if input.operator && !caller_is_operator {
        return Err(ManageError::Forbidden(
            "only an operator key can create operator keys",
        ));
    }
    let mut tx = db.store.begin_write().await?;
    let key = create_in(&mut tx, db, secrets, ctx, &input.name, input.operator).await?;
    tx.commit().await?;
    Ok(key)
}

/// Lists the tenant's keys (revoked ones included, marked).
pub async fn list(db: &Db, ctx: &TenantCtx, page: &PageParams) -> Result<Page<ApiKey>> {
    let rows = store::list(&db.store, &ctx.tenant_id, page.cursor(), page.limit()?).await?;
    Page::from_store(rows, |r| {
        Ok(ApiKey {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            operator: r.is_operator,
            created_at: rfc3339(r.created_at),
            revoked_at: r.revoked_at.map(rfc3339),
        })
    })
}

/// Revokes a key.
pub async fn revoke(db: &Db, ctx: &TenantCtx, id: &str) -> Result<()> {
    let mut tx = db.store.begin_write().await?;
    if !store::revoke(&mut tx, &ctx.tenant_id, id, db.now()).await? {
        return Err(ManageError::NotFound("api key"));
    }
    record(&mut tx, db.now(), ctx, "revoke", "api_key", id, json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// An authenticated key.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `key_...`
    pub key_id: String,
    /// The key's tenant id.
    pub tenant_id: String,
    /// The key's tenant name.
    pub tenant_name: String,
    /// Operator keys manage tenants and may act on any tenant.
    pub operator: bool,
}

/// Finds the live key matching `presented`, if any.
pub async fn authenticate(
    db: &Db,
    secrets: &SecretHasher,
    presented: &str,
) -> Result<Option<Caller>> {
    if !presented.starts_with("sk_") || presented.len() > 200 {
        return Ok(None);
    }
    let hash = secrets.hash(presented);
    let Some(k) = store::find_live(&db.store, &hash).await? else {
        return Ok(None);
    };
    // The lookup was by hash; compare again in constant time so correctness never rests on
    // how the database compares strings.
    if !secrets.verify(presented, &k.secret_hash) {
        return Ok(None);
    }
    Ok(Some(Caller {
        key_id: k.id,
        tenant_id: k.tenant_id,
        tenant_name: k.tenant_name,
        operator: k.is_operator,
    }))
}
