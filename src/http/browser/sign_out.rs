//! `/logout` (OpenID Connect RP-Initiated Logout 1.0): the application's request, the
//! confirmation page and its submission.

use super::cookies::*;
use super::*;

async fn do_logout(
    svc: &Services,
    tenant: (&str, &str),
    headers: &HeaderMap,
    checked: logout::Checked,
) -> Response {
    let mut reply = Reply::new();
    if let Some(c) = cookie(headers, SESSION_COOKIE)
        && let Err(e) = session::end(&svc.db, &svc.secrets, tenant.0, &c).await
    {
        return server_error(&e);
    }
    if let Some(sid) = &checked.sid
        && let Err(e) = session::end_sid(&svc.db, tenant.0, sid).await
    {
        return server_error(&e);
    }
    reply.clear(tenant.1, SESSION_COOKIE);
    let res = match &checked.redirect {
        Some(to) => redirect(StatusCode::SEE_OTHER, to),
        None => pages::logged_out(),
    };
    reply.finish(res)
}

async fn logout_any(
    svc: Services,
    name: String,
    headers: HeaderMap,
    query: String,
    confirmed: bool,
) -> Response {
    let t = match tenant_page(&svc, &name).await {
        Ok(t) => (t.id, t.name),
        Err(page) => return page,
    };
    let tenant = (t.0.as_str(), t.1.as_str());
    let params = match parse_params(&query) {
        Ok(p) => p,
        Err(m) => return pages::error(StatusCode::BAD_REQUEST, &m),
    };
    let checked = match logout::check(&svc.checking(), tenant, &params).await {
        Ok(c) => c,
        Err(m) => return pages::error(StatusCode::BAD_REQUEST, &m),
    };
    let current = match browser_session(&svc, tenant.0, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    if confirmed || checked.names(current.as_ref()) {
        return do_logout(&svc, tenant, &headers, checked).await;
    }
    let mut reply = Reply::new();
    let csrf = csrf_token(&svc, tenant.1, &headers, &mut reply);
    reply.finish(pages::logout_confirm(tenant.1, &query, &csrf))
}

/// `GET /logout` (RP-Initiated Logout 1.0 section 2).
pub(super) async fn logout_get(
    State(svc): State<Services>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    logout_any(svc, name, headers, q.unwrap_or_default(), false).await
}

/// `POST /logout`: either an application's form post, or the confirmation page's.
pub(super) async fn logout_post(
    State(svc): State<Services>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form = match parse_params(&body) {
        Ok(f) => f,
        Err(m) => return pages::error(StatusCode::BAD_REQUEST, &m),
    };
    if let Some(original) = form.get("logout") {
        if !csrf_ok(&headers, &form) {
            return pages::error(
                StatusCode::FORBIDDEN,
                "This form expired. Please try signing out again.",
            );
        }
        return logout_any(svc, name, headers, original.clone(), true).await;
    }
    logout_any(svc, name, headers, body, false).await
}
