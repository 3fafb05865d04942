//! `scripts/cluster.sh`: a local cluster in one command. Two `sigil serve` processes on one
//! fresh PostgreSQL database behind HAProxy, driven through the balancer only; a node killed
//! and started again; and `down` leaving none of the processes it recorded alive.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Db, FreshDb, METRICS_TOKEN, free_port};

/// How long one command of the script may take (`up` starts the nodes and waits for HAProxy).
const COMMAND_BOUND: Duration = Duration::from_secs(120);
/// How long HAProxy may take to see a node go or come back (checks every 500 ms, two to fall).
const HEALTH_BOUND: Duration = Duration::from_secs(10);

/// A state directory for the script; `down` runs when it goes, so a failed test leaves no
/// process behind.
struct State {
    dir: PathBuf,
}

impl State {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("sigil-cluster-{:016x}", rand::random::<u64>()));
        Self { dir }
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file))
            .unwrap_or_else(|e| panic!("{file} in the state directory: {e}"))
            .trim()
            .to_string()
    }

    /// The end of every log in the state directory, for a failure's message (the directory
    /// goes with the test).
    fn logs(&self) -> String {
        let mut out = String::new();
        for log in ["node-1.log", "node-2.log", "haproxy.log"] {
            let text = std::fs::read_to_string(self.dir.join(log)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            out.push_str(&format!("--- {log}\n{tail}\n"));
        }
        out
    }

    fn pids(&self) -> Vec<u32> {
        ["node-1.pid", "node-2.pid", "haproxy.pid"]
            .iter()
            .map(|f| self.read(f).parse().unwrap())
            .collect()
    }
}

impl Drop for State {
    fn drop(&mut self) {
        if self.dir.join("cluster.env").exists() {
            let _ = std::process::Command::new(script())
                .arg("down")
                .env("SIGIL_CLUSTER_DIR", &self.dir)
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster.sh")
}

/// Runs `scripts/cluster.sh ARGS` on `state` with the test binary, asserting it succeeds;
/// returns its stdout.
async fn cluster(state: &State, args: &[&str]) -> String {
    run_cluster(state, args, true).await
}

/// [`cluster`] from a shell without the nodes' settings (an operator's other terminal).
async fn cluster_without_settings(state: &State, args: &[&str]) -> String {
    run_cluster(state, args, false).await
}

async fn run_cluster(state: &State, args: &[&str], settings: bool) -> String {
    let mut command = tokio::process::Command::new(script());
    command
        .args(args)
        .env("SIGIL_CLUSTER_DIR", &state.dir)
        .env("SIGIL_BIN", env!("CARGO_BIN_EXE_sigil"));
    if settings {
        // Reach every node: /metrics for the test, lighter argon2id for quicker logins.
        command
            .env("SIGIL_METRICS_TOKEN", METRICS_TOKEN)
            .env("SIGIL_ARGON2_MEMORY_KIB", "4096")
            .env("SIGIL_ARGON2_PASSES", "1");
    }
    let run = command.kill_on_drop(true).output();
    let out: Output = tokio::time::timeout(COMMAND_BOUND, run)
        .await
        .unwrap_or_else(|_| panic!("cluster.sh {args:?} did not finish in {COMMAND_BOUND:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "cluster.sh {args:?}: {}\n{stdout}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        state.logs()
    );
    stdout
}

/// Whether process `pid` is running (a zombie, dead but not yet reaped, is not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with(|c| c != 'Z'))
        })
        .unwrap_or(false)
}

