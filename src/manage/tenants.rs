//! Tenants: creation (with a first API key), listing, deletion, and the first-start bootstrap.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::api_keys::{self, ApiKeyCreated};
use super::{ManageError, Page, PageParams, Result, TenantCtx, record, validate};
use crate::clock::rfc3339;
use crate::crypto::SecretHasher;
use crate::db::{Db, Issuers};
use crate::ids::{IdKind, new_id};
use crate::store::tenants::{self as store, TenantRow};

/// The tenant created on first start.
pub const DEFAULT_TENANT: &str = "default";

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tenant {
    /// `ten_...`
    pub id: String,
    /// The path segment: the tenant's API lives under `/t/{name}/`.
    pub name: String,
    /// The OIDC issuer: `{public URL}/t/{name}`.
    pub issuer: String,
    /// RFC 3339.
    pub created_at: String,
}

fn view(issuers: &Issuers, r: TenantRow) -> Tenant {
    Tenant {
        issuer: issuers.of(&r.name),
        id: r.id,
        name: r.name,
        created_at: rfc3339(r.created_at),
    }
}

/// Body of `POST /api/tenants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// 1 to 63 of a-z, 0-9 and `-`.
    pub name: String,
}

/// A new tenant and its first API key (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantCreated {
    /// The tenant.
    pub tenant: Tenant,
    /// An API key for the new tenant.
    pub api_key: ApiKeyCreated,
}

/// Creates a tenant and a first (non-operator) API key for it, in one transaction.
/// `secrets` hashes the new API key; `issuers` names the tenant's issuer in the answer.
pub async fn create(
    db: &Db,
    secrets: &SecretHasher,
    issuers: &Issuers,
    actor: &str,
    input: CreateTenant,
) -> Result<TenantCreated> {
    validate::slug("name", &input.name, 63)?;
    let now = db.now();
    let row = TenantRow {
        id: new_id(IdKind::Tenant, now),
        name: input.name,
        created_at: now,
    };
    let mut tx = db.store.begin_write().await?;
    store::insert(&mut tx, &row).await?;
    let ctx = TenantCtx {
        tenant_id: row.id.clone(),
        tenant_name: row.name.clone(),
        actor: actor.to_string(),
    };
    record(
        &mut tx,
        now,
        &ctx,
        "create",
        "tenant",
        &row.id,
        json!({"name": row.name}),
    )
    .await?;
    let key = api_keys::create_in(&mut tx, db, secrets, &ctx, "admin", false).await?;
    tx.commit().await?;
    Ok(TenantCreated {
        tenant: view(issuers, row),
        api_key: key,
    })
}

/// Looks a tenant up by name.
pub async fn get(db: &Db, issuers: &Issuers, name: &str) -> Result<Tenant> {
    Ok(view(issuers, row(db, name).await?))
}

async fn row(db: &Db, name: &str) -> Result<TenantRow> {
    store::by_name(&db.store, name)
        .await?
        .ok_or(ManageError::NotFound("tenant"))
}

/// Lists tenants.
pub async fn list(db: &Db, issuers: &Issuers, page: &PageParams) -> Result<Page<Tenant>> {
    let rows = store::list(&db.store, page.cursor(), page.limit()?).await?;
    Page::from_store(rows, |r| Ok(view(issuers, r)))
}

/// Deletes a tenant and everything in it. The default tenant holds the operator key and is
/// kept.
pub async fn delete(db: &Db, name: &str) -> Result<()> {
    if name == DEFAULT_TENANT {
        return Err(ManageError::Forbidden(
            "the default tenant holds the operator keys and cannot be deleted",
        ));
    }
    let tenant = row(db, name).await?;
    let mut tx = db.store.begin_write().await?;
    store::delete(&mut tx, &tenant.id).await?;
    tx.commit().await?;
    Ok(())
}

/// On first start: creates the `default` tenant and an operator key, returning the key to print
/// once. Returns `None` when the tenant already existed (also when another node won the race).
pub async fn bootstrap(db: &Db, secrets: &SecretHasher) -> Result<Option<ApiKeyCreated>> {
    let now = db.now();
    let row = TenantRow {
        id: new_id(IdKind::Tenant, now),
        name: DEFAULT_TENANT.into(),
        created_at: now,
    };
    let mut tx = db.store.begin_write().await?;
    if !store::insert_if_absent(&mut tx, &row).await? {
        return Ok(None);
    }
    let ctx = TenantCtx {
        tenant_id: row.id.clone(),
        tenant_name: row.name.clone(),
        actor: "system".into(),
    };
    record(
        &mut tx,
        now,
        &ctx,
        "create",
        "tenant",
        &row.id,
        json!({"name": row.name}),
    )
    .await?;
    let key = api_keys::create_in(&mut tx, db, secrets, &ctx, "operator", true).await?;
    tx.commit().await?;
    Ok(Some(key))
}

/// The context for acting on tenant `name` from the CLI.
pub async fn cli_ctx(db: &Db, name: &str) -> Result<TenantCtx> {
    let t = row(db, name).await?;
    Ok(TenantCtx {
        tenant_id: t.id,
        tenant_name: t.name,
        actor: "cli".into(),
    })
}
