//! APIs (resource servers) and the scopes they define.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::dashboard::{MANAGEMENT_AUDIENCE, refuse_built_in};
use super::{
    ManageError, NameFilter, Page, PageParams, Result, TenantCtx, invalid, record, validate,
};
use crate::clock::rfc3339;
use crate::db::Db;
use crate::ids::{IdKind, new_id};
use crate::store::ApiScope;
use crate::store::apis::{self as store, ApiRow, By};

/// Why the management API's own audience cannot be changed here.
const BUILT_IN: &str = "the management API is built in (see docs/dashboard.md)";

/// A scope an API defines.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The scope string, e.g. `read:reports`.
    pub value: String,
    /// Shown on consent screens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An API.
#[derive(Debug, Serialize, ToSchema)]
pub struct Api {
    /// `api_...`
    pub id: String,
    /// The `audience` value access tokens carry; fixed once created.
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// Scopes it defines.
    pub scopes: Vec<Scope>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

fn view(r: ApiRow) -> Result<Api> {
    Ok(Api {
        scopes: r
            .scopes
            .into_iter()
            .map(|s| Scope {
                value: s.value,
                description: s.description,
            })
            .collect(),
        id: r.id,
        identifier: r.identifier,
        name: r.name,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
    })
}

/// Body of `POST /apis`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApi {
    /// The audience, usually a URL such as `https://api.example.com`; unique per tenant.
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// Scopes (at most 200).
    #[serde(default)]
    pub scopes: Vec<Scope>,
}

/// Body of `PATCH /apis/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApi {
    /// Display name.
    pub name: Option<String>,
    /// Replaces the scope list.
    pub scopes: Option<Vec<Scope>>,
}

fn check_scopes(scopes: &[Scope]) -> Result<Vec<ApiScope>> {
    if scopes.len() > 200 {
        return Err(invalid("scopes", "at most 200 scopes"));
    }
    for (i, s) in scopes.iter().enumerate() {
        validate::token(&format!("scopes[{i}].value"), &s.value, 255)?;
        validate::opt_text(
            &format!("scopes[{i}].description"),
            s.description.as_deref(),
            500,
        )?;
        if scopes[..i].iter().any(|o| o.value == s.value) {
            return Err(invalid(format!("scopes[{i}].value"), "duplicate scope"));
        }
    }
    Ok(scopes
        .iter()
        .map(|s| ApiScope {
            value: s.value.clone(),
            description: s.description.clone(),
        })
        .collect())
}

/// Creates an API.
pub async fn create(db: &Db, ctx: &TenantCtx, input: CreateApi) -> Result<Api> {
    validate::token("identifier", &input.identifier, 255)?;
    if input.identifier == MANAGEMENT_AUDIENCE {
        return Err(invalid(
            "identifier",
            "is reserved for the management API (see docs/dashboard.md)",
        ));
    }
    validate::text("name", &input.name, 255)?;
    let scopes = check_scopes(&input.scopes)?;
    let now = db.now();
    let row = ApiRow {
        id: new_id(IdKind::Api, now),
        tenant_id: ctx.tenant_id.clone(),
        identifier: input.identifier,
        name: input.name,
        scopes,
        created_at: now,
        updated_at: now,
    };
    let mut tx = db.store.begin_write().await?;
    store::insert(&mut tx, &row).await?;
    let summary = json!({"identifier": row.identifier, "name": row.name});
    record(&mut tx, now, ctx, "create", "api", &row.id, summary).await?;
    tx.commit().await?;
    view(row)
}

/// An API by id.
pub async fn get(db: &Db, ctx: &TenantCtx, id: &str) -> Result<Api> {
    store::get(db.store.read().await?.conn(), &ctx.tenant_id, By::Id(id))
        .await?
        .ok_or(ManageError::NotFound("api"))
        .and_then(view)
}

/// Lists APIs.
pub async fn list(
    db: &Db,
    ctx: &TenantCtx,
    filter: &NameFilter,
    page: &PageParams,
) -> Result<Page<Api>> {
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

/// Applies a PATCH.
pub async fn update(db: &Db, ctx: &TenantCtx, id: &str, input: UpdateApi) -> Result<Api> {
    if let Some(n) = &input.name {
        validate::text("name", n, 255)?;
    }
    let scopes = input.scopes.as_deref().map(check_scopes).transpose()?;
    let mut tx = db.store.begin_write().await?;
    let mut row = store::get_for_update(&mut tx, &ctx.tenant_id, By::Id(id))
        .await?
        .ok_or(ManageError::NotFound("api"))?;
    refuse_built_in(
        row.identifier == MANAGEMENT_AUDIENCE,
        "identifier",
        BUILT_IN,
    )?;
    let mut changed = Vec::new();
    if let Some(n) = input.name {
        row.name = n;
        changed.push("name");
    }
    if let Some(s) = scopes {
        row.scopes = s;
        changed.push("scopes");
    }
    row.updated_at = db.now();
    store::update(&mut tx, &row).await?;
    record(
        &mut tx,
        db.now(),
        ctx,
        "update",
        "api",
        id,
        json!({"fields": changed}),
    )
    .await?;
    tx.commit().await?;
    view(row)
}

/// Deletes an API.
pub async fn delete(db: &Db, ctx: &TenantCtx, id: &str) -> Result<()> {
    let mut tx = db.store.begin_write().await?;
    let row = store::get_for_update(&mut tx, &ctx.tenant_id, By::Id(id)).await?;
    refuse_built_in(
        row.is_some_and(|r| r.identifier == MANAGEMENT_AUDIENCE),
        "identifier",
        BUILT_IN,
    )?;
    if !store::delete(&mut tx, &ctx.tenant_id, id).await? {
        return Err(ManageError::NotFound("api"));
    }
    record(&mut tx, db.now(), ctx, "delete", "api", id, json!({})).await?;
    tx.commit().await?;
    Ok(())
}
