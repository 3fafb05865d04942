//! A `sigil serve` process for the tests that need the real binary (signals, other processes
//! on the same database).

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{FreshDb, free_port, ready};

/// A `sigil serve` process on SQLite, with its operator key.
pub(crate) struct Serve {
    child: Child,
    pub port: u16,
    pub base: String,
    pub key: String,
    dir: PathBuf,
}

impl Serve {
    /// Starts `sigil serve` on `fresh` with `args` and `envs` (light argon2id) and waits until
    /// it is ready.
    pub async fn start(fresh: &FreshDb, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("sigil-drain-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_sigil"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--argon2-memory-kib", "4096", "--argon2-passes", "1"])
            .args(args)
            .env("DATABASE_URL", &fresh.url)
            .env("SIGIL_OPERATOR_KEY_FILE", dir.join("operator-key"))
            .env("RUST_LOG", "warn")
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
            .spawn()
            .unwrap();
        let mut serve = Serve {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            key: String::new(),
            dir,
        };
        assert!(ready(port).await, "sigil serve did not become ready");
        serve.key = std::fs::read_to_string(serve.dir.join("operator-key"))
            .unwrap()
            .trim()
            .to_string();
        serve
    }

    /// A management call with the operator key; asserts the status.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Value, want: StatusCode) {
        let res = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert_eq!(status, want, "{path}: {}", res.text().await.unwrap());
    }

    /// A user with a password and an application allowed the password grant: the grant's
    /// form body and its `Authorization` header.
    pub async fn password_login(&self) -> (String, String) {
        self.call(
            reqwest::Method::POST,
            "/t/default/api/users",
            json!({"email": "ada@example.com", "password": "correct horse battery"}),
            StatusCode::CREATED,
        )
        .await;
        let res = reqwest::Client::new()
            .post(format!("{}/t/default/api/applications", self.base))
            .bearer_auth(&self.key)
            .json(&json!({"name": "web", "grant_types": ["password"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let app: Value = res.json().await.unwrap();
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            app["client_id"].as_str().unwrap(),
            app["client_secret"].as_str().unwrap()
        ));
        (
            "grant_type=password&username=ada%40example.com&password=correct+horse+battery".into(),
            format!("Basic {basic}"),
        )
    }

    pub fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
    }

    /// Waits up to `limit` for the process to exit.
    pub async fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {limit:?} after SIGTERM; log:\n{}",
                std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
