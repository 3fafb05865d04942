//! User import for customers migrating from another system: JSON lines, one user per line,
//! with an existing argon2 or bcrypt hash.
//!
//! Each line is its own transaction, so a bad line is reported and skipped while the others
//! land, and no line ever leaves a partial user. Re-running an import is harmless: a line
//! matches an existing user by `external_id` when it has one, otherwise by email, and that
//! user is left exactly as it is (counted as `skipped`): an import file is a snapshot of
//! another system, and replaying it must never undo what happened here since (a password
//! change above all). Only an explicit update ([`ImportMode::update`]) rewrites matched users;
//! one that changes a password ends the user's sessions and revokes their tokens, exactly as
//! `PUT /password` does.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::users::{CreateUser, lift_on_password_change, log_lifted, new_row, resolve_roles};
use super::{ManageError, Result, TenantCtx, invalid, record};
use crate::db::Db;
use crate::passwords::check_imported_hash;
use crate::store::orgs as org_store;
use crate::store::users::normalize_email;
use crate::store::users::{self as store, By};

/// One line of an import file.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportUser {
    /// The user's email, required: it is how a line finds an existing user.
    pub email: String,
    /// Defaults to false.
    #[serde(default)]
    pub email_verified: bool,
    /// argon2 PHC string (`$argon2id$...`) or bcrypt (`$2b$...`), within the cost ceiling.
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
    /// Defaults to false.
    #[serde(default)]
    pub blocked: bool,
    /// JSON object.
    #[schema(value_type = Option<Object>)]
    pub user_metadata: Option<Value>,
    /// JSON object.
    #[schema(value_type = Option<Object>)]
    pub app_metadata: Option<Value>,
    /// The id in the system being migrated from.
    pub external_id: Option<String>,
    /// Names of tenant-wide roles to hold (exactly these, when updating).
    pub roles: Option<Vec<String>>,
    /// Organization memberships (added when missing; their roles set when given).
    #[serde(default)]
    pub organizations: Vec<ImportMembership>,
}

/// One organization membership of an imported user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportMembership {
    /// The organization's id, external id or name.
    pub organization: String,
    /// Names of roles in that organization.
    pub roles: Option<Vec<String>>,
}

/// How an import treats users that already exist.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::IntoParams)]
pub struct ImportMode {
    /// Rewrite matched users from the line (default false: leave them as they are).
    #[serde(default)]
    pub update: bool,
}

/// A line that was not imported.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
    /// Why the line was refused (the field and the rule).
    pub message: String,
}

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// New users.
    pub created: usize,
    /// Existing users updated (only with `update`).
    pub updated: usize,
    /// Existing users left as they were (without `update`).
    pub skipped: usize,
    /// Lines refused (see `errors`).
    pub failed: usize,
    /// One entry per refused line.
    pub errors: Vec<LineError>,
}

/// Imports every non-blank line, calling `progress` after each.
pub async fn import_lines<'a>(
    db: &Db,
    ctx: &TenantCtx,
    mode: ImportMode,
    lines: impl IntoIterator<Item = &'a str>,
    mut progress: impl FnMut(),
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    for (i, line) in lines.into_iter().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            progress();
            continue;
        }
        match import_one(db, ctx, mode, line).await {
            Ok(Imported::Created) => report.created += 1,
            Ok(Imported::Updated) => report.updated += 1,
            Ok(Imported::Skipped) => report.skipped += 1,
            Err(ManageError::Store(e)) => return Err(ManageError::Store(e)),
            Err(e) => {
                report.failed += 1;
                let (field, message) = match e {
                    ManageError::Invalid { field, message } => (Some(field), message),
                    ManageError::Conflict { field } => (
                        Some(field.to_string()),
                        "belongs to another user".to_string(),
                    ),
                    other => (None, other.to_string()),
                };
                report.errors.push(LineError {
                    line: n,
                    field,
                    message,
                });
            }
        }
        progress();
    }
    Ok(report)
}

/// What one line did.
enum Imported {
    Created,
    Updated,
    Skipped,
}

