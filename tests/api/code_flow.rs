//! The authorization-code flow through the hosted login page, as a browser drives it: PKCE,
//! single sign-on, prompt and max_age, consent, organizations, hooks (claims and deny), code
//! replay, logout, and the errors that must stay on the page.

use std::collections::HashMap;

use base64::Engine as _;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::both_backends;
use crate::helpers::{Db, TestApp, spawn_app};
use crate::oauth::{upload_and_bind, verify};

pub(crate) const REDIRECT: &str = "https://app.example.com/callback";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-long-enough";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// A minimal browser: a cookie jar and no automatic redirects.
pub(crate) struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
}

pub(crate) struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The query parameters of the `Location` header.
    pub fn location(&self) -> HashMap<String, String> {
        let loc = self.headers["location"].to_str().unwrap();
        url::Url::parse(loc)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The value of a hidden form field (unescaped).
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).expect(name) + marker.len();
        let end = start + self.body[start..].find('"').unwrap();
        self.body[start..end]
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: HashMap::new(),
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let res = req
            .header("cookie", cookie.join("; "))
            .send()
            .await
            .unwrap();
        for c in res.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        Page {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.client.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }

    /// Fills and submits the login form of `page`.
    pub async fn login(&mut self, page: &Page, email: &str, password: &str) -> Page {
        let (authz, csrf) = (page.field("authz"), page.field("csrf"));
        self.post(
            "/t/default/login",
            &[
                ("authz", &authz),
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }
}

/// An authorization request's path.
pub(crate) fn authorize_path(client_id: &str, extra: &[(&str, &str)]) -> String {
    let ch = challenge(VERIFIER);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile email offline_access")
        .append_pair("state", "st-123")
        .append_pair("nonce", "n-456")
        .append_pair("code_challenge", &ch)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/t/default/authorize?{}", q.finish())
}

pub(crate) struct Setup {
    pub client_id: String,
    pub secret: Option<String>,
    pub user_id: String,
}

pub(crate) async fn setup(app: &TestApp, extra: Value) -> Setup {
    let (_, u) = app
        .post(
            "/t/default/api/users",
            json!({"email": "ada@example.com", "password": "correct horse battery", "email_verified": true,
                   "name": "Ada", "app_metadata": {"roles": ["admin"]}}),
        )
        .await;
    let mut body = json!({"name": "Dashboard <b>&amp;</b>", "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": ["https://app.example.com/bye"],
        "grant_types": ["authorization_code", "refresh_token"]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, a) = app.post("/t/default/api/applications", body).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    Setup {
        client_id: a["client_id"].as_str().unwrap().into(),
        secret: a["client_secret"].as_str().map(str::to_string),
        user_id: u["id"].as_str().unwrap().into(),
    }
}

pub(crate) async fn exchange(
    app: &TestApp,
    s: &Setup,
    code: &str,
    verifier: Option<&str>,
) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    let mut req = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base));
    match &s.secret {
        Some(secret) => req = req.basic_auth(&s.client_id, Some(secret)),
        None => form.push(("client_id", &s.client_id)),
    }
    let res = req.form(&form).send().await.unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn userinfo(app: &TestApp, at: &str) -> (StatusCode, Value) {
    app.call(Method::GET, "/t/default/userinfo", Some(at), None)
        .await
}

