//! Nodes behind PgBouncer in transaction pooling mode (Debian's `pgbouncer`, installed by
//! scripts/setup-cluster-tools.sh): with `pooler=transaction` in the database URL every flow
//! works under concurrency, with far fewer server connections than clients; without it the
//! same run fails (sqlx's named prepared statements land on server connections other clients
//! share), which shows it is the setting that makes it work. See src/store/conn.rs.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sigil::startup::{Application, Settings};

use crate::cluster::{access_claims, within_a_second};
use crate::code_flow::{self, Browser, REDIRECT, VERIFIER, authorize_path, exchange};
use crate::grants::{self, ADA_PASSWORD, Setup, ada_grant, enable_refresh, refresh};
use crate::helpers::{
    Db, FreshDb, Reply, TestApp, free_port, pg_admin_url, spawn_app_on, spawn_cluster,
    test_settings, upload_and_bind,
};

/// Server connections PgBouncer opens per database: far fewer than the node's pool and the
/// concurrent requests, so transactions of different clients share them.
const SERVER_CONNECTIONS: u32 = 2;
/// Concurrent clients of the workload, and the node's pool size.
const CLIENTS: usize = 16;
/// Rounds each client runs.
const ROUNDS: usize = 3;
/// How long the whole workload may take.
const WORKLOAD_BOUND: Duration = Duration::from_secs(180);

/// A `pgbouncer` process in transaction pooling mode in front of the tests' PostgreSQL
/// server, on a free loopback port; killed when dropped.
pub(crate) struct PgBouncer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl PgBouncer {
    /// Starts one with `pool_size` server connections per database and waits until it accepts
    /// connections.
    pub(crate) async fn start(pool_size: u32) -> Self {
        let server = url::Url::parse(&pg_admin_url()).unwrap();
        let user = match server.username() {
            "" => "postgres",
            u => u,
        };
        let mut target = format!(
            "host={} port={} user={user}",
            server.host_str().unwrap_or("127.0.0.1"),
            server.port().unwrap_or(5432)
        );
        if let Some(p) = server.password() {
            target.push_str(&format!(" password={p}"));
        }
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("sigil-pgbouncer-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        // `ignore_startup_parameters`: sqlx sends extra_float_digits at connect, which
        // PgBouncer refuses unless told to ignore it (docs/operating.md, "The database behind PgBouncer").
        let ini = format!(
            "[databases]\n* = {target}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
             unix_socket_dir =\nauth_type = trust\nauth_file = {auth}\npool_mode = transaction\n\
             default_pool_size = {pool_size}\nmax_client_conn = 500\n\
             ignore_startup_parameters = extra_float_digits\n",
            auth = dir.join("users.txt").display(),
        );
        std::fs::write(dir.join("pgbouncer.ini"), ini).unwrap();
        std::fs::write(dir.join("users.txt"), format!("\"{user}\" \"\"\n")).unwrap();
        // PgBouncer refuses to run as root: as root, it switches to `nobody` (who must be able
        // to read the files).
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if root {
            use std::os::unix::fs::PermissionsExt;
            for f in ["", "pgbouncer.ini", "users.txt"] {
                let mode = if f.is_empty() { 0o755 } else { 0o644 };
                std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(mode))
                    .unwrap();
            }
        }
        let log = std::fs::File::create(dir.join("pgbouncer.log")).unwrap();
        let mut cmd = Command::new(pgbouncer_binary());
        if root {
            cmd.args(["-u", "nobody"]);
        }
        let child = cmd
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("pgbouncer starts (scripts/setup-cluster-tools.sh installs it)");
        let mut bouncer = PgBouncer { child, port, dir };
        bouncer.wait_listening().await;
        bouncer
    }

    async fn wait_listening(&mut self) {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("pgbouncer exited ({status}):\n{}", self.log());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pgbouncer did not listen within 10 s:\n{}", self.log());
    }

