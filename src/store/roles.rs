//! Roles and their permission sets.

use sqlx::{Any, Executor, FromRow};

use super::like::NamePrefix;
use super::types::JsonText;
use super::{Exec, Page, StoreError, WriteTx, to_json, unique};

/// A role row.
#[derive(Debug, Clone, FromRow)]
pub struct RoleRow {
    /// `rol_...`
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Unique per tenant; the handle assignments use.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Permission strings.
    #[sqlx(try_from = "JsonText")]
    pub permissions: Vec<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

const COLS: &str = "id, tenant_id, name, description, permissions, created_at, updated_at";

/// Inserts a role.
pub async fn insert(tx: &mut WriteTx, r: &RoleRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO roles ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&r.id)
    .bind(&r.tenant_id)
    .bind(&r.name)
    .bind(&r.description)
    .bind(to_json("permissions", &r.permissions)?)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(tx.conn())
    .await
    .map_err(unique)?;
    Ok(())
}

/// Writes the mutable columns.
pub async fn update(tx: &mut WriteTx, r: &RoleRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE roles SET description = $1, permissions = $2, updated_at = $3 \
         WHERE tenant_id = $4 AND id = $5",
    )
    .bind(&r.description)
    .bind(to_json("permissions", &r.permissions)?)
    .bind(r.updated_at)
    .bind(&r.tenant_id)
    .bind(&r.id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A role by id.
pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    id: &str,
) -> Result<Option<RoleRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM roles WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(ex)
    .await?)
}

/// A role by id, locked until `tx` ends (it is about to be written).
pub async fn get_for_update(
    tx: &mut WriteTx,
    tenant_id: &str,
    id: &str,
) -> Result<Option<RoleRow>, StoreError> {
    let lock = tx.lock_suffix();
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM roles WHERE tenant_id = $1 AND id = $2{lock}"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Roles of the tenant with these names (those that exist).
pub async fn by_names(
    mut conn: Exec<'_>,
    tenant_id: &str,
    names: &[String],
) -> Result<Vec<RoleRow>, StoreError> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let row: Option<RoleRow> = sqlx::query_as(&format!(
            "SELECT {COLS} FROM roles WHERE tenant_id = $1 AND name = $2"
        ))
        .bind(tenant_id)
        .bind(name)
        .fetch_optional(conn.reborrow())
        .await?;
        out.extend(row);
    }
    Ok(out)
}

/// Lists roles in id order.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    search: Option<NamePrefix<'_>>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<RoleRow>, StoreError> {
    let named = NamePrefix::condition(search, "name", 4);
    let rows: Vec<RoleRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM roles WHERE tenant_id = $1 AND id > $2 AND {named} \
         ORDER BY id LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(cursor.unwrap_or(""))
    .bind(limit + 1)
    .bind(NamePrefix::pattern(search))
    .fetch_all(ex)
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
}

/// A role's name and permissions, as a login reads them.
#[derive(Debug, Clone, FromRow)]
pub struct RolePermissions {
    /// The role's name.
    pub name: String,
    /// Its permission strings.
    #[sqlx(try_from = "JsonText")]
    pub permissions: Vec<String>,
}

/// A user's tenant-wide roles with their permissions, by name.
pub async fn of_user<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
) -> Result<Vec<RolePermissions>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT r.name, r.permissions FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = $1 ORDER BY r.name",
    )
    .bind(user_id)
    .fetch_all(ex)
    .await?)
}

/// Deletes a role; its grants go by cascade.
pub async fn delete(tx: &mut WriteTx, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM roles WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}
