//! The authorization-code flow through the hosted login page, as a browser drives it: the
//! page itself, `/authorize` and its errors, single sign-on and `prompt`, organizations and
//! hooks, consent, logout, and the browser session's lifetime. The code exchange at the token
//! endpoint is in `grants::code`.
//!
//! The fixture ([`setup`]) is the user Ada and an application with [`REDIRECT`] as its redirect
//! URI; [`Browser`] is a cookie jar that does not follow redirects.

mod authorize;
mod consent;
mod login_page;
mod logout;
mod organizations;
mod sessions;
mod single_sign_on;

use std::collections::HashMap;

use base64::Engine as _;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::helpers::{Reply, TestApp};

pub(crate) const REDIRECT: &str = "https://app.example.com/callback";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-long-enough";

pub(crate) fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// A minimal browser: a cookie jar and no automatic redirects.
pub(crate) struct Browser {
    client: reqwest::Client,
    base: String,
    pub cookies: HashMap<String, String>,
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
        Self::at(&app.base)
    }

    /// A browser of the server at `base` (one the test started as a process).
    pub fn at(base: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_string(),
            cookies: HashMap::new(),
        }
    }

    /// Sends the next requests to `app` with the same cookies: another node of a cluster, as a
    /// balancer may route one browser's requests.
    pub fn switch_to(&mut self, app: &TestApp) {
        self.base = app.base.clone();
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
        self.login_to("default", page, email, password).await
    }

    /// Fills and submits the login form of `page`, a login page of `tenant`.
    pub async fn login_to(
        &mut self,
        tenant: &str,
        page: &Page,
        email: &str,
        password: &str,
    ) -> Page {
        let (authz, csrf) = (page.field("authz"), page.field("csrf"));
        self.post(
            &format!("/t/{tenant}/login"),
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

/// The fixture: Ada, and an application whose name needs escaping, with [`REDIRECT`], a
/// post-logout URI and the code and refresh grants; `extra` overrides its fields.
pub(crate) async fn setup(app: &TestApp, extra: Value) -> Setup {
    let u = app
        .post(
            "/t/default/api/users",
            json!({"email": "ada@example.com", "password": "correct horse battery", "email_verified": true,
                   "name": "Ada", "app_metadata": {"roles": ["admin"]}}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let mut body = json!({"name": "Dashboard <b>&amp;</b>", "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": ["https://app.example.com/bye"],
        "grant_types": ["authorization_code", "refresh_token"]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let a = app
        .post("/t/default/api/applications", body)
        .await
        .expect_status(StatusCode::CREATED);
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

/// A second application of the tenant with the same redirect URI (and no user).
pub(crate) async fn setup_second_app(app: &TestApp) -> Setup {
    let a = app
        .post(
            "/t/default/api/applications",
            json!({"name": "second", "redirect_uris": [REDIRECT]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    Setup {
        client_id: a["client_id"].as_str().unwrap().into(),
        secret: a["client_secret"].as_str().map(str::to_string),
        user_id: String::new(),
    }
}

/// Logs in through the page, exchanges the code with the right verifier and returns the
/// tokens.
pub(crate) async fn login_for_tokens(b: &mut Browser, app: &TestApp, s: &Setup) -> Value {
    let code = login_for_code(b, s, &[]).await;
    exchange(app, s, &code, Some(VERIFIER))
        .await
        .expect_status(StatusCode::OK)
}

/// Whether the browser's session still answers an authorization request without the page
/// (`prompt=none` gives a code, not `login_required`).
pub(crate) async fn has_session(b: &mut Browser, s: &Setup) -> bool {
    let p = b
        .get(&authorize_path(&s.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(p.status, StatusCode::FOUND, "{}", p.body);
    let q = p.location();
    match q.get("error").map(String::as_str) {
        None => {
            assert!(q.contains_key("code"), "{q:?}");
            true
        }
        Some("login_required") => false,
        Some(e) => panic!("prompt=none answered {e}: {q:?}"),
    }
}