/// The line of `status` output about `what` (`node 1`, `haproxy`).
fn status_line<'a>(status: &'a str, what: &str) -> &'a str {
    let prefix = format!("{what} ");
    status
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{what}` in status:\n{status}"))
}

/// Runs `status` until `node` reads `want` (HAProxy's view of it), for at most
/// [`HEALTH_BOUND`]; returns the last status.
async fn await_haproxy_state(state: &State, node: &str, want: &str) -> String {
    let start = Instant::now();
    loop {
        let status = cluster(state, &["status"]).await;
        if status_line(&status, node).ends_with(&format!("haproxy {want}")) {
            return status;
        }
        assert!(
            start.elapsed() < HEALTH_BOUND,
            "HAProxy does not see {node} {want} after {HEALTH_BOUND:?}:\n{status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The successful password grants a node counted, from its own `/metrics`.
async fn password_grants(client: &reqwest::Client, node_port: &str) -> u64 {
    let text = client
        .get(format!("http://127.0.0.1:{node_port}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix("sigil_grants_total{grant_type=\"password\",outcome=\"ok\"} ")?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_sh_runs_nodes_behind_haproxy_survives_a_killed_node_and_stops_what_it_started() {
    let fresh = FreshDb::new(Db::Postgres).await;
    let state = State::new();
    let port = free_port().to_string();
    let up = cluster(
        &state,
        &["up", "2", "--database", &fresh.url, "--port", &port],
    )
    .await;
    let base = format!("http://127.0.0.1:{port}");
    assert!(up.contains(&format!("{base}/t/default")), "{up}");
    let client = reqwest::Client::new();
    let json = |body: &str| serde_json::from_str::<Value>(body).unwrap_or(Value::Null);

    // Discovery through the balancer names the balancer's issuer, whichever node answers.
    for _ in 0..4 {
        let res = client
            .get(format!("{base}/t/default/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let doc = json(&res.text().await.unwrap());
        assert_eq!(doc["issuer"], format!("{base}/t/default"));
    }

    // The operator key the first start wrote to the state directory manages the tenant.
    let key = state.read("operator-key");
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let res = post(
        "/t/default/api/users",
        json!({"email": "ada@example.com", "password": "correct horse battery"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = post(
        "/t/default/api/applications",
        json!({"name": "cli", "grant_types": ["password"]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let app = json(&res.text().await.unwrap());
    let (client_id, secret) = (
        app["client_id"].as_str().unwrap(),
        app["client_secret"].as_str().unwrap(),
    );

    // Logins through the balancer land on both nodes (each counts its own).
    let logins = 6;
    for _ in 0..logins {
        let res = client
            .post(format!("{base}/t/default/oauth/token"))
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "password"),
                ("username", "ada@example.com"),
                ("password", "correct horse battery"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{}",
            res.text().await.unwrap()
        );
    }
    let (port1, port2) = (state.read("node-1.port"), state.read("node-2.port"));
    let (on1, on2) = (
        password_grants(&client, &port1).await,
        password_grants(&client, &port2).await,
    );
    assert_eq!(on1 + on2, logins, "node 1: {on1}, node 2: {on2}");
    assert!(
        on1 > 0 && on2 > 0,
        "round robin: node 1 {on1}, node 2 {on2}"
    );

    let status = cluster(&state, &["status"]).await;
    for node in ["node 1", "node 2"] {
        let line = status_line(&status, node);
        assert!(
            line.contains(" alive ") && line.contains("readyz 200") && line.ends_with("haproxy UP"),
            "{status}"
        );
    }
    assert!(
        status_line(&status, "haproxy").contains(" alive "),
        "{status}"
    );

    // A node killed: the balancer keeps answering (a refused connection is retried on the
    // other node until the health checks take the dead one out).
    let killed_pid: u32 = state.read("node-1.pid").parse().unwrap();
    cluster(&state, &["kill-node", "1"]).await;
    for _ in 0..10 {
        let res = client
            .get(format!("{base}/t/default/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let status = await_haproxy_state(&state, "node 1", "DOWN").await;
    assert!(
        status_line(&status, "node 1").contains(" dead "),
        "{status}"
    );
    assert!(!running(killed_pid));

    // Started again on its port, from a shell without the cluster's settings: it runs with
    // the settings `up` was given (here the metrics token), and is back in the rotation.
    cluster_without_settings(&state, &["start-node", "1"]).await;
    assert_eq!(state.read("node-1.port"), port1, "same port");
    let metrics = client
        .get(format!("http://127.0.0.1:{port1}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        metrics.status(),
        StatusCode::OK,
        "the restarted node has the metrics token `up` was given"
    );
    let status = await_haproxy_state(&state, "node 1", "UP").await;
    assert!(
        status_line(&status, "node 1").contains(" alive "),
        "{status}"
    );

    // `down` stops exactly the processes it recorded.
    let pids = state.pids();
    assert!(pids.iter().all(|&p| running(p)), "{pids:?}");
    cluster(&state, &["down"]).await;
    let left: Vec<u32> = pids.into_iter().filter(|&p| running(p)).collect();
    assert!(left.is_empty(), "still running after down: {left:?}");
}
