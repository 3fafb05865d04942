//! Organizations and memberships.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::users::{MetadataOp, apply_metadata, resolve_roles};
use super::{ManageError, Page, PageParams, Result, TenantCtx, nullable, record, validate};
use crate::clock::rfc3339;
use crate::db::Db;
use crate::ids::{IdKind, new_id};
use crate::store::WriteTx;
use crate::store::orgs::{self as store, By, Members, MembershipRow, OrgRow};
use crate::store::users as user_store;

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct Organization {
    /// `org_...`
    pub id: String,
    /// Unique per tenant.
    pub name: String,
    /// Shown to people.
    pub display_name: Option<String>,
    /// JSON object.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// The customer's own id.
    pub external_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

fn view(r: OrgRow) -> Result<Organization> {
    Ok(Organization {
        metadata: Value::Object(r.metadata),
        id: r.id,
        name: r.name,
        display_name: r.display_name,
        external_id: r.external_id,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
    })
}

/// Body of `POST /organizations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    /// Unique per tenant, 1 to 255 characters.
    pub name: String,
    /// Shown to people.
    pub display_name: Option<String>,
    /// JSON object, at most 16 KB.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Up to 128 characters, unique per tenant.
    pub external_id: Option<String>,
}

/// Body of `PATCH /organizations/{id}`; `metadata` merges.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    /// New name.
    pub name: Option<String>,
    /// Display name (null clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    /// External id (null clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    /// Merged into `metadata`.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// Filters for the organization listing.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgFilter {
    /// Exact external id.
    pub external_id: Option<String>,
    /// Exact name.
    pub name: Option<String>,
    /// The start of the name, ASCII letters in any case (`glo` finds `Globex`).
    pub name_prefix: Option<String>,
}

/// Creates an organization.
pub async fn create(db: &Db, ctx: &TenantCtx, input: CreateOrg) -> Result<Organization> {
    validate::text("name", &input.name, 255)?;
    validate::opt_text("display_name", input.display_name.as_deref(), 255)?;
    validate::external_id(input.external_id.as_deref())?;
    let now = db.now();
    let row = OrgRow {
        id: new_id(IdKind::Organization, now),
        tenant_id: ctx.tenant_id.clone(),
        name: input.name,
        display_name: input.display_name,
        metadata: validate::metadata_object("metadata", input.metadata.as_ref())?,
        external_id: input.external_id,
        created_at: now,
        updated_at: now,
    };
    let mut tx = db.store.begin_write().await?;
    store::insert(&mut tx, &row).await?;
    register_metadata(&mut tx, &row).await?;
    let summary = json!({"name": row.name, "external_id": row.external_id});
    record(
        &mut tx,
        now,
        ctx,
        "create",
        "organization",
        &row.id,
        summary,
    )
    .await?;
    tx.commit().await?;
    view(row)
}

async fn load(db: &Db, ctx: &TenantCtx, by: By<'_>) -> Result<Organization> {
    store::get(db.store.read().await?.conn(), &ctx.tenant_id, by)
        .await?
        .ok_or(ManageError::NotFound("organization"))
        .and_then(view)
}

/// An organization by id.
pub async fn get(db: &Db, ctx: &TenantCtx, id: &str) -> Result<Organization> {
    load(db, ctx, By::Id(id)).await
}

/// An organization by external id.
pub async fn get_by_external_id(db: &Db, ctx: &TenantCtx, ext: &str) -> Result<Organization> {
    load(db, ctx, By::ExternalId(ext)).await
}

/// Lists organizations.
pub async fn list(
    db: &Db,
    ctx: &TenantCtx,
    filter: &OrgFilter,
    page: &PageParams,
) -> Result<Page<Organization>> {
    let name_prefix = super::name_search(filter.name_prefix.as_deref(), db.store.backend())?;
    let rows = store::list(
        db.store.read().await?.conn(),
        &ctx.tenant_id,
        &store::OrgListFilter {
            external_id: filter.external_id.as_deref(),
            name: filter.name.as_deref(),
            name_prefix,
        },
        page.cursor(),
        page.limit()?,
    )
    .await?;
    Page::from_store(rows, view)
}

