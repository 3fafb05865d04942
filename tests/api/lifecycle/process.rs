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
    /// What the process was started with, to start it again the same way.
    command: Vec<String>,
    envs: Vec<(String, String)>,
}

impl Serve {
    /// Starts `sigil serve` on `fresh` with `args` and `envs` (light argon2id) and waits until
    /// it is ready.
    pub async fn start(fresh: &FreshDb, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("sigil-drain-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let command: Vec<String> = ["serve", "--listen", &format!("127.0.0.1:{port}")]
            .into_iter()
            .chain(["--argon2-memory-kib", "4096", "--argon2-passes", "1"])
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let envs: Vec<(String, String)> = [
            ("DATABASE_URL", fresh.url.as_str()),
            (
                "SIGIL_OPERATOR_KEY_FILE",
                &dir.join("operator-key").to_string_lossy(),
            ),
            ("RUST_LOG", "warn"),
        ]
        .into_iter()
        .chain(envs.iter().copied())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let child = spawn(&command, &envs, &dir);
        let mut serve = Serve {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            key: String::new(),
            dir,
            command,
            envs,
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
        let basic = self.user_and_app(&["password"]).await;
        (
            "grant_type=password&username=ada%40example.com&password=correct+horse+battery".into(),
            basic,
        )
    }

    /// The user ada@example.com (password "correct horse battery") and an application allowed
    /// `grant_types`: its client's `Authorization` header.
    pub async fn user_and_app(&self, grant_types: &[&str]) -> String {
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
            .json(&json!({"name": "web", "grant_types": grant_types}))
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
        format!("Basic {basic}")
    }

    /// Kills the process (SIGKILL: no drain, no shutdown, what a crash is to the database) and
    /// starts it again the same way, on the same database, port and operator key.
    pub async fn kill_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.child = spawn(&self.command, &self.envs, &self.dir);
        assert!(
            ready(self.port).await,
            "sigil serve did not become ready again"
        );
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

fn spawn(command: &[String], envs: &[(String, String)], dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(command)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("stderr"))
                .unwrap(),
        )
        .spawn()
        .unwrap()
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
