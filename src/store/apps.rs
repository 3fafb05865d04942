//! Applications (OAuth clients).

use std::sync::Arc;

use serde_json::{Map, Value};
use sqlx::{Any, Executor, FromRow};

use super::changes::{self, Cached};
use super::like::NamePrefix;
use super::types::{Flag, JsonText};
use super::{
    ClientType, GrantType, Page, SigningAlg, Store, StoreError, WriteTx, flag, to_json, unique,
};

/// An application row. List-valued settings are stored as JSON arrays and decoded here.
#[derive(Debug, Clone, FromRow)]
pub struct AppRow {
    /// The OAuth `client_id`.
    pub client_id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Shown on the login page.
    pub name: String,
    /// Confidential or public.
    #[sqlx(try_from = "String")]
    pub client_type: ClientType,
    /// HMAC of the client secret (confidential clients only).
    pub secret_hash: Option<String>,
    /// Exact-match list.
    #[sqlx(try_from = "JsonText")]
    pub redirect_uris: Vec<String>,
    /// Exact-match list.
    #[sqlx(try_from = "JsonText")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Origins allowed to call the token endpoints from a browser.
    #[sqlx(try_from = "JsonText")]
    pub allowed_web_origins: Vec<String>,
    /// The grant types the application may use.
    #[sqlx(try_from = "JsonText")]
    pub grant_types: Vec<GrantType>,
    /// Free-form object, readable by hooks.
    #[sqlx(try_from = "JsonText")]
    pub client_metadata: Map<String, Value>,
    /// Lifetime of ID tokens, in seconds.
    pub id_token_lifetime: i64,
    /// Lifetime of access tokens, in seconds.
    pub access_token_lifetime: i64,
    /// Lifetime of refresh tokens, in seconds.
    pub refresh_token_lifetime: i64,
    /// What its tokens are signed with.
    #[sqlx(try_from = "String")]
    pub signing_alg: SigningAlg,
    /// First-party apps skip consent.
    #[sqlx(try_from = "Flag")]
    pub first_party: bool,
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
pub async fn insert(tx: &mut WriteTx, a: &AppRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO applications ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17)"
    ))
    .bind(&a.client_id)
    .bind(&a.tenant_id)
    .bind(&a.name)
    .bind(a.client_type.as_str())
    .bind(&a.secret_hash)
    .bind(to_json("redirect_uris", &a.redirect_uris)?)
    .bind(to_json(
        "post_logout_redirect_uris",
        &a.post_logout_redirect_uris,
    )?)
    .bind(to_json("allowed_web_origins", &a.allowed_web_origins)?)
    .bind(to_json("grant_types", &a.grant_types)?)
    .bind(to_json("client_metadata", &a.client_metadata)?)
    .bind(a.id_token_lifetime)
    .bind(a.access_token_lifetime)
    .bind(a.refresh_token_lifetime)
    .bind(a.signing_alg.as_str())
    .bind(flag(a.first_party))
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(tx.conn())
    .await
    .map_err(unique)?;
    Ok(())
}

/// Writes every mutable column.
pub async fn update(tx: &mut WriteTx, a: &AppRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE applications SET name = $1, secret_hash = $2, redirect_uris = $3, \
         post_logout_redirect_uris = $4, allowed_web_origins = $5, grant_types = $6, \
         client_metadata = $7, id_token_lifetime = $8, access_token_lifetime = $9, \
         refresh_token_lifetime = $10, signing_alg = $11, first_party = $12, updated_at = $13 \
         WHERE tenant_id = $14 AND client_id = $15",
    )
    .bind(&a.name)
    .bind(&a.secret_hash)
    .bind(to_json("redirect_uris", &a.redirect_uris)?)
    .bind(to_json(
        "post_logout_redirect_uris",
        &a.post_logout_redirect_uris,
    )?)
    .bind(to_json("allowed_web_origins", &a.allowed_web_origins)?)
    .bind(to_json("grant_types", &a.grant_types)?)
    .bind(to_json("client_metadata", &a.client_metadata)?)
    .bind(a.id_token_lifetime)
    .bind(a.access_token_lifetime)
    .bind(a.refresh_token_lifetime)
    .bind(a.signing_alg.as_str())
    .bind(flag(a.first_party))
    .bind(a.updated_at)
    .bind(&a.tenant_id)
    .bind(&a.client_id)
    .execute(tx.conn())
    .await?;
    changes::announce(tx, Cached::Apps, &a.tenant_id).await?;
    Ok(())
}