    /// Its log, for failure messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    /// `direct` (a database on the PostgreSQL server) reached through this PgBouncer, with
    /// `query` (e.g. `pooler=transaction`) when not empty.
    pub(crate) fn url_of(&self, direct: &str, query: &str) -> String {
        let mut u = url::Url::parse(direct).unwrap();
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(self.port)).unwrap();
        if !query.is_empty() {
            u.set_query(Some(query));
        }
        u.to_string()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Debian puts it in /usr/sbin, which a non-root PATH may lack.
fn pgbouncer_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("pgbouncer"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/pgbouncer")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("pgbouncer is not installed: scripts/setup-cluster-tools.sh installs it")
        })
}

/// What the workload uses: the password-grant fixture (refresh allowed), an application for
/// the code flow, and two hooks bound to every login (one writes metadata, one adds claims).
struct Fixture {
    password: Setup,
    code: code_flow::Setup,
}

async fn fixture(app: &TestApp) -> Fixture {
    let password = grants::setup(app, "ES256").await;
    enable_refresh(app, &password).await;
    let web = grants::application(
        app,
        json!({"name": "dashboard", "redirect_uris": [REDIRECT],
               "grant_types": ["authorization_code", "refresh_token"]}),
    )
    .await;
    upload_and_bind(
        app,
        &[
            ("stamp", "first_login_stamp", "fail_closed"),
            ("roles", "roles_claims", "fail_closed"),
        ],
    )
    .await;
    Fixture {
        code: code_flow::Setup {
            client_id: web.client_id,
            secret: Some(web.secret),
            user_id: password.user_id.clone(),
        },
        password,
    }
}

