//! Users, their tenant-wide roles, and lookups the login path will use.

use serde_json::{Map, Value};
use sqlx::{Any, Executor, FromRow};

use super::types::{Flag, JsonText};
use super::{Page, StoreError, WriteTx, flag, to_json, unique};

/// A user row as stored.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    /// `usr_...`
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The email as given.
    pub email: String,
    /// Lower-cased (Unicode) email, unique per tenant.
    pub email_normalized: String,
    /// Whether the email was verified.
    #[sqlx(try_from = "Flag")]
    pub email_verified: bool,
    /// argon2id (or an imported argon2/bcrypt hash until the next login).
    pub password_hash: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Casual name (OIDC `nickname`).
    pub nickname: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// A blocked user cannot log in.
    #[sqlx(try_from = "Flag")]
    pub blocked: bool,
    /// Free-form object the user may see.
    #[sqlx(try_from = "JsonText")]
    pub user_metadata: Map<String, Value>,
    /// Free-form object for the application only.
    #[sqlx(try_from = "JsonText")]
    pub app_metadata: Map<String, Value>,
    /// The customer's own id, unique per tenant when set.
    pub external_id: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
    /// Epoch ms.
    pub last_login: Option<i64>,
    /// Successful logins.
    pub logins_count: i64,
}

pub(super) const COLS: &str = "id, tenant_id, email, email_normalized, email_verified, password_hash, name, \
    given_name, family_name, nickname, picture, blocked, user_metadata, app_metadata, external_id, \
    created_at, updated_at, last_login, logins_count";

/// Inserts a user.
pub async fn insert(tx: &mut WriteTx, u: &UserRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO users ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18, $19)"
    ))
    .bind(&u.id)
    .bind(&u.tenant_id)
    .bind(&u.email)
    .bind(&u.email_normalized)
    .bind(flag(u.email_verified))
    .bind(&u.password_hash)
    .bind(&u.name)
    .bind(&u.given_name)
    .bind(&u.family_name)
    .bind(&u.nickname)
    .bind(&u.picture)
    .bind(flag(u.blocked))
    .bind(to_json("user_metadata", &u.user_metadata)?)
    .bind(to_json("app_metadata", &u.app_metadata)?)
    .bind(&u.external_id)
    .bind(u.created_at)
    .bind(u.updated_at)
    .bind(u.last_login)
    .bind(u.logins_count)
    .execute(tx.conn())
    .await
    .map_err(unique)?;
    Ok(())
}

/// Writes every mutable column of `u` (the caller read and locked the row first).
pub async fn update(tx: &mut WriteTx, u: &UserRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE users SET email = $1, email_normalized = $2, email_verified = $3, \
         password_hash = $4, name = $5, given_name = $6, family_name = $7, nickname = $8, \
         picture = $9, blocked = $10, user_metadata = $11, app_metadata = $12, external_id = $13, \
         updated_at = $14, last_login = $15, logins_count = $16 WHERE tenant_id = $17 AND id = $18",
    )
    .bind(&u.email)
    .bind(&u.email_normalized)
    .bind(flag(u.email_verified))
    .bind(&u.password_hash)
    .bind(&u.name)
    .bind(&u.given_name)
    .bind(&u.family_name)
    .bind(&u.nickname)
    .bind(&u.picture)
    .bind(flag(u.blocked))
    .bind(to_json("user_metadata", &u.user_metadata)?)
    .bind(to_json("app_metadata", &u.app_metadata)?)
    .bind(&u.external_id)
    .bind(u.updated_at)
    .bind(u.last_login)
    .bind(u.logins_count)
    .bind(&u.tenant_id)
    .bind(&u.id)
    .execute(tx.conn())
    .await
    .map_err(unique)?;
    Ok(())
}

/// Which column a lookup matches.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// `usr_...`
    Id(&'a str),
    /// Normalized email.
    Email(&'a str),
    /// External id.
    ExternalId(&'a str),
}

impl By<'_> {
    fn column(self) -> (&'static str, String) {
        match self {
            By::Id(v) => ("id", v.to_string()),
            By::Email(v) => ("email_normalized", v.to_string()),
            By::ExternalId(v) => ("external_id", v.to_string()),
        }
    }
}

/// One user of the tenant.
pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    by: By<'_>,
) -> Result<Option<UserRow>, StoreError> {
    let (col, val) = by.column();
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM users WHERE tenant_id = $1 AND {col} = $2"
    ))
    .bind(tenant_id)
    .bind(val)
    .fetch_optional(ex)
    .await?)
}

/// One user of the tenant, locked until `tx` ends (it is about to be written).
pub async fn get_for_update(
    tx: &mut WriteTx,
    tenant_id: &str,
    by: By<'_>,
) -> Result<Option<UserRow>, StoreError> {
    let (col, val) = by.column();
    let lock = tx.lock_suffix();
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM users WHERE tenant_id = $1 AND {col} = $2{lock}"
    ))
    .bind(tenant_id)
    .bind(val)
    .fetch_optional(tx.conn())
    .await?)
}

/// Which users a listing returns; `None` matches any.
#[derive(Debug, Default, Clone, Copy)]
pub struct UserListFilter<'a> {
    /// The normalized email, exactly.
    pub email: Option<&'a str>,
    /// The external id, exactly.
    pub external_id: Option<&'a str>,
    /// The start of the normalized email.
    pub email_prefix: Option<&'a str>,
}

/// Lists users in id order, filtered by `filter`. A prefix is matched with `LIKE` on the
/// tenant's users in id order, so a rare prefix in a large tenant reads many rows for a page.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    filter: &UserListFilter<'_>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<UserRow>, StoreError> {
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM users WHERE tenant_id = $1 AND id > $2 \
         AND ($3 = '' OR email_normalized = $3) AND ($4 = '' OR external_id = $4) \
         AND ($6 = '' OR email_normalized LIKE $6 ESCAPE '\\') \
         ORDER BY id LIMIT $5"
    ))
    .bind(tenant_id)
    .bind(cursor.unwrap_or(""))
    .bind(filter.email.unwrap_or(""))
    .bind(filter.external_id.unwrap_or(""))
    .bind(limit + 1)
    .bind(
        filter
            .email_prefix
            .map(super::like::starting_with)
            .unwrap_or_default(),
    )
    .fetch_all(ex)
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
}

/// Deletes a user (memberships and role grants go by cascade).
pub async fn delete(tx: &mut WriteTx, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Names of the user's tenant-wide roles, sorted.
pub async fn role_names<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = $1 ORDER BY r.name",
    )
    .bind(user_id)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Grants roles (ids) to a user; already-held roles are left as they are.
pub async fn add_roles(
    tx: &mut WriteTx,
    user_id: &str,
    role_ids: &[String],
) -> Result<(), StoreError> {
    for role_id in role_ids {
        sqlx::query(
            "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(role_id)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Removes every tenant-wide role of a user.
pub async fn clear_roles(tx: &mut WriteTx, user_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Removes one role from a user; false when the user did not hold it.
pub async fn remove_role(
    tx: &mut WriteTx,
    user_id: &str,
    role_id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2")
        .bind(user_id)
        .bind(role_id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Normalizes an email for uniqueness: trimmed and lower-cased per Unicode (not only ASCII, so
/// `ÉMILE@x` and `émile@x` are one account).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}
