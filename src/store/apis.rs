//! APIs (resource servers): the audiences access tokens are issued for.

use sqlx::{Any, Executor, FromRow};

use super::like::NamePrefix;
use super::types::JsonText;
use super::{ApiScope, Page, StoreError, WriteTx, to_json, unique};

/// An API row.
#[derive(Debug, Clone, FromRow)]
pub struct ApiRow {
    /// `api_...`
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The `audience` value, unique per tenant.
    pub identifier: String,
    /// Display name.
    pub name: String,
    /// The scopes it defines.
    #[sqlx(try_from = "JsonText")]
    pub scopes: Vec<ApiScope>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

impl ApiRow {
    /// The scope values the API defines (the `value` of each entry of `scopes`).
    pub fn scope_values(&self) -> Vec<String> {
        self.scopes.iter().map(|s| s.value.clone()).collect()
    }
}

/// The scope values of the API whose audience is `identifier`; `None` when there is no such API.
pub async fn scope_values<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    identifier: &str,
) -> Result<Option<Vec<String>>, StoreError> {
    Ok(get(ex, tenant_id, By::Identifier(identifier))
        .await?
        .map(|a| a.scope_values()))
}

const COLS: &str = "id, tenant_id, identifier, name, scopes, created_at, updated_at";

/// Inserts an API.
pub async fn insert(tx: &mut WriteTx, a: &ApiRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO apis ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&a.id)
    .bind(&a.tenant_id)
    .bind(&a.identifier)
    .bind(&a.name)
    .bind(to_json("scopes", &a.scopes)?)
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(tx.conn())
    .await
    .map_err(unique)?;
    Ok(())
}

/// Writes the mutable columns (the identifier is fixed once tokens carry it).
pub async fn update(tx: &mut WriteTx, a: &ApiRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE apis SET name = $1, scopes = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5",
    )
    .bind(&a.name)
    .bind(to_json("scopes", &a.scopes)?)
    .bind(a.updated_at)
    .bind(&a.tenant_id)
    .bind(&a.id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Which column an API lookup matches.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// `api_...`
    Id(&'a str),
    /// The audience.
    Identifier(&'a str),
}

impl By<'_> {
    fn column(self) -> (&'static str, String) {
        match self {
            By::Id(v) => ("id", v.to_string()),
            By::Identifier(v) => ("identifier", v.to_string()),
        }
    }
}

/// One API.
pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    by: By<'_>,
) -> Result<Option<ApiRow>, StoreError> {
    let (col, val) = by.column();
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM apis WHERE tenant_id = $1 AND {col} = $2"
    ))
    .bind(tenant_id)
    .bind(val)
    .fetch_optional(ex)
    .await?)
}

/// One API, locked until `tx` ends (it is about to be written).
pub async fn get_for_update(
    tx: &mut WriteTx,
    tenant_id: &str,
    by: By<'_>,
) -> Result<Option<ApiRow>, StoreError> {
    let (col, val) = by.column();
    let lock = tx.lock_suffix();
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM apis WHERE tenant_id = $1 AND {col} = $2{lock}"
    ))
    .bind(tenant_id)
    .bind(val)
    .fetch_optional(tx.conn())
    .await?)
}

/// Lists APIs in id order.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    search: Option<NamePrefix<'_>>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<ApiRow>, StoreError> {
    let named = NamePrefix::condition(search, "name", 4);
    let rows: Vec<ApiRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM apis WHERE tenant_id = $1 AND id > $2 AND {named} \
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

/// Deletes an API.
pub async fn delete(tx: &mut WriteTx, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM apis WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}
