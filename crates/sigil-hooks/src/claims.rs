//! Which claim names a hook or a JWT template may set, and how a token's claims combine.
//!
//! # Precedence
//!
//! One rule, here and in docs/hooks.md ("Claim precedence"): **templates < hooks < (profile
//! and protocol claims)**. A JWT template renders first; a hook's claim of the same name
//! replaces the template's (a later hook replaces an earlier one); the claims Sigil takes from
//! the user's profile ([`PROFILE_CLAIMS`]) and the protocol claims it computes itself
//! ([`RESTRICTED_CLAIMS`]) can be set by neither. Rather than letting a custom claim be
//! overwritten silently when the token is assembled, trying to set a restricted name fails
//! with a named error (`restricted_claim` for hooks, a template error at save time), so a
//! claim that was reported as set is always in the token.
//!
//! Names are compared canonically (ASCII case-insensitively, after trimming whitespace):
//! `Sub` and ` sub ` are `sub` to a lax relying party, and a name with control characters
//! or NUL (`su\0b`) is refused outright, since C-string parsers truncate it.

/// Identity claims Sigil takes from the user record (OIDC Core 5.1; `profile` and `email`
/// scopes; the server's `oauth::claims::profile` emits them). A hook or template may not set them: the
/// profile's value would replace it in the ID token. Also in [`RESTRICTED_CLAIMS`].
pub const PROFILE_CLAIMS: &[&str] = &PROFILE;

const PROFILE: [&str; 10] = [
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "updated_at",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
];

/// Claims Sigil computes itself for the protocol; see [`PROTOCOL`] for where each comes from.
/// Also in [`RESTRICTED_CLAIMS`].
pub const PROTOCOL_CLAIMS: &[&str] = &PROTOCOL;

/// The JWT registered claims (RFC 7519 4.1), the OIDC protocol claims (OIDC Core 2,
/// 3.1.3.6), the RFC 9068 access-token claims, the RFC 8693 delegation claims (`act`,
/// `may_act`), the RFC 7800 confirmation claim (`cnf`) and `org_id`.
const PROTOCOL: [&str; 21] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "azp",
    "nonce",
    "auth_time",
    "at_hash",
    "c_hash",
    "acr",
    "amr",
    "sid",
    "scope",
    "client_id",
    "cnf",
    "act",
    "may_act",
    "org_id",
];

/// Every claim a hook or template may not set (a closed list, matched canonically): the
/// protocol claims and the [`PROFILE_CLAIMS`].
pub const RESTRICTED_CLAIMS: &[&str] = &concat::<21, 10, 31>(PROTOCOL, PROFILE);

/// Joins two lists at compile time, so each claim is written once.
const fn concat<const A: usize, const B: usize, const C: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; C] {
    assert!(A + B == C, "C must be A + B");
    let mut out = [""; C];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < B {
        out[A + j] = b[j];
        j += 1;
    }
    out
}

/// Longest claim name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Why a claim name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimNameError {
    /// Empty, or longer than [`MAX_NAME_BYTES`].
    #[error("a claim name must be 1 to {MAX_NAME_BYTES} bytes")]
    Length,
    /// Holds a control character or NUL.
    #[error("a claim name may not contain control characters or NUL")]
    ControlCharacter,
    /// Canonically one of the [`PROFILE_CLAIMS`] (the payload is that claim).
    #[error("`{0}` comes from the user profile and cannot be set")]
    Profile(&'static str),
    /// Canonically one of the other restricted claims (the payload is that claim).
    #[error("`{0}` is set by the server and cannot be set")]
    Protocol(&'static str),
}

impl ClaimNameError {
    /// Whether the name is well-formed but restricted (rather than malformed).
    pub fn is_restricted(&self) -> bool {
        matches!(
            self,
            ClaimNameError::Profile(_) | ClaimNameError::Protocol(_)
        )
    }
}

/// The entry of `list` that `name` canonically is: equal ignoring ASCII case and surrounding
/// whitespace.
pub fn restricted_in<'a>(list: &[&'a str], name: &str) -> Option<&'a str> {
    let name = name.trim();
    list.iter().copied().find(|r| r.eq_ignore_ascii_case(name))
}

/// Checks a claim name against `list` (normally [`RESTRICTED_CLAIMS`]; templates pass theirs).
pub fn check_name_in(list: &[&'static str], name: &str) -> Result<(), ClaimNameError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(ClaimNameError::Length);
    }
    if name.chars().any(char::is_control) {
        return Err(ClaimNameError::ControlCharacter);
    }
    match restricted_in(list, name) {
        Some(r) if PROFILE_CLAIMS.contains(&r) => Err(ClaimNameError::Profile(r)),
        Some(r) => Err(ClaimNameError::Protocol(r)),
        None => Ok(()),
    }
}

/// Checks a claim name a hook wants to set.
pub fn check_name(name: &str) -> Result<(), ClaimNameError> {
    check_name_in(RESTRICTED_CLAIMS, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_claims_are_restricted() {
        for p in PROFILE_CLAIMS {
            assert!(RESTRICTED_CLAIMS.contains(p), "{p}");
        }
    }

    #[test]
    fn canonical_matching() {
        for (name, want) in [
            ("Sub", Err(ClaimNameError::Protocol("sub"))),
            (" sub ", Err(ClaimNameError::Protocol("sub"))),
            ("SUB", Err(ClaimNameError::Protocol("sub"))),
            ("\tCnf\n", Err(ClaimNameError::ControlCharacter)),
            ("su\0b", Err(ClaimNameError::ControlCharacter)),
            ("Name", Err(ClaimNameError::Profile("name"))),
            ("", Err(ClaimNameError::Length)),
            ("https://example.com/sub", Ok(())),
            ("subject", Ok(())),
        ] {
            assert_eq!(check_name(name), want, "{name:?}");
        }
        assert_eq!(check_name(&"x".repeat(256)), Err(ClaimNameError::Length));
    }
}
