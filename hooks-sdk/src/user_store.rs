//! User-store hooks (contract 0.2.0): your legacy user database behind Sigil's password login.
//!
//! A tenant whose users still live in another system sets a user-store hook as its legacy
//! store. When someone logs in with a password Sigil cannot check itself (a user it does not
//! have yet, or one imported without a password hash), Sigil calls the hook's `login` with what
//! they typed. The hook asks the legacy system (with [`crate::http`]) and answers with the
//! user's [`Profile`], [`LoginResult::WrongPassword`] or [`LoginResult::UnknownUser`]. On
//! `Authenticated`, Sigil creates the user with an argon2id hash of the password it just saw
//! verified, their metadata, roles and memberships; from then on they log in locally.
//!
//! ```no_run
//! use sigil_hooks::http::Request;
//! use sigil_hooks::user_store::{LoginRequest, LoginResult, Profile};
//!
//! fn login(request: &LoginRequest) -> Result<LoginResult, String> {
//!     let reply = Request::post("https://legacy.example.com/v1/verify")
//!         .header("Authorization", "Bearer {{secrets.LEGACY_KEY}}")
//!         .json(&serde_json::json!({ "email": request.identifier, "password": request.password }))?
//!         .send()
//!         .map_err(|e| e.to_string())?;
//!     match reply.status() {
//!         401 => Ok(LoginResult::WrongPassword),
//!         404 => Ok(LoginResult::UnknownUser),
//!         200 => {
//!             let user: serde_json::Value = reply.json()?;
//!             let mut profile = Profile::new(user["id"].to_string(), request.identifier.clone());
//!             profile.roles = vec!["member".into()];
//!             Ok(LoginResult::Authenticated(profile))
//!         }
//!         status => Err(format!("the legacy API answered {status}")),
//!     }
//! }
//!
//! sigil_hooks::export_user_store!(login);
//! ```
//!
//! Return `Err` when the legacy system cannot answer (down, slow, a reply you cannot read):
//! the login then fails as temporarily unavailable, nothing is created, and the attempt does
//! not count toward the user's lock. Never return `WrongPassword` for an outage.

use serde_json::Value;

use crate::bindings::sigil::hooks::api as host;
use crate::bindings::user_store as wit;

/// A password login to verify.
pub struct LoginRequest {
    /// What the user typed as their login name (an email address, trimmed).
    pub identifier: String,
    /// What they typed as their password. Send it to the legacy system and nowhere else; do not
    /// log it.
    pub password: String,
    /// `ten_...`
    pub tenant_id: String,
    /// The tenant's name.
    pub tenant: String,
    /// The names of this hook's secrets.
    pub secret_names: Vec<String>,
    /// The time of the login, RFC 3339.
    pub now: String,
    /// The same instant in milliseconds since the Unix epoch.
    pub now_ms: i64,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("identifier", &self.identifier)
            .field("password", &"(redacted)")
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// A user as the legacy system knows them.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// The legacy system's id for the user (Sigil keeps it as `external_id`).
    pub legacy_id: String,
    /// Email address (the user's login name in Sigil).
    pub email: String,
    /// Whether the legacy system verified the email.
    pub email_verified: bool,
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
    /// Data the user may edit: a JSON object (`Value::Null` is an empty one).
    pub user_metadata: Value,
    /// Data only the app and hooks set: a JSON object.
    pub app_metadata: Value,
    /// Tenant-wide role names; each must exist in the tenant.
    pub roles: Vec<String>,
    /// Organization memberships.
    pub organizations: Vec<Membership>,
}

impl Profile {
    /// A profile with the legacy id and email, and nothing else yet.
    pub fn new(legacy_id: impl Into<String>, email: impl Into<String>) -> Self {
        Profile {
            legacy_id: legacy_id.into(),
            email: email.into(),
            ..Profile::default()
        }
    }
}

/// A membership of an organization.
#[derive(Debug, Clone, Default)]
pub struct Membership {
    /// The organization's external id, or its name in Sigil.
    pub organization: String,
    /// Role names the user holds in it.
    pub roles: Vec<String>,
}

/// The answer to a password login.
#[derive(Debug, Clone)]
// Made once per call and returned at once: boxing the profile would only make hooks write
// `Box::new`.
#[allow(clippy::large_enum_variant)]
pub enum LoginResult {
    /// The password is right.
    Authenticated(Profile),
    /// The user exists and the password is wrong.
    WrongPassword,
    /// The legacy system has no such user.
    UnknownUser,
}

