//! Sigil-generated identifiers: a type prefix (`usr_`, `org_`, ...) and 26 Crockford base32
//! characters holding a 48-bit millisecond timestamp and 80 random bits (the ULID layout).
//!
//! Because the time comes first, ids sort by creation time, which is what cursor pagination
//! orders by; the random part keeps them unguessable enough to be harmless in URLs (they are
//! not secrets: authorization never depends on knowing an id).

use rand::RngCore;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The kinds of object that carry a generated id, each with its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `ten_`
    Tenant,
    /// `usr_`
    User,
    /// `org_`
    Organization,
    /// `rol_`
    Role,
    /// `api_`
    Api,
    /// `key_`
    ApiKey,
    /// `aud_`
    Audit,
    /// `app_` (an application's `client_id`)
    Application,
    /// `hook_`
    Hook,
    /// `trc_`
    Trace,
    /// `sig_` (a signing key's `kid`)
    SigningKey,
    /// `at_` (an access token's `jti`)
    AccessToken,
    /// `ses_` (a login session's public `sid`)
    Session,
    /// `rtf_` (a refresh-token family)
    RefreshFamily,
    /// `cgr_` (a client grant: an application's access to one API)
    ClientGrant,
}

impl IdKind {
    /// The prefix, including the underscore.
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Tenant => "ten_",
            IdKind::User => "usr_",
            IdKind::Organization => "org_",
            IdKind::Role => "rol_",
            IdKind::Api => "api_",
            IdKind::ApiKey => "key_",
            IdKind::Audit => "aud_",
            IdKind::Application => "app_",
            IdKind::Hook => "hook_",
            IdKind::Trace => "trc_",
            IdKind::SigningKey => "sig_",
            IdKind::AccessToken => "at_",
            IdKind::Session => "ses_",
            IdKind::RefreshFamily => "rtf_",
            IdKind::ClientGrant => "cgr_",
        }
    }
}

/// A new id of `kind` created at `now_ms`.
pub fn new_id(kind: IdKind, now_ms: i64) -> String {
    let mut rnd = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut rnd);
    format!("{}{}", kind.prefix(), encode(now_ms, rnd))
}

fn encode(now_ms: i64, rnd: [u8; 10]) -> String {
    let ts = (now_ms.max(0) as u128) & ((1u128 << 48) - 1);
    let mut value = ts << 80;
    for (i, b) in rnd.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    let mut out = [0u8; 26];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (25 - i);
        *slot = CROCKFORD[((value >> shift) & 0x1f) as usize];
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `client_id` of the tenant `tenant_id`'s built-in dashboard application: fixed, so the
/// dashboard's page can name it before anyone signs in, and unlike any generated one
/// (`app_...`). Here, below every layer, because the management API (which makes the client)
/// and the login pipeline (which leaves it out of the tenant's hooks) both need it.
pub fn dashboard_client_id(tenant_id: &str) -> String {
    format!("{DASHBOARD_CLIENT_PREFIX}{tenant_id}")
}

/// What every dashboard client's id starts with ([`dashboard_client_id`]).
pub const DASHBOARD_CLIENT_PREFIX: &str = "sigil-dashboard-";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time() {
        let a = new_id(IdKind::User, 1_000);
        let b = new_id(IdKind::User, 1_001);
        assert!(a < b, "{a} < {b}");
        assert!(a.starts_with("usr_"));
        assert_eq!(a.len(), 4 + 26);
    }

    #[test]
    fn encoding_is_fixed_width() {
        assert_eq!(encode(0, [0; 10]), "0".repeat(26));
        assert_eq!(encode(0, [0xff; 10]).len(), 26);
    }
}
