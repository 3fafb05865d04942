//! The browser's cookies: the per-tenant session cookie (`SameSite=Lax`, so an application's
//! top-level redirect to `/authorize` carries it) and the double-submit CSRF token in a
//! `SameSite=Strict` cookie, which a cross-site form post does not carry.

use super::*;

pub(super) const SESSION_COOKIE: &str = "sigil_session";
pub(super) const CSRF_COOKIE: &str = "sigil_csrf";

/// The value of a cookie in the request.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A response under construction with the cookies it sets.
pub(super) struct Reply {
    cookies: Vec<String>,
}

impl Reply {
    pub(super) fn new() -> Self {
        Self {
            cookies: Vec::new(),
        }
    }

    pub(super) fn set(
        &mut self,
        svc: &Services,
        tenant: &str,
        name: &str,
        value: &str,
        same_site: &str,
    ) {
        self.push(svc, tenant, name, value, same_site, "");
    }

    /// The login session's cookie. Persistent by default: it lives as long as the session may
    /// (its absolute lifetime; the idle limit is enforced by the server), so single sign-on
    /// survives a browser restart; the operator may make it session-only.
    pub(super) fn set_session(&mut self, svc: &Services, tenant: &str, value: &str) {
        let max_age = if svc.sessions.persistent_cookie {
            format!("; Max-Age={}", svc.sessions.absolute_ms / 1000)
        } else {
            String::new()
        };
        self.push(svc, tenant, SESSION_COOKIE, value, "Lax", &max_age);
    }

    fn push(
        &mut self,
        svc: &Services,
        tenant: &str,
        name: &str,
        value: &str,
        same_site: &str,
        extra: &str,
    ) {
        let secure = if svc.issuers.base().starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        self.cookies.push(format!(
            "{name}={value}; Path=/t/{tenant}; HttpOnly; SameSite={same_site}{secure}{extra}"
        ));
    }

    pub(super) fn clear(&mut self, tenant: &str, name: &str) {
        self.cookies
            .push(format!("{name}=; Path=/t/{tenant}; HttpOnly; Max-Age=0"));
    }

    pub(super) fn finish(self, mut res: Response) -> Response {
        for c in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    }
}

/// The CSRF token of this browser, creating one (and its cookie) when missing.
pub(super) fn csrf_token(
    svc: &Services,
    tenant: &str,
    headers: &HeaderMap,
    reply: &mut Reply,
) -> String {
    match cookie(headers, CSRF_COOKIE).filter(|c| c.len() >= 32) {
        Some(c) => c,
        None => {
            let t = random_secret("").expose().to_string();
            reply.set(svc, tenant, CSRF_COOKIE, &t, "Strict");
            t
        }
    }
}

pub(super) fn csrf_ok(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    match (cookie(headers, CSRF_COOKIE), form.get("csrf")) {
        (Some(c), Some(f)) => !c.is_empty() && constant_time_eq(c.as_bytes(), f.as_bytes()),
        _ => false,
    }
}
