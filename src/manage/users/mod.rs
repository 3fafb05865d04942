//! Users: profile, password, blocking, metadata (merge and replace), tenant-wide roles.

mod brute_force;
mod credentials;
mod metadata_writes;
mod roles;

pub use brute_force::{IpAttempts, LiftLock, LockStatus, lift_lock, lock_status};
pub(crate) use brute_force::{lift_on_password_change, log_lifted};
pub(crate) use credentials::hash_password;
pub use credentials::{SetPassword, revoke_sessions, set_password};
pub(crate) use metadata_writes::apply_metadata;
pub use metadata_writes::{MetadataKind, MetadataOp, write_metadata};
pub(crate) use roles::resolve_roles;
pub use roles::{RoleNames, RoleOp, change_roles, roles};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::validate;
use super::{ManageError, Page, PageParams, Result, TenantCtx, invalid, nullable, record};
use crate::clock::rfc3339;
use crate::crypto::Secret;
use crate::db::Db;
use crate::ids::{IdKind, new_id};
use crate::passwords::PasswordHasher;
use crate::store::WriteTx;
use crate::store::metadata_keys;
use crate::store::roles as role_store;
use crate::store::users::normalize_email;
use crate::store::users::{self as store, By, UserRow};

/// A user as the API shows it. The password hash is never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    /// `usr_...`
    pub id: String,
    /// As given at creation.
    pub email: String,
    /// Whether the address was verified.
    pub email_verified: bool,
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
    /// Blocked users cannot log in.
    pub blocked: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// Data the user may edit (through the app).
    #[schema(value_type = Object)]
    pub user_metadata: Value,
    /// Data only the app and hooks set (roles, plan, ...).
    #[schema(value_type = Object)]
    pub app_metadata: Value,
    /// The customer's own id for the user.
    pub external_id: Option<String>,
    /// Names of tenant-wide roles.
    pub roles: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// RFC 3339.
    pub last_login: Option<String>,
    /// Successful logins.
    pub logins_count: i64,
}

fn view(r: UserRow, roles: Vec<String>) -> Result<User> {
    Ok(User {
        user_metadata: Value::Object(r.user_metadata),
        app_metadata: Value::Object(r.app_metadata),
        id: r.id,
        email: r.email,
        email_verified: r.email_verified,
        name: r.name,
        given_name: r.given_name,
        family_name: r.family_name,
        nickname: r.nickname,
        picture: r.picture,
        blocked: r.blocked,
        has_password: r.password_hash.is_some(),
        external_id: r.external_id,
        roles,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
        last_login: r.last_login.map(rfc3339),
        logins_count: r.logins_count,
    })
}

/// Body of `POST /users`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Unique per tenant, case-insensitively.
    pub email: String,
    /// Defaults to false.
    #[serde(default)]
    pub email_verified: bool,
    /// 8 to 256 characters; stored as argon2id. Optional: a user without a password cannot log
    /// in with one until it is set.
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret>,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Casual name (OIDC `nickname`).
    pub nickname: Option<String>,
    /// http(s) URL.
    pub picture: Option<String>,
    /// Defaults to false.
    #[serde(default)]
    pub blocked: bool,
    /// JSON object, at most 16 KB.
    #[schema(value_type = Option<Object>)]
    pub user_metadata: Option<Value>,
    /// JSON object, at most 16 KB.
    #[schema(value_type = Option<Object>)]
    pub app_metadata: Option<Value>,
    /// Up to 128 characters, unique per tenant.
    pub external_id: Option<String>,
    /// Names of tenant roles to grant.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Body of `PATCH /users/{id}`: absent fields are unchanged, `null` clears a field, and the two
/// metadata objects merge (a key set to null is deleted).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// New email.
    pub email: Option<String>,
    /// Verification flag.
    pub email_verified: Option<bool>,
    /// Full name.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// Given name.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub given_name: Option<Option<String>>,
    /// Family name.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub family_name: Option<Option<String>>,
    /// New casual name (null clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub nickname: Option<Option<String>>,
    /// Picture URL.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub picture: Option<Option<String>>,
    /// Block or unblock.
    pub blocked: Option<bool>,
    /// External id.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    /// Merged into `user_metadata`.
    #[schema(value_type = Option<Object>)]
    pub user_metadata: Option<Value>,
    /// Merged into `app_metadata`.
    #[schema(value_type = Option<Object>)]
    pub app_metadata: Option<Value>,
}

