//! JWT templates: declarative custom claims, per tenant or overriding it for one application.
//! Saving validates first (an invalid template changes nothing) and records an audit entry;
//! preview renders without issuing a token. The syntax is in `docs/jwt-templates.md`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::{ManageError, Result, TenantCtx, record};
use crate::db::Db;
use crate::flows::event::{self as flow_event, RequestInfo};
use crate::store::apps as app_store;
use crate::store::changes::{self, Cached};
use crate::store::orgs as org_store;
use crate::store::templates::{self as store, TemplateRow};
use crate::store::users as user_store;
use crate::templates::cache::TemplateCache;
use crate::templates::{Limits, Template};
use sigil_hooks::event::Protocol;
use sigil_hooks::host::RESTRICTED_CLAIMS;

/// The sample event the preview uses when given neither a user nor an event.
pub const SAMPLE_EVENT: &str = include_str!("../../docs/sample-event.json");

/// Which token a template shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// The access token.
    AccessToken,
    /// The ID token (and so `/userinfo`).
    IdToken,
}

impl TokenKind {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::AccessToken => "access_token",
            TokenKind::IdToken => "id_token",
        }
    }

    /// Parses a path segment.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "access_token" => Ok(TokenKind::AccessToken),
            "id_token" => Ok(TokenKind::IdToken),
            _ => Err(ManageError::Invalid {
                field: "token".into(),
                message: "must be access_token or id_token".into(),
            }),
        }
    }
}

/// The templates of a tenant, or one application's overrides.
#[derive(Debug, Serialize, ToSchema)]
pub struct Templates {
    /// The application, or absent for the tenant's defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The access-token template.
    #[schema(value_type = Option<Object>)]
    pub access_token: Option<Value>,
    /// The ID-token template.
    #[schema(value_type = Option<Object>)]
    pub id_token: Option<Value>,
}

fn parse(template: &Value) -> Result<Template> {
    Template::parse(template, RESTRICTED_CLAIMS, &Limits::default())
        .map_err(ManageError::InvalidTemplate)
}

async fn check_client(db: &Db, ctx: &TenantCtx, client_id: Option<&str>) -> Result<()> {
    if let Some(c) = client_id
        && app_store::get(db.store.read().await?.conn(), &ctx.tenant_id, c)
            .await?
            .is_none()
    {
        return Err(ManageError::NotFound("application"));
    }
    Ok(())
}

/// The templates saved at this scope.
pub async fn get(db: &Db, ctx: &TenantCtx, client_id: Option<&str>) -> Result<Templates> {
    check_client(db, ctx, client_id).await?;
    let scope = client_id.unwrap_or("");
    let rows = store::for_client(&db.store, &ctx.tenant_id, scope).await?;
    let pick = |token: &str| {
        rows.iter()
            .find(|r| r.token == token && r.client_id == scope)
            .map(|r| r.template.clone())
    };
    Ok(Templates {
        client_id: client_id.map(str::to_string),
        access_token: pick("access_token"),
        id_token: pick("id_token"),
    })
}

/// Validates and saves a template; returns it.
pub async fn set(
    db: &Db,
    templates: &TemplateCache,
    ctx: &TenantCtx,
    client_id: Option<&str>,
    kind: TokenKind,
    template: Value,
) -> Result<Value> {
    parse(&template)?;
    check_client(db, ctx, client_id).await?;
    let mut tx = db.store.begin_write().await?;
    store::put(
        &mut tx,
        &TemplateRow {
            tenant_id: ctx.tenant_id.clone(),
            client_id: client_id.unwrap_or("").into(),
            token: kind.as_str().into(),
            template: template.clone(),
            updated_at: db.now(),
        },
    )
    .await?;
    record(
        &mut tx,
        db.now(),
        ctx,
        "set",
        "jwt_template",
        &resource(client_id, kind),
        json!({ "template": template }),
    )
    .await?;
    changes::announce(&mut tx, Cached::Templates, &ctx.tenant_id).await?;
    tx.commit().await?;
    templates.invalidate(&ctx.tenant_id);
    Ok(template)
}

fn resource(client_id: Option<&str>, kind: TokenKind) -> String {
    match client_id {
        Some(c) => format!("{c}/{}", kind.as_str()),
        None => kind.as_str().to_string(),
    }
}

/// Deletes a template.
pub async fn delete(
    db: &Db,
    templates: &TemplateCache,
    ctx: &TenantCtx,
    client_id: Option<&str>,
    kind: TokenKind,
) -> Result<()> {
    check_client(db, ctx, client_id).await?;
    let mut tx = db.store.begin_write().await?;
    if !store::delete(
        &mut tx,
        &ctx.tenant_id,
        client_id.unwrap_or(""),
        kind.as_str(),
    )
    .await?
    {
        return Err(ManageError::NotFound("template"));
    }
    record(
        &mut tx,
        db.now(),
        ctx,
        "delete",
        "jwt_template",
        &resource(client_id, kind),
        json!({}),
    )
    .await?;
    changes::announce(&mut tx, Cached::Templates, &ctx.tenant_id).await?;
    tx.commit().await?;
    templates.invalidate(&ctx.tenant_id);
    Ok(())
}

