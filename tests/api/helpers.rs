//! Test harness: each test gets the real server on port 0 with a fresh database (a new SQLite
//! file, or a new PostgreSQL database on the server at 127.0.0.1:5432), and talks HTTP.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sigil::clock::{Clock as _, ManualClock, SystemClock};
use sigil::passwords::PasswordHasher;
use sigil::services::Services;
use sigil::startup::{Application, Settings};
use sigil_hooks::runtime::{HookRuntime, RuntimeSettings};
use sqlx::Connection;
use tokio::sync::oneshot;

/// Which back-end a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use. A missing server fails the tests: it is never a skip.
pub fn pg_admin_url() -> String {
    std::env::var("SIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh, empty database for one test, and a directory of its own (the SQLite file, the
/// disk cache of compiled hooks); dropped (or deleted) when the guard goes.
pub struct FreshDb {
    pub url: String,
    /// The server's disk cache of compiled hook artifacts.
    pub artifacts: std::path::PathBuf,
    pg_name: Option<String>,
    dir: Option<std::path::PathBuf>,
}

impl FreshDb {
    pub async fn new(db: Db) -> Self {
        let suffix: String = format!("{:016x}", rand::random::<u64>());
        let dir = std::env::temp_dir().join(format!("sigil-test-{suffix}"));
        std::fs::create_dir_all(&dir).unwrap();
        let artifacts = dir.join("artifacts");
        match db {
            Db::Sqlite => FreshDb {
                url: format!("sqlite://{}/sigil.db", dir.display()),
                artifacts,
                pg_name: None,
                dir: Some(dir),
            },
            Db::Postgres => {
                let name = format!("sigil_test_{suffix}");
                let mut conn = sqlx::PgConnection::connect(&pg_admin_url())
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL at {} is required for these tests: {e}",
                            pg_admin_url()
                        )
                    });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let base = pg_admin_url();
                let url = match base.rsplit_once('/') {
                    Some((head, _)) => format!("{head}/{name}"),
                    None => panic!("bad postgres url {base}"),
                };
                FreshDb {
                    url,
                    artifacts,
                    pg_name: Some(name),
                    dir: Some(dir),
                }
            }
        }
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = self.pg_name.take() {
            // Drop runs inside the test's runtime; do the async cleanup on a thread of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut conn)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A running server.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The operator key printed on first start.
    pub operator_key: String,
    pub svc: Services,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    // Declared last so it drops after the server has stopped (`None` for a node of a
    // [`Cluster`], which holds the database).
    _fresh: Option<FreshDb>,
}

/// The default refresh retry grace window (`--refresh-retry-grace-seconds`), in milliseconds.
pub const REFRESH_RETRY_GRACE_MS: i64 =
    sigil::config::DEFAULT_REFRESH_RETRY_GRACE_SECONDS as i64 * 1000;

/// The `/metrics` bearer token of every test server (a test about `/metrics` itself changes it).
pub const METRICS_TOKEN: &str = "test-metrics-token";

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

/// A server whose clock moves only when the test advances it. It starts at the real time, so
/// the JWTs it signs also verify against the wall clock (as clients check them).
pub async fn spawn_app_with_clock(db: Db) -> (TestApp, Arc<ManualClock>) {
    let clock = ManualClock::new(SystemClock.now_ms());
    let server_clock = clock.clone();
    let app = spawn_app_with(db, move |s| s.clock = server_clock).await;
    (app, clock)
}

/// A server with adjusted settings.
pub async fn spawn_app_with(db: Db, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(db, FreshDb::new(db).await, adjust).await
}

/// A server on a database the test prepared (it must hold no `default` tenant yet: the first
/// start makes it, with the operator key).
pub async fn spawn_app_on(db: Db, fresh: FreshDb, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings(db, &fresh);
    adjust(&mut settings);
    start(settings, Some(fresh), None).await
}

/// The settings every test server starts from.
pub fn test_settings(db: Db, fresh: &FreshDb) -> Settings {
    let mut settings = Settings::new("127.0.0.1:0".parse().unwrap(), fresh.url.clone());
    settings.max_connections = 5;
    settings.clock = Arc::new(SystemClock);
    settings.hook_runtime = Some(shared_runtime());
    settings.compiler.exe = env!("CARGO_BIN_EXE_sigil").into();
    // Real argon2id, lighter parameters: tests exercise the same code path faster.
    settings.passwords = PasswordHasher::new(4096, 1, 1);
    settings.metrics_token = Some(sigil::crypto::Secret::new(METRICS_TOKEN.into()));
    settings.artifact_cache = Some(fresh.artifacts.clone());
    if db == Db::Postgres {
        settings.master_key = Some(sigil::crypto::MasterKey::generate().to_base64());
    }
    settings
}

/// Builds and starts a server. `operator_key` is the key of a database another server already
/// started on (a later start prints none); `None` expects this start to make it.
async fn start(
    settings: Settings,
    fresh: Option<FreshDb>,
    operator_key: Option<String>,
) -> TestApp {
    let app = Application::build(settings).await.expect("server builds");
    let port = app.port();
    let operator_key = operator_key.unwrap_or_else(|| {
        app.bootstrap_key()
            .expect("first start makes a key")
            .key
            .clone()
    });
    let svc = app.services().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until_stopped(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    // As a load balancer would: no request before `/readyz` says so (the bound hooks are
    // prepared in the background at start).
    assert!(ready(port).await, "the server did not become ready");
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        operator_key,
        svc,
        shutdown: Some(tx),
        server: Some(server),
        _fresh: fresh,
    }
}

/// Several servers on one PostgreSQL database, as a balancer would front them: one master key
/// and one public URL (the first node's address, so every node issues for the same issuer).
/// Each node has its own caches; in this process they share the hook engine.
pub struct Cluster {
    pub nodes: Vec<TestApp>,
    // Declared last so it drops after every node has stopped.
    _fresh: FreshDb,
}

impl Cluster {
    /// A direct connection to the cluster's database, for a test that changes it behind the
    /// nodes' backs.
    pub async fn connect(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self._fresh.url)
            .await
            .expect("the cluster's database")
    }
}

