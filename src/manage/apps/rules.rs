//! The checks of an application's settings: redirect and origin lists, token lifetimes, the
//! grant types its client type may use (RFC 9700 2.4: the password grant only for a
//! confidential client), the signing algorithm.

use super::*;
use crate::store::SigningAlg;

pub(super) fn uris(
    field: &str,
    list: &[String],
    check: fn(&str, &str) -> Result<()>,
) -> Result<Vec<String>> {
    if list.len() > 50 {
        return Err(invalid(field, "at most 50 entries"));
    }
    for (i, u) in list.iter().enumerate() {
        check(&format!("{field}[{i}]"), u)?;
    }
    Ok(list.to_vec())
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

pub(super) fn grants(client_type: ClientType, list: &[String]) -> Result<Vec<GrantType>> {
    let mut dedup: Vec<GrantType> = Vec::new();
    for (i, g) in list.iter().enumerate() {
        let field = format!("grant_types[{i}]");
        let grant: GrantType = g.parse().map_err(|_| {
            invalid(
                field.clone(),
                format!("must be one of {}", GRANT_TYPES.join(", ")),
            )
        })?;
        if client_type == ClientType::Public
            && matches!(grant, GrantType::Password | GrantType::ClientCredentials)
        {
            return Err(invalid(
                field,
                format!("`{g}` needs a confidential application (RFC 9700 2.4)"),
            ));
        }
        if !dedup.contains(&grant) {
            dedup.push(grant);
        }
    }
    Ok(dedup)
}

pub(super) fn alg(v: Option<&str>) -> Result<SigningAlg> {
    match v {
        None => Ok(SigningAlg::Rs256),
        Some(a) => a
            .parse()
            .map_err(|_| invalid("signing_alg", "must be RS256, ES256 or EdDSA")),
    }
}