async fn lock(tx: &mut WriteTx, ctx: &TenantCtx, id: &str) -> Result<OrgRow> {
    store::get_for_update(tx, &ctx.tenant_id, By::Id(id))
        .await?
        .ok_or(ManageError::NotFound("organization"))
}

/// Applies a PATCH.
pub async fn update(db: &Db, ctx: &TenantCtx, id: &str, input: UpdateOrg) -> Result<Organization> {
    if let Some(n) = &input.name {
        validate::text("name", n, 255)?;
    }
    if let Some(Some(d)) = &input.display_name {
        validate::text("display_name", d, 255)?;
    }
    if let Some(e) = &input.external_id {
        validate::external_id(e.as_deref())?;
    }
    let mut changed = Vec::new();
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(&mut tx, ctx, id).await?;
    if let Some(n) = input.name {
        row.name = n;
        changed.push("name");
    }
    if let Some(d) = input.display_name {
        row.display_name = d;
        changed.push("display_name");
    }
    if let Some(e) = input.external_id {
        row.external_id = e;
        changed.push("external_id");
    }
    if let Some(p) = &input.metadata {
        row.metadata = apply_metadata("metadata", &row.metadata, p, MetadataOp::Merge)?;
        changed.push("metadata");
    }
    row.updated_at = db.now();
    store::update(&mut tx, &row).await?;
    if input.metadata.is_some() {
        register_metadata(&mut tx, &row).await?;
    }
    record(
        &mut tx,
        db.now(),
        ctx,
        "update",
        "organization",
        id,
        json!({"fields": changed}),
    )
    .await?;
    tx.commit().await?;
    view(row)
}

/// Merges into or replaces the organization's metadata under the row lock.
pub async fn write_metadata(
    db: &Db,
    ctx: &TenantCtx,
    id: &str,
    op: MetadataOp,
    patch: Value,
) -> Result<Value> {
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(&mut tx, ctx, id).await?;
    row.metadata = apply_metadata("metadata", &row.metadata, &patch, op)?;
    row.updated_at = db.now();
    store::update(&mut tx, &row).await?;
    register_metadata(&mut tx, &row).await?;
    let keys: Vec<&String> = patch
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    let summary = json!({"field": "metadata", "keys": keys});
    record(
        &mut tx,
        db.now(),
        ctx,
        "write_metadata",
        "organization",
        id,
        summary,
    )
    .await?;
    tx.commit().await?;
    Ok(Value::Object(row.metadata))
}

/// Deletes an organization and its memberships.
pub async fn delete(db: &Db, ctx: &TenantCtx, id: &str) -> Result<()> {
    let mut tx = db.store.begin_write().await?;
    if !store::delete(&mut tx, &ctx.tenant_id, id).await? {
        return Err(ManageError::NotFound("organization"));
    }
    record(
        &mut tx,
        db.now(),
        ctx,
        "delete",
        "organization",
        id,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A user's membership of an organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct Membership {
    /// `org_...`
    pub organization_id: String,
    /// `usr_...`
    pub user_id: String,
    /// The organization's name, as it is now.
    pub organization_name: String,
    /// The user's email, as it is now.
    pub user_email: String,
    /// Role names in this organization.
    pub roles: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
}

impl From<MembershipRow> for Membership {
    fn from(m: MembershipRow) -> Self {
        Membership {
            organization_id: m.organization_id,
            user_id: m.user_id,
            organization_name: m.organization_name,
            user_email: m.user_email,
            roles: m.roles,
            created_at: rfc3339(m.created_at),
        }
    }
}

/// Body of `POST /organizations/{id}/members`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// The user (`usr_...`) of this tenant.
    pub user_id: String,
    /// Role names for this membership.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Body of `PUT /organizations/{id}/members/{user_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// The membership's roles (replaces the current set).
    pub roles: Vec<String>,
}

