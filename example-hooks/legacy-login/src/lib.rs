//! A user-store hook for a legacy user API: Sigil asks it to verify a password when a user it
//! does not have yet logs in, and migrates the user with the profile it returns.
//!
//! The legacy API (see `tests/api/legacy/mock.rs` for the one the tests run):
//! - `POST {LEGACY_URL}/v1/verify` with `{"email", "password"}`: `200` and the user, `401` for
//!   a wrong password, `404` for an unknown email;
//! - `GET {LEGACY_URL}/v1/users?email=...`: `200` and the user, or `404`;
//! - `GET {LEGACY_URL}/v1/users/count`: `{"count": n}`.
//!
//! A user is `{"id", "email", "email_verified", "name", "roles": [..], "org_id", "org_roles":
//! [..], "department"}`. The hook's secrets: `LEGACY_URL` (the API's base URL) and
//! `LEGACY_KEY` (a bearer token, substituted by the host so it never enters the hook).
//! Allow-list it needs: `<the API's host>/v1:GET,POST`.

use serde::Deserialize;
use serde_json::json;
use sigil_hooks::http::{Request, Response};
use sigil_hooks::user_store::{self, LoginRequest, LoginResult, Membership, Profile};

/// A user as the legacy API returns one.
#[derive(Deserialize)]
struct LegacyUser {
    id: String,
    email: String,
    #[serde(default)]
    email_verified: bool,
    name: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    org_id: Option<String>,
    #[serde(default)]
    org_roles: Vec<String>,
    department: Option<String>,
}

impl From<LegacyUser> for Profile {
    fn from(u: LegacyUser) -> Profile {
        let mut p = Profile::new(u.id, u.email);
        p.email_verified = u.email_verified;
        p.name = u.name;
        p.roles = u.roles;
        if let Some(org) = u.org_id {
            p.organizations = vec![Membership {
                organization: org,
                roles: u.org_roles,
            }];
        }
        if let Some(d) = u.department {
            p.user_metadata = json!({ "department": d });
        }
        p.app_metadata = json!({ "migrated_from": "legacy-api" });
        p
    }
}

fn base() -> Result<String, String> {
    user_store::secret("LEGACY_URL")
        .map(|u| u.trim_end_matches('/').to_string())
        .ok_or_else(|| "the hook has no LEGACY_URL secret".into())
}

fn send(request: Request) -> Result<Response, String> {
    request
        .bearer_secret("LEGACY_KEY")
        .timeout_ms(1_000)
        .send()
        .map_err(|e| format!("the legacy API did not answer: {e}"))
}

fn login(request: &LoginRequest) -> Result<LoginResult, String> {
    let body = json!({ "email": request.identifier, "password": request.password });
    let reply = send(Request::post(format!("{}/v1/verify", base()?)).json(&body)?)?;
    match reply.status() {
        200 => Ok(LoginResult::Authenticated(
            reply.json::<LegacyUser>()?.into(),
        )),
        401 => Ok(LoginResult::WrongPassword),
        404 => Ok(LoginResult::UnknownUser),
        // An outage is an error, never a wrong password: the user must not be locked out for it.
        status => Err(format!("the legacy API answered {status}")),
    }
}

fn lookup(email: &str) -> Result<Option<Profile>, String> {
    let url = format!("{}/v1/users?email={}", base()?, encode(email));
    let reply = send(Request::get(url))?;
    match reply.status() {
        200 => Ok(Some(reply.json::<LegacyUser>()?.into())),
        404 => Ok(None),
        status => Err(format!("the legacy API answered {status}")),
    }
}

fn user_count() -> Result<Option<u64>, String> {
    let reply = send(Request::get(format!("{}/v1/users/count", base()?)))?;
    if !reply.is_success() {
        return Err(format!("the legacy API answered {}", reply.status()));
    }
    let count: serde_json::Value = reply.json()?;
    Ok(count["count"].as_u64())
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

sigil_hooks::export_user_store!(login, lookup = lookup, user_count = user_count);