/// One application of the tenant.
pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    client_id: &str,
) -> Result<Option<AppRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM applications WHERE tenant_id = $1 AND client_id = $2"
    ))
    .bind(tenant_id)
    .bind(client_id)
    .fetch_optional(ex)
    .await?)
}

/// One application of the tenant, locked until `tx` ends (it is about to be written).
pub async fn get_for_update(
    tx: &mut WriteTx,
    tenant_id: &str,
    client_id: &str,
) -> Result<Option<AppRow>, StoreError> {
    let lock = tx.lock_suffix();
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM applications WHERE tenant_id = $1 AND client_id = $2{lock}"
    ))
    .bind(tenant_id)
    .bind(client_id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Lists applications in client_id order.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    search: Option<NamePrefix<'_>>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<AppRow>, StoreError> {
    let named = NamePrefix::condition(search, "name", 4);
    let rows: Vec<AppRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM applications WHERE tenant_id = $1 AND client_id > $2 \
         AND {named} ORDER BY client_id LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(cursor.unwrap_or(""))
    .bind(limit + 1)
    .bind(NamePrefix::pattern(search))
    .fetch_all(ex)
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.client_id.clone()))
}

/// An application found by the prefix of its client id ([`with_prefix`]), with its tenant's
/// name and the addresses it may send browsers to.
#[derive(Debug, Clone, FromRow)]
pub struct PrefixedApp {
    /// The OAuth `client_id`.
    pub client_id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The owning tenant's name.
    pub tenant_name: String,
    /// Exact-match list.
    #[sqlx(try_from = "JsonText")]
    pub redirect_uris: Vec<String>,
    /// Exact-match list.
    #[sqlx(try_from = "JsonText")]
    pub post_logout_redirect_uris: Vec<String>,
}

/// Every tenant's application whose client id starts with `prefix`, in client-id order.
pub async fn with_prefix<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    prefix: &str,
) -> Result<Vec<PrefixedApp>, StoreError> {
    // A comparison, not LIKE: `_` in an id would be a wildcard there.
    Ok(sqlx::query_as(
        "SELECT a.client_id, a.tenant_id, t.name AS tenant_name, a.redirect_uris, \
         a.post_logout_redirect_uris FROM applications a JOIN tenants t ON t.id = a.tenant_id \
         WHERE substr(a.client_id, 1, length($1)) = $1 ORDER BY a.client_id",
    )
    .bind(prefix)
    .fetch_all(ex)
    .await?)
}

/// Deletes an application.
pub async fn delete(
    tx: &mut WriteTx,
    tenant_id: &str,
    client_id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM applications WHERE tenant_id = $1 AND client_id = $2")
        .bind(tenant_id)
        .bind(client_id)
        .execute(tx.conn())
        .await?;
    changes::announce(tx, Cached::Apps, tenant_id).await?;
    Ok(done.rows_affected() == 1)
}

/// One application of the tenant, from this node's copy when it has a fresh one
/// ([`super::hot`]): what the token endpoint authenticates clients against.
pub async fn get_hot(
    store: &Store,
    tenant_id: &str,
    client_id: &str,
    now: i64,
) -> Result<Option<Arc<AppRow>>, StoreError> {
    let generation = match store.hot.app(tenant_id, client_id, now) {
        Ok(row) => return Ok(Some(row)),
        Err(generation) => generation,
    };
    let Some(row) = get(store.read().await?.conn(), tenant_id, client_id).await? else {
        return Ok(None);
    };
    let row = Arc::new(row);
    store.hot.keep_app(row.clone(), now, generation);
    Ok(Some(row))
}

/// One application's allowed web origins.
#[derive(FromRow)]
struct Origins {
    #[sqlx(try_from = "JsonText")]
    allowed_web_origins: Vec<String>,
}

/// Whether any application of the tenant lists `origin` among its allowed web origins (CORS).
/// A corrupt list is an error, not "not allowed".
pub async fn origin_allowed(
    store: &super::Store,
    tenant_name: &str,
    origin: &str,
) -> Result<bool, StoreError> {
    let rows: Vec<Origins> = sqlx::query_as(
        "SELECT a.allowed_web_origins FROM applications a JOIN tenants t ON t.id = a.tenant_id \
         WHERE t.name = $1",
    )
    .bind(tenant_name)
    .fetch_all(store.read().await?.conn())
    .await?;
    Ok(rows
        .iter()
        .any(|r| r.allowed_web_origins.iter().any(|o| o == origin)))
}