/// Adds a user to an organization with roles, in one transaction.
pub async fn add_member(
    db: &Db,
    ctx: &TenantCtx,
    org_id: &str,
    input: AddMember,
) -> Result<Membership> {
    let mut tx = db.store.begin_write().await?;
    lock(&mut tx, ctx, org_id).await?;
    // The user must be of this tenant: ids of another tenant's users are "not found" here.
    if user_store::get(
        tx.conn(),
        &ctx.tenant_id,
        user_store::By::Id(&input.user_id),
    )
    .await?
    .is_none()
    {
        return Err(super::invalid("user_id", "no such user in this tenant"));
    }
    let role_ids = resolve_roles(&mut tx, &ctx.tenant_id, "roles", &input.roles).await?;
    store::add_member(&mut tx, &ctx.tenant_id, org_id, &input.user_id, db.now()).await?;
    store::set_member_roles(&mut tx, org_id, &input.user_id, &role_ids).await?;
    let summary = json!({"user_id": input.user_id, "roles": input.roles});
    record(
        &mut tx,
        db.now(),
        ctx,
        "add_member",
        "organization",
        org_id,
        summary,
    )
    .await?;
    let m = store::member(tx.conn(), org_id, &input.user_id)
        .await?
        .ok_or(ManageError::NotFound("membership"))?;
    tx.commit().await?;
    Ok(m.into())
}

/// One membership.
pub async fn member(db: &Db, ctx: &TenantCtx, org_id: &str, user_id: &str) -> Result<Membership> {
    get(db, ctx, org_id).await?;
    store::member(db.store.read().await?.conn(), org_id, user_id)
        .await?
        .map(Membership::from)
        .ok_or(ManageError::NotFound("membership"))
}

/// Replaces a member's roles.
pub async fn update_member(
    db: &Db,
    ctx: &TenantCtx,
    org_id: &str,
    user_id: &str,
    input: UpdateMember,
) -> Result<Membership> {
    let mut tx = db.store.begin_write().await?;
    lock(&mut tx, ctx, org_id).await?;
    if store::member_roles(tx.conn(), org_id, user_id)
        .await?
        .is_none()
    {
        return Err(ManageError::NotFound("membership"));
    }
    let role_ids = resolve_roles(&mut tx, &ctx.tenant_id, "roles", &input.roles).await?;
    store::set_member_roles(&mut tx, org_id, user_id, &role_ids).await?;
    let summary = json!({"user_id": user_id, "roles": input.roles});
    record(
        &mut tx,
        db.now(),
        ctx,
        "update_member",
        "organization",
        org_id,
        summary,
    )
    .await?;
    let m = store::member(tx.conn(), org_id, user_id)
        .await?
        .ok_or(ManageError::NotFound("membership"))?;
    tx.commit().await?;
    Ok(m.into())
}

/// Removes a member.
pub async fn remove_member(db: &Db, ctx: &TenantCtx, org_id: &str, user_id: &str) -> Result<()> {
    let mut tx = db.store.begin_write().await?;
    lock(&mut tx, ctx, org_id).await?;
    if !store::remove_member(&mut tx, org_id, user_id).await? {
        return Err(ManageError::NotFound("membership"));
    }
    let summary = json!({"user_id": user_id});
    record(
        &mut tx,
        db.now(),
        ctx,
        "remove_member",
        "organization",
        org_id,
        summary,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Members of an organization, or organizations of a user.
pub async fn memberships(
    db: &Db,
    ctx: &TenantCtx,
    which: Members<'_>,
    page: &PageParams,
) -> Result<Page<Membership>> {
    match which {
        Members::OfOrg(id) => {
            get(db, ctx, id).await?;
        }
        Members::OfUser(id) => {
            super::users::get(db, ctx, id).await?;
        }
    }
    let rows = store::list_members(
        db.store.read().await?.conn(),
        which,
        page.cursor(),
        page.limit()?,
    )
    .await?;
    Page::from_store(rows, |m| Ok(m.into()))
}

/// Registers the organization's metadata key paths (the template editor's suggestions).
async fn register_metadata(tx: &mut WriteTx, row: &OrgRow) -> Result<()> {
    crate::store::metadata_keys::register(
        tx,
        &row.tenant_id,
        crate::store::metadata_keys::ORGANIZATION_METADATA,
        &row.metadata,
    )
    .await?;
    Ok(())
}
