//! The post-login event: what a hook is told about a login.
//!
//! [`PostLoginEvent`] is the domain form (metadata as JSON values, serde for the sample event
//! file and the test endpoint); [`PostLoginEvent::to_wit`] turns it into the WIT records of the
//! contract, with metadata carried as JSON text.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::bindings::v0_1::sigil::hooks::types as wit;
use super::bindings::v0_2::sigil::hooks::types as wit2;

/// The event's WIT form for one contract version's bindings (`$w`: that version's `types`
/// module), with the version's own fields (`$extra`) beside the shared ones: the records are the
/// same in every version so far, but each version's bindings are types of their own.
macro_rules! wit_event {
    ($w:ident, $e:expr, { $($extra:tt)* }) => {{
        let u = &$e.user;
        $w::Event {
            user: $w::User {
                id: u.id.clone(),
                email: u.email.clone(),
                email_verified: u.email_verified,
                name: u.name.clone(),
                given_name: u.given_name.clone(),
                family_name: u.family_name.clone(),
                nickname: u.nickname.clone(),
                picture: u.picture.clone(),
                created_at: u.created_at.clone(),
                last_login: u.last_login.clone(),
                logins_count: u.logins_count,
                external_id: u.external_id.clone(),
                user_metadata: text(&u.user_metadata),
                app_metadata: text(&u.app_metadata),
                roles: u.roles.clone(),
                permissions: u.permissions.clone(),
            },
            organization: $e.organization.as_ref().map(|o| $w::Organization {
                id: o.id.clone(),
                name: o.name.clone(),
                display_name: o.display_name.clone(),
                external_id: o.external_id.clone(),
                metadata: text(&o.metadata),
                roles: o.roles.clone(),
            }),
            client: $w::Client {
                client_id: $e.client.client_id.clone(),
                name: $e.client.name.clone(),
                client_metadata: text(&$e.client.client_metadata),
            },
            request: $w::Request {
                ip: $e.request.ip.clone(),
                user_agent: $e.request.user_agent.clone(),
                hostname: $e.request.hostname.clone(),
                language: $e.request.language.clone(),
            },
            transaction: $w::Transaction {
                protocol: match $e.transaction.protocol {
                    Protocol::Password => $w::Protocol::Password,
                    Protocol::AuthorizationCode => $w::Protocol::AuthorizationCode,
                    Protocol::RefreshToken => $w::Protocol::RefreshToken,
                },
                requested_scopes: $e.transaction.requested_scopes.clone(),
                audience: $e.transaction.audience.clone(),
                redirect_uri: $e.transaction.redirect_uri.clone(),
            },
            tenant: $w::Tenant {
                id: $e.tenant.id.clone(),
                name: $e.tenant.name.clone(),
            },
            $($extra)*
            now: $e.now.clone(),
            now_ms: $e.now_ms(),
        }
    }};
}

/// The user logging in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventUser {
    /// `usr_...`
    pub id: String,
    /// The user's email address.
    pub email: String,
    /// Verified flag.
    #[serde(default)]
    pub email_verified: bool,
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Casual name (OIDC `nickname`).
    #[serde(default)]
    pub nickname: Option<String>,
    /// Picture URL.
    #[serde(default)]
    pub picture: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub created_at: String,
    /// RFC 3339.
    #[serde(default)]
    pub last_login: Option<String>,
    /// Logins so far.
    #[serde(default)]
    pub logins_count: u64,
    /// Customer's own id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// JSON object.
    #[serde(default = "empty")]
    #[schema(value_type = Object)]
    pub user_metadata: Value,
    /// JSON object.
    #[serde(default = "empty")]
    #[schema(value_type = Object)]
    pub app_metadata: Value,
    /// Tenant-wide role names.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Their permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// The organization of the login.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventOrganization {
    /// `org_...`
    pub id: String,
    /// The organization's unique name within the tenant.
    pub name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Customer's own id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// JSON object.
    #[serde(default = "empty")]
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// The member's roles.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The application.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventClient {
    /// OAuth client id.
    pub client_id: String,
    /// The application's name, as shown to people.
    pub name: String,
    /// JSON object.
    #[serde(default = "empty")]
    #[schema(value_type = Object)]
    pub client_metadata: Value,
}

/// The HTTP request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct EventRequest {
    /// Client IP.
    #[serde(default)]
    pub ip: String,
    /// The `User-Agent` header of the login request, if sent.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Host name.
    #[serde(default)]
    pub hostname: String,
    /// Preferred language.
    #[serde(default)]
    pub language: Option<String>,
}

/// How the user logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Resource owner password grant.
    Password,
    /// Authorization-code flow.
    AuthorizationCode,
    /// Refresh-token grant.
    RefreshToken,
}

/// The grant in progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventTransaction {
    /// How the user logged in.
    pub protocol: Protocol,
    /// Requested scopes.
    #[serde(default)]
    pub requested_scopes: Vec<String>,
    /// The API the access token is for.
    #[serde(default)]
    pub audience: Option<String>,
    /// The redirect URI (code flow).
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// The tenant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventTenant {
    /// `ten_...`
    pub id: String,
    /// The tenant's name (its path segment, `/t/{name}`).
    pub name: String,
}

/// Everything a hook receives (its secrets are added per hook).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PostLoginEvent {
    /// The user.
    pub user: EventUser,
    /// The organization, when the login is for one.
    #[serde(default)]
    pub organization: Option<EventOrganization>,
    /// The application.
    pub client: EventClient,
    /// The request.
    #[serde(default)]
    pub request: EventRequest,
    /// The grant.
    pub transaction: EventTransaction,
    /// The tenant.
    pub tenant: EventTenant,
    /// RFC 3339 time of the login.
    pub now: String,
}

fn empty() -> Value {
    Value::Object(Map::new())
}

fn text(v: &Value) -> String {
    if v.is_null() {
        "{}".into()
    } else {
        // `to_string` on a Value goes through `fmt::Display` and a writer adapter; this is the
        // direct serializer (a measurable part of building the event).
        serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
    }
}

impl PostLoginEvent {
    /// The length of its JSON text, what a hook's `event_bytes` limit is checked against,
    /// counted without building the text. An event (string keys, JSON values) always
    /// serializes; were it ever to fail, the size is unbounded, so the event is refused as too
    /// large, never run unchecked.
    pub fn serialized_size(&self) -> usize {
        crate::host::serialized_len(self)
    }

    /// The login time in epoch milliseconds (0 when `now` does not parse).
    pub fn now_ms(&self) -> i64 {
        time::OffsetDateTime::parse(&self.now, &time::format_description::well_known::Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .unwrap_or(0)
    }

    /// The WIT form of contract 0.1.0, without secrets (each hook gets its own, see
    /// [`wit_secrets`]).
    pub fn to_wit(&self) -> wit::Event {
        wit_event!(wit, self, { secrets: Vec::new(), })
    }

    /// The WIT form of contract 0.2.0, without secret names (each hook gets its own).
    pub fn to_wit_0_2(&self) -> wit2::Event {
        wit_event!(wit2, self, { secret_names: Vec::new(), })
    }
}

/// A hook's secrets in their WIT form.
pub fn wit_secrets(secrets: &[(String, String)]) -> Vec<wit::Secret> {
    secrets
        .iter()
        .map(|(name, value)| wit::Secret {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}
