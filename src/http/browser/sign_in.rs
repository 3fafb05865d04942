//! `/authorize` (RFC 6749 4.1.1, OIDC Core 3.1.2.1) and the login form's submission.

use super::cookies::*;
use super::*;

async fn authorize_any(
    svc: Services,
    name: String,
    peer: SocketAddr,
    headers: HeaderMap,
    authz: String,
) -> Response {
    let c = match ctx(&svc, &name, &headers, peer).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let v = match verify(&svc, &c, &authz).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tenant = (c.tenant.0.as_str(), c.tenant.1.as_str());
    let current = match browser_session(&svc, tenant.0, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    match authorize::next(
        &svc.issuing(),
        tenant,
        &v,
        current,
        Arrival::default(),
        &c.request,
    )
    .await
    {
        Ok(step) => render(
            &svc,
            &c,
            &v,
            &authz,
            step,
            &headers,
            Reply::new(),
            StatusCode::FOUND,
        ),
        Err(e) => server_error(&e),
    }
}

/// `GET /authorize` (RFC 6749 4.1.1).
pub(super) async fn authorize_get(
    State(svc): State<Services>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    authorize_any(svc, name, peer, headers, q.unwrap_or_default()).await
}

/// `POST /authorize` with form parameters (OIDC Core 3.1.2.1).
pub(super) async fn authorize_post(
    State(svc): State<Services>,
    Path(name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> Response {
    authorize_any(svc, name, peer, headers, body).await
}

/// The login form's submission.
pub(super) async fn login_post(
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
    let tenant = (c.tenant.0.as_str(), c.tenant.1.as_str());
    let email = form.get("email").map(String::as_str).unwrap_or("");
    let again = |status: StatusCode, message: &str, reply: &mut Reply| {
        let csrf = csrf_token(&svc, tenant.1, &headers, reply);
        pages::login(
            status,
            &LoginPage {
                tenant: tenant.1,
                app_name: &v.app.name,
                authz: &authz,
                csrf: &csrf,
                email: Some(email),
                error: Some(message),
            },
        )
    };
    let mut reply = Reply::new();
    if !csrf_ok(&headers, &form) {
        let res = again(
            StatusCode::FORBIDDEN,
            "This sign-in form expired. Please try again.",
            &mut reply,
        );
        return reply.finish(res);
    }
    let pw = form.get("password").map(String::as_str).unwrap_or("");
    if email.is_empty() || pw.is_empty() {
        let res = again(
            StatusCode::BAD_REQUEST,
            "Enter your email and password.",
            &mut reply,
        );
        return reply.finish(res);
    }
    let legacy = crate::oauth::legacy_login::LegacyDeps {
        hooks: &svc.hooks,
        secrets: &svc.secrets,
    };
    let (user, rehash) = match user_auth::authenticate_user(
        &svc.db,
        &svc.password_login,
        &legacy,
        tenant,
        email,
        pw,
        &c.request.ip,
    )
    .await
    {
        Ok(x) => x,
        Err(user_auth::LoginRefused::WrongCredentials) => {
            let res = again(
                StatusCode::UNAUTHORIZED,
                user_auth::WRONG_CREDENTIALS,
                &mut reply,
            );
            return reply.finish(res);
        }
        Err(user_auth::LoginRefused::Blocked) => {
            let res = again(
                StatusCode::UNAUTHORIZED,
                "This account is blocked.",
                &mut reply,
            );
            return reply.finish(res);
        }
        Err(user_auth::LoginRefused::Server(e)) => return server_error(&e),
    };
    // A new login replaces whatever session this browser had (no session fixation).
    if let Some(old) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = session::end(&svc.db, &svc.secrets, tenant.0, &old).await
    {
        return server_error(&e);
    }
    let (secret, row) =
        match session::start(&svc.db, &svc.secrets, svc.sessions, tenant.0, &user.id).await {
            Ok(x) => x,
            Err(e) => return server_error(&e),
        };
    reply.set_session(&svc, tenant.1, secret.expose());
    let arrival = Arrival {
        fresh: true,
        consented: false,
        rehash_password: rehash.then(|| crate::crypto::Secret::new(pw.to_string())),
    };
    match authorize::next(&svc.issuing(), tenant, &v, Some(row), arrival, &c.request).await {
        Ok(step) => render(
            &svc,
            &c,
            &v,
            &authz,
            step,
            &headers,
            reply,
            StatusCode::SEE_OTHER,
        ),
        Err(e) => server_error(&e),
    }
}