/// Filters for the user listing.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Exact email (case-insensitive).
    pub email: Option<String>,
    /// Exact external id.
    pub external_id: Option<String>,
    /// The start of the email (case-insensitive): the users whose email begins with it, what a
    /// search box types (`ada` finds ada@example.com and adam@example.org).
    pub email_prefix: Option<String>,
}

fn check_profile(
    name: Option<&str>,
    given: Option<&str>,
    family: Option<&str>,
    nick: Option<&str>,
    picture: Option<&str>,
    external_id: Option<&str>,
) -> Result<()> {
    validate::opt_text("name", name, 255)?;
    validate::opt_text("given_name", given, 255)?;
    validate::opt_text("family_name", family, 255)?;
    validate::opt_text("nickname", nick, 255)?;
    validate::picture(picture)?;
    Ok(validate::external_id(external_id)?)
}

/// Validates a creation body and builds the row (without the password hash).
pub(crate) fn new_row(ctx: &TenantCtx, input: &CreateUser, now: i64) -> Result<UserRow> {
    validate::email("email", &input.email)?;
    check_profile(
        input.name.as_deref(),
        input.given_name.as_deref(),
        input.family_name.as_deref(),
        input.nickname.as_deref(),
        input.picture.as_deref(),
        input.external_id.as_deref(),
    )?;
    Ok(UserRow {
        id: new_id(IdKind::User, now),
        tenant_id: ctx.tenant_id.clone(),
        email: input.email.trim().to_string(),
        email_normalized: normalize_email(&input.email),
        email_verified: input.email_verified,
        password_hash: None,
        name: input.name.clone(),
        given_name: input.given_name.clone(),
        family_name: input.family_name.clone(),
        nickname: input.nickname.clone(),
        picture: input.picture.clone(),
        blocked: input.blocked,
        user_metadata: validate::metadata_object("user_metadata", input.user_metadata.as_ref())?,
        app_metadata: validate::metadata_object("app_metadata", input.app_metadata.as_ref())?,
        external_id: input.external_id.clone(),
        created_at: now,
        updated_at: now,
        last_login: None,
        logins_count: 0,
    })
}

/// Creates a user (and grants its roles) in one transaction.
pub async fn create(
    db: &Db,
    passwords: &PasswordHasher,
    ctx: &TenantCtx,
    input: CreateUser,
) -> Result<User> {
    let mut row = new_row(ctx, &input, db.now())?;
    if let Some(pw) = input.password.clone() {
        row.password_hash = Some(hash_password(passwords, "password", pw).await?);
    }
    let mut tx = db.store.begin_write().await?;
    let role_ids = resolve_roles(&mut tx, &ctx.tenant_id, "roles", &input.roles).await?;
    store::insert(&mut tx, &row).await?;
    metadata_keys::register_user(&mut tx, &row).await?;
    store::add_roles(&mut tx, &row.id, &role_ids).await?;
    record(
        &mut tx,
        db.now(),
        ctx,
        "create",
        "user",
        &row.id,
        json!({"email": row.email, "external_id": row.external_id, "roles": input.roles}),
    )
    .await?;
    let roles = store::role_names(tx.conn(), &row.id).await?;
    tx.commit().await?;
    view(row, roles)
}

async fn load(db: &Db, ctx: &TenantCtx, by: By<'_>) -> Result<User> {
    let row = store::get(db.store.read().await?.conn(), &ctx.tenant_id, by)
        .await?
        .ok_or(ManageError::NotFound("user"))?;
    let roles = store::role_names(db.store.read().await?.conn(), &row.id).await?;
    view(row, roles)
}

/// A user by id.
pub async fn get(db: &Db, ctx: &TenantCtx, id: &str) -> Result<User> {
    load(db, ctx, By::Id(id)).await
}

/// A user by external id.
pub async fn get_by_external_id(db: &Db, ctx: &TenantCtx, ext: &str) -> Result<User> {
    load(db, ctx, By::ExternalId(ext)).await
}