/// Logs in through the page and returns the code.
pub(crate) async fn login_for_code(b: &mut Browser, s: &Setup, extra: &[(&str, &str)]) -> String {
    let page = b.get(&authorize_path(&s.client_id, extra)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let done = b
        .login(&page, "ada@example.com", "correct horse battery")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    done.location()["code"].clone()
}

async fn code_flow_with_pkce_sso_and_hook_claims(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    upload_and_bind(&app, &[("roles", "roles_claims", "fail_closed")]).await;
    let mut b = Browser::new(&app);

    // The login page: escaped application name, no framing, no caching, CSRF cookie.
    let page = b
        .get(&authorize_path(
            &s.client_id,
            &[("login_hint", "ada@example.com")],
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Dashboard &lt;b&gt;&amp;amp;&lt;/b&gt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<b>"));
    assert!(page.body.contains("value=\"ada@example.com\""));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(b.cookies.contains_key("sigil_csrf"));

    // A wrong password stays on the page with the same message as an unknown user.
    let wrong = b.login(&page, "ada@example.com", "nope").await;
    let unknown = b.login(&page, "bob@example.com", "nope").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .body
            .contains("role=\"alert\">Wrong email or password.")
    );
    assert_eq!(
        wrong.body.replace("ada@example.com", "X"),
        unknown.body.replace("bob@example.com", "X")
    );

    // Without the CSRF cookie the form is refused.
    let mut other = Browser::new(&app);
    let forged = other
        .post(
            "/t/default/login",
            &[
                ("authz", &page.field("authz")),
                ("csrf", &page.field("csrf")),
                ("email", "ada@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(!other.cookies.contains_key("sigil_session"));

    let done = b
        .login(&page, "ada@example.com", "correct horse battery")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let set_cookie: Vec<&str> = done
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session_cookie = set_cookie
        .iter()
        .find(|c| c.starts_with("sigil_session="))
        .unwrap();
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"));
    assert!(session_cookie.contains("Path=/t/default"));
    let loc = done.headers["location"].to_str().unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let q = done.location();
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], format!("{}/t/default", app.base));

    let (status, tokens) = exchange(&app, &s, &q["code"], Some(VERIFIER)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let at = tokens["access_token"].as_str().unwrap();
    let (_, id) = verify(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["sub"], s.user_id.as_str());
    assert!(id["sid"].as_str().unwrap().starts_with("ses_"));
    assert!(id["auth_time"].as_i64().unwrap() > 0);
    assert_eq!(id["at_hash"], sigil::oauth::tokens::at_hash("RS256", at));
    assert_eq!(id["https://sigil.example/roles"], json!(["admin"]));
    let (_, atc) = verify(&app, at).await;
    assert_eq!(atc["https://sigil.example/roles"], json!(["admin"]));
    let (status, ui) = userinfo(&app, at).await;
    assert_eq!(status, StatusCode::OK, "{ui}");
    assert_eq!(ui["https://sigil.example/roles"], json!(["admin"]));
    assert_eq!(ui["email"], "ada@example.com");

    // The hooks ran once, at /authorize: the user's login was counted there.
    let (_, user) = app
        .get(&format!("/t/default/api/users/{}", s.user_id))
        .await;
    assert_eq!(user["logins_count"], 1);

    // Refresh keeps the session id.
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, s.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let refreshed: Value = res.json().await.unwrap();
    let (_, id2) = verify(&app, refreshed["id_token"].as_str().unwrap()).await;
    assert_eq!(id2["sid"], id["sid"]);

    // Single sign-on: the session answers the next request without a page.
    let sso = b.get(&authorize_path(&s.client_id, &[])).await;
    assert_eq!(sso.status, StatusCode::FOUND, "{}", sso.body);
    let code2 = sso.location()["code"].clone();
    let (status, t2) = exchange(&app, &s, &code2, Some(VERIFIER)).await;
    assert_eq!(status, StatusCode::OK, "{t2}");
    let (_, id3) = verify(&app, t2["id_token"].as_str().unwrap()).await;
    assert_eq!(id3["sid"], id["sid"]);
    assert_eq!(id3["auth_time"], id["auth_time"]);
    let sso_none = b
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(sso_none.status, StatusCode::FOUND);
    assert!(sso_none.location().contains_key("code"));

    // prompt=login and max_age=0 ask for the password again.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let again = b.get(&authorize_path(&s.client_id, &[extra])).await;
        assert_eq!(again.status, StatusCode::OK, "{extra:?}");
        assert!(again.body.contains("type=\"password\""));
    }
    let fresh = b
        .get(&authorize_path(&s.client_id, &[("prompt", "login")]))
        .await;
    let done = b
        .login(&fresh, "ada@example.com", "correct horse battery")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.location().contains_key("code"));

    // prompt=none without a session: login_required, with state and iss.
    let mut stranger = Browser::new(&app);
    let none = stranger
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(none.status, StatusCode::FOUND);
    let q = none.location();
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], format!("{}/t/default", app.base));
}

