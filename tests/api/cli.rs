//! The `sigil` binary: first start prints the operator key once; `api-keys create` prints a
//! working key as its last line; `users import` imports a file; `migrate` and `tenants create`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Db, FreshDb};

fn sigil(db_url: &str, key: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("SIGIL_MASTER_KEY", key)
        .env("RUST_LOG", "warn")
        .output()
        .expect("sigil runs")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(db_url: &str, key: &str, port: u16) -> (Server, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", db_url)
        .env("SIGIL_MASTER_KEY", key)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
        {
            return (server, format!("http://127.0.0.1:{port}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sigil serve did not become ready");
}

/// SIGTERM, then read what it printed.
fn stop(mut server: Server) -> String {
    use std::io::Read;
    let pid = server.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = server.0.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    let mut out = String::new();
    server
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
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

    // First start: the operator key is printed once; the second start prints none.
    let (server, base) = serve(&fresh.url, &master, free_port()).await;
    let printed = stop(server);
    let operator = printed
        .split_whitespace()
        .find(|w| w.starts_with("sk_"))
        .expect("operator key printed")
        .to_string();
    let (server, _) = serve(&fresh.url, &master, free_port()).await;
    assert!(
        !stop(server).contains("sk_"),
        "the operator key is printed only once"
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
    let (server, base) = serve(&fresh.url, &master, free_port()).await;
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

both_backends!(binary_commands);
