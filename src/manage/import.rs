//! User import for customers migrating from another system: JSON lines, one user per line,
//! with an existing argon2 or bcrypt hash.
//!
//! Each line is its own transaction, so a bad line is reported and skipped while the others
//! land, and no line ever leaves a partial user. Re-running an import is harmless: a line
//! matches an existing user by `external_id` when it has one, otherwise by email, and updates
//! that user instead of creating a second.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::users::{CreateUser, new_row};
use super::validate::normalize_email;
use super::{ManageError, Result, TenantCtx, invalid, record};
use crate::passwords::check_imported_hash;
use crate::services::Services;
use crate::store::users::{self as store, By};

/// One line of an import file.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportUser {
    /// Required.
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
    /// Nickname.
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
}

/// A line that was not imported.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
    /// Why.
    pub message: String,
}

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// New users.
    pub created: usize,
    /// Existing users updated.
    pub updated: usize,
    /// Lines refused (see `errors`).
    pub failed: usize,
    /// One entry per refused line.
    pub errors: Vec<LineError>,
}

/// Imports every non-blank line, calling `progress` after each.
pub async fn import_lines<'a>(
    svc: &Services,
    ctx: &TenantCtx,
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
        match import_one(svc, ctx, line).await {
            Ok(true) => report.created += 1,
            Ok(false) => report.updated += 1,
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

/// Imports one line; true when a user was created, false when one was updated.
async fn import_one(svc: &Services, ctx: &TenantCtx, line: &str) -> Result<bool> {
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
    let mut row = new_row(ctx, &as_create, svc.now())?;
    row.password_hash = input.password_hash;

    let mut tx = svc.store.begin_write().await?;
    let lock = svc.store.for_update();
    let existing = match row.external_id.as_deref() {
        Some(ext) => store::get(&mut **tx, &ctx.tenant_id, By::ExternalId(ext), lock).await?,
        None => None,
    };
    let existing = match existing {
        Some(u) => Some(u),
        None => {
            let email = normalize_email(&row.email);
            store::get(&mut **tx, &ctx.tenant_id, By::Email(&email), lock).await?
        }
    };
    let created = match existing {
        Some(old) => {
            // Keep what the import cannot know: identity, history and, when the line has no
            // hash, the password already set.
            row.id = old.id;
            row.created_at = old.created_at;
            row.last_login = old.last_login;
            row.logins_count = old.logins_count;
            if row.password_hash.is_none() {
                row.password_hash = old.password_hash;
            }
            store::update(&mut tx, &row).await?;
            false
        }
        None => {
            store::insert(&mut tx, &row).await?;
            true
        }
    };
    let action = if created {
        "import_create"
    } else {
        "import_update"
    };
    let summary = json!({"email": row.email, "external_id": row.external_id});
    record(&mut tx, svc, ctx, action, "user", &row.id, summary).await?;
    tx.commit().await?;
    Ok(created)
}
