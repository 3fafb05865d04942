//! The database goes away and comes back (issue 13, item 5): while PostgreSQL is unreachable,
//! every area answers 503 `temporarily_unavailable` with `Retry-After` and no cause, within the
//! configured timeouts; once it is back, the same server answers again, without a restart.
//!
//! Each test runs a server against a fresh PostgreSQL database through a [`Proxy`] it can cut
//! or blackhole, so the shared PostgreSQL server is never stopped. PostgreSQL only: an outage of
//! an embedded SQLite file is not a thing that comes and goes (an open file stays readable when
//! its permissions change or it is unlinked), and SQLite's one transient failure, a lock held
//! past the busy timeout, is classified in `store::unavailable`'s unit tests.

mod kept;
pub(crate) mod proxy;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::code_flow::{REDIRECT, authorize_path};
use crate::grants::{ADA_PASSWORD, Setup, application, enable_refresh, setup};
use crate::helpers::{Db, FreshDb, TestApp, pg_admin_url, spawn_app_on};
use proxy::Proxy;

/// What the server under test waits for a connection in these tests.
const ACQUIRE: Duration = Duration::from_millis(1000);
/// Slack for a loaded machine on top of a configured timeout: far below the minutes a hung
/// TCP connection would take, and below the other timeout of each test.
const MARGIN: Duration = Duration::from_secs(4);

/// A server on a fresh PostgreSQL database reached through a proxy, with the given acquire
/// and request timeouts.
async fn proxied_app(acquire: Duration, request: Duration) -> (TestApp, Proxy) {
    let fresh = FreshDb::new(Db::Postgres).await;
    let mut url = url::Url::parse(&fresh.url).unwrap();
    let upstream = tokio::net::lookup_host((
        url.host_str().unwrap().to_string(),
        url.port().unwrap_or(5432),
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let proxy = Proxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port())).unwrap();
    let app = spawn_app_on(Db::Postgres, fresh, |s| {
        s.database_url = url.to_string();
        s.db_acquire_timeout = acquire;
        s.request_timeout = request;
    })
    .await;
    (app, proxy)
}

/// The fixture: Ada with a refresh token and an access token from the password grant, and an
/// application for the browser flow.
struct World {
    s: Setup,
    browser_client: String,
    refresh_token: String,
    access_token: String,
}

async fn world(app: &TestApp) -> World {
    let s = setup(app, "ES256").await;
    enable_refresh(app, &s).await;
    let browser = application(
        app,
        json!({"name": "browser", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code"]}),
    )
    .await;
    let (status, tokens) = password_grant(app, &s).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    World {
        refresh_token: tokens["refresh_token"].as_str().unwrap().into(),
        access_token: tokens["access_token"].as_str().unwrap().into(),
        s,
        browser_client: browser.client_id,
    }
}

/// One answer: status, headers, body text, and how long it took.
struct Answer {
    what: &'static str,
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
    took: Duration,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn send(what: &'static str, req: reqwest::RequestBuilder) -> Answer {
    let start = Instant::now();
    let res = req.send().await.expect("the server answers");
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.text().await.unwrap();
    Answer {
        what,
        status,
        headers,
        body,
        took: start.elapsed(),
    }
}

async fn password_grant(app: &TestApp, s: &Setup) -> (StatusCode, Value) {
    let a = send("password grant", token_request(app, s, &password_form())).await;
    (a.status, a.json())
}

fn password_form() -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "password".into()),
        ("username", "ada@example.com".into()),
        ("password", ADA_PASSWORD.into()),
        ("scope", "openid offline_access".into()),
    ]
}

