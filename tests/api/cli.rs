//! The `sigil` binary: first start prints the operator key once; `api-keys create` prints a
//! working key as its last line; `users import` imports a file; `migrate` and `tenants create`;
//! operator settings by flag and by environment variable; the local runner (`hooks test`).

use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Db, FreshDb};
use crate::helpers::{free_port, ready};

fn sigil(db_url: &str, key: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("SIGIL_MASTER_KEY", key)
        .env("RUST_LOG", "warn")
        .output()
        .expect("sigil runs")
}

/// [`sigil`] with `stdin` on its standard input.
fn sigil_with_stdin(db_url: &str, key: &str, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("SIGIL_MASTER_KEY", key)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sigil runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin.as_bytes()).expect("writing stdin");
    drop(input);
    child.wait_with_output().expect("sigil ends")
}

/// A running `sigil serve` and the directory holding its stderr and its operator-key file.
struct Server(Child, std::path::PathBuf);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// A directory of its own for one server process.
fn scratch_dir(tag: u64) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sigil-serve-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn serve(db_url: &str, key: &str) -> (Server, String) {
    serve_with(db_url, key, &[], &[]).await
}

/// `sigil serve` with more flags and environment variables. Unless `args` name a `--listen`
/// address, the server binds port 0 and the address comes from its start-up line: a port
/// picked free beforehand can be taken by another test's listener or an outgoing
/// connection before the child binds it, and then `/readyz` may even be answered by a
/// stranger.
async fn serve_with(
    db_url: &str,
    key: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (Server, String) {
    let dir = scratch_dir(rand::random());
    let child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .arg("serve")
        .args(
            (!args.contains(&"--listen"))
                .then_some(["--listen", "127.0.0.1:0"])
                .into_iter()
                .flatten(),
        )
        .args(args)
        .env("SIGIL_OPERATOR_KEY_FILE", dir.join("operator-key"))
        .env("DATABASE_URL", db_url)
        .env("SIGIL_MASTER_KEY", key)
        // The start-up line (info) says where the server listens; the rest of the log warns.
        .env("RUST_LOG", "warn,sigil::cli::serve=info")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let mut server = Server(child, dir);
    let address = listening_address(&mut server).await;
    let port = address.rsplit(':').next().unwrap().parse().unwrap();
    assert!(ready(port).await, "sigil serve did not become ready");
    (server, format!("http://{address}"))
}

/// The `address=` of the server's `sigil listening` line, waiting up to 20 s for it.
async fn listening_address(server: &mut Server) -> String {
    for _ in 0..400 {
        let log = std::fs::read_to_string(server.1.join("stderr")).unwrap_or_default();
        if let Some(address) = log
            .lines()
            .filter(|l| l.contains("sigil listening"))
            .find_map(|l| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix("address="))
            })
        {
            return address.to_string();
        }
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("sigil serve stopped at start ({status}): {log}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("sigil serve printed no start-up line in 20 s");
}

/// What a stopped server left: stdout, stderr (its log) and the operator-key file, if any.
struct Stopped {
    stdout: String,
    stderr: String,
    operator_key_file: Option<(String, u32)>,
}

/// `sigil serve` with these settings stops at start (status 1) with `message` on stderr.
fn refused_at_start(db_url: &str, key: &str, args: &[&str], envs: &[(&str, &str)], message: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(envs.iter().copied())
        .env("DATABASE_URL", db_url)
        .env("SIGIL_MASTER_KEY", key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?} {envs:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(message), "{args:?} {envs:?}: {err}");
}

/// SIGTERM, then read what it printed.
fn stop(server: Server) -> String {
    stop_all(server).stdout
}

/// SIGTERM, then read everything it left.
fn stop_all(mut server: Server) -> Stopped {
    use std::io::Read;
    let pid = server.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    // Bounded: a server that never exits fails this test with its log instead of hanging the
    // suite.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = server.0.kill();
            panic!(
                "sigil serve still running 30 s after SIGTERM; its log:\n{}",
                std::fs::read_to_string(server.1.join("stderr")).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    let mut out = String::new();
    server
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let key_file = server.1.join("operator-key");
    Stopped {
        stdout: out,
        stderr: std::fs::read_to_string(server.1.join("stderr")).unwrap_or_default(),
        operator_key_file: std::fs::read_to_string(&key_file).ok().map(|text| {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
            (text, mode & 0o777)
        }),
    }
}

async fn binary_commands(db: Db) {
    let fresh = FreshDb::new(db).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let out = sigil(&fresh.url, &master, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // First start without a terminal: the operator key goes to an owner-only file the log
    // names, and into no output; the second start makes none.
    let (server, base) = serve(&fresh.url, &master).await;
    let first = stop_all(server);
    let (text, mode) = first
        .operator_key_file
        .expect("the first start writes the operator key file");
    assert_eq!(mode, 0o600, "only the owner may read the key file");
    let operator = text.trim().to_string();
    assert!(operator.starts_with("sk_"), "{text}");
    assert!(
        !first.stdout.contains("sk_") && !first.stderr.contains("sk_"),
        "the key is in no output: {}{}",
        first.stdout,
        first.stderr
    );
    assert!(
        first.stderr.contains("operator-key"),
        "the log names the file: {}",
        first.stderr
    );
    let (server, _) = serve(&fresh.url, &master).await;
    let second = stop_all(server);
    assert!(
        second.operator_key_file.is_none() && !second.stdout.contains("sk_"),
        "only the first start makes an operator key"
    );
    let _ = base;

    let out = sigil(&fresh.url, &master, &["tenants", "create", "acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sigil(
        &fresh.url,
        &master,
        &["api-keys", "create", "--tenant", "acme"],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().last().unwrap().trim().to_string();
    assert!(key.starts_with("sk_"));
    let out = sigil(
        &fresh.url,
        &master,
        &["api-keys", "create", "--tenant", "nosuch"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tenant not found"));

    let file = std::env::temp_dir().join(format!("sigil-import-{}.jsonl", rand::random::<u64>()));
    std::fs::write(
        &file,
        [
            json!({"email": "i1@example.com", "external_id": "x1"}).to_string(),
            json!({"email": "nope"}).to_string(),
        ]
        .join("\n"),
    )
    .unwrap();
    let out = sigil(
        &fresh.url,
        &master,
        &[
            "users",
            "import",
            file.to_str().unwrap(),
            "--tenant",
            "acme",
        ],
    );
    std::fs::remove_file(&file).unwrap();
    assert_eq!(out.status.code(), Some(2), "some lines failed");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["failed"].as_u64()),
        (Some(1), Some(1))
    );

    // JWT templates on the database: set (validated), preview, get, delete.
    let tpl = std::env::temp_dir().join(format!("sigil-tpl-{}.json", rand::random::<u64>()));
    let run = |args: &[&str]| sigil(&fresh.url, &master, args);
    std::fs::write(
        &tpl,
        r#"{"org_tier": "{{organization.metadata.tier}}", "bad": "{{user.nope}}"}"#,
    )
    .unwrap();
    let path = tpl.to_str().unwrap();
    let out = run(&["templates", "set", "access_token", path, "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/bad at 7") && err.contains("unknown_field"),
        "{err}"
    );
    std::fs::write(&tpl, r#"{"org_tier": "{{organization.metadata.tier}}"}"#).unwrap();
    let out = run(&["templates", "set", "access_token", path, "--tenant", "acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["templates", "preview", "--tenant", "acme"]);
    let preview: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(preview["access_token"], json!({"org_tier": "gold"}));
    let out = run(&["templates", "get", "--tenant", "acme"]);
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        got["access_token"]["org_tier"],
        "{{organization.metadata.tier}}"
    );
    assert!(
        run(&["templates", "delete", "access_token", "--tenant", "acme"])
            .status
            .success()
    );
    std::fs::remove_file(&tpl).unwrap();

    // The key from the CLI works against a running server and sees the imported user.
    let (server, base) = serve(&fresh.url, &master).await;
    let client = reqwest::Client::new();
    let res = client
        .get(format!("{base}/t/acme/api/users/by-external-id/x1"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = client
        .get(format!("{base}/api/tenants"))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    stop(server);

    // A wrong master key, or none with PostgreSQL, is refused clearly.
    if db == Db::Postgres {
        let out = Command::new(env!("CARGO_BIN_EXE_sigil"))
            .args(["migrate"])
            .env("DATABASE_URL", &fresh.url)
            .env_remove("SIGIL_MASTER_KEY")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("SIGIL_MASTER_KEY is required"));
    }
}

/// Operator settings are flags and environment variables: a ceiling set by flag and one set by
/// variable both reach the hook limits the API reports; a setting the library refuses stops
/// the server with a message naming it.
async fn operator_settings_come_from_flags_and_the_environment(db: Db) {
    let fresh = FreshDb::new(db).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    // Admin commands work on an existing database: `migrate` creates it.
    let out = sigil(&fresh.url, &master, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sigil(&fresh.url, &master, &["tenants", "create", "acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().last().unwrap().trim().to_string();
    let (server, base) = serve_with(
        &fresh.url,
        &master,
        &["--hook-deadline-ms", "40"],
        &[("SIGIL_HOOK_FUEL", "123456")],
    )
    .await;
    let limits: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/t/acme/api/hook-limits"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(limits["ceilings"]["deadline_ms"], 40, "{limits}");
    assert_eq!(limits["ceilings"]["fuel"], 123456, "{limits}");
    assert_eq!(
        limits["ceilings"]["flow_deadline_ms"], 200,
        "what is not set keeps its default"
    );
    stop(server);

    for (args, message) in [
        (
            &["--argon2-passes", "0"][..],
            "argon2id parameters m=19456 KiB, t=0, p=1",
        ),
        (
            &["--hook-memory-bytes", "1000000000"][..],
            "hook ceiling memory_bytes",
        ),
    ] {
        refused_at_start(&fresh.url, &master, args, &[], message);
    }
}

/// The brute-force lock's limits are `serve` settings, by flag or variable, checked at start:
/// 0 or an absurd value stops the server with a message naming the flag.
async fn login_lock_limits_are_serve_settings_checked_at_start(db: Db) {
    let fresh = FreshDb::new(db).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let out = sigil(&fresh.url, &master, &["migrate"]);
    assert!(out.status.success());
    for (args, envs, message) in [
        (
            &["--login-max-failures", "0"][..],
            &[][..],
            "--login-max-failures (SIGIL_LOGIN_MAX_FAILURES) must be between 1 and 1000, got 0",
        ),
        (
            &["--login-max-failures", "1000000"][..],
            &[][..],
            "--login-max-failures",
        ),
        (
            &[][..],
            &[("SIGIL_LOGIN_LOCK_MINUTES", "0")][..],
            "--login-lock-minutes (SIGIL_LOGIN_LOCK_MINUTES) must be between 1 and 10080, got 0",
        ),
        (
            &["--login-lock-minutes", "999999"][..],
            &[][..],
            "--login-lock-minutes",
        ),
    ] {
        refused_at_start(&fresh.url, &master, args, envs, message);
    }
}

/// `sigil client-grants create|list|delete` and `sigil users lock show|lift` work on the
/// database of a running server, which follows them at once.
async fn client_grants_and_the_lock_from_the_command_line(db: Db) {
    let fresh = FreshDb::new(db).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let run = |args: &[&str]| sigil(&fresh.url, &master, args);
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(run(&["migrate"]));
    let key = ok(run(&["tenants", "create", "acme"]))
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let (server, base) = serve_with(
        &fresh.url,
        &master,
        &[],
        &[("SIGIL_LOGIN_MAX_FAILURES", "2")],
    )
    .await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{base}/t/acme/api/{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let res = post(
        "users",
        json!({"email": "ada@example.com", "password": "correct horse battery"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = post(
        "applications",
        json!({"name": "m2m", "grant_types": ["password", "client_credentials"]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let m2m: serde_json::Value = res.json().await.unwrap();
    let (client, secret) = (
        m2m["client_id"].as_str().unwrap().to_string(),
        m2m["client_secret"].as_str().unwrap().to_string(),
    );
    let res = post(
        "apis",
        json!({"identifier": "https://api.example.com", "name": "API",
               "scopes": [{"value": "read"}, {"value": "write"}]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let token = |form: Vec<(&'static str, &'static str)>| {
        http.post(format!("{base}/t/acme/oauth/token"))
            .basic_auth(&client, Some(&secret))
            .form(&form)
            .send()
    };
    let machine = || {
        token(vec![
            ("grant_type", "client_credentials"),
            ("audience", "https://api.example.com"),
        ])
    };
    let login = |password: &'static str| {
        token(vec![
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", password),
        ])
    };

    // Client grants.
    let res = machine().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "no grant yet");
    let out = run(&[
        "client-grants",
        "create",
        "--tenant",
        "acme",
        "--client",
        &client,
        "--audience",
        "https://api.example.com",
        "--scope",
        "nope",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scopes[0]") && err.contains("`nope`"), "{err}");
    let grant: serde_json::Value = serde_json::from_str(&ok(run(&[
        "client-grants",
        "create",
        "--tenant",
        "acme",
        "--client",
        &client,
        "--audience",
        "https://api.example.com",
        "--scope",
        "read",
    ])))
    .unwrap();
    let id = grant["id"].as_str().unwrap().to_string();
    assert_eq!(grant["scopes"], json!(["read"]));
    let res = machine().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "read");
    let listed: serde_json::Value = serde_json::from_str(&ok(run(&[
        "client-grants",
        "list",
        "--tenant",
        "acme",
        "--client",
        &client,
    ])))
    .unwrap();
    assert_eq!(listed, json!([grant]));
    ok(run(&["client-grants", "delete", "--tenant", "acme", &id]));
    let listed: serde_json::Value =
        serde_json::from_str(&ok(run(&["client-grants", "list", "--tenant", "acme"]))).unwrap();
    assert_eq!(listed, json!([]));
    let res = machine().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "the grant is gone");

    // The lock: two wrong passwords (the server's limit, from its variable) lock Ada here.
    for _ in 0..2 {
        assert_eq!(
            login("wrong password").await.unwrap().status(),
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        login("correct horse battery").await.unwrap().status(),
        StatusCode::BAD_REQUEST,
        "locked"
    );
    let show = |extra: &[&str]| {
        let mut args = vec![
            "users",
            "lock",
            "show",
            "ada@example.com",
            "--tenant",
            "acme",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str::<serde_json::Value>(&ok(run(&args))).unwrap()
    };
    let shown = show(&["--login-max-failures", "2"]);
    assert_eq!(
        (
            &shown["locked"],
            &shown["max_failures"],
            &shown["ips"][0]["attempts"]
        ),
        (&json!(true), &json!(2), &json!(3)),
        "{shown}"
    );
    let out = ok(run(&[
        "users",
        "lock",
        "lift",
        shown["user_id"].as_str().unwrap(),
        "--tenant",
        "acme",
        "--ip",
        "127.0.0.1",
    ]));
    assert!(out.contains("lock lifted"), "{out}");
    let shown = show(&[]);
    assert_eq!(
        (&shown["locked"], &shown["ips"], &shown["max_failures"]),
        (&json!(false), &json!([]), &json!(10)),
        "{shown}"
    );
    assert_eq!(
        login("correct horse battery").await.unwrap().status(),
        StatusCode::OK
    );
    let out = run(&[
        "users",
        "lock",
        "show",
        "nobody@example.com",
        "--tenant",
        "acme",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("user not found"));
    stop(server);
}

/// `sigil openapi | head`: a reader that stops early ends the command quietly (status 0,
/// nothing on stderr), not with a panic about a broken pipe.
#[test]
fn openapi_into_a_reader_that_stops_early_exits_quietly() {
    use std::io::Read as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .arg("openapi")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sigil runs");
    let mut first = [0u8; 16];
    child
        .stdout
        .take()
        .expect("piped")
        .read_exact(&mut first)
        .expect("the document starts");
    // The read end is closed here, before the document (about 100 KB) is written out.
    let out = child.wait_with_output().expect("sigil exits");
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--listen` takes a host name; the start-up log says where the server listens, which
/// database it uses (password redacted) and the issuers' base; `tenants create` prints the
/// issuer of the configured public URL (or the listen address it implies), not a fixed port.
async fn serve_listens_on_a_host_name_and_logs_where_it_is_reached(db: Db) {
    let fresh = FreshDb::new(db).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    // Trust authentication ignores a password, so the URL can carry one to be redacted.
    let url = fresh
        .url
        .replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
    let port = free_port();
    let listen = format!("localhost:{port}");
    // A key file left by an earlier database is replaced, not a reason to refuse to start.
    let stale = std::env::temp_dir().join(format!("sigil-stale-key-{port}"));
    std::fs::write(&stale, "sk_stale\n").unwrap();
    let (server, _) = serve_with(
        &url,
        &master,
        &["--listen", &listen],
        &[
            ("RUST_LOG", "info"),
            ("SIGIL_OPERATOR_KEY_FILE", stale.to_str().unwrap()),
        ],
    )
    .await;
    let log = stop_all(server).stderr;
    let key = std::fs::read_to_string(&stale).unwrap();
    assert!(key.starts_with("sk_") && key.trim() != "sk_stale", "{key}");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&stale).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    std::fs::remove_file(&stale).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("sigil listening"))
        .unwrap_or_else(|| panic!("a start-up line: {log}"));
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(
        line.contains(&format!("http://localhost:{port}/t/{{tenant}}")),
        "a listen address given by name names the issuers: {line}"
    );
    assert!(!log.contains("hunter2"), "{log}");
    if db == Db::Postgres {
        assert!(line.contains("postgres://postgres:redacted@"), "{line}");
    }

    let issuer = |args: &[&str], envs: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sigil"))
            .args(["tenants", "create"])
            .args(args)
            .env("DATABASE_URL", &url)
            .env("SIGIL_MASTER_KEY", &master)
            .env_remove("SIGIL_PUBLIC_URL")
            .env_remove("SIGIL_LISTEN")
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("issuer "))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        issuer(&["a1", "--public-url", "https://id.example.com/"], &[]),
        "https://id.example.com/t/a1"
    );
    assert_eq!(
        issuer(
            &["a2"],
            &[("SIGIL_PUBLIC_URL", "https://login.example.org")]
        ),
        "https://login.example.org/t/a2"
    );
    assert_eq!(
        issuer(&["a3"], &[("SIGIL_LISTEN", "localhost:9999")]),
        "http://localhost:9999/t/a3"
    );
    assert_eq!(issuer(&["a4"], &[]), "http://127.0.0.1:8080/t/a4");
}

/// On a terminal, the first start shows the operator key once, on the terminal, and leaves
/// no file behind (`script` gives the server a pseudo-terminal, as an operator's shell would).
#[tokio::test]
async fn the_first_start_on_a_terminal_shows_the_operator_key_once() {
    let fresh = FreshDb::new(Db::Sqlite).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let port = free_port();
    let dir = scratch_dir(port.into());
    let command = format!(
        "{} serve --listen 127.0.0.1:{port}",
        env!("CARGO_BIN_EXE_sigil")
    );
    let child = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("SIGIL_OPERATOR_KEY_FILE", dir.join("operator-key"))
        .env("DATABASE_URL", &fresh.url)
        .env("SIGIL_MASTER_KEY", &master)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script (util-linux) runs");
    let server = Server(child, dir.clone());
    assert!(
        ready(port).await,
        "sigil serve under a terminal did not become ready"
    );
    // SIGTERM to the server itself (script's child, whose command line starts with the
    // binary), so it drains and exits 0, and script exits with it.
    Command::new("pkill")
        .args(["-TERM", "-f", &format!("^{command}")])
        .status()
        .unwrap();
    let mut server = server;
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status}");
    let mut shown = String::new();
    std::io::Read::read_to_string(&mut server.0.stdout.take().unwrap(), &mut shown).unwrap();
    assert_eq!(shown.matches("sk_").count(), 1, "shown once: {shown}");
    assert!(shown.contains("shown only this once"), "{shown}");
    assert!(
        !dir.join("operator-key").exists(),
        "no file when a terminal showed the key"
    );
}

/// Rotating the master key (docs/deploy.md): `master-key add` lets a second key open the
/// database, every secret made under the first keeps working with the second (the operator
/// key, a client secret, the signing keys), both open it until `master-key retire`, and then
/// only the new one does.
async fn rotating_the_master_key_keeps_every_secret_and_retires_the_old_key(db: Db) {
    let fresh = FreshDb::new(db).await;
    let (old, new) = (
        sigil::crypto::MasterKey::generate(),
        sigil::crypto::MasterKey::generate(),
    );
    let (old_b64, new_b64) = (old.to_base64(), new.to_base64());
    let (server, base) = serve(&fresh.url, &old_b64).await;
    let http = reqwest::Client::new();
    let operator = std::fs::read_to_string(server.1.join("operator-key"))
        .unwrap()
        .trim()
        .to_string();
    let app: serde_json::Value = http
        .post(format!("{base}/t/default/api/applications"))
        .bearer_auth(&operator)
        .json(&json!({"name": "m", "grant_types": ["password"], "signing_alg": "ES256"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let status = http
        .post(format!("{base}/t/default/api/users"))
        .bearer_auth(&operator)
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::CREATED);
    let (id, secret) = (
        app["client_id"].as_str().unwrap().to_string(),
        app["client_secret"].as_str().unwrap().to_string(),
    );
    // A password grant (the client secret, the password, a signing key); returns the `kid`.
    let grant = |base: String| {
        let (http, id, secret) = (http.clone(), id.clone(), secret.clone());
        async move {
            let res = http
                .post(format!("{base}/t/default/oauth/token"))
                .basic_auth(&id, Some(&secret))
                .form(&[
                    ("grant_type", "password"),
                    ("username", "ada@example.com"),
                    ("password", "correct horse battery"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let body: serde_json::Value = res.json().await.unwrap();
            jsonwebtoken::decode_header(body["access_token"].as_str().unwrap())
                .unwrap()
                .kid
                .unwrap()
        }
    };
    let kid = grant(base.clone()).await;
    stop(server);

    let out = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["master-key", "add"])
        .env("DATABASE_URL", &fresh.url)
        .env("SIGIL_MASTER_KEY", &old_b64)
        .env("SIGIL_NEW_MASTER_KEY", &new_b64)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&new.fingerprint()));

    for key in [&new_b64, &old_b64] {
        let (server, base) = serve(&fresh.url, key).await;
        let users = http
            .get(format!("{base}/t/default/api/users"))
            .bearer_auth(&operator)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(users, StatusCode::OK, "the operator key still verifies");
        assert_eq!(grant(base).await, kid, "the same signing key still opens");
        stop(server);
    }

    let out = sigil(&fresh.url, &new_b64, &["master-key", "retire"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    refused_at_start(
        &fresh.url,
        &old_b64,
        &[],
        &[],
        &format!(
            "this master key (fingerprint {}) cannot open this database",
            old.fingerprint()
        ),
    );
    let out = sigil(&fresh.url, &new_b64, &["master-key", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(
        listed.contains(&format!("{}  added", new.fingerprint())) && listed.contains("(this key)")
    );
}

/// The legacy store and flow bindings from the command line, on the database: a user-store hook
/// uploaded and set as the legacy store (`legacy-store set|show|clear`), the migration's
/// status (`users migration-status`, which says why the hook could not count), a post-login
/// hook refused as the legacy store, and a flow binding with a deadline of its own.
async fn legacy_store_and_binding_deadlines_from_the_command_line(db: Db) {
    let fresh = FreshDb::new(db).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let ok = |args: &[&str]| {
        let out = sigil(&fresh.url, &master, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let json = |text: String| -> serde_json::Value {
        // `hooks upload --deploy` prints two documents; the last one is the answer.
        let start = text.rfind("\n{").map_or(0, |i| i + 1);
        serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    ok(&["migrate"]);
    ok(&["tenants", "create", "acme"]);
    let dir = scratch_dir(rand::random());
    let file = |name: &str| {
        let path = dir.join(format!("{name}.wasm"));
        std::fs::write(&path, crate::helpers::hook(name)).unwrap();
        path.to_string_lossy().into_owned()
    };
    let (legacy, roles) = (file("legacy_login"), file("roles_claims"));
    for (path, name) in [(&legacy, "legacy"), (&roles, "roles")] {
        ok(&[
            "hooks", "upload", path, "--name", name, "--tenant", "acme", "--deploy",
        ]);
    }
    let set = json(ok(&[
        "legacy-store",
        "set",
        "legacy",
        "--mode",
        "delegate",
        "--tenant",
        "acme",
    ]));
    assert_eq!(set["mode"], "delegate", "{set}");
    let shown = json(ok(&["legacy-store", "show", "--tenant", "acme"]));
    assert_eq!(shown["hook"], "legacy", "{shown}");
    let status = json(ok(&["users", "migration-status", "--tenant", "acme"]));
    assert_eq!(status["migrated"], 0, "{status}");
    assert!(
        status["legacy_error"]
            .as_str()
            .is_some_and(|e| e.contains("LEGACY_URL")),
        "the hook has no LEGACY_URL secret, and the status says so: {status}"
    );
    let out = sigil(
        &fresh.url,
        &master,
        &["legacy-store", "set", "roles", "--tenant", "acme"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("post-login"), "{err}");

    let flow = json(ok(&[
        "hooks",
        "flow",
        "--tenant",
        "acme",
        "roles:fail_open:1500ms",
    ]));
    assert_eq!(flow["bindings"][0]["deadline_ms"], 1500, "{flow}");
    assert_eq!(flow["bindings"][0]["failure_policy"], "fail_open", "{flow}");

    ok(&["legacy-store", "clear", "--tenant", "acme"]);
    let out = sigil(
        &fresh.url,
        &master,
        &["legacy-store", "show", "--tenant", "acme"],
    );
    assert!(!out.status.success(), "cleared");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `sigil users make-admin`: on a database no server has run on yet, it creates the first
/// administrator (the password from stdin, never from an argument) and the dashboard client;
/// the server, started later at an address the command could not know, points the client at
/// its own public URL, and the administrator signs in through it and manages the tenant.
async fn the_first_administrator_comes_from_the_command_line(db: Db) {
    let fresh = FreshDb::new(db).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let run = |args: &[&str]| sigil(&fresh.url, &master, args);
    assert!(run(&["migrate"]).status.success());
    assert!(run(&["tenants", "create", "acme"]).status.success());

    let refused = run(&["users", "make-admin", "ada@example.com", "--tenant", "acme"]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("--password-stdin"), "{why}");

    let made = sigil_with_stdin(
        &fresh.url,
        &master,
        &[
            "users",
            "make-admin",
            "ada@example.com",
            "--tenant",
            "acme",
            "--password-stdin",
        ],
        "correct horse battery\n",
    );
    let out = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(out.contains("created user ada@example.com"), "{out}");
    assert!(out.contains("is an administrator of tenant acme"), "{out}");
    // Again, for a user who exists: no password needed, nothing created.
    let again = run(&["users", "make-admin", "ada@example.com", "--tenant", "acme"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(!String::from_utf8_lossy(&again.stdout).contains("created"));

    let (_server, base) = serve(&fresh.url, &master).await;
    let tenant_id = out
        .lines()
        .find_map(|l| l.strip_prefix("dashboard client sigil-dashboard-"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the dashboard client is printed")
        .to_string();
    let tokens = crate::dashboard::sign_in_at(
        &base,
        "acme",
        &format!("sigil-dashboard-{tenant_id}"),
        &format!("{base}/t/acme/dashboard/callback"),
        "ada@example.com",
    )
    .await;
    let at = tokens["access_token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let res = http
        .get(format!("{base}/t/acme/api/users"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Its logout destination moved with the public URL too.
    let dashboard: serde_json::Value = http
        .get(format!(
            "{base}/t/acme/api/applications/sigil-dashboard-{tenant_id}"
        ))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        dashboard["post_logout_redirect_uris"],
        json!([format!("{base}/t/acme/dashboard/")]),
        "{dashboard}"
    );
}

both_backends!(
    legacy_store_and_binding_deadlines_from_the_command_line,
    binary_commands,
    operator_settings_come_from_flags_and_the_environment,
    serve_listens_on_a_host_name_and_logs_where_it_is_reached,
    login_lock_limits_are_serve_settings_checked_at_start,
    client_grants_and_the_lock_from_the_command_line,
    rotating_the_master_key_keeps_every_secret_and_retires_the_old_key,
    the_first_administrator_comes_from_the_command_line,
);

/// `sigil hooks test` runs several hooks as one flow in the local runner, with secrets, under
/// the operator's ceilings taken from a flag or from the environment (the flag wins); a
/// malformed flow binding is refused before anything opens the database.
#[test]
fn hooks_test_runs_a_local_flow_under_the_operators_ceilings() {
    let dir = std::env::temp_dir().join(format!("sigil-hooks-test-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    };
    let roles = file("roles_claims.wasm", &crate::helpers::hook("roles_claims"));
    let hostile = file("hostile.wasm", &crate::helpers::hook("hostile"));
    let event = |mode: &str| {
        let mut e: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/sample-event.json")).unwrap();
        e["user"]["user_metadata"]["mode"] = json!(mode);
        file(&format!("{mode}.json"), e.to_string().as_bytes())
    };
    let (secret_event, loop_event) = (event("secret"), event("loop"));
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sigil"))
            .args(["hooks", "test"])
            .args(args)
            .env_remove("SIGIL_HOOK_FUEL")
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        let outcome = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (
            out.status.code(),
            outcome,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, outcome, err) = run(
        &[
            &roles,
            &hostile,
            "--event",
            &secret_event,
            "--secret",
            "CRM_KEY=abc=def",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(outcome["status"]["status"], "success", "{outcome}");
    assert_eq!(outcome["id_token_claims"]["crm_key_len"], 7, "{outcome}");
    let hooks: Vec<&str> = outcome["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["hook_name"].as_str().unwrap())
        .collect();
    assert_eq!(hooks, ["roles_claims", "hostile"], "both ran, in order");

    let fuel_in = |outcome: &serde_json::Value| {
        assert_eq!(outcome["status"]["code"], "out_of_fuel", "{outcome}");
        outcome["status"]["message"].as_str().unwrap().to_string()
    };
    let (code, outcome, _) = run(
        &[&hostile, "--event", &loop_event, "--hook-fuel", "5000"],
        &[],
    );
    assert_eq!(code, Some(1), "a failed flow exits 1");
    assert!(fuel_in(&outcome).contains(" 5000 "), "{outcome}");

    // A deny gates a pipeline too: exit 1, the hook and its reason on stderr.
    let deny_event = {
        let mut e: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/sample-event.json")).unwrap();
        e["user"]["user_metadata"]["mode"] = json!("raw");
        e["user"]["user_metadata"]["calls"] = json!([["deny", "not on the list"]]);
        file("deny.json", e.to_string().as_bytes())
    };
    let (code, outcome, err) = run(&[&hostile, "--event", &deny_event], &[]);
    assert_eq!(code, Some(1), "a denied login exits 1: {outcome}");
    assert_eq!(outcome["status"]["status"], "denied", "{outcome}");
    assert!(
        err.contains("denied by hostile: not on the list"),
        "the reason is on stderr: {err}"
    );
    let env = [("SIGIL_HOOK_FUEL", "7000")];
    let (_, outcome, _) = run(&[&hostile, "--event", &loop_event], &env);
    assert!(fuel_in(&outcome).contains(" 7000 "), "{outcome}");
    let (_, outcome, _) = run(
        &[&hostile, "--event", &loop_event, "--hook-fuel", "5000"],
        &env,
    );
    assert!(
        fuel_in(&outcome).contains(" 5000 "),
        "the flag wins: {outcome}"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["hooks", "flow", "--tenant", "acme", "roles", "other@two"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'other@two'")
            && err.contains("the version `two` is not a positive whole number"),
        "{err}"
    );
}

/// The commands that only touch the database (`tenants`, `api-keys`, `keys`, `templates`)
/// never build a wasm engine: run under an address-space limit far below what an engine
/// reserves for its instances, each still succeeds. (`hooks` commands do build one, and fail
/// under the same limit, which is what makes the limit a witness.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_build_no_wasm_engine() {
    let fresh = FreshDb::new(Db::Sqlite).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    // 4 GiB of address space: plenty for the command, not for an engine's reservations.
    let limited = |args: &[&str]| {
        Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 4194304 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_sigil"))
            .args(args)
            .env("DATABASE_URL", &fresh.url)
            .env("SIGIL_MASTER_KEY", &master)
            .env("RUST_LOG", "warn")
            .output()
            .expect("sigil runs")
    };
    for args in [
        &["migrate"][..],
        &["tenants", "create", "acme"],
        &["api-keys", "create", "--tenant", "acme"],
        &["keys", "rotate", "--tenant", "acme", "--alg", "ES256"],
        &["keys", "list", "--tenant", "acme"],
        &["templates", "get", "--tenant", "acme"],
    ] {
        let out = limited(args);
        assert!(
            out.status.success(),
            "{args:?} under the limit: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = limited(&["hooks", "list", "--tenant", "acme"]);
    assert!(
        !out.status.success(),
        "a hook command builds an engine, which the limit refuses; if this passes, the limit \
         no longer tells whether an engine was built"
    );
}

/// The admin commands never create a database or a master key (only `serve` and `migrate`
/// do): a missing SQLite file, or a lost key file beside it, is an error naming the path and
/// the way out, and nothing is created where the command ran.
#[test]
fn admin_commands_refuse_a_missing_database_or_key_instead_of_creating_them() {
    let dir = std::env::temp_dir().join(format!("sigil-missing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/sigil.db", dir.display());
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sigil"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env_remove("SIGIL_MASTER_KEY")
            .env("RUST_LOG", "warn")
            .output()
            .expect("sigil runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, err) = run(&["tenants", "create", "acme"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no database at"), "{err}");
    assert!(
        err.contains(&format!("{}", dir.join("sigil.db").display())),
        "{err}"
    );
    assert!(
        err.contains("sigil migrate") && err.contains("DATABASE_URL"),
        "{err}"
    );
    assert!(!dir.join("sigil.db").exists(), "no database was created");
    assert!(!dir.join("master.key").exists(), "no key was created");

    let (code, err) = run(&["migrate"]);
    assert_eq!(code, Some(0), "migrate creates: {err}");
    assert!(dir.join("master.key").exists(), "migrate creates the key");

    // A lost key file: a new key would open none of the stored secrets.
    std::fs::remove_file(dir.join("master.key")).unwrap();
    let (code, err) = run(&["keys", "list", "--tenant", "default"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no master key at"), "{err}");
    assert!(err.contains("SIGIL_MASTER_KEY"), "{err}");
    assert!(!dir.join("master.key").exists(), "no new key was made");
    std::fs::remove_dir_all(&dir).unwrap();
}
