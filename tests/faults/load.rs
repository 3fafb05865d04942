//! The fault run's clients, each a closed loop through the balancer: refresh-token chains,
//! authorization-code flows (the hosted login page once, then single sign-on), and password
//! logins whose hook writes user metadata. Every client retries a failed request once on a
//! connection error or a 502/503/504 (the balancer's answers for a node that died or a
//! database that is away), as a careful OAuth client would, and records what it was given.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Digest as _;

/// Where the clients go and who they are.
#[derive(Debug, Clone)]
pub struct Target {
    /// The balancer's base URL.
    pub base: String,
    /// The application (password, refresh and code grants; confidential).
    pub client_id: String,
    /// Its secret.
    pub secret: String,
    /// Its redirect URI.
    pub redirect: String,
    /// The users' password.
    pub password: String,
}

/// One request's fate after at most one retry.
#[derive(Debug)]
pub struct Answer {
    /// The final status, or `None` when no answer came at all.
    pub status: Option<StatusCode>,
    /// The final body (JSON or Null).
    pub body: Value,
    /// The final body as text (a page).
    pub text: String,
    /// The final response's headers.
    pub headers: reqwest::header::HeaderMap,
    /// Why the first attempt was retried: `lost` (no answer, or the balancer's 502/504: the
    /// request may have been carried out), `unavailable` (503), or `None` (not retried).
    pub retried: Option<&'static str>,
}

/// What every client saw, for the audit.
#[derive(Debug, Default)]
pub struct Record {
    /// Every access token handed out: its `jti`, and when.
    pub issued: Vec<(String, Instant)>,
    /// Per refresh token presented, the times it was accepted.
    pub refresh_accepted: HashMap<String, Vec<Instant>>,
    /// Per code, how many exchanges it won.
    pub code_redeemed: HashMap<String, u32>,
    /// Per metadata-writing user, the logins acknowledged.
    pub metadata_acked: HashMap<String, u64>,
    /// Refresh chains broken, by kind.
    pub chains_broken: HashMap<&'static str, u32>,
    /// Code flows restarted because the exchange failed, by kind.
    pub codes_lost: HashMap<&'static str, u32>,
    /// Requests that failed even after their retry (the client tries again later), by kind
    /// and final status.
    pub gave_up: HashMap<String, u32>,
    /// Requests retried, by reason.
    pub retries: HashMap<&'static str, u32>,
    /// Grants completed, by kind.
    pub completed: HashMap<&'static str, u64>,
}

/// The shared record.
pub type Shared = Arc<Mutex<Record>>;

fn note(rec: &Shared, f: impl FnOnce(&mut Record)) {
    f(&mut rec.lock().expect("record"));
}

/// Sends the request `make` builds, and once more if the first attempt got no answer or a
/// 502/503/504.
async fn send(rec: &Shared, make: impl Fn() -> reqwest::RequestBuilder) -> Answer {
    let first = attempt(make()).await;
    let retried = match first.status {
        None => Some("lost"),
        Some(StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT) => Some("lost"),
        Some(StatusCode::SERVICE_UNAVAILABLE) => Some("unavailable"),
        Some(_) => None,
    };
    let Some(why) = retried else {
        return first;
    };
    note(rec, |r| *r.retries.entry(why).or_default() += 1);
    let mut second = attempt(make()).await;
    second.retried = Some(why);
    second
}

async fn attempt(req: reqwest::RequestBuilder) -> Answer {
    let Ok(res) = req.send().await else {
        return Answer::lost(Default::default());
    };
    let status = res.status();
    let headers = res.headers().clone();
    match res.bytes().await {
        Ok(b) => Answer {
            status: Some(status),
            body: serde_json::from_slice(&b).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(&b).into_owned(),
            headers,
            retried: None,
        },
        // The head came but the body did not: the answer is lost.
        Err(_) => Answer::lost(headers),
    }
}

