//! Field validation shared by the management operations. Each check names the field it
//! refuses, so the API can say which one and why.

use serde_json::{Map, Value};

use super::{ManageError, Result, invalid};
// The field checks the login path applies too (a legacy store's profiles), from their leaf.
pub use crate::fields::{email, external_id, opt_text, picture, text, token};
use sigil_hooks::metadata::{self, MetadataError};

/// Checks a slug: lower-case letters, digits and `-`, starting with a letter or digit.
pub fn slug(field: &str, value: &str, max: usize) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("must be 1 to {max} of a-z, 0-9 and '-', starting with a letter or digit"),
        ))
    }
}

/// Checks a list of tokens and returns it de-duplicated in the given order.
pub fn tokens(field: &str, values: &[String], max_items: usize) -> Result<Vec<String>> {
    if values.len() > max_items {
        return Err(invalid(field, format!("at most {max_items} items")));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        token(&format!("{field}[{i}]"), v, 255)?;
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(out)
}

/// Maps a metadata refusal to the field that carried it.
pub fn metadata_error(field: &str, e: MetadataError) -> ManageError {
    match e {
        MetadataError::KeyTooLong { path } => invalid(
            format!("{field}.{path}"),
            format!("key is longer than {} characters", metadata::MAX_KEY_CHARS),
        ),
        other => invalid(field, other.to_string()),
    }
}

/// Validates a metadata object given whole (creation or replacement); nulls are dropped.
pub fn metadata_object(field: &str, value: Option<&Value>) -> Result<Map<String, Value>> {
    match value {
        None => Ok(Map::new()),
        Some(v) => metadata::replace(v)
            .map_err(|e| metadata_error(field, e))
            .and_then(|m| object(field, m)),
    }
}

/// The object a metadata rule produced (it only ever produces objects).
pub(crate) fn object(field: &str, v: Value) -> Result<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(invalid(field, "must be an object")),
    }
}

/// Checks a redirect URI for exact-match registration (RFC 9700 2.1; OAuth 2.1 drops
/// wildcards): absolute, no fragment (RFC 6749 3.1.2), and https except on loopback or for
/// private-use schemes of native apps (RFC 8252 7.1, 7.3).
pub fn redirect_uri(field: &str, value: &str) -> Result<()> {
    let bad = |why: &str| Err(invalid(field, why.to_string()));
    if value.len() > 2048 {
        return bad("must be at most 2048 characters");
    }
    if value.contains('*') {
        return bad("wildcards are not allowed; register each exact URI");
    }
    let Ok(u) = url::Url::parse(value) else {
        return bad("must be an absolute URI");
    };
    if u.fragment().is_some() {
        return bad("must not contain a fragment");
    }
    match u.scheme() {
        "https" => Ok(()),
        "http" => match u.host_str() {
            Some("localhost" | "127.0.0.1" | "[::1]") => Ok(()),
            _ => bad("http is only allowed for localhost, 127.0.0.1 and [::1]; use https"),
        },
        "javascript" | "data" | "file" | "vbscript" => bad("scheme is not allowed"),
        // Private-use schemes for native apps (RFC 8252 7.1) must contain a period.
        s if s.contains('.') => Ok(()),
        _ => bad("must be https, http on loopback, or a reverse-DNS private-use scheme"),
    }
}

/// Checks a web origin (scheme, host, optional port; nothing else).
pub fn web_origin(field: &str, value: &str) -> Result<()> {
    let ok = url::Url::parse(value).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some()
            && u.path() == "/"
            && u.query().is_none()
            && u.fragment().is_none()
            && u.username().is_empty()
            && !value.ends_with('/')
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            "must be an origin such as https://app.example.com (no path or trailing slash)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(email("email", "a@b.co").is_ok());
        assert!(email("email", "a b@c.d").is_err());
        assert!(email("email", "nobody").is_err());
        assert!(email("email", "@x.y").is_err());
        assert_eq!(
            crate::store::users::normalize_email(" ÉMILE@Example.COM "),
            "émile@example.com"
        );
    }

    #[test]
    fn redirect_uris() {
        assert!(redirect_uri("r", "https://app.example.com/cb").is_ok());
        assert!(redirect_uri("r", "http://localhost:3000/cb").is_ok());
        assert!(redirect_uri("r", "http://127.0.0.1/cb").is_ok());
        assert!(redirect_uri("r", "com.example.app:/cb").is_ok());
        assert!(redirect_uri("r", "http://app.example.com/cb").is_err());
        assert!(redirect_uri("r", "https://app.example.com/cb#x").is_err());
        assert!(redirect_uri("r", "https://*.example.com/cb").is_err());
        assert!(redirect_uri("r", "javascript:alert(1)").is_err());
        assert!(redirect_uri("r", "/relative").is_err());
    }

    #[test]
    fn origins_and_slugs() {
        assert!(web_origin("o", "https://app.example.com").is_ok());
        assert!(web_origin("o", "http://localhost:5173").is_ok());
        assert!(web_origin("o", "https://app.example.com/").is_err());
        assert!(web_origin("o", "https://app.example.com/path").is_err());
        assert!(slug("name", "acme-1", 63).is_ok());
        assert!(slug("name", "Acme", 63).is_err());
        assert!(slug("name", "-x", 63).is_err());
        assert_eq!(
            tokens("p", &["a".into(), "b".into(), "a".into()], 10).unwrap(),
            vec!["a".to_string(), "b".to_string()]
        );
        assert!(tokens("p", &["has space".into()], 10).is_err());
    }
}