async fn code_flow_errors_and_replay(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);

    // Unknown client and unregistered redirect URIs are shown on the page, never redirected.
    let unknown = b.get(&authorize_path("app_nope", &[])).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.headers.get("location").is_none());
    assert!(unknown.body.contains("not known"));
    let evil = authorize_path(&s.client_id, &[]).replace(
        &url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fevil.example%2F%3Cscript%3E",
    );
    let mismatch = b.get(&evil).await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert!(mismatch.headers.get("location").is_none());
    assert!(!mismatch.body.contains("<script>"));
    let dup = b
        .get(&format!(
            "{}&state=again",
            authorize_path(&s.client_id, &[])
        ))
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);

    // Other errors go back to the client (RFC 6749 4.1.2.1).
    let ch = challenge(VERIFIER);
    let base = format!(
        "/t/default/authorize?client_id={}&redirect_uri={}&state=s1",
        s.client_id,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    for (extra, error) in [
        (
            format!(
                "&response_type=code&code_challenge={ch}&code_challenge_method=S256&scope=openid%20nope"
            ),
            "invalid_scope",
        ),
        ("&response_type=code".to_string(), "invalid_request"),
        (
            format!("&response_type=code&code_challenge={ch}&code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            format!("&response_type=code&code_challenge={ch}"),
            "invalid_request",
        ),
        (
            format!("&response_type=token&code_challenge={ch}&code_challenge_method=S256"),
            "unsupported_response_type",
        ),
        (
            format!(
                "&response_type=code&code_challenge={ch}&code_challenge_method=S256&prompt=none%20login"
            ),
            "invalid_request",
        ),
    ] {
        let p = b.get(&format!("{base}{extra}")).await;
        assert_eq!(p.status, StatusCode::FOUND, "{extra}: {}", p.body);
        let q = p.location();
        assert_eq!(q["error"], error, "{extra}");
        assert_eq!(q["state"], "s1");
        assert!(q.contains_key("iss"));
    }

    // PKCE: a missing or wrong verifier is refused, and the code stays usable once.
    let code = login_for_code(&mut b, &s, &[]).await;
    let (st, e) = exchange(&app, &s, &code, None).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let wrong = "x".repeat(43);
    let (st, e) = exchange(&app, &s, &code, Some(&wrong)).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{e}"
    );
    let (st, e) = exchange(&app, &s, &code, Some("short")).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    // The redirect URI must be the one of the request.
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, s.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://app.example.com/other"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Another client cannot redeem it.
    let other = setup_second_app(&app).await;
    let (st, e) = exchange(&app, &other, &code, Some(VERIFIER)).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let (st, tokens) = exchange(&app, &s, &code, Some(VERIFIER)).await;
    assert_eq!(st, StatusCode::OK, "{tokens}");
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, at).await.0, StatusCode::OK);

    // A replayed code is refused and revokes what it issued.
    let (st, e) = exchange(&app, &s, &code, Some(VERIFIER)).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(userinfo(&app, at).await.0, StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, s.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // A client without the grant is told so at the redirect URI.
    let (_, pw) = app
        .post(
            "/t/default/api/applications",
            json!({"name": "m2m", "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}),
        )
        .await;
    let p = b
        .get(&authorize_path(pw["client_id"].as_str().unwrap(), &[]))
        .await;
    assert_eq!(p.location()["error"], "unauthorized_client");
}

async fn setup_second_app(app: &TestApp) -> Setup {
    let (_, a) = app
        .post(
            "/t/default/api/applications",
            json!({"name": "second", "redirect_uris": [REDIRECT]}),
        )
        .await;
    Setup {
        client_id: a["client_id"].as_str().unwrap().into(),
        secret: a["client_secret"].as_str().map(str::to_string),
        user_id: String::new(),
    }
}

async fn code_flow_deny_and_organizations(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let (_, org) = app
        .post(
            "/t/default/api/organizations",
            json!({"name": "globex", "metadata": {"tier": "gold"}}),
        )
        .await;
    let org_id = org["id"].as_str().unwrap().to_string();
    app.post("/t/default/api/organizations", json!({"name": "initech"}))
        .await;
    app.post(
        &format!("/t/default/api/organizations/{org_id}/members"),
        json!({"user_id": s.user_id}),
    )
    .await;
    upload_and_bind(
        &app,
        &[
            ("tier", "org_tier", "fail_closed"),
            ("verified", "require_verified_email", "fail_closed"),
        ],
    )
    .await;
    let mut b = Browser::new(&app);

    // Logging in through an organization the user belongs to: org_id and the org's claims.
    let code = login_for_code(&mut b, &s, &[("organization", "globex")]).await;
    let (st, t) = exchange(&app, &s, &code, Some(VERIFIER)).await;
    assert_eq!(st, StatusCode::OK, "{t}");
    let (_, id) = verify(&app, t["id_token"].as_str().unwrap()).await;
    assert_eq!(id["org_id"], org_id.as_str());
    let (_, at) = verify(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(at["org_id"], org_id.as_str());
    assert_eq!(at["org_tier"], "gold");

    // Not a member: access_denied at the redirect URI.
    let p = b
        .get(&authorize_path(
            &s.client_id,
            &[("organization", "initech")],
        ))
        .await;
    assert_eq!(p.status, StatusCode::FOUND);
    assert_eq!(p.location()["error"], "access_denied");

    // A hook's deny redirects with its reason.
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"email_verified": false}),
    )
    .await;
    let p = b.get(&authorize_path(&s.client_id, &[])).await;
    assert_eq!(p.status, StatusCode::FOUND);
    let q = p.location();
    assert_eq!(q["error"], "access_denied");
    assert!(
        q["error_description"].contains("verify your email"),
        "{q:?}"
    );
    assert_eq!(q["state"], "st-123");

    // A failing fail_closed hook: server_error, no detail.
    app.put(
        "/t/default/api/flows/post-login",
        json!({"bindings": [{"hook": "verified", "failure_policy": "fail_closed"}]}),
    )
    .await;
    app.put("/t/default/api/hooks/verified/limits", json!({"fuel": 1}))
        .await;
    let p = b.get(&authorize_path(&s.client_id, &[])).await;
    let q = p.location();
    assert_eq!(q["error"], "server_error", "{q:?}");
    assert!(!q["error_description"].contains("fuel"));
}

