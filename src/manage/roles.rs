//! Roles: a name and a set of permission strings.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::dashboard::{ADMIN_ROLE, refuse_built_in};
use super::{
    ManageError, NameFilter, Page, PageParams, Result, TenantCtx, nullable, record, validate,
};
use crate::clock::rfc3339;
use crate::db::Db;
use crate::ids::{IdKind, new_id};
use crate::store::roles::{self as store, RoleRow};

/// A role.
#[derive(Debug, Serialize, ToSchema)]
pub struct Role {
    /// `rol_...`
    pub id: String,
    /// Unique per tenant; assignments refer to roles by name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Permission strings, e.g. `read:reports`.
    pub permissions: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

fn view(r: RoleRow) -> Result<Role> {
    Ok(Role {
        permissions: r.permissions,
        id: r.id,
        name: r.name,
        description: r.description,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
    })
}

/// Body of `POST /roles`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// 1 to 100 printable ASCII characters without spaces; fixed once created.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Permission strings (at most 500).
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// Body of `PATCH /roles/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    /// Description (null clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Replaces the permission set.
    pub permissions: Option<Vec<String>>,
}

/// Creates a role.
pub async fn create(db: &Db, ctx: &TenantCtx, input: CreateRole) -> Result<Role> {
    validate::token("name", &input.name, 100)?;
    if input.name == ADMIN_ROLE {
        return Err(super::invalid(
            "name",
            "is reserved for the administrator role (see docs/dashboard.md)",
        ));
    }
    validate::opt_text("description", input.description.as_deref(), 1000)?;
    let perms = validate::tokens("permissions", &input.permissions, 500)?;
    let now = db.now();
    let row = RoleRow {
        id: new_id(IdKind::Role, now),
        tenant_id: ctx.tenant_id.clone(),
        name: input.name,
        description: input.description,
        permissions: perms.clone(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = db.store.begin_write().await?;
    store::insert(&mut tx, &row).await?;
    let summary = json!({"name": row.name, "permissions": perms});
    record(&mut tx, now, ctx, "create", "role", &row.id, summary).await?;
    tx.commit().await?;
    view(row)
}

/// A role by id.
pub async fn get(db: &Db, ctx: &TenantCtx, id: &str) -> Result<Role> {
    store::get(db.store.read().await?.conn(), &ctx.tenant_id, id)
        .await?
        .ok_or(ManageError::NotFound("role"))
        .and_then(view)
}

/// Lists roles.
pub async fn list(
    db: &Db,
    ctx: &TenantCtx,
    filter: &NameFilter,
    page: &PageParams,
) -> Result<Page<Role>> {
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

/// Why the administrator role cannot be changed or deleted.
const ADMIN_ROLE_BUILT_IN: &str = "the administrator role is built in; give it to or take it from users instead (see docs/dashboard.md)";

/// Applies a PATCH.
pub async fn update(db: &Db, ctx: &TenantCtx, id: &str, input: UpdateRole) -> Result<Role> {
    if let Some(Some(d)) = &input.description {
        validate::text("description", d, 1000)?;
    }
    let perms = match &input.permissions {
        Some(p) => Some(validate::tokens("permissions", p, 500)?),
        None => None,
    };
    let mut tx = db.store.begin_write().await?;
    let mut row = store::get_for_update(&mut tx, &ctx.tenant_id, id)
        .await?
        .ok_or(ManageError::NotFound("role"))?;
    refuse_built_in(row.name == ADMIN_ROLE, "name", ADMIN_ROLE_BUILT_IN)?;
    if let Some(d) = input.description {
        row.description = d;
    }
    if let Some(p) = &perms {
        row.permissions = p.clone();
    }
    row.updated_at = db.now();
    store::update(&mut tx, &row).await?;
    record(
        &mut tx,
        db.now(),
        ctx,
        "update",
        "role",
        id,
        json!({"permissions": perms}),
    )
    .await?;
    tx.commit().await?;
    view(row)
}

/// Deletes a role (removing it from every user and membership).
pub async fn delete(db: &Db, ctx: &TenantCtx, id: &str) -> Result<()> {
    let mut tx = db.store.begin_write().await?;
    let row = store::get_for_update(&mut tx, &ctx.tenant_id, id).await?;
    refuse_built_in(
        row.is_some_and(|r| r.name == ADMIN_ROLE),
        "name",
        ADMIN_ROLE_BUILT_IN,
    )?;
    if !store::delete(&mut tx, &ctx.tenant_id, id).await? {
        return Err(ManageError::NotFound("role"));
    }
    record(&mut tx, db.now(), ctx, "delete", "role", id, json!({})).await?;
    tx.commit().await?;
    Ok(())
}