/// Starts `n` nodes on a fresh PostgreSQL database; `adjust` applies to each node's settings.
pub async fn spawn_cluster(n: usize, adjust: impl Fn(&mut Settings)) -> Cluster {
    let fresh = FreshDb::new(Db::Postgres).await;
    let mut first = test_settings(Db::Postgres, &fresh);
    adjust(&mut first);
    let shared = first.clone();
    let mut nodes = vec![start(first, None, None).await];
    for _ in 1..n {
        let mut s = shared.clone();
        s.public_url = Some(nodes[0].base.clone());
        nodes.push(start(s, None, Some(nodes[0].operator_key.clone())).await);
    }
    Cluster {
        nodes,
        _fresh: fresh,
    }
}

impl TestApp {
    /// The test's database (its URL and directory), for a test that starts another node on it.
    pub fn fresh(&self) -> &FreshDb {
        self._fresh
            .as_ref()
            .expect("a single server (a cluster's node has no database of its own)")
    }

    /// Sends a request with `key`; returns the status and the JSON body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let text = res.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// Sends a raw body.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let res = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(&self.operator_key.clone()), None)
            .await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            path,
            Some(&self.operator_key.clone()),
            Some(body),
        )
        .await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            Method::PATCH,
            path,
            Some(&self.operator_key.clone()),
            Some(body),
        )
        .await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            Method::PUT,
            path,
            Some(&self.operator_key.clone()),
            Some(body),
        )
        .await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(&self.operator_key.clone()), None)
            .await
    }

    /// The `/metrics` exposition (with the metrics token).
    pub async fn metrics(&self) -> String {
        let res = self
            .client
            .get(format!("{}/metrics", self.base))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "/metrics");
        res.text().await.unwrap()
    }

    /// The value of the sample `series` (name and labels, exactly as exposed) in `/metrics`.
    #[track_caller]
    pub fn metric<'a>(&'a self, series: &'a str) -> impl Future<Output = f64> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let text = self.metrics().await;
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("no {series} in /metrics (at {caller}):\n{text}"))
        }
    }

    /// Creates a tenant through the API; returns its (non-operator) key.
    pub async fn tenant(&self, name: &str) -> String {
        let (s, body) = self.post("/api/tenants", json!({"name": name})).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        body["api_key"]["key"].as_str().unwrap().to_string()
    }

    /// Creates a user in the default tenant.
    pub async fn user(&self, email: &str) -> Value {
        let (s, body) = self
            .post("/t/default/api/users", json!({"email": email}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        body
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.abort();
        }
    }
}

