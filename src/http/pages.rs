//! The hosted pages (login, consent, logout, errors): server-rendered HTML with every
//! user-, application- or hook-provided text escaped, no scripts, and headers that forbid
//! framing (clickjacking, RFC 9700 4.16) and caching.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1d1f23}\
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;\
box-shadow:0 1px 4px rgba(0,0,0,.12)}h1{font-size:1.4rem;margin-top:0}\
label{display:block;margin:1rem 0 .3rem;font-weight:600}\
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;\
font-size:1rem;border:1px solid #8a8f98;border-radius:4px}\
input:focus,button:focus{outline:3px solid #2b6cb0;outline-offset:1px}\
button{margin-top:1.4rem;width:100%;padding:.7rem;font-size:1rem;border:0;border-radius:4px;\
background:#1f4f8f;color:#fff;cursor:pointer}button.secondary{background:#e2e4e8;color:#1d1f23}\
.alert{background:#fdecea;color:#8a1c12;padding:.7rem;border-radius:4px}\
ul{padding-left:1.2rem}.muted{color:#555;font-size:.9rem}";

/// A complete page with the security headers.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    );
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// An error shown on the page (never redirected).
pub fn error(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Sign-in error",
        &format!(
            "<h1>Something went wrong</h1><p class=\"alert\" role=\"alert\">{}</p>",
            escape(message)
        ),
    )
}

/// What the login page shows.
#[derive(Debug)]
pub struct LoginPage<'a> {
    /// Tenant name (form target).
    pub tenant: &'a str,
    /// The application's name.
    pub app_name: &'a str,
    /// The original authorization request (query string), carried through the form.
    pub authz: &'a str,
    /// The CSRF token (equal to the CSRF cookie).
    pub csrf: &'a str,
    /// Pre-filled email.
    pub email: Option<&'a str>,
    /// An error to show.
    pub error: Option<&'a str>,
}

/// The login form.
pub fn login(status: StatusCode, p: &LoginPage<'_>) -> Response {
    let alert = p
        .error
        .map(|e| {
            format!(
                "<p id=\"login-error\" class=\"alert\" role=\"alert\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let described = if p.error.is_some() {
        " aria-describedby=\"login-error\" aria-invalid=\"true\""
    } else {
        ""
    };
    let body = format!(
        "<h1>Sign in</h1><p class=\"muted\">to continue to <strong>{app}</strong></p>{alert}\
<form method=\"post\" action=\"/t/{tenant}/login\">\
<input type=\"hidden\" name=\"authz\" value=\"{authz}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<label for=\"email\">Email</label>\
<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required autofocus value=\"{email}\"{described}>\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{described}>\
<button type=\"submit\">Continue</button></form>",
        app = escape(p.app_name),
        tenant = escape(p.tenant),
        authz = escape(p.authz),
        csrf = escape(p.csrf),
        email = escape(p.email.unwrap_or("")),
    );
    page(status, "Sign in", &body)
}

/// The consent page of a third-party application: what each scope allows, in words (the
/// scope's name is only a tooltip).
pub fn consent(
    tenant: &str,
    app_name: &str,
    scopes: &[crate::oauth::consent_text::ScopeLine],
    authz: &str,
    csrf: &str,
) -> Response {
    let items: String = scopes
        .iter()
        .map(|s| {
            format!(
                "<li title=\"{}\">{}</li>",
                escape(&s.scope),
                escape(&s.description)
            )
        })
        .collect();
    let body = format!(
        "<h1>Allow access?</h1><p><strong>{app}</strong> is asking to:</p><ul>{items}</ul>\
<form method=\"post\" action=\"/t/{tenant}/consent\">\
<input type=\"hidden\" name=\"authz\" value=\"{authz}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button></form>",
        app = escape(app_name),
        tenant = escape(tenant),
        authz = escape(authz),
        csrf = escape(csrf),
    );
    page(StatusCode::OK, "Allow access", &body)
}

/// Asks before logging out when the request did not prove it came from an application
/// (no valid `id_token_hint`), so a cross-site link cannot log users out.
pub fn logout_confirm(tenant: &str, query: &str, csrf: &str) -> Response {
    let body = format!(
        "<h1>Sign out?</h1><form method=\"post\" action=\"/t/{tenant}/logout\">\
<input type=\"hidden\" name=\"logout\" value=\"{query}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\">Sign out</button></form>",
        tenant = escape(tenant),
        query = escape(query),
        csrf = escape(csrf),
    );
    page(StatusCode::OK, "Sign out", &body)
}

/// Shown after a logout with no redirect.
pub fn logged_out() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "<h1>You are signed out</h1><p>You can close this window.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