/// Lists users.
pub async fn list(
    db: &Db,
    ctx: &TenantCtx,
    filter: &UserFilter,
    page: &PageParams,
) -> Result<Page<User>> {
    let email = filter.email.as_deref().map(normalize_email);
    let prefix = filter
        .email_prefix
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(normalize_email);
    if let Some(p) = &prefix
        && p.len() > 320
    {
        return Err(ManageError::Invalid {
            field: "email_prefix".into(),
            message: "at most 320 characters".into(),
        });
    }
    let rows = store::list(
        db.store.read().await?.conn(),
        &ctx.tenant_id,
        &store::UserListFilter {
            email: email.as_deref(),
            external_id: filter.external_id.as_deref(),
            email_prefix: prefix.as_deref(),
        },
        page.cursor(),
        page.limit()?,
    )
    .await?;
    let mut out = Vec::with_capacity(rows.items.len());
    for r in rows.items {
        let roles = store::role_names(db.store.read().await?.conn(), &r.id).await?;
        out.push(view(r, roles)?);
    }
    Ok(Page {
        data: out,
        next_cursor: rows.next_cursor,
    })
}

/// Reads and locks a user for a read-modify-write.
async fn lock(tx: &mut WriteTx, ctx: &TenantCtx, id: &str) -> Result<UserRow> {
    store::get_for_update(tx, &ctx.tenant_id, By::Id(id))
        .await?
        .ok_or(ManageError::NotFound("user"))
}

/// Applies a PATCH.
pub async fn update(db: &Db, ctx: &TenantCtx, id: &str, input: UpdateUser) -> Result<User> {
    if let Some(e) = &input.email {
        validate::email("email", e)?;
    }
    let flat = |o: &Option<Option<String>>| o.as_ref().and_then(|v| v.clone());
    check_profile(
        flat(&input.name).as_deref(),
        flat(&input.given_name).as_deref(),
        flat(&input.family_name).as_deref(),
        flat(&input.nickname).as_deref(),
        flat(&input.picture).as_deref(),
        flat(&input.external_id).as_deref(),
    )?;
    let mut changed: Vec<&str> = Vec::new();
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(&mut tx, ctx, id).await?;
    if let Some(e) = input.email {
        row.email = e.trim().to_string();
        row.email_normalized = normalize_email(&e);
        changed.push("email");
    }
    if let Some(v) = input.email_verified {
        row.email_verified = v;
        changed.push("email_verified");
    }
    for (field, value, slot) in [
        ("name", input.name, &mut row.name),
        ("given_name", input.given_name, &mut row.given_name),
        ("family_name", input.family_name, &mut row.family_name),
        ("nickname", input.nickname, &mut row.nickname),
        ("picture", input.picture, &mut row.picture),
        ("external_id", input.external_id, &mut row.external_id),
    ] {
        if let Some(v) = value {
            *slot = v;
            changed.push(field);
        }
    }
    if let Some(b) = input.blocked {
        row.blocked = b;
        changed.push("blocked");
        if b {
            // A blocked user's refresh tokens and access grants end now.
            crate::store::refresh_tokens::revoke_user_tokens(&mut tx, id, db.now()).await?;
            crate::store::sessions::end_user_sessions(&mut tx, id, db.now()).await?;
        }
    }
    if let Some(p) = &input.user_metadata {
        row.user_metadata =
            apply_metadata("user_metadata", &row.user_metadata, p, MetadataOp::Merge)?;
        changed.push("user_metadata");
    }
    if let Some(p) = &input.app_metadata {
        row.app_metadata = apply_metadata("app_metadata", &row.app_metadata, p, MetadataOp::Merge)?;
        changed.push("app_metadata");
    }
    row.updated_at = db.now();
    store::update(&mut tx, &row).await?;
    if input.user_metadata.is_some() || input.app_metadata.is_some() {
        metadata_keys::register_user(&mut tx, &row).await?;
    }
    record(
        &mut tx,
        db.now(),
        ctx,
        "update",
        "user",
        id,
        json!({"fields": changed}),
    )
    .await?;
    let roles = store::role_names(tx.conn(), id).await?;
    tx.commit().await?;
    view(row, roles)
}

/// Deletes a user.
pub async fn delete(db: &Db, ctx: &TenantCtx, id: &str) -> Result<()> {
    let mut tx = db.store.begin_write().await?;
    if !store::delete(&mut tx, &ctx.tenant_id, id).await? {
        return Err(ManageError::NotFound("user"));
    }
    record(&mut tx, db.now(), ctx, "delete", "user", id, json!({})).await?;
    tx.commit().await?;
    Ok(())
}