/// A reply whose status a test expects.
pub trait Reply {
    /// Asserts the status and returns the body, so a setup step that fails stops the test at
    /// its own line (with the body in the message) instead of somewhere later.
    fn expect_status(self, status: StatusCode) -> Value;
}

impl Reply for (StatusCode, Value) {
    #[track_caller]
    fn expect_status(self, status: StatusCode) -> Value {
        assert_eq!(self.0, status, "unexpected status; body: {}", self.1);
        self.1
    }
}

/// Asserts an error body: status, machine code and (when given) field.
#[track_caller]
pub fn assert_error(
    got: &(StatusCode, Value),
    status: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    assert_eq!(got.0, status, "body: {}", got.1);
    assert_eq!(got.1["code"], code, "body: {}", got.1);
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message: {}",
        got.1
    );
    if let Some(f) = field {
        assert_eq!(got.1["field"], f, "body: {}", got.1);
    }
}

/// Runs each named `async fn(Db)` test once on SQLite and once on PostgreSQL. Attributes
/// written before a name (`#[ignore = "why"]`) go on both of its tests.
#[macro_export]
macro_rules! both_backends {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::helpers::Db::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::helpers::Db::Postgres).await }
            )*
        }
    };
}

/// One hook runtime for the whole test process, as in production (one engine per process).
pub fn shared_runtime() -> Arc<HookRuntime> {
    static RT: std::sync::OnceLock<Arc<HookRuntime>> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        HookRuntime::new(RuntimeSettings {
            threads: 4,
            per_tenant: 2,
            ..Default::default()
        })
        .expect("hook runtime")
    })
    .clone()
}

/// Uploads the guest `file` as the next version of the default tenant's hook `name` (created
/// on its first upload); the upload's answer.
pub async fn upload_version(app: &TestApp, name: &str, file: &str) -> Value {
    let res = app
        .client
        .post(format!("{}/t/default/api/hooks/{name}/versions", app.base))
        .bearer_auth(&app.operator_key)
        .body(hook(file))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Uploads each `(name, guest file, failure policy)` as version 1 of hook `name`, deploys it,
/// and binds them all, in order, to the default tenant's post-login flow.
pub async fn upload_and_bind(app: &TestApp, hooks: &[(&str, &str, &str)]) {
    let mut bindings = Vec::new();
    for (name, file, policy) in hooks {
        upload_version(app, name, file).await;
        app.post(
            &format!("/t/default/api/hooks/{name}/deploy"),
            json!({"version": 1}),
        )
        .await
        .expect_status(StatusCode::OK);
        bindings.push(json!({"hook": name, "failure_policy": policy}));
    }
    app.put(
        "/t/default/api/flows/post-login",
        json!({"bindings": bindings}),
    )
    .await
    .expect_status(StatusCode::OK);
}

/// Verifies a JWT against the default tenant's JWKS, with the algorithm from the JWK, and
/// checks its issuer and expiry (not its audience).
pub async fn verify(app: &TestApp, jwt: &str) -> (jsonwebtoken::Header, Value) {
    let jwks = app
        .call(Method::GET, "/t/default/.well-known/jwks.json", None, None)
        .await
        .expect_status(StatusCode::OK);
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"].as_str() == header.kid.as_deref())
            .unwrap()
            .clone(),
    )
    .unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let alg: jsonwebtoken::Algorithm = jwk
        .common
        .key_algorithm
        .unwrap()
        .to_string()
        .parse()
        .unwrap();
    let mut v = jsonwebtoken::Validation::new(alg);
    v.validate_aud = false;
    v.set_issuer(&[format!("{}/t/default", app.base)]);
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &v).expect("valid signature");
    (data.header, data.claims)
}

/// A guest built for `target` by `crates/test-guests` (its build script compiles them all).
pub fn guest(target: &str, name: &str) -> Vec<u8> {
    let path = sigil_test_guests::path(target, name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; crates/test-guests/build.rs builds the guests into {}",
            path.display(),
            sigil_test_guests::DIR
        )
    })
}

/// An example hook or test guest for wasm32-unknown-unknown.
pub fn hook(name: &str) -> Vec<u8> {
    guest(sigil_test_guests::HOOK_TARGET, name)
}

/// A port no one listens on now, for a server process a test starts (which binds it itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits up to 10 s for a server process on `port` to answer `/readyz` with 200.
pub async fn ready(port: u16) -> bool {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}