impl Answer {
    /// No answer (or only its head) came.
    fn lost(headers: reqwest::header::HeaderMap) -> Self {
        Answer {
            status: None,
            body: Value::Null,
            text: String::new(),
            headers,
            retried: None,
        }
    }
}

/// A final answer as the report shows it: the status and the error code, or `no answer`.
fn shown(a: &Answer) -> String {
    match a.status {
        Some(s) => format!("{} {}", s.as_u16(), a.body["error"].as_str().unwrap_or("")),
        None => "no answer".into(),
    }
}

/// The `jti` of an access token (its payload read without checking the signature: the audit
/// only needs the id).
pub fn jti(access_token: &str) -> Option<String> {
    let payload = access_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    Some(v["jti"].as_str()?.to_string())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(0)
        .build()
        .expect("http client")
}

fn token_request(
    http: &reqwest::Client,
    t: &Target,
    form: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    http.post(format!("{}/t/default/oauth/token", t.base))
        .basic_auth(&t.client_id, Some(&t.secret))
        .form(form)
}

/// A password grant for `email` (with a refresh token); `None` when it did not succeed.
async fn password_login(
    rec: &Shared,
    http: &reqwest::Client,
    t: &Target,
    email: &str,
) -> Option<Value> {
    let a = send(rec, || {
        token_request(
            http,
            t,
            &[
                ("grant_type", "password"),
                ("username", email),
                ("password", &t.password),
                ("scope", "openid offline_access"),
            ],
        )
    })
    .await;
    if a.status != Some(StatusCode::OK) {
        note(rec, |r| {
            *r.gave_up
                .entry(format!("password_login {}", shown(&a)))
                .or_default() += 1
        });
        return None;
    }
    if let Some(j) = a.body["access_token"].as_str().and_then(jti) {
        note(rec, |r| r.issued.push((j, Instant::now())));
    }
    Some(a.body)
}

