//! A hook's allow-list: the destinations its fetches may reach, set with the hook through the
//! management API or the CLI (never by the hook itself). A request matches a rule when its host
//! matches the rule's host (exact, or `*.example.com` for any name below `example.com`, not the
//! apex), its path starts with one of the rule's path prefixes at a segment boundary (any path
//! when none is given), and its method is one of the rule's (any when none is given).

use serde::{Deserialize, Serialize};

/// Most rules one hook may have.
pub const MAX_RULES: usize = 32;

/// One allowed destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    /// `api.example.com`, or `*.example.com` for any name below `example.com`.
    #[schema(example = "crm.example.com")]
    pub host: String,
    /// Path prefixes, each starting with `/`; empty allows any path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Methods (`GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE`); empty allows any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
}

impl std::str::FromStr for AllowRule {
    type Err = String;

    /// The command line's short form, `HOST[/PATH][:METHOD,METHOD]`, e.g.
    /// `crm.example.com/v1/accounts:GET`: one path prefix at most (none: any path) and
    /// methods after the last `:` (none: any). Checked by [`AllowList::new`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (target, methods) = match s.rsplit_once(':') {
            Some((t, m))
                if !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic() || b == b',') =>
            {
                (t, m.split(',').map(str::to_string).collect())
            }
            _ => (s, Vec::new()),
        };
        let (host, paths) = match target.find('/') {
            Some(i) => (&target[..i], vec![target[i..].to_string()]),
            None => (target, Vec::new()),
        };
        if host.is_empty() {
            return Err(format!("`{s}` is not HOST[/PATH][:METHODS]"));
        }
        Ok(AllowRule {
            host: host.to_string(),
            paths,
            methods,
        })
    }
}

/// A rule that is not valid, with where and why (for the API's field errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    /// `allow[2].host`, say.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// A validated allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<AllowRule>);

impl AllowList {
    /// Checks and normalizes `rules` (host names lowercased, methods uppercased).
    pub fn new(rules: Vec<AllowRule>) -> Result<Self, RuleError> {
        if rules.len() > MAX_RULES {
            return Err(RuleError {
                field: "allow".into(),
                message: format!("at most {MAX_RULES} rules"),
            });
        }
        let mut out = Vec::with_capacity(rules.len());
        for (i, mut r) in rules.into_iter().enumerate() {
            let err = |field: &str, message: String| RuleError {
                field: format!("allow[{i}].{field}"),
                message,
            };
            r.host = r.host.trim().to_ascii_lowercase();
            check_host(&r.host).map_err(|m| err("host", m))?;
            for p in &r.paths {
                if !p.starts_with('/') || p.contains(['?', '#']) || p.split('/').any(is_dot) {
                    return Err(err(
                        "paths",
                        format!(
                            "`{p}` must be a path starting with `/`, without `.` or `..` segments, query or fragment"
                        ),
                    ));
                }
            }
            for m in &mut r.methods {
                *m = m.to_ascii_uppercase();
                if !METHODS.contains(&m.as_str()) {
                    return Err(err(
                        "methods",
                        format!("`{m}` is not one of {}", METHODS.join(", ")),
                    ));
                }
            }
            out.push(r);
        }
        Ok(AllowList(out))
    }

    /// The rules.
    pub fn rules(&self) -> &[AllowRule] {
        &self.0
    }

    /// Whether there are no rules (the hook may fetch nothing).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when a rule allows `method` to `host` at `path` (a normalized URL path: the URL
    /// parser has already resolved dot segments), or why not.
    pub fn check(&self, method: &str, host: &str, path: &str) -> Result<(), String> {
        let host = host.to_ascii_lowercase();
        let mut host_known = false;
        for r in &self.0 {
            if !host_matches(&r.host, &host) {
                continue;
            }
            host_known = true;
            let path_ok = r.paths.is_empty() || r.paths.iter().any(|p| path_under(p, path));
            let method_ok = r.methods.is_empty() || r.methods.iter().any(|m| m == method);
            if path_ok && method_ok {
                return Ok(());
            }
        }
        Err(if host_known {
            format!("{method} {path} on `{host}` is not allowed by the hook's allow-list")
        } else {
            format!("`{host}` is not on the hook's allow-list")
        })
    }
}

