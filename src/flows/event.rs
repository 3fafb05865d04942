//! Building the post-login event from the store: the user (with roles and the union of their
//! permissions), the organization membership, the application and the request.

use serde_json::Value;

use crate::clock::rfc3339;
use crate::store::apps::AppRow;
use crate::store::orgs::{self as org_store, OrgRow};
use crate::store::users::UserRow;
use crate::store::{Store, StoreError};
use sigil_hooks::event::{
    EventClient, EventOrganization, EventRequest, EventTenant, EventTransaction, EventUser,
    PostLoginEvent, Protocol,
};

/// Request facts the event carries.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// Client IP.
    pub ip: String,
    /// The `User-Agent` header of the login request, if sent.
    pub user_agent: Option<String>,
    /// Host header.
    pub hostname: String,
    /// First Accept-Language tag.
    pub language: Option<String>,
}

/// A user's tenant-wide role names and the union of their permissions.
pub type RolesAndPermissions = (Vec<String>, Vec<String>);

/// Tenant-wide roles of a user and the union of their permissions.
pub async fn roles_and_permissions(
    db: &Store,
    user_id: &str,
) -> Result<RolesAndPermissions, StoreError> {
    let rows = crate::store::roles::of_user(db.read().await?.conn(), user_id).await?;
    Ok(roles_and_permissions_of(rows))
}

/// Role names in their order, and the union of their permissions in first-seen order.
pub fn roles_and_permissions_of(
    rows: Vec<crate::store::roles::RolePermissions>,
) -> RolesAndPermissions {
    let mut perms: Vec<String> = Vec::new();
    for r in &rows {
        for perm in &r.permissions {
            if !perms.contains(perm) {
                perms.push(perm.clone());
            }
        }
    }
    (rows.into_iter().map(|r| r.name).collect(), perms)
}

fn object(map: &serde_json::Map<String, Value>) -> Value {
    Value::Object(map.clone())
}

/// The event for one login at `now` (epoch ms). `roles` are the user's, and the second of `org`
/// their roles in it, when the caller has read them already; they are read here otherwise.
#[allow(clippy::too_many_arguments)]
pub async fn build(
    db: &Store,
    roles: Option<RolesAndPermissions>,
    tenant: (&str, &str),
    user: &UserRow,
    org: Option<(&OrgRow, Option<Vec<String>>)>,
    app: &AppRow,
    protocol: Protocol,
    scopes: &[String],
    audience: Option<&str>,
    request: &RequestInfo,
    now: i64,
) -> Result<PostLoginEvent, StoreError> {
    let (roles, permissions) = match roles {
        Some(known) => known,
        None => roles_and_permissions(db, &user.id).await?,
    };
    let organization = match org {
        None => None,
        Some((o, known)) => {
            let roles = match known {
                Some(roles) => Some(roles),
                None => org_store::member_roles(db.read().await?.conn(), &o.id, &user.id).await?,
            };
            Some(EventOrganization {
                id: o.id.clone(),
                name: o.name.clone(),
                display_name: o.display_name.clone(),
                external_id: o.external_id.clone(),
                metadata: object(&o.metadata),
                roles: roles.unwrap_or_default(),
            })
        }
    };
    Ok(PostLoginEvent {
        user: EventUser {
            id: user.id.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            name: user.name.clone(),
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
            nickname: user.nickname.clone(),
            picture: user.picture.clone(),
            created_at: rfc3339(user.created_at),
            last_login: user.last_login.map(rfc3339),
            logins_count: user.logins_count.max(0) as u64,
            external_id: user.external_id.clone(),
            user_metadata: object(&user.user_metadata),
            app_metadata: object(&user.app_metadata),
            roles,
            permissions,
        },
        organization,
        client: EventClient {
            client_id: app.client_id.clone(),
            name: app.name.clone(),
            client_metadata: object(&app.client_metadata),
        },
        request: EventRequest {
            ip: request.ip.clone(),
            user_agent: request.user_agent.clone(),
            hostname: request.hostname.clone(),
            language: request.language.clone(),
        },
        transaction: EventTransaction {
            protocol,
            requested_scopes: scopes.to_vec(),
            audience: audience.map(str::to_string),
            redirect_uri: None,
        },
        tenant: EventTenant {
            id: tenant.0.to_string(),
            name: tenant.1.to_string(),
        },
        now: rfc3339(now),
    })
}
