//! Client grants: which API a machine-to-machine application may get access tokens for with
//! the client-credentials grant, and which of the API's scopes.

use sqlx::{Any, Executor, FromRow};

use super::types::JsonText;
use super::{Page, StoreError, WriteTx, to_json, unique};

/// A grant, with the audience of its API (read through a join with `apis`).
#[derive(Debug, Clone, FromRow)]
pub struct ClientGrantRow {
    /// `cgr_...`
    pub id: String,
    /// Owning tenant (the application's and the API's).
    pub tenant_id: String,
    /// The application.
    pub client_id: String,
    /// The API (`api_...`).
    pub api_id: String,
    /// The API's identifier (the `audience`): read from `apis`, never written with the grant.
    pub audience: String,
    /// The granted scope values.
    #[sqlx(try_from = "JsonText")]
    pub scopes: Vec<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

const SELECT: &str = "SELECT g.id, g.tenant_id, g.client_id, g.api_id, p.identifier AS audience, \
    g.scopes, g.created_at, g.updated_at FROM client_grants g JOIN apis p ON p.id = g.api_id";

/// Inserts a grant (`audience` is not stored); a second grant for the same application and API
/// is [`StoreError::Conflict`] on `audience`.
pub async fn insert(tx: &mut WriteTx, g: &ClientGrantRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO client_grants (id, tenant_id, client_id, api_id, scopes, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&g.id)
    .bind(&g.tenant_id)
    .bind(&g.client_id)
    .bind(&g.api_id)
    .bind(to_json("scopes", &g.scopes)?)
    .bind(g.created_at)
    .bind(g.updated_at)
    .execute(tx.conn())
    .await
    .map_err(unique)?;
    Ok(())
}

/// Replaces a grant's scopes.
pub async fn update_scopes(
    tx: &mut WriteTx,
    tenant_id: &str,
    id: &str,
    scopes: &[String],
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE client_grants SET scopes = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
    )
    .bind(to_json("scopes", scopes)?)
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// One grant of the tenant.
pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    id: &str,
) -> Result<Option<ClientGrantRow>, StoreError> {
    Ok(
        sqlx::query_as(&format!("{SELECT} WHERE g.tenant_id = $1 AND g.id = $2"))
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(ex)
            .await?,
    )
}

/// One grant of the tenant, locked (with its API) until `tx` ends: it is about to be written.
pub async fn get_for_update(
    tx: &mut WriteTx,
    tenant_id: &str,
    id: &str,
) -> Result<Option<ClientGrantRow>, StoreError> {
    let lock = tx.lock_suffix();
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE g.tenant_id = $1 AND g.id = $2{lock}"
    ))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// The scopes `client_id` is granted on the API `api_id`; `None` when it holds no grant for it.
pub async fn granted_scopes<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    client_id: &str,
    api_id: &str,
) -> Result<Option<Vec<String>>, StoreError> {
    #[derive(FromRow)]
    struct Scopes {
        #[sqlx(try_from = "JsonText")]
        scopes: Vec<String>,
    }
    let row: Option<Scopes> = sqlx::query_as(
        "SELECT scopes FROM client_grants WHERE tenant_id = $1 AND client_id = $2 AND api_id = $3",
    )
    .bind(tenant_id)
    .bind(client_id)
    .bind(api_id)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|r| r.scopes))
}

/// What a list of grants keeps: one application's, one audience's, or both (`None`: any).
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    /// Only this application's grants.
    pub client_id: Option<&'a str>,
    /// Only the grants on the API with this identifier.
    pub audience: Option<&'a str>,
}

/// Lists grants in id order.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    filter: Filter<'_>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<ClientGrantRow>, StoreError> {
    // An empty string never names an application or an API, so it stands for "any".
    let rows: Vec<ClientGrantRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE g.tenant_id = $1 AND g.id > $2 \
         AND ($3 = '' OR g.client_id = $3) AND ($4 = '' OR p.identifier = $4) \
         ORDER BY g.id LIMIT $5"
    ))
    .bind(tenant_id)
    .bind(cursor.unwrap_or(""))
    .bind(filter.client_id.unwrap_or(""))
    .bind(filter.audience.unwrap_or(""))
    .bind(limit + 1)
    .fetch_all(ex)
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
}

/// Deletes a grant.
pub async fn delete(tx: &mut WriteTx, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM client_grants WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}
