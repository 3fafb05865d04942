//! Organizations and memberships (with per-membership roles).

use serde_json::{Map, Value};
use sqlx::{Any, Executor, FromRow};

use super::types::JsonText;
use super::{Exec, Page, Store, StoreError, WriteTx, to_json, unique};

/// An organization row.
#[derive(Debug, Clone, FromRow)]
pub struct OrgRow {
    /// `org_...`
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Unique per tenant.
    pub name: String,
    /// Shown to people.
    pub display_name: Option<String>,
    /// Free-form object, readable by hooks.
    #[sqlx(try_from = "JsonText")]
    pub metadata: Map<String, Value>,
    /// The customer's own id.
    pub external_id: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

const COLS: &str =
    "id, tenant_id, name, display_name, metadata, external_id, created_at, updated_at";

/// Inserts an organization.
pub async fn insert(tx: &mut WriteTx, o: &OrgRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO organizations ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&o.id)
    .bind(&o.tenant_id)
    .bind(&o.name)
    .bind(&o.display_name)
    .bind(to_json("metadata", &o.metadata)?)
    .bind(&o.external_id)
    .bind(o.created_at)
    .bind(o.updated_at)
    .execute(tx.conn())
    .await
    .map_err(unique)?;
    Ok(())
}

/// Writes the mutable columns.
pub async fn update(tx: &mut WriteTx, o: &OrgRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE organizations SET name = $1, display_name = $2, metadata = $3, external_id = $4, \
         updated_at = $5 WHERE tenant_id = $6 AND id = $7",
    )
    .bind(&o.name)
    .bind(&o.display_name)
    .bind(to_json("metadata", &o.metadata)?)
    .bind(&o.external_id)
    .bind(o.updated_at)
    .bind(&o.tenant_id)
    .bind(&o.id)
    .execute(tx.conn())
    .await
    .map_err(unique)?;
    Ok(())
}

/// Which column an organization lookup matches.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// `org_...`
    Id(&'a str),
    /// External id.
    ExternalId(&'a str),
    /// Name (unique within the tenant).
    Name(&'a str),
}

impl By<'_> {
    fn column(self) -> (&'static str, String) {
        match self {
            By::Id(v) => ("id", v.to_string()),
            By::ExternalId(v) => ("external_id", v.to_string()),
            By::Name(v) => ("name", v.to_string()),
        }
    }
}

/// One organization.
pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    by: By<'_>,
) -> Result<Option<OrgRow>, StoreError> {
    let (col, val) = by.column();
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM organizations WHERE tenant_id = $1 AND {col} = $2"
    ))
    .bind(tenant_id)
    .bind(val)
    .fetch_optional(ex)
    .await?)
}

/// One organization, locked until `tx` ends (it is about to be written).
pub async fn get_for_update(
    tx: &mut WriteTx,
    tenant_id: &str,
    by: By<'_>,
) -> Result<Option<OrgRow>, StoreError> {
    let (col, val) = by.column();
    let lock = tx.lock_suffix();
    Ok(sqlx::query_as(&format!(
        "SELECT {COLS} FROM organizations WHERE tenant_id = $1 AND {col} = $2{lock}"
    ))
    .bind(tenant_id)
    .bind(val)
    .fetch_optional(tx.conn())
    .await?)
}

/// An organization named by its id or its name, as logins and previews accept either.
pub async fn by_id_or_name(
    store: &Store,
    tenant_id: &str,
    id_or_name: &str,
) -> Result<Option<OrgRow>, StoreError> {
    let mut read = store.read().await?;
    match get(read.conn(), tenant_id, By::Id(id_or_name)).await? {
        Some(o) => Ok(Some(o)),
        None => get(read.conn(), tenant_id, By::Name(id_or_name)).await,
    }
}

/// Which organizations a listing returns; `None` matches any.
#[derive(Debug, Clone, Copy)]
pub struct OrgListFilter<'a> {
    /// The external id, exactly.
    pub external_id: Option<&'a str>,
    /// The name, exactly.
    pub name: Option<&'a str>,
    /// The start of the name, ASCII letters in any case.
    pub name_prefix: Option<super::like::NamePrefix<'a>>,
}

/// Lists organizations, optionally filtered by external id or name.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    filter: &OrgListFilter<'_>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<OrgRow>, StoreError> {
    let named = super::like::NamePrefix::condition(filter.name_prefix, "name", 6);
    let rows: Vec<OrgRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM organizations WHERE tenant_id = $1 AND id > $2 \
         AND ($3 = '' OR external_id = $3) AND ($4 = '' OR name = $4) \
         AND {named} ORDER BY id LIMIT $5"
    ))
    .bind(tenant_id)
    .bind(cursor.unwrap_or(""))
    .bind(filter.external_id.unwrap_or(""))
    .bind(filter.name.unwrap_or(""))
    .bind(limit + 1)
    .bind(super::like::NamePrefix::pattern(filter.name_prefix))
    .fetch_all(ex)
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone()))
}

