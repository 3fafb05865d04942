//! The checks of an application's settings: redirect and origin lists, token lifetimes, the
//! grant types its client type may use (RFC 9700 2.4: the password grant only for a
//! confidential client), the signing algorithm.

use super::*;

pub(super) fn uris(
    field: &str,
    list: &[String],
    check: fn(&str, &str) -> Result<()>,
) -> Result<String> {
    if list.len() > 50 {
        return Err(invalid(field, "at most 50 entries"));
    }
    for (i, u) in list.iter().enumerate() {
        check(&format!("{field}[{i}]"), u)?;
    }
    Ok(serde_json::to_string(list).unwrap_or_else(|_| "[]".into()))
}

pub(super) fn lifetime(field: &str, v: Option<i64>, default: i64, max: i64) -> Result<i64> {
    match v {
        None => Ok(default),
        Some(s) if (60..=max).contains(&s) => Ok(s),
        Some(_) => Err(invalid(
            field,
            format!("must be between 60 and {max} seconds"),
        )),
    }
}

pub(super) fn grants(client_type: &str, list: &[String]) -> Result<String> {
    for (i, g) in list.iter().enumerate() {
        let field = format!("grant_types[{i}]");
        if !GRANT_TYPES.contains(&g.as_str()) {
            return Err(invalid(
                field,
                format!("must be one of {}", GRANT_TYPES.join(", ")),
            ));
        }
        if client_type == "public" && matches!(g.as_str(), "password" | "client_credentials") {
            return Err(invalid(
                field,
                format!("`{g}` needs a confidential application (RFC 9700 2.4)"),
            ));
        }
    }
    let mut dedup: Vec<&String> = Vec::new();
    for g in list {
        if !dedup.contains(&g) {
            dedup.push(g);
        }
    }
    Ok(serde_json::to_string(&dedup).unwrap_or_else(|_| "[]".into()))
}

pub(super) fn alg(v: Option<&str>) -> Result<String> {
    match v {
        None => Ok("RS256".into()),
        Some(a) if SIGNING_ALGS.contains(&a) => Ok(a.into()),
        Some(_) => Err(invalid("signing_alg", "must be RS256, ES256 or EdDSA")),
    }
}
