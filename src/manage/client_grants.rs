//! Client grants: least privilege for machines. A confidential application gets access tokens
//! with the client-credentials grant (RFC 6749 4.4) only for the APIs it holds a grant for,
//! and only with the scopes the grant lists (RFC 8707 resource indicators: the `audience`
//! names the API). Applications start with none.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{ManageError, Page, PageParams, Result, TenantCtx, invalid, record};
use crate::clock::rfc3339;
use crate::db::Db;
use crate::ids::{IdKind, new_id};
use crate::store::apis::{self as api_store, ApiRow, By};
use crate::store::apps as app_store;
use crate::store::client_grants::{self as store, ClientGrantRow, Filter};
use crate::store::{ClientType, WriteTx};

/// A client grant: the API an application may get tokens for, and with which scopes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientGrant {
    /// `cgr_...`
    pub id: String,
    /// The application.
    pub client_id: String,
    /// The API's identifier (the `audience` of the tokens).
    pub audience: String,
    /// The API's id (`api_...`).
    pub api_id: String,
    /// The scopes granted: a token request may ask for any of them, and gets all of them when
    /// it names none. A scope the API no longer defines is not issued.
    pub scopes: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

fn view(r: ClientGrantRow) -> Result<ClientGrant> {
    Ok(ClientGrant {
        id: r.id,
        client_id: r.client_id,
        audience: r.audience,
        api_id: r.api_id,
        scopes: r.scopes,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
    })
}

/// Body of `POST /client-grants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClientGrant {
    /// A confidential application of the tenant.
    pub client_id: String,
    /// The identifier of one of the tenant's APIs.
    pub audience: String,
    /// Scopes the API defines (may be empty: a token for the API without scopes).
    pub scopes: Vec<String>,
}

/// Body of `PATCH /client-grants/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClientGrant {
    /// Replaces the granted scopes.
    pub scopes: Vec<String>,
}

/// Which grants a list shows.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientGrantFilter {
    /// Only this application's grants.
    pub client_id: Option<String>,
    /// Only the grants on the API with this identifier.
    pub audience: Option<String>,
}

/// The granted scopes, checked against what the API defines: each must be one of its scope
/// values, once (the error names `scopes[i]`).
fn check_scopes(api: &ApiRow, scopes: &[String]) -> Result<Vec<String>> {
    let defined = api.scope_values();
    for (i, s) in scopes.iter().enumerate() {
        let field = format!("scopes[{i}]");
        if !defined.contains(s) {
            return Err(invalid(
                field,
                format!("`{s}` is not a scope of the API `{}`", api.identifier),
            ));
        }
        if scopes[..i].contains(s) {
            return Err(invalid(field, format!("`{s}` is listed twice")));
        }
    }
    Ok(scopes.to_vec())
}

/// Grants an application access to an API.
pub async fn create(db: &Db, ctx: &TenantCtx, input: CreateClientGrant) -> Result<ClientGrant> {
    let mut tx = db.store.begin_write().await?;
    // Both looked up in this tenant only: another tenant's application or API is unknown here.
    let app = app_store::get_for_update(&mut tx, &ctx.tenant_id, &input.client_id)
        .await?
        .ok_or_else(|| {
            invalid(
                "client_id",
                format!("no application `{}` in this tenant", input.client_id),
            )
        })?;
    if app.client_type != ClientType::Confidential {
        // RFC 6749 4.4: the client-credentials grant is for confidential clients only.
        return Err(invalid(
            "client_id",
            "a public application cannot use the client-credentials grant, so it cannot hold \
             a client grant",
        ));
    }
    let api = api_store::get_for_update(&mut tx, &ctx.tenant_id, By::Identifier(&input.audience))
        .await?
        .ok_or_else(|| {
            invalid(
                "audience",
                format!(
                    "no API with the identifier `{}` in this tenant",
                    input.audience
                ),
            )
        })?;
    let scopes = check_scopes(&api, &input.scopes)?;
    let now = db.now();
    let row = ClientGrantRow {
        id: new_id(IdKind::ClientGrant, now),
        tenant_id: ctx.tenant_id.clone(),
        client_id: app.client_id,
        api_id: api.id,
        audience: api.identifier,
        scopes,
        created_at: now,
        updated_at: now,
    };
    store::insert(&mut tx, &row).await?;
    let summary =
        json!({"client_id": row.client_id, "audience": row.audience, "scopes": row.scopes});
    record(
        &mut tx,
        now,
        ctx,
        "create",
        "client_grant",
        &row.id,
        summary,
    )
    .await?;
    tx.commit().await?;
    view(row)
}

/// A grant by id.
pub async fn get(db: &Db, ctx: &TenantCtx, id: &str) -> Result<ClientGrant> {
    store::get(db.store.read().await?.conn(), &ctx.tenant_id, id)
        .await?
        .ok_or(ManageError::NotFound("client grant"))
        .and_then(view)
}

/// Lists grants, optionally one application's and/or one audience's.
pub async fn list(
    db: &Db,
    ctx: &TenantCtx,
    filter: &ClientGrantFilter,
    page: &PageParams,
) -> Result<Page<ClientGrant>> {
    let rows = store::list(
        db.store.read().await?.conn(),
        &ctx.tenant_id,
        Filter {
            client_id: filter.client_id.as_deref().filter(|c| !c.is_empty()),
            audience: filter.audience.as_deref().filter(|a| !a.is_empty()),
        },
        page.cursor(),
        page.limit()?,
    )
    .await?;
    Page::from_store(rows, view)
}

async fn lock(tx: &mut WriteTx, ctx: &TenantCtx, id: &str) -> Result<ClientGrantRow> {
    store::get_for_update(tx, &ctx.tenant_id, id)
        .await?
        .ok_or(ManageError::NotFound("client grant"))
}

/// Replaces a grant's scopes.
pub async fn update(
    db: &Db,
    ctx: &TenantCtx,
    id: &str,
    input: UpdateClientGrant,
) -> Result<ClientGrant> {
    let mut tx = db.store.begin_write().await?;
    let mut row = lock(&mut tx, ctx, id).await?;
    let api = api_store::get_for_update(&mut tx, &ctx.tenant_id, By::Id(&row.api_id))
        .await?
        .ok_or(ManageError::NotFound("api"))?;
    row.scopes = check_scopes(&api, &input.scopes)?;
    let now = db.now();
    row.updated_at = now;
    store::update_scopes(&mut tx, &ctx.tenant_id, id, &row.scopes, now).await?;
    record(
        &mut tx,
        now,
        ctx,
        "update",
        "client_grant",
        id,
        json!({"scopes": row.scopes}),
    )
    .await?;
    tx.commit().await?;
    view(row)
}

/// Deletes a grant: the application gets no new token for that API (tokens already issued
/// stay valid until they expire).
pub async fn delete(db: &Db, ctx: &TenantCtx, id: &str) -> Result<()> {
    let mut tx = db.store.begin_write().await?;
    let row = lock(&mut tx, ctx, id).await?;
    store::delete(&mut tx, &ctx.tenant_id, id).await?;
    let summary = json!({"client_id": row.client_id, "audience": row.audience});
    record(
        &mut tx,
        db.now(),
        ctx,
        "delete",
        "client_grant",
        id,
        summary,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