fn is_dot(segment: &str) -> bool {
    segment == "." || segment == ".."
}

/// A DNS name (letters, digits, hyphens; at least two labels), optionally `*.` first. IP
/// literals are refused: an allow-list names services, and the address rules judge addresses.
fn check_host(host: &str) -> Result<(), String> {
    let name = host.strip_prefix("*.").unwrap_or(host);
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let numeric = labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if name.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) || numeric {
        return Err(format!(
            "`{host}` must be a host name such as `api.example.com`, or `*.example.com` for the names below it"
        ));
    }
    Ok(())
}

fn host_matches(rule: &str, host: &str) -> bool {
    match rule.strip_prefix("*.") {
        Some(parent) => host
            .strip_suffix(parent)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => rule == host,
    }
}

/// Whether `path` is `prefix` or below it (`/v1` covers `/v1` and `/v1/users`, not `/v10`).
fn path_under(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(host: &str, paths: &[&str], methods: &[&str]) -> AllowRule {
        AllowRule {
            host: host.into(),
            paths: paths.iter().map(|s| s.to_string()).collect(),
            methods: methods.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn hosts_match_exactly_or_below_a_wildcard() {
        let list = AllowList::new(vec![
            rule("CRM.example.com", &[], &[]),
            rule("*.billing.example", &[], &[]),
        ])
        .unwrap();
        assert!(list.check("GET", "crm.example.com", "/").is_ok());
        assert!(list.check("GET", "eu.billing.example", "/").is_ok());
        assert!(list.check("GET", "a.b.billing.example", "/").is_ok());
        for host in [
            "billing.example",
            "evilbilling.example",
            "example.com",
            "crm.example.com.evil",
        ] {
            assert_eq!(
                list.check("GET", host, "/"),
                Err(format!("`{host}` is not on the hook's allow-list")),
            );
        }
    }

    #[test]
    fn paths_and_methods_narrow_a_rule() {
        let list = AllowList::new(vec![rule("api.example.com", &["/v1"], &["get"])]).unwrap();
        assert!(list.check("GET", "api.example.com", "/v1").is_ok());
        assert!(list.check("GET", "api.example.com", "/v1/users/7").is_ok());
        for (method, path) in [("GET", "/v10"), ("GET", "/admin"), ("POST", "/v1/users")] {
            assert_eq!(
                list.check(method, "api.example.com", path),
                Err(format!(
                    "{method} {path} on `api.example.com` is not allowed by the hook's allow-list"
                ))
            );
        }
    }

    #[test]
    fn the_short_form_reads_host_path_and_methods() {
        let r: AllowRule = "crm.example.com/v1/accounts:GET,post".parse().unwrap();
        assert_eq!(
            r,
            rule("crm.example.com", &["/v1/accounts"], &["GET", "post"])
        );
        let r: AllowRule = "*.example.com".parse().unwrap();
        assert_eq!(r, rule("*.example.com", &[], &[]));
        assert!("/v1".parse::<AllowRule>().is_err());
    }

    #[test]
    fn invalid_rules_name_the_field() {
        for (r, field) in [
            (rule("http://x.com", &[], &[]), "allow[0].host"),
            (rule("localhost", &[], &[]), "allow[0].host"),
            (rule("10.0.0.1", &[], &[]), "allow[0].host"),
            (rule("*.com.", &[], &[]), "allow[0].host"),
            (rule("x.example.com", &["v1"], &[]), "allow[0].paths"),
            (
                rule("x.example.com", &["/v1/../admin"], &[]),
                "allow[0].paths",
            ),
            (rule("x.example.com", &[], &["TRACE"]), "allow[0].methods"),
        ] {
            assert_eq!(AllowList::new(vec![r]).unwrap_err().field, field);
        }
        let many = vec![rule("a.example.com", &[], &[]); MAX_RULES + 1];
        assert_eq!(AllowList::new(many).unwrap_err().field, "allow");
    }
}