/// Imports one line.
async fn import_one(db: &Db, ctx: &TenantCtx, mode: ImportMode, line: &str) -> Result<Imported> {
    let mut de = serde_json::Deserializer::from_str(line);
    let input: ImportUser = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "line".to_string()
        } else {
            path
        };
        invalid(field, e.inner().to_string())
    })?;
    if let Some(h) = &input.password_hash {
        check_imported_hash(h).map_err(|e| invalid("password_hash", e.to_string()))?;
    }
    let as_create = CreateUser {
        email: input.email,
        email_verified: input.email_verified,
        password: None,
        name: input.name,
        given_name: input.given_name,
        family_name: input.family_name,
        nickname: input.nickname,
        picture: input.picture,
        blocked: input.blocked,
        user_metadata: input.user_metadata,
        app_metadata: input.app_metadata,
        external_id: input.external_id,
        roles: vec![],
    };
    let now = db.now();
    let mut row = new_row(ctx, &as_create, now)?;
    row.password_hash = input.password_hash;

    let mut tx = db.store.begin_write().await?;
    let role_ids = match &input.roles {
        Some(names) => Some(resolve_roles(&mut tx, &ctx.tenant_id, "roles", names).await?),
        None => None,
    };
    let mut memberships = Vec::with_capacity(input.organizations.len());
    for (i, m) in input.organizations.iter().enumerate() {
        let org = find_org(&mut tx, &ctx.tenant_id, &m.organization)
            .await?
            .ok_or_else(|| {
                invalid(
                    format!("organizations[{i}].organization"),
                    format!(
                        "no organization with the id, external id or name `{}`",
                        m.organization
                    ),
                )
            })?;
        let roles = match &m.roles {
            Some(names) => Some(
                resolve_roles(
                    &mut tx,
                    &ctx.tenant_id,
                    &format!("organizations[{i}].roles"),
                    names,
                )
                .await?,
            ),
            None => None,
        };
        memberships.push((org.id, roles));
    }

    let existing = match row.external_id.as_deref() {
        Some(ext) => store::get_for_update(&mut tx, &ctx.tenant_id, By::ExternalId(ext)).await?,
        None => None,
    };
    let existing = match existing {
        Some(u) => Some(u),
        None => {
            let email = normalize_email(&row.email);
            store::get_for_update(&mut tx, &ctx.tenant_id, By::Email(&email)).await?
        }
    };
    // IPs whose brute-force lock a new password lifted.
    let mut lifted = 0;
    let outcome = match existing {
        Some(_) if !mode.update => return Ok(Imported::Skipped),
        Some(old) => {
            // Keep what the import cannot know: identity, history and, when the line has no
            // hash, the password already set.
            row.id = old.id;
            row.created_at = old.created_at;
            row.last_login = old.last_login;
            row.logins_count = old.logins_count;
            let new_password = match &row.password_hash {
                None => {
                    row.password_hash = old.password_hash.clone();
                    false
                }
                Some(h) => old.password_hash.as_deref() != Some(h.as_str()),
            };
            store::update(&mut tx, &row).await?;
            crate::store::metadata_keys::register_user(&mut tx, &row).await?;
            if new_password {
                // The same consequences as `PUT /password` (RFC 9700 4.14.2: credentials
                // changed, the sessions and tokens they opened end).
                crate::store::refresh_tokens::revoke_user_tokens(&mut tx, &row.id, now).await?;
                crate::store::sessions::end_user_sessions(&mut tx, &row.id, now).await?;
                lifted = lift_on_password_change(&mut tx, ctx, &row.id).await?;
            }
            if let Some(ids) = &role_ids {
                store::clear_roles(&mut tx, &row.id).await?;
                store::add_roles(&mut tx, &row.id, ids).await?;
            }
            Imported::Updated
        }
        None => {
            store::insert(&mut tx, &row).await?;
            crate::store::metadata_keys::register_user(&mut tx, &row).await?;
            crate::store::legacy::set_origin(&mut tx, &row.id, "import", None).await?;
            if let Some(ids) = &role_ids {
                store::add_roles(&mut tx, &row.id, ids).await?;
            }
            Imported::Created
        }
    };
    for (org_id, roles) in &memberships {
        if org_store::member_roles(tx.conn(), org_id, &row.id)
            .await?
            .is_none()
        {
            org_store::add_member(&mut tx, &ctx.tenant_id, org_id, &row.id, now).await?;
        }
        if let Some(ids) = roles {
            org_store::set_member_roles(&mut tx, org_id, &row.id, ids).await?;
        }
    }
    let action = match outcome {
        Imported::Created => "import_create",
        _ => "import_update",
    };
    let summary = json!({"email": row.email, "external_id": row.external_id,
        "roles": input.roles, "organizations": memberships.len()});
    record(&mut tx, now, ctx, action, "user", &row.id, summary).await?;
    tx.commit().await?;
    if lifted > 0 {
        log_lifted(ctx, &row.id, None, lifted, "import");
    }
    Ok(outcome)
}

/// An organization by id, external id or name (legacy seed data names it any of these ways).
async fn find_org(
    tx: &mut crate::store::WriteTx,
    tenant_id: &str,
    key: &str,
) -> Result<Option<org_store::OrgRow>> {
    for by in [
        org_store::By::Id(key),
        org_store::By::ExternalId(key),
        org_store::By::Name(key),
    ] {
        if let Some(o) = org_store::get(tx.conn(), tenant_id, by).await? {
            return Ok(Some(o));
        }
    }
    Ok(None)
}