fn token_request(
    app: &TestApp,
    s: &Setup,
    form: &[(&'static str, String)],
) -> reqwest::RequestBuilder {
    app.client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(form)
}

/// One request to each area, all at once: the token endpoint (refresh and password grants),
/// the management API, `/authorize` (the login page), `/userinfo` and the JWKS.
async fn every_area(app: &TestApp, w: &World) -> Vec<Answer> {
    let refresh = refresh_form(&w.refresh_token);
    let url = |p: &str| format!("{}{p}", app.base);
    let c = &app.client;
    let (a, b, m, z, u, j) = tokio::join!(
        send("refresh grant", token_request(app, &w.s, &refresh)),
        send("password grant", token_request(app, &w.s, &password_form())),
        send(
            "management",
            c.get(url("/t/default/api/users"))
                .bearer_auth(&app.operator_key)
        ),
        send(
            "authorize",
            c.get(url(&authorize_path(&w.browser_client, &[])))
        ),
        send(
            "userinfo",
            c.get(url("/t/default/userinfo"))
                .bearer_auth(&w.access_token)
        ),
        send("jwks", c.get(url("/t/default/.well-known/jwks.json"))),
    );
    vec![a, b, m, z, u, j]
}

/// [`every_area`] and `/readyz`, all at once.
async fn every_area_and_readyz(app: &TestApp, w: &World) -> Vec<Answer> {
    let readyz = send("readyz", app.client.get(format!("{}/readyz", app.base)));
    let (mut answers, readyz) = tokio::join!(every_area(app, w), readyz);
    answers.push(readyz);
    answers
}

/// Words of a cause that must never reach a client.
const CAUSES: [&str; 9] = [
    "pool",
    "sqlx",
    "timed out",
    "refused",
    "error communicating",
    "postgres",
    "sigil_test_",
    "127.0.0.1",
    "io error",
];

/// Each answer is the area's 503, within `within`.
#[track_caller]
fn assert_unavailable(answers: &[Answer], within: Duration) {
    for a in answers {
        let what = a.what;
        assert_eq!(
            a.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {}",
            a.body
        );
        assert!(a.took < within, "{what} took {:?}", a.took);
        let lower = a.body.to_lowercase();
        for cause in CAUSES {
            assert!(!lower.contains(cause), "{what} names `{cause}`: {}", a.body);
        }
        if what == "readyz" {
            continue;
        }
        assert_eq!(a.headers["retry-after"], "5", "{what}");
        match what {
            "authorize" => {
                assert!(
                    a.headers["content-type"]
                        .to_str()
                        .unwrap()
                        .starts_with("text/html"),
                    "{what}"
                );
                assert!(lower.contains("temporarily unavailable"), "{}", a.body);
            }
            "management" => assert_eq!(a.json()["code"], "temporarily_unavailable", "{what}"),
            _ => {
                let body = a.json();
                assert_eq!(body["error"], "temporarily_unavailable", "{what}");
                assert!(body["error_description"].is_string(), "{what}");
                if what.ends_with("grant") {
                    assert_eq!(a.headers["cache-control"], "no-store", "{what}");
                }
            }
        }
    }
}

/// The same requests succeed at once, the refresh token refused during the outage included
/// (the refused grant rotated nothing: rotation commits with issuance), and so does the
/// refresh token it now rotates to.
async fn assert_recovered(app: &TestApp, w: &World) {
    let answers = every_area_and_readyz(app, w).await;
    for a in &answers {
        assert_eq!(
            a.status,
            StatusCode::OK,
            "{} after the outage: {}",
            a.what,
            a.body
        );
    }
    let rotated = answers[0].json()["refresh_token"]
        .as_str()
        .expect("the refresh grant rotates")
        .to_string();
    let again = send(
        "refresh grant",
        token_request(app, &w.s, &refresh_form(&rotated)),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
}

fn refresh_form(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", token.into()),
    ]
}

async fn counted(app: &TestApp, cause: &str) -> f64 {
    app.metric(&format!("sigil_unavailable_total{{cause=\"{cause}\"}}"))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_stopped_every_area_answers_503_within_the_acquire_timeout_and_recovers_without_restart()
 {
    let request_timeout = Duration::from_secs(30);
    let (app, proxy) = proxied_app(ACQUIRE, request_timeout).await;
    let w = world(&app).await;

    proxy.cut().await;
    assert_unavailable(&every_area_and_readyz(&app, &w).await, ACQUIRE + MARGIN);
    // The pool's acquire timeout answered, not the request timeout (30 s away); `/readyz` is
    // a probe, not a refused request.
    assert_eq!(counted(&app, "database").await, 6.0);
    assert_eq!(counted(&app, "timeout").await, 0.0);

    proxy.restore().await;
    assert_recovered(&app, &w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_blackholed_every_area_answers_503_within_the_acquire_timeout_and_recovers()
 {
    let (app, proxy) = proxied_app(ACQUIRE, Duration::from_secs(30)).await;
    let w = world(&app).await;

    // Open connections stop answering mid-conversation and new ones are never answered: the
    // liveness ping of an idle connection and the connect of a new one both hang, and the
    // acquire timeout ends both.
    proxy.blackhole();
    assert_unavailable(&every_area_and_readyz(&app, &w).await, ACQUIRE + MARGIN);
    assert_eq!(counted(&app, "timeout").await, 0.0);

    proxy.restore().await;
    assert_recovered(&app, &w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_past_the_request_timeout_is_a_503_not_a_hang() {
    // An acquire timeout longer than the test: only the request timeout can answer.
    let request_timeout = Duration::from_millis(1500);
    let (app, proxy) = proxied_app(Duration::from_secs(120), request_timeout).await;
    let w = world(&app).await;

    proxy.blackhole();
    // Not `/readyz`: it is bounded by the acquire timeout alone (a balancer's check has a
    // timeout of its own).
    assert_unavailable(&every_area(&app, &w).await, request_timeout + MARGIN);
    assert_eq!(counted(&app, "timeout").await, 6.0);

    proxy.restore().await;
    assert_recovered(&app, &w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_that_ends_every_connection_costs_no_request_an_error() {
    // No proxy: PostgreSQL itself ends the sessions of this test's database, as a restart does
    // (57P01 admin_shutdown), and only those.
    let (app, w, mut ender) = app_and_its_connections().await;
    // Open several connections, idle in the pool from now on.
    for (status, body) in
        futures::future::join_all((0..5).map(|_| app.get("/t/default/api/users"))).await
    {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert!(ender.end_all().await > 0, "the pool had connections to end");

    // Every stale connection fails its liveness check inside the pool and is replaced: not
    // one request sees it.
    assert_recovered(&app, &w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_on_a_connection_the_server_ended_a_moment_ago_is_answered_not_refused() {
    // A refresh's first read may take a connection given back within the last moment without
    // checking it (store::warm::RECENT); one that PostgreSQL ended in that moment fails the
    // read, which runs again on a checked connection instead of answering 503.
    let (app, w, mut ender) = app_and_its_connections().await;
    let mut token = w.refresh_token.clone();
    for round in 0..3 {
        // A refresh keeps the connections it read on, given back just now.
        let a = send(
            "refresh grant",
            token_request(&app, &w.s, &refresh_form(&token)),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "round {round}: {}", a.body);
        token = a.json()["refresh_token"].as_str().unwrap().to_string();
        assert!(
            ender.end_all().await > 0,
            "round {round}: connections to end"
        );
        let a = send(
            "refresh grant",
            token_request(&app, &w.s, &refresh_form(&token)),
        )
        .await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "round {round}, right after the server ended every connection: {}",
            a.body
        );
        token = a.json()["refresh_token"].as_str().unwrap().to_string();
    }
}

/// Ends the server sessions of one database, as a restart of PostgreSQL does (57P01
/// admin_shutdown), through an administrator connection opened beforehand.
struct Ender {
    admin: sqlx::PgConnection,
    database: String,
}

impl Ender {
    /// Ends every session of the database but its own; how many.
    async fn end_all(&mut self) -> usize {
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&self.database)
        .fetch_all(&mut self.admin)
        .await
        .unwrap();
        ended.len()
    }
}

/// A server on a fresh PostgreSQL database reached directly (no proxy), the fixture, and what
/// ends that database's sessions.
async fn app_and_its_connections() -> (TestApp, World, Ender) {
    let fresh = FreshDb::new(Db::Postgres).await;
    let database = fresh.url.rsplit('/').next().unwrap().to_string();
    let app = spawn_app_on(Db::Postgres, fresh, |_| {}).await;
    let w = world(&app).await;
    let admin = <sqlx::PgConnection as sqlx::Connection>::connect(&pg_admin_url())
        .await
        .unwrap();
    (app, w, Ender { admin, database })
}