/// A refresh-token chain for `email` until `stop`: log in, then refresh, rotating, again and
/// again. A chain breaks when a refresh is refused (`invalid_grant`); it then starts over
/// with a new login.
pub async fn refresh_chain(rec: Shared, t: Target, email: String, stop: Instant) {
    let http = client();
    let mut current: Option<String> = None;
    while Instant::now() < stop {
        let Some(rt) = current.clone() else {
            current = password_login(&rec, &http, &t, &email)
                .await
                .and_then(|b| b["refresh_token"].as_str().map(str::to_string));
            if current.is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            continue;
        };
        let a = send(&rec, || {
            token_request(
                &http,
                &t,
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
        })
        .await;
        match a.status {
            Some(StatusCode::OK) => {
                let next = a.body["refresh_token"].as_str().map(str::to_string);
                let j = a.body["access_token"].as_str().and_then(jti);
                note(&rec, |r| {
                    r.refresh_accepted
                        .entry(rt.clone())
                        .or_default()
                        .push(Instant::now());
                    r.issued.extend(j.map(|j| (j, Instant::now())));
                    *r.completed.entry("refresh").or_default() += 1;
                });
                current = next;
            }
            Some(StatusCode::BAD_REQUEST) => {
                let kind = match a.retried {
                    Some("lost") => "refused on the retry of a lost answer",
                    Some(_) => "refused on the retry of a 503",
                    None => "refused without a fault",
                };
                note(&rec, |r| *r.chains_broken.entry(kind).or_default() += 1);
                current = None;
            }
            _ => {
                // Still away after the retry: the token was not spent; try again shortly.
                note(&rec, |r| {
                    *r.gave_up
                        .entry(format!("refresh {}", shown(&a)))
                        .or_default() += 1
                });
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Password logins of a user whose hook writes `user_metadata.logins` on every login, until
/// `stop`; counts the acknowledged ones.
pub async fn metadata_logins(rec: Shared, t: Target, email: String, stop: Instant) {
    let http = client();
    while Instant::now() < stop {
        match password_login(&rec, &http, &t, &email).await {
            Some(_) => note(&rec, |r| {
                *r.metadata_acked.entry(email.clone()).or_default() += 1;
                *r.completed.entry("metadata_login").or_default() += 1;
            }),
            None => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A browser's cookies (the few the login flow sets), by name.
#[derive(Default)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, headers: &reqwest::header::HeaderMap) {
        for c in headers.get_all("set-cookie") {
            let Ok(c) = c.to_str() else { continue };
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            if let Some((k, v)) = kv.split_once('=') {
                if attrs.contains("Max-Age=0") {
                    self.0.remove(k);
                } else {
                    self.0.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
}

/// The value of hidden field `name` in a page.
fn field(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = start + page[start..].find('"')?;
    Some(page[start..end].replace("&amp;", "&"))
}

/// The `code` in a redirect's `Location`.
fn code_of(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let loc = headers.get("location")?.to_str().ok()?;
    url::Url::parse(loc)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
}

/// Authorization-code flows of one browser for `email` until `stop`: the login page the first
/// time (and whenever the session is gone), single sign-on after that, each code exchanged
/// with PKCE (RFC 7636).
pub async fn code_flows(rec: Shared, t: Target, email: String, stop: Instant) {
    let http = client();
    let mut jar = Jar::default();
    while Instant::now() < stop {
        let verifier = format!(
            "v-{:032x}-{:032x}",
            rand::random::<u128>(),
            rand::random::<u128>()
        );
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &t.client_id)
            .append_pair("redirect_uri", &t.redirect)
            .append_pair("scope", "openid")
            .append_pair("state", "s")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let authorize = format!("{}/t/default/authorize?{query}", t.base);
        let cookies = jar.header();
        let a = send(&rec, || http.get(&authorize).header("cookie", &cookies)).await;
        jar.take(&a.headers);
        let code = match a.status {
            Some(StatusCode::FOUND) => code_of(&a.headers),
            Some(StatusCode::OK) => login(&rec, &http, &t, &mut jar, &a, &email).await,
            _ => None,
        };
        let Some(code) = code else {
            note(&rec, |r| {
                *r.gave_up.entry("authorize".into()).or_default() += 1
            });
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let x = send(&rec, || {
            token_request(
                &http,
                &t,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &t.redirect),
                    ("code_verifier", &verifier),
                ],
            )
        })
        .await;
        match x.status {
            Some(StatusCode::OK) => {
                let j = x.body["access_token"].as_str().and_then(jti);
                note(&rec, |r| {
                    *r.code_redeemed.entry(code.clone()).or_default() += 1;
                    r.issued.extend(j.map(|j| (j, Instant::now())));
                    *r.completed.entry("code_exchange").or_default() += 1;
                });
            }
            Some(StatusCode::BAD_REQUEST) => {
                let kind = match x.retried {
                    Some("lost") => "refused on the retry of a lost answer",
                    Some(_) => "refused on the retry of a 503",
                    None => "refused without a fault",
                };
                note(&rec, |r| *r.codes_lost.entry(kind).or_default() += 1);
            }
            _ => {
                note(&rec, |r| {
                    *r.codes_lost.entry("no answer after the retry").or_default() += 1
                });
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Submits the login form of `page`; the code from the redirect.
async fn login(
    rec: &Shared,
    http: &reqwest::Client,
    t: &Target,
    jar: &mut Jar,
    page: &Answer,
    email: &str,
) -> Option<String> {
    let authz = field(&page.text, "authz")?;
    let csrf = field(&page.text, "csrf")?;
    let cookies = jar.header();
    let a = send(rec, || {
        http.post(format!("{}/t/default/login", t.base))
            .header("cookie", &cookies)
            .form(&[
                ("authz", authz.as_str()),
                ("csrf", csrf.as_str()),
                ("email", email),
                ("password", t.password.as_str()),
            ])
    })
    .await;
    jar.take(&a.headers);
    match a.status {
        Some(StatusCode::SEE_OTHER | StatusCode::FOUND) => code_of(&a.headers),
        _ => None,
    }
}