/// Writes a line to the hook's log (kept in the call's trace, capped).
pub fn log(message: impl AsRef<str>) {
    host::log(message.as_ref());
}

/// One of this hook's secrets. Prefer `{{secrets.NAME}}` in a request header, which never
/// brings the value into the hook.
pub fn secret(name: &str) -> Option<String> {
    host::secret(name)
}

fn metadata(v: &Value) -> String {
    match v {
        Value::Null => "{}".into(),
        v => v.to_string(),
    }
}

impl From<Profile> for wit::Profile {
    fn from(p: Profile) -> Self {
        wit::Profile {
            user_metadata: metadata(&p.user_metadata),
            app_metadata: metadata(&p.app_metadata),
            legacy_id: p.legacy_id,
            email: p.email,
            email_verified: p.email_verified,
            name: p.name,
            given_name: p.given_name,
            family_name: p.family_name,
            nickname: p.nickname,
            picture: p.picture,
            roles: p.roles,
            organizations: p
                .organizations
                .into_iter()
                .map(|m| wit::Membership {
                    organization: m.organization,
                    roles: m.roles,
                })
                .collect(),
        }
    }
}

#[doc(hidden)]
pub fn __login(
    raw: wit::LoginRequest,
    handler: fn(&LoginRequest) -> Result<LoginResult, String>,
) -> Result<wit::LoginResult, String> {
    crate::log_panics();
    let request = LoginRequest {
        identifier: raw.identifier,
        password: raw.password,
        tenant_id: raw.tenant.id,
        tenant: raw.tenant.name,
        secret_names: raw.secret_names,
        now: raw.now,
        now_ms: raw.now_ms,
    };
    Ok(match handler(&request)? {
        LoginResult::Authenticated(p) => wit::LoginResult::Authenticated(p.into()),
        LoginResult::WrongPassword => wit::LoginResult::WrongPassword,
        LoginResult::UnknownUser => wit::LoginResult::UnknownUser,
    })
}

#[doc(hidden)]
pub fn __lookup(
    identifier: String,
    handler: fn(&str) -> Result<Option<Profile>, String>,
) -> Result<Option<wit::Profile>, String> {
    crate::log_panics();
    Ok(handler(&identifier)?.map(Into::into))
}

#[doc(hidden)]
pub fn __user_count(handler: fn() -> Result<Option<u64>, String>) -> Result<Option<u64>, String> {
    crate::log_panics();
    handler()
}

/// The answer of a hook that cannot look users up: none.
#[doc(hidden)]
pub fn __no_lookup(_: &str) -> Result<Option<Profile>, String> {
    Ok(None)
}

/// The answer of a hook that cannot count its users: unknown.
#[doc(hidden)]
pub fn __no_count() -> Result<Option<u64>, String> {
    Ok(None)
}

/// Declares a user-store hook: `login` is `fn(&LoginRequest) -> Result<LoginResult, String>`;
/// optionally `lookup = fn(&str) -> Result<Option<Profile>, String>` (a user by login name,
/// without a password) and `user_count = fn() -> Result<Option<u64>, String>` (how many users
/// the legacy system holds, for the migration's progress).
#[macro_export]
macro_rules! export_user_store {
    ($login:path) => {
        $crate::export_user_store!(
            $login,
            lookup = $crate::user_store::__no_lookup,
            user_count = $crate::user_store::__no_count
        );
    };
    ($login:path, lookup = $lookup:path) => {
        $crate::export_user_store!(
            $login,
            lookup = $lookup,
            user_count = $crate::user_store::__no_count
        );
    };
    ($login:path, lookup = $lookup:path, user_count = $count:path) => {
        struct __SigilUserStore;
        impl $crate::bindings::user_store::Guest for __SigilUserStore {
            fn login(
                request: $crate::bindings::user_store::LoginRequest,
            ) -> ::core::result::Result<
                $crate::bindings::user_store::LoginResult,
                ::std::string::String,
            > {
                $crate::user_store::__login(request, $login)
            }
            fn lookup(
                identifier: ::std::string::String,
            ) -> ::core::result::Result<
                ::core::option::Option<$crate::bindings::user_store::Profile>,
                ::std::string::String,
            > {
                $crate::user_store::__lookup(identifier, $lookup)
            }
            fn user_count()
            -> ::core::result::Result<::core::option::Option<u64>, ::std::string::String> {
                $crate::user_store::__user_count($count)
            }
        }
        $crate::bindings::user_store::export!(__SigilUserStore);
    };
}
