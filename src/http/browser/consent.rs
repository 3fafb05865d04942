//! The consent form's submission (OIDC Core 3.1.2.4).

use super::cookies::*;
use super::*;

/// The consent form's submission.
pub(super) async fn consent_post(
    State(svc): State<Services>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (c, authz, v) = match form_request(&svc, &name, &headers, peer, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !csrf_ok(&headers, &form) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "This form expired. Please go back to the application and try again.",
        );
    }
    let tenant = (c.tenant.0.as_str(), c.tenant.1.as_str());
    if form.get("decision").map(String::as_str) != Some("allow") {
        let to = authorize::error_redirect(
            &svc.issuers.of(tenant.1),
            &v.req.redirect_uri,
            v.req.state.as_deref(),
            authorize::AuthorizeError::AccessDenied,
            "the user did not allow access",
        );
        return redirect(StatusCode::SEE_OTHER, &to);
    }
    let current = match browser_session(&svc, tenant.0, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let arrival = Arrival {
        fresh: false,
        consented: current.is_some(),
        rehash_password: None,
    };
    match authorize::next(&svc.issuing(), tenant, &v, current, arrival, &c.request).await {
        Ok(step) => render(
            &svc,
            &c,
            &v,
            &authz,
            step,
            &headers,
            Reply::new(),
            StatusCode::SEE_OTHER,
        ),
        Err(e) => server_error(&e),
    }
}