/// Deletes an organization; memberships go by cascade.
pub async fn delete(tx: &mut WriteTx, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM organizations WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A membership with the member's roles in that organization.
#[derive(Debug, Clone)]
pub struct MembershipRow {
    /// `org_...`
    pub organization_id: String,
    /// `usr_...`
    pub user_id: String,
    /// The organization's name.
    pub organization_name: String,
    /// The user's email.
    pub user_email: String,
    /// Epoch ms.
    pub created_at: i64,
    /// Role names, sorted.
    pub roles: Vec<String>,
}

/// Adds a membership; an existing one is a conflict on `user_id`.
pub async fn add_member(
    tx: &mut WriteTx,
    tenant_id: &str,
    org_id: &str,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO memberships (organization_id, user_id, tenant_id, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(tenant_id)
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(unique)?;
    Ok(())
}

/// Replaces the member's roles in the organization.
pub async fn set_member_roles(
    tx: &mut WriteTx,
    org_id: &str,
    user_id: &str,
    role_ids: &[String],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM membership_roles WHERE organization_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    for role_id in role_ids {
        sqlx::query(
            "INSERT INTO membership_roles (organization_id, user_id, role_id) VALUES ($1, $2, $3)",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(role_id)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// One membership, if the user belongs to the organization.
pub async fn member(
    mut conn: Exec<'_>,
    org_id: &str,
    user_id: &str,
) -> Result<Option<MembershipRow>, StoreError> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT m.created_at, o.name, u.email FROM memberships m \
         JOIN organizations o ON o.id = m.organization_id JOIN users u ON u.id = m.user_id \
         WHERE m.organization_id = $1 AND m.user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn.reborrow())
    .await?;
    let Some((created_at, organization_name, user_email)) = row else {
        return Ok(None);
    };
    let roles = member_roles(conn.reborrow(), org_id, user_id).await?;
    Ok(Some(MembershipRow {
        organization_id: org_id.to_string(),
        user_id: user_id.to_string(),
        organization_name,
        user_email,
        created_at,
        roles: roles.unwrap_or_default(),
    }))
}

/// The user's role names in the organization (sorted), or `None` when they are not a member:
/// one statement, for logins, which need no more of the membership.
pub async fn member_roles(
    mut conn: Exec<'_>,
    org_id: &str,
    user_id: &str,
) -> Result<Option<Vec<String>>, StoreError> {
    // A member without roles is one row whose name is NULL; a non-member is no row.
    let rows: Vec<(Option<String>,)> = sqlx::query_as(
        "SELECT r.name FROM memberships m \
         LEFT JOIN membership_roles mr \
           ON mr.organization_id = m.organization_id AND mr.user_id = m.user_id \
         LEFT JOIN roles r ON r.id = mr.role_id \
         WHERE m.organization_id = $1 AND m.user_id = $2 ORDER BY r.name",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_all(conn.reborrow())
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(rows.into_iter().filter_map(|(n,)| n).collect()))
}

/// Which side of the membership a listing walks.
#[derive(Debug, Clone, Copy)]
pub enum Members<'a> {
    /// Members of this organization, paged by user id.
    OfOrg(&'a str),
    /// Organizations of this user, paged by organization id.
    OfUser(&'a str),
}

/// Lists memberships with their roles.
pub async fn list_members(
    mut conn: Exec<'_>,
    which: Members<'_>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<MembershipRow>, StoreError> {
    let (filter, page_col, key) = match which {
        Members::OfOrg(org) => ("organization_id", "user_id", org),
        Members::OfUser(user) => ("user_id", "organization_id", user),
    };
    type Listed = (String, String, i64, String, String);
    let rows: Vec<Listed> = sqlx::query_as(&format!(
        "SELECT m.organization_id, m.user_id, m.created_at, o.name, u.email FROM memberships m \
         JOIN organizations o ON o.id = m.organization_id JOIN users u ON u.id = m.user_id \
         WHERE m.{filter} = $1 AND m.{page_col} > $2 ORDER BY m.{page_col} LIMIT $3"
    ))
    .bind(key)
    .bind(cursor.unwrap_or(""))
    .bind(limit + 1)
    .fetch_all(conn.reborrow())
    .await?;
    let page = Page::from_rows(rows, limit, |(o, u, ..)| match which {
        Members::OfOrg(_) => u.clone(),
        Members::OfUser(_) => o.clone(),
    });
    let mut items: Vec<MembershipRow> = page
        .items
        .into_iter()
        .map(
            |(organization_id, user_id, created_at, organization_name, user_email)| MembershipRow {
                organization_id,
                user_id,
                organization_name,
                user_email,
                created_at,
                roles: Vec::new(),
            },
        )
        .collect();
    // The page's roles in one read: those of the memberships from the first row's key to the
    // last's.
    let side = |m: &MembershipRow| match which {
        Members::OfOrg(_) => m.user_id.clone(),
        Members::OfUser(_) => m.organization_id.clone(),
    };
    if let (Some(first), Some(last)) = (items.first().map(side), items.last().map(side)) {
        let roles: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT mr.{page_col}, r.name FROM membership_roles mr JOIN roles r ON r.id = mr.role_id \
             WHERE mr.{filter} = $1 AND mr.{page_col} >= $2 AND mr.{page_col} <= $3 ORDER BY r.name"
        ))
        .bind(key)
        .bind(&first)
        .bind(&last)
        .fetch_all(conn.reborrow())
        .await?;
        let at: std::collections::HashMap<String, usize> = items
            .iter()
            .enumerate()
            .map(|(i, m)| (side(m), i))
            .collect();
        for (k, name) in roles {
            if let Some(&i) = at.get(&k) {
                items[i].roles.push(name);
            }
        }
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Removes a membership (its roles go by cascade).
pub async fn remove_member(
    tx: &mut WriteTx,
    org_id: &str,
    user_id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}
