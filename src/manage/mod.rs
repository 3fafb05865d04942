//! The management domain: what the management API and the CLI can do to a tenant's data.
//!
//! Each operation validates its input, performs every write in one transaction together with
//! its audit-log entry, and returns a view type (the JSON the API shows). No axum types here:
//! the `http` layer maps [`ManageError`] to responses, and the CLI calls the same functions.

pub mod api_keys;
pub mod apis;
pub mod apps;
pub mod audit;
pub mod client_grants;
pub mod dashboard;
pub mod hooks;
pub mod import;
pub mod legacy_store;
pub mod metadata_keys;
pub mod orgs;
pub mod roles;
pub mod signing_keys;
pub mod templates;
pub mod tenants;
pub mod users;
pub mod validate;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::ids::{IdKind, new_id};
use crate::store::{StoreError, WriteTx, audit as audit_store};

/// Why a management operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Input failed validation; `field` names the offending field (dot path).
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: String,
        /// Why the value was refused, for the person who sent it.
        message: String,
    },
    /// The named resource does not exist in this tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule refused the change.
    #[error("{field} is already taken")]
    Conflict {
        /// The field.
        field: &'static str,
    },
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The object is in use (or built in) and cannot be changed this way.
    #[error("{why}")]
    InUse {
        /// Where the use is: the field that refers to the object (a flow's `bindings`), or the
        /// object's own field that makes it built in (a role's `name`).
        field: &'static str,
        /// What to do instead, for the person who asked.
        why: &'static str,
    },
    /// A JWT template failed validation (every error, with its position).
    #[error("invalid template")]
    InvalidTemplate(Vec<crate::templates::TemplateError>),
    /// Not admitted now: over the tenant's upload rate (429) or no compile worker free (503);
    /// the client may retry after the time it names.
    #[error(transparent)]
    Admission(#[from] sigil_hooks::admission::AdmissionError),
    /// The store failed; the cause is logged, never shown.
    #[error(transparent)]
    Store(StoreError),
    /// Another server-side failure (key material, for instance): the cause and its chain are
    /// logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for ManageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => ManageError::Conflict { field },
            other => ManageError::Store(other),
        }
    }
}

impl From<sqlx::Error> for ManageError {
    fn from(e: sqlx::Error) -> Self {
        ManageError::Store(StoreError::from(e))
    }
}

impl ManageError {
    /// An internal failure, keeping `cause` for the logs.
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        ManageError::Internal(Box::new(cause))
    }
}

/// Shorthand for a validation error.
pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ManageError {
    ManageError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl From<crate::fields::FieldError> for ManageError {
    fn from(e: crate::fields::FieldError) -> Self {
        invalid(e.field, e.message)
    }
}

/// Result of a management operation.
pub type Result<T, E = ManageError> = std::result::Result<T, E>;

/// Who is acting, on which tenant.
#[derive(Debug, Clone)]
pub struct TenantCtx {
    /// `ten_...`
    pub tenant_id: String,
    /// The tenant's name.
    pub tenant_name: String,
    /// The API key id, or `cli` / `system`, recorded in the audit log.
    pub actor: String,
}

/// Records a change inside the transaction that makes it, stamped `now` (the caller's time,
/// so the audit entry and the change it records carry the same instant).
pub(crate) async fn record(
    tx: &mut WriteTx,
    now: i64,
    ctx: &TenantCtx,
    action: &str,
    resource_type: &str,
    resource_id: &str,
    summary: Value,
) -> Result<()> {
    audit_store::insert(
        tx,
        &audit_store::AuditRow {
            id: new_id(IdKind::Audit, now),
            tenant_id: ctx.tenant_id.clone(),
            actor: ctx.actor.clone(),
            at: now,
            action: action.into(),
            resource_type: resource_type.into(),
            resource_id: resource_id.into(),
            summary,
        },
    )
    .await?;
    Ok(())
}

/// The search of the lists of named things (applications, APIs, roles).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NameFilter {
    /// The start of the name, ASCII letters in any case (`por` finds `Portal`).
    pub name_prefix: Option<String>,
}

impl NameFilter {
    /// The search, checked; `None` when there is none (absent or empty).
    pub(crate) fn search(
        &self,
        backend: crate::store::Backend,
    ) -> Result<Option<crate::store::like::NamePrefix<'_>>> {
        name_search(self.name_prefix.as_deref(), backend)
    }
}

/// A `name_prefix` parameter, checked; `None` when there is none (absent or empty).
pub(crate) fn name_search(
    name_prefix: Option<&str>,
    backend: crate::store::Backend,
) -> Result<Option<crate::store::like::NamePrefix<'_>>> {
    Ok(filter_text("name_prefix", name_prefix, 255)?
        .map(|prefix| crate::store::like::NamePrefix { prefix, backend }))
}

/// A list's text filter `field`: `None` when absent or empty, refused (naming `field`) when
/// longer than `max` or not text a stored value could hold.
pub(crate) fn filter_text<'a>(
    field: &'static str,
    value: Option<&'a str>,
    max: usize,
) -> Result<Option<&'a str>> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    validate::text(field, v, max)?;
    Ok(Some(v))
}

/// Paging parameters common to every list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 100 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The validated limit.
    pub fn limit(&self) -> Result<i64> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=100).contains(&n) => Ok(n),
            Some(_) => Err(invalid("limit", "must be between 1 and 100")),
        }
    }
    /// The cursor, if any.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|c| !c.is_empty())
    }
}

/// One page of results.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Converts a store page.
    pub(crate) fn from_store<R>(
        page: crate::store::Page<R>,
        f: impl FnMut(R) -> Result<T>,
    ) -> Result<Self> {
        let page = page.try_map(f)?;
        Ok(Page {
            data: page.items,
            next_cursor: page.next_cursor,
        })
    }
}

/// For PATCH bodies: distinguishes an absent field (`None`, unchanged) from `null`
/// (`Some(None)`, cleared).
pub fn nullable<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl From<crate::flows::FlowError> for ManageError {
    fn from(e: crate::flows::FlowError) -> Self {
        use crate::flows::FlowError;
        match e {
            FlowError::Store(s) => s.into(),
            FlowError::NotFound(what) => ManageError::NotFound(what),
            FlowError::Admission(a) => ManageError::Admission(a),
            e @ (FlowError::Compile(_) | FlowError::World(_)) => invalid("wasm", e.to_string()),
            e @ FlowError::WrongWorld { .. } => invalid("hook", e.to_string()),
            e @ (FlowError::Secret { .. } | FlowError::Host(_)) => ManageError::internal(e),
        }
    }
}