async fn consent_public_client_and_logout(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({"type": "public", "first_party": false})).await;
    assert!(s.secret.is_none());
    let mut b = Browser::new(&app);

    // Third-party: the consent page lists the scopes; deny goes back as access_denied.
    let page = b.get(&authorize_path(&s.client_id, &[])).await;
    let consent = b
        .login(&page, "ada@example.com", "correct horse battery")
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(consent.body.contains("<li>offline_access</li>"));
    let (authz, csrf) = (consent.field("authz"), consent.field("csrf"));
    let denied = b
        .post(
            "/t/default/consent",
            &[("authz", &authz), ("csrf", &csrf), ("decision", "deny")],
        )
        .await;
    assert_eq!(denied.location()["error"], "access_denied");
    // prompt=none with consent missing: consent_required.
    let none = b
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(none.location()["error"], "consent_required");
    let allowed = b
        .post(
            "/t/default/consent",
            &[("authz", &authz), ("csrf", &csrf), ("decision", "allow")],
        )
        .await;
    assert_eq!(allowed.status, StatusCode::SEE_OTHER, "{}", allowed.body);
    // A public client exchanges with PKCE and no secret.
    let (st, t) = exchange(&app, &s, &allowed.location()["code"], Some(VERIFIER)).await;
    assert_eq!(st, StatusCode::OK, "{t}");
    // Consent is remembered.
    let again = b.get(&authorize_path(&s.client_id, &[])).await;
    assert_eq!(again.status, StatusCode::FOUND);
    assert!(again.location().contains_key("code"));

    // Logout with id_token_hint: back to the registered URI with state, session over.
    let hint = t["id_token"].as_str().unwrap();
    let bad = b
        .get(&format!(
            "/t/default/logout?id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"
        ))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.headers.get("location").is_none());
    let out = b
        .get(&format!(
            "/t/default/logout?id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=bye1"
        ))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert_eq!(
        out.headers["location"],
        "https://app.example.com/bye?state=bye1"
    );
    assert!(!b.cookies.contains_key("sigil_session"));
    let none = b
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(none.location()["error"], "login_required");

    // Without a hint the user confirms (a cross-site link cannot log them out).
    let page = b.get(&authorize_path(&s.client_id, &[])).await;
    let done = b
        .login(&page, "ada@example.com", "correct horse battery")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let confirm = b.get("/t/default/logout").await;
    assert_eq!(confirm.status, StatusCode::OK);
    let forged = Browser::new(&app)
        .post("/t/default/logout", &[("logout", ""), ("csrf", "x")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let (logout, csrf) = (confirm.field("logout"), confirm.field("csrf"));
    let out = b
        .post("/t/default/logout", &[("logout", &logout), ("csrf", &csrf)])
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.body.contains("signed out"));
    let none = b
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(none.location()["error"], "login_required");

    // Blocking the user, or revoking their sessions, ends the browser session.
    for end in ["block", "revoke"] {
        let page = b.get(&authorize_path(&s.client_id, &[])).await;
        let done = b
            .login(&page, "ada@example.com", "correct horse battery")
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{end}");
        if end == "block" {
            app.patch(
                &format!("/t/default/api/users/{}", s.user_id),
                json!({"blocked": true}),
            )
            .await;
            app.patch(
                &format!("/t/default/api/users/{}", s.user_id),
                json!({"blocked": false}),
            )
            .await;
        } else {
            let (st, body) = app
                .delete(&format!("/t/default/api/users/{}/sessions", s.user_id))
                .await;
            assert_eq!(st, StatusCode::OK);
            assert_eq!(body["sessions_ended"], 1);
        }
        let none = b
            .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
            .await;
        assert_eq!(none.location()["error"], "login_required", "{end}");
    }
}

