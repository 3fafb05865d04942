//! Applications (OAuth clients).

use sqlx::{Any, AnyConnection, Executor, FromRow};

use super::{Page, StoreError, unique};

/// An application row. List-valued settings are JSON arrays.
#[derive(Debug, Clone, FromRow)]
pub struct AppRow {
    /// The OAuth `client_id`.
    pub client_id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Shown on the login page.
    pub name: String,
    /// `confidential` or `public`.
    pub client_type: String,
    /// HMAC of the client secret (confidential clients only).
    pub secret_hash: Option<String>,
    /// JSON array, exact-match list.
    pub redirect_uris: String,
    /// JSON array, exact-match list.
    pub post_logout_redirect_uris: String,
    /// JSON array of origins.
    pub allowed_web_origins: String,
    /// JSON array of grant type names.
    pub grant_types: String,
    /// JSON object.
    pub client_metadata: String,
    /// Seconds.
    pub id_token_lifetime: i64,
    /// Seconds.
    pub access_token_lifetime: i64,
    /// Seconds.
    pub refresh_token_lifetime: i64,
    /// `RS256`, `ES256` or `EdDSA`.
    pub signing_alg: String,
    /// 0/1: first-party apps skip consent.
    pub first_party: i64,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

const COLS: &str = "client_id, tenant_id, name, client_type, secret_hash, redirect_uris, \
    post_logout_redirect_uris, allowed_web_origins, grant_types, client_metadata, \
    id_token_lifetime, access_token_lifetime, refresh_token_lifetime, signing_alg, first_party, \
    created_at, updated_at";

/// Inserts an application.
pub async fn insert(conn: &mut AnyConnection, a: &AppRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO applications ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17)"
    ))
    .bind(&a.client_id)
    .bind(&a.tenant_id)
    .bind(&a.name)
    .bind(&a.client_type)
    .bind(&a.secret_hash)
    .bind(&a.redirect_uris)
    .bind(&a.post_logout_redirect_uris)
    .bind(&a.allowed_web_origins)
    .bind(&a.grant_types)
    .bind(&a.client_metadata)
    .bind(a.id_token_lifetime)
    .bind(a.access_token_lifetime)
    .bind(a.refresh_token_lifetime)
    .bind(&a.signing_alg)
    .bind(a.first_party)
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(conn)
    .await
    .map_err(|e| unique(e, &[("client_id", "client_id")]))?;
    Ok(())
}

/// Writes every mutable column.
pub async fn update(conn: &mut AnyConnection, a: &AppRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE applications SET name = $1, secret_hash = $2, redirect_uris = $3, \
         post_logout_redirect_uris = $4, allowed_web_origins = $5, grant_types = $6, \
         client_metadata = $7, id_token_lifetime = $8, access_token_lifetime = $9, \
         refresh_token_lifetime = $10, signing_alg = $11, first_party = $12, updated_at = $13 \
         WHERE tenant_id = $14 AND client_id = $15",
    )
    .bind(&a.name)
    .bind(&a.secret_hash)
    .bind(&a.redirect_uris)
    .bind(&a.post_logout_redirect_uris)
    .bind(&a.allowed_web_origins)
    .bind(&a.grant_types)
    .bind(&a.client_metadata)
    .bind(a.id_token_lifetime)
    .bind(a.access_token_lifetime)
    .bind(a.refresh_token_lifetime)
    .bind(&a.signing_alg)
    .bind(a.first_party)
    .bind(a.updated_at)
    .bind(&a.tenant_id)
    .bind(&a.client_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// One application of the tenant.
pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    client_id: &str,
    lock: &str,
) -> Result<Option<AppRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM applications WHERE tenant_id = $1 AND client_id = $2{lock}"
    ))
    .bind(tenant_id)
    .bind(client_id)
    .fetch_optional(ex)
    .await?)
}

/// Lists applications in client_id order.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<AppRow>, StoreError> {
    let rows: Vec<AppRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM applications WHERE tenant_id = $1 AND client_id > $2 \
         ORDER BY client_id LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(cursor.unwrap_or(""))
    .bind(limit + 1)
    .fetch_all(ex)
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.client_id.clone()))
}

/// Deletes an application.
pub async fn delete(
    conn: &mut AnyConnection,
    tenant_id: &str,
    client_id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM applications WHERE tenant_id = $1 AND client_id = $2")
        .bind(tenant_id)
        .bind(client_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether any application of the tenant lists `origin` among its allowed web origins (CORS).
pub async fn origin_allowed(
    store: &super::Store,
    tenant_name: &str,
    origin: &str,
) -> Result<bool, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT a.allowed_web_origins FROM applications a JOIN tenants t ON t.id = a.tenant_id \
         WHERE t.name = $1",
    )
    .bind(tenant_name)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.iter().any(|(json,)| {
        serde_json::from_str::<Vec<String>>(json).is_ok_and(|list| list.iter().any(|o| o == origin))
    }))
}
