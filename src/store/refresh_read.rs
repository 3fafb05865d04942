//! A refresh grant's reads in one statement: the presented token, its user and, when the
//! tenant's flow runs hooks, the user's tenant-wide roles with their permissions.
//!
//! They were three statements on one connection; on PostgreSQL each is a round trip (and a
//! wake-up of the server's backend process), which the grant pays on every refresh. The user is
//! a `LEFT JOIN`, so a token whose user is gone still reads (the grant then refuses it), and the
//! roles are an aggregate of a correlated subquery, as JSON, since one row cannot hold a list.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::refresh_tokens::RefreshRow;
use super::roles::RolePermissions;
use super::users::{self, UserRow};
use std::future::Future;

use super::read_retried::Retryable;
use super::{Backend, Exec, Read, Store, StoreError};

/// What a refresh grant reads before it decides.
#[derive(Debug)]
pub struct RefreshRead {
    /// The presented token's row.
    pub token: RefreshRow,
    /// Its user, unless the user was deleted.
    pub user: Option<UserRow>,
    /// The user's tenant-wide roles by name, when asked for.
    pub roles: Option<Vec<RolePermissions>>,
}

/// [`token_user_roles`] on a read of its own ([`Store::read_retried`]: a `SELECT` runs again
/// as it ran the first time), and that read, for the statements that belong with it.
pub async fn read_token_user_roles(
    store: &Store,
    tenant_id: &str,
    hash: &str,
    with_roles: bool,
) -> Result<(Read, Option<RefreshRead>), StoreError> {
    store
        .read_retried(&TokenUserRoles {
            tenant_id,
            hash,
            with_roles,
        })
        .await
}

/// [`token_user_roles`]'s arguments, as a [`Retryable`] statement.
struct TokenUserRoles<'q> {
    tenant_id: &'q str,
    hash: &'q str,
    with_roles: bool,
}

impl Retryable for TokenUserRoles<'_> {
    type Out = Option<RefreshRead>;

    fn run<'a>(
        &'a self,
        ex: Exec<'a>,
    ) -> impl Future<Output = Result<Self::Out, StoreError>> + Send + 'a {
        token_user_roles(ex, self.tenant_id, self.hash, self.with_roles)
    }
}

/// The refresh token with keyed hash `hash` in `tenant_id`, its user and, if `with_roles`, the
/// user's roles; `None` when no such token exists.
pub async fn token_user_roles(
    ex: Exec<'_>,
    tenant_id: &str,
    hash: &str,
    with_roles: bool,
) -> Result<Option<RefreshRead>, StoreError> {
    let backend = ex.backend();
    let roles = match (with_roles, backend) {
        (false, _) => "NULL",
        (true, Backend::Postgres) => {
            "(SELECT COALESCE(json_agg(json_build_array(r.name, r.permissions::json) ORDER BY r.name), '[]')::text \
             FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = rt.user_id)"
        }
        (true, Backend::Sqlite) => {
            "(SELECT json_group_array(json_array(r.name, json(r.permissions))) \
             FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = rt.user_id)"
        }
    };
    let sql = format!(
        "SELECT u.*, {RT_COLS}, {roles} AS rt_roles \
         FROM refresh_tokens rt \
         LEFT JOIN (SELECT {cols} FROM users) u ON u.id = rt.user_id AND u.tenant_id = rt.tenant_id \
         WHERE rt.tenant_id = $1 AND rt.token_hash = $2",
        cols = users::COLS,
    );
    let Some(row) = sqlx::query(&sql)
        .bind(tenant_id)
        .bind(hash)
        .fetch_optional(ex)
        .await?
    else {
        return Ok(None);
    };
    let user = match row.try_get::<Option<String>, _>("id")? {
        Some(_) => Some(<UserRow as sqlx::FromRow<AnyRow>>::from_row(&row)?),
        None => None,
    };
    let roles = match row.try_get::<Option<String>, _>("rt_roles")? {
        Some(json) => Some(roles_of(&json, backend)?),
        None => None,
    };
    Ok(Some(RefreshRead {
        token: token_of(&row)?,
        user,
        roles,
    }))
}

/// The token's columns, renamed: the user's `tenant_id` and `created_at` keep their names.
const RT_COLS: &str = "rt.token_hash AS rt_token_hash, rt.family_id AS rt_family_id, \
    rt.tenant_id AS rt_tenant_id, rt.user_id AS rt_user_id, rt.client_id AS rt_client_id, \
    rt.org_id AS rt_org_id, rt.scope AS rt_scope, rt.audience AS rt_audience, \
    rt.auth_time AS rt_auth_time, rt.created_at AS rt_created_at, \
    rt.expires_at AS rt_expires_at, rt.used_at AS rt_used_at, rt.revoked_at AS rt_revoked_at, \
    rt.sid AS rt_sid";

fn token_of(row: &AnyRow) -> Result<RefreshRow, sqlx::Error> {
    Ok(RefreshRow {
        token_hash: row.try_get("rt_token_hash")?,
        family_id: row.try_get("rt_family_id")?,
        tenant_id: row.try_get("rt_tenant_id")?,
        user_id: row.try_get("rt_user_id")?,
        client_id: row.try_get("rt_client_id")?,
        org_id: row.try_get("rt_org_id")?,
        scope: row.try_get("rt_scope")?,
        audience: row.try_get("rt_audience")?,
        auth_time: row.try_get("rt_auth_time")?,
        created_at: row.try_get("rt_created_at")?,
        expires_at: row.try_get("rt_expires_at")?,
        used_at: row.try_get("rt_used_at")?,
        revoked_at: row.try_get("rt_revoked_at")?,
        sid: row.try_get("rt_sid")?,
    })
}

/// `[[name, [permission, ...]], ...]`, in the order [`super::roles::of_user`] gives: by name
/// in the database's collation. PostgreSQL's aggregate orders them; SQLite's `json_group_array`
/// promises no order, so they are sorted here, byte-wise, which is SQLite's default collation.
fn roles_of(json: &str, backend: Backend) -> Result<Vec<RolePermissions>, StoreError> {
    let pairs: Vec<(String, Vec<String>)> =
        serde_json::from_str(json).map_err(|e| StoreError::BadJson("roles.permissions", e))?;
    let mut roles: Vec<RolePermissions> = pairs
        .into_iter()
        .map(|(name, permissions)| RolePermissions { name, permissions })
        .collect();
    if backend == Backend::Sqlite {
        roles.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(roles)
}