async fn imported_hash_is_upgraded_at_the_hosted_login(db: Db) {
    let app = spawn_app(db).await;
    let bcrypt_hash = bcrypt::hash("legacy password 42", 4).unwrap();
    let line = json!({"email": "old@example.com", "external_id": "legacy-1", "password_hash": bcrypt_hash});
    let (s, report) = app
        .raw(
            Method::POST,
            "/t/default/api/users/import",
            &app.operator_key.clone(),
            line.to_string().into_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let (_, a) = app
        .post(
            "/t/default/api/applications",
            json!({"name": "web", "redirect_uris": [REDIRECT]}),
        )
        .await;
    let mut b = Browser::new(&app);
    let page = b
        .get(&authorize_path(a["client_id"].as_str().unwrap(), &[]))
        .await;
    let done = b
        .login(&page, "old@example.com", "legacy password 42")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (h,): (String,) =
        sqlx::query_as("SELECT password_hash FROM users WHERE external_id = 'legacy-1'")
            .fetch_one(app.svc.store.pool())
            .await
            .unwrap();
    assert!(h.starts_with("$argon2id$"), "{h}");
    assert_eq!(
        app.svc.passwords.verify("legacy password 42", &h),
        sigil::passwords::Verified::Yes
    );
}

both_backends!(
    imported_hash_is_upgraded_at_the_hosted_login,
    code_flow_with_pkce_sso_and_hook_claims,
    code_flow_errors_and_replay,
    code_flow_deny_and_organizations,
    consent_public_client_and_logout,
);