/// Body of a preview.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// A template to try (not saved) in place of the saved one of `token`; the other token
    /// renders its saved template. Without it, the saved templates that apply to `client_id`
    /// (or the tenant's) are rendered.
    #[schema(value_type = Option<Object>)]
    pub template: Option<Value>,
    /// Which token `template` is for: `access_token` (the default) or `id_token`.
    pub token: Option<String>,
    /// The application: whose overrides apply, and the event's `client`.
    pub client_id: Option<String>,
    /// Build the event from this user (needs `client_id`).
    pub user_id: Option<String>,
    /// ...logging in through this organization (id or name).
    pub organization: Option<String>,
    /// Or render against this event (same shape as `docs/sample-event.json`).
    #[schema(value_type = Option<Object>)]
    pub event: Option<Value>,
}

/// What a preview renders.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    /// Claims of the access token's template (the given one when `token` is the access
    /// token's), absent when there is none.
    #[schema(value_type = Option<Object>)]
    pub access_token: Option<Map<String, Value>>,
    /// Claims of the ID token's template (the given one when `token` is `id_token`), absent
    /// when there is none.
    #[schema(value_type = Option<Object>)]
    pub id_token: Option<Map<String, Value>>,
    /// The event rendered against.
    #[schema(value_type = Object)]
    pub event: Value,
}

/// Renders templates against a user, organization and client, an event, or the sample event,
/// without issuing a token.
pub async fn preview(
    db: &Db,
    templates: &TemplateCache,
    ctx: &TenantCtx,
    input: PreviewInput,
) -> Result<Preview> {
    let invalid = |field: &str, message: &str| ManageError::Invalid {
        field: field.into(),
        message: message.into(),
    };
    let event: Value = match (&input.event, &input.user_id) {
        (Some(_), Some(_)) => return Err(invalid("event", "give either event or user_id")),
        (Some(e), None) => {
            if !e.is_object() {
                return Err(invalid("event", "must be an object"));
            }
            e.clone()
        }
        (None, Some(uid)) => {
            let client_id = input
                .client_id
                .as_deref()
                .ok_or_else(|| invalid("client_id", "is required with user_id"))?;
            let app = app_store::get(db.store.read().await?.conn(), &ctx.tenant_id, client_id)
                .await?
                .ok_or(ManageError::NotFound("application"))?;
            let user = user_store::get(
                db.store.read().await?.conn(),
                &ctx.tenant_id,
                user_store::By::Id(uid),
            )
            .await?
            .ok_or(ManageError::NotFound("user"))?;
            let org = match &input.organization {
                None => None,
                Some(o) => Some(
                    org_store::by_id_or_name(&db.store, &ctx.tenant_id, o)
                        .await?
                        .ok_or(ManageError::NotFound("organization"))?,
                ),
            };
            let ev = flow_event::build(
                &db.store,
                None,
                (&ctx.tenant_id, &ctx.tenant_name),
                &user,
                org.as_ref().map(|o| (o, None)),
                &app,
                Protocol::AuthorizationCode,
                &["openid".to_string()],
                None,
                &RequestInfo::default(),
                db.now(),
            )
            .await
            .map_err(ManageError::internal)?;
            serde_json::to_value(&ev).map_err(ManageError::internal)?
        }
        (None, None) => serde_json::from_str(SAMPLE_EVENT).map_err(ManageError::internal)?,
    };
    let event = without_secrets(event);
    let draft = match &input.template {
        Some(t) => Some((draft_token(input.token.as_deref())?, parse_draft(t)?)),
        None if input.token.is_some() => {
            return Err(invalid(
                "token",
                "names the token of `template`, which is missing",
            ));
        }
        None => None,
    };
    check_client(db, ctx, input.client_id.as_deref()).await?;
    let set = templates
        .effective(
            &db.store,
            &ctx.tenant_id,
            input.client_id.as_deref().unwrap_or(""),
            db.now(),
        )
        .await?;
    let mut access_token = set.access_token.map(|t| t.render(&event));
    let mut id_token = set.id_token.map(|t| t.render(&event));
    if let Some((kind, t)) = draft {
        let claims = Some(t.render(&event));
        match kind {
            TokenKind::AccessToken => access_token = claims,
            TokenKind::IdToken => id_token = claims,
        }
    }
    Ok(Preview {
        access_token,
        id_token,
        event,
    })
}

/// The token a preview's draft stands for.
fn draft_token(token: Option<&str>) -> Result<TokenKind> {
    token.map_or(Ok(TokenKind::AccessToken), TokenKind::parse)
}

/// A preview's draft, its errors' pointers under `/template` (where it is in the request).
fn parse_draft(t: &Value) -> Result<Template> {
    parse(t).map_err(|e| match e {
        ManageError::InvalidTemplate(errs) => ManageError::InvalidTemplate(
            errs.into_iter()
                .map(|mut x| {
                    x.pointer = format!("/template{}", x.pointer);
                    x
                })
                .collect(),
        ),
        other => other,
    })
}

/// Templates never see hook secrets (the renderer has no `secrets` root either).
fn without_secrets(mut event: Value) -> Value {
    if let Some(o) = event.as_object_mut() {
        o.remove("secrets");
    }
    event
}