/// Runs [`CLIENTS`] clients at once, spread over `nodes`, each [`ROUNDS`] times one of four flows: a password
/// grant and three refresh rotations; user management writes read back; a code flow through
/// the login page; a password grant and `/userinfo`. Every login runs the bound hooks. Returns
/// what failed (empty when everything succeeded).
async fn workload(nodes: &[TestApp], fx: &Fixture) -> Vec<String> {
    let clients = (0..CLIENTS).map(|i| async move {
        let app = &nodes[i % nodes.len()];
        let mut failed = Vec::new();
        for round in 0..ROUNDS {
            let outcome = match i % 4 {
                0 => refresh_chain(app, &fx.password).await,
                1 => management_writes(app, &format!("c{i}r{round}")).await,
                2 => code_flow(app, &fx.code).await,
                _ => login_and_userinfo(app, &fx.password).await,
            };
            if let Err(e) = outcome {
                failed.push(format!("client {i} round {round}: {e}"));
            }
        }
        failed
    });
    futures::future::join_all(clients)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// `Err` naming the step when `got` is not `want`.
fn check(step: &str, got: (StatusCode, Value), want: StatusCode) -> Result<Value, String> {
    if got.0 == want {
        Ok(got.1)
    } else {
        Err(format!("{step}: {} {}", got.0, got.1))
    }
}

async fn refresh_chain(app: &TestApp, s: &Setup) -> Result<(), String> {
    let scope = [("scope", "openid offline_access")];
    let first = check(
        "password grant",
        ada_grant(app, s, ADA_PASSWORD, &scope).await,
        StatusCode::OK,
    )?;
    let mut rt = first["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for n in 1..=3 {
        let next = check(
            &format!("refresh {n}"),
            refresh(app, s, &rt, None).await,
            StatusCode::OK,
        )?;
        let new = next["refresh_token"].as_str().unwrap_or_default();
        if new.is_empty() || new == rt {
            return Err(format!("refresh {n} did not rotate the token: {next}"));
        }
        rt = new.to_string();
    }
    Ok(())
}

async fn management_writes(app: &TestApp, tag: &str) -> Result<(), String> {
    let user = check(
        "create user",
        app.post(
            "/t/default/api/users",
            json!({"email": format!("{tag}@example.com"), "password": "a long enough password"}),
        )
        .await,
        StatusCode::CREATED,
    )?;
    let path = format!(
        "/t/default/api/users/{}",
        user["id"].as_str().unwrap_or_default()
    );
    check(
        "update user",
        app.patch(&path, json!({"user_metadata": {"tag": tag}}))
            .await,
        StatusCode::OK,
    )?;
    let read = check("read user", app.get(&path).await, StatusCode::OK)?;
    if read["user_metadata"]["tag"] != tag {
        return Err(format!("the update is not read back: {read}"));
    }
    Ok(())
}

async fn code_flow(app: &TestApp, s: &code_flow::Setup) -> Result<(), String> {
    let mut browser = Browser::new(app);
    let page = browser.get(&authorize_path(&s.client_id, &[])).await;
    if page.status != StatusCode::OK {
        return Err(format!("login page: {} {}", page.status, page.body));
    }
    let done = browser.login(&page, "ada@example.com", ADA_PASSWORD).await;
    if done.status != StatusCode::SEE_OTHER {
        return Err(format!("login: {} {}", done.status, done.body));
    }
    let code = done.location().get("code").cloned().unwrap_or_default();
    let tokens = check(
        "code exchange",
        exchange(app, s, &code, Some(VERIFIER)).await,
        StatusCode::OK,
    )?;
    match tokens["id_token"].as_str() {
        Some(_) => Ok(()),
        None => Err(format!("no id_token: {tokens}")),
    }
}

async fn login_and_userinfo(app: &TestApp, s: &Setup) -> Result<(), String> {
    let tokens = check(
        "password grant",
        ada_grant(app, s, ADA_PASSWORD, &[("scope", "openid")]).await,
        StatusCode::OK,
    )?;
    let at = tokens["access_token"].as_str().unwrap_or_default();
    let info = check(
        "userinfo",
        code_flow::userinfo(app, at).await,
        StatusCode::OK,
    )?;
    match info["sub"].as_str() {
        Some(sub) if sub == s.user_id => Ok(()),
        _ => Err(format!("userinfo names another subject: {info}")),
    }
}

/// Points a node's settings at `bouncer` in transaction pooling mode (`pooler=transaction`),
/// with the database itself as the direct URL its change listener needs, and a pool as large
/// as the workload's clients (PgBouncer multiplexes them on [`SERVER_CONNECTIONS`]).
fn through(bouncer: &PgBouncer, s: &mut Settings) {
    s.database_direct_url = Some(s.database_url.clone());
    s.database_url = bouncer.url_of(&s.database_url, "pooler=transaction");
    s.max_connections = CLIENTS as u32;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_succeeds_under_concurrency_on_two_nodes_through_pgbouncer_in_transaction_mode()
{
    let bouncer = PgBouncer::start(SERVER_CONNECTIONS).await;
    let c = spawn_cluster(2, |s| through(&bouncer, s)).await;
    let fx = fixture(&c.nodes[0]).await;
    let failed = tokio::time::timeout(WORKLOAD_BOUND, workload(&c.nodes, &fx))
        .await
        .expect("the workload finishes in time");
    assert!(
        failed.is_empty(),
        "{} of {} client rounds failed:\n{}\npgbouncer:\n{}",
        failed.len(),
        CLIENTS * ROUNDS,
        failed.join("\n"),
        bouncer.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_behind_pgbouncer_reaches_another_within_a_second() {
    let bouncer = PgBouncer::start(SERVER_CONNECTIONS).await;
    let c = spawn_cluster(2, |s| through(&bouncer, s)).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let s = grants::setup(a, "ES256").await;
    let login = || access_claims(&c, b, &s);
    // Node b has loaded (and cached) the templates.
    assert!(login().await["plan"].is_null());
    a.put(
        "/t/default/api/jwt-templates/access_token",
        json!({"plan": "gold"}),
    )
    .await
    .expect_status(StatusCode::OK);
    within_a_second("saving a template", login, |c| c["plan"] == "gold").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pooler_transaction_the_same_flows_fail_through_pgbouncer() {
    let bouncer = PgBouncer::start(SERVER_CONNECTIONS).await;
    let fresh = FreshDb::new(Db::Postgres).await;
    let url = bouncer.url_of(&fresh.url, "");
    // The start itself may fail (the migrations' statements collide), which `spawn_app_on`
    // reports as a panic: run it all in a task to see either outcome.
    let run = tokio::spawn(async move {
        let app = spawn_app_on(Db::Postgres, fresh, |s| {
            s.database_url = url;
            s.max_connections = CLIENTS as u32;
        })
        .await;
        let fx = fixture(&app).await;
        workload(std::slice::from_ref(&app), &fx).await
    });
    match tokio::time::timeout(WORKLOAD_BOUND, run).await {
        // Hung: PgBouncer routed a statement's second half where nothing answers it.
        Err(_) => {}
        Ok(Err(panicked)) => {
            let panic = panicked.into_panic();
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            // A start or setup step refused: by the database (the cause is in the message of
            // a failed start), or with a 500 (the cause is in the server's log).
            assert!(
                message.contains("prepared statement") || message.contains("500"),
                "failed for another reason: {message}"
            );
        }
        Ok(Ok(failed)) => {
            assert!(
                !failed.is_empty(),
                "every flow succeeded without the setting: the test proves nothing"
            );
            assert!(
                failed.iter().all(|f| f.contains(": 500 ")),
                "failed for another reason than a server error:\n{}",
                failed.join("\n")
            );
        }
    }
}

/// The readiness check (`/readyz`'s `SELECT 1`, which a balancer sends every half second) used
/// to prepare a named statement; behind the pooler it stayed on the server connection, and the
/// next node to start got that connection and failed on its own `sqlx_s_1` ("already
/// exists"). One server connection makes the hand-over certain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readiness_check_through_pgbouncer_leaves_nothing_prepared_for_the_next_client() {
    let bouncer = PgBouncer::start(1).await;
    let fresh = FreshDb::new(Db::Postgres).await;
    let mut shared = test_settings(Db::Postgres, &fresh);
    through(&bouncer, &mut shared);
    shared.max_connections = 2;
    let first = Application::build(shared.clone())
        .await
        .expect("the first node starts");
    first
        .services()
        .db
        .store
        .ping()
        .await
        .expect("the readiness check");
    let second = Application::build(shared).await;
    assert!(
        second.is_ok(),
        "the next node: {:?}\npgbouncer:\n{}",
        second.as_ref().err(),
        bouncer.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_through_pgbouncer_apply_the_migrations_once() {
    let bouncer = PgBouncer::start(SERVER_CONNECTIONS).await;
    let fresh = FreshDb::new(Db::Postgres).await;
    // One master key for all, as every node of a cluster has.
    let mut shared = test_settings(Db::Postgres, &fresh);
    through(&bouncer, &mut shared);
    shared.max_connections = 4;
    let node = |_| Application::build(shared.clone());
    let started = futures::future::join_all((0..3).map(node)).await;
    for (i, s) in started.iter().enumerate() {
        assert!(
            s.is_ok(),
            "node {i}: {:?}\npgbouncer:\n{}",
            s.as_ref().err(),
            bouncer.log()
        );
    }
    // Exactly one start made the default tenant (and its operator key).
    let made = started
        .iter()
        .filter(|s| s.as_ref().is_ok_and(|a| a.bootstrap_key().is_some()))
        .count();
    assert_eq!(made, 1);
    let app = started.into_iter().next().unwrap().unwrap();
    let store = &app.services().db.store;
    // Unnamed (not persistent), as the server's own statements are behind a transaction
    // pooler: a named one this connection prepared before may sit on another server
    // connection now ("prepared statement sqlx_s_1 does not exist", seen once in CI).
    let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM _sqlx_migrations")
        .persistent(false)
        .fetch_all(store.pool())
        .await
        .unwrap();
    let files = std::fs::read_dir("migrations/postgres").unwrap().count();
    assert_eq!(applied.len(), files, "each migration recorded once");
    // Reads work through the pooler after the migrations (no statement of theirs is left
    // prepared on a server connection).
    let tenant = sigil::store::tenants::by_name(store, "default")
        .await
        .unwrap();
    assert!(tenant.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_behind_a_transaction_pooler_without_a_direct_url_refuses_to_start() {
    let fresh = FreshDb::new(Db::Postgres).await;
    let mut s = test_settings(Db::Postgres, &fresh);
    s.database_url = "postgres://postgres@127.0.0.1:6432/sigil?pooler=transaction".into();
    s.database_direct_url = None;
    let err = Application::build(s).await.unwrap_err().to_string();
    assert!(err.contains("--database-direct-url"), "{err}");
}
