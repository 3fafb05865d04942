//! A node's life (issue 13 item 4, and the disk cache of item 3): starting beside other nodes
//! on one database, saying when it is ready, draining on SIGTERM, and preparing hooks from the
//! compiled artifacts cached on its disk.

mod artifact_cache;
mod drain;
mod durability;
mod health;
mod migrations;
mod process;

use std::sync::Arc;

use serde_json::Value;
use sigil::services::Services;
use sigil::startup::{Application, Settings};
use sigil_hooks::runtime::{HookRuntime, RuntimeSettings};
use tokio::sync::oneshot;

use crate::helpers::TestApp;

/// Settings for one node on a shared database, as the harness makes them (the shared hook
/// runtime, this build's compile worker, light password hashing), with the deployment's
/// master key.
pub(crate) fn node_settings(url: &str, master_key: &str) -> Settings {
    let mut s = Settings::new("127.0.0.1:0".parse().unwrap(), url);
    s.max_connections = 3;
    s.hook_runtime = Some(crate::helpers::shared_runtime());
    s.compiler.exe = env!("CARGO_BIN_EXE_sigil").into();
    s.passwords = sigil::passwords::PasswordHasher::new(4096, 1, 1);
    s.master_key = Some(master_key.to_string());
    s
}

/// A hook runtime of its own, as another node's process has: nothing prepared in memory. Its
/// engine settings are the shared runtime's, so artifacts compiled by either load in both.
pub(crate) fn own_runtime() -> Arc<HookRuntime> {
    HookRuntime::new(RuntimeSettings {
        threads: 2,
        per_tenant: 2,
        ..Default::default()
    })
    .expect("hook runtime")
}

/// A second node on the database of `first` (same master key), with a hook runtime of its own
/// and `adjust` applied.
pub(crate) async fn second_node(
    first: &TestApp,
    master_key: &str,
    adjust: impl FnOnce(&mut Settings),
) -> Application {
    let mut s = node_settings(&first.fresh().url, master_key);
    s.hook_runtime = Some(own_runtime());
    adjust(&mut s);
    let node = Application::build(s).await.expect("the second node starts");
    assert!(
        node.bootstrap_key().is_none(),
        "the first node made the key"
    );
    node
}

/// A node serving in this process until it is stopped (or dropped).
pub(crate) struct Node {
    pub base: String,
    pub port: u16,
    pub svc: Services,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Node {
    /// Starts serving `app`.
    pub fn start(app: Application) -> Self {
        let port = app.port();
        let svc = app.services().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Node {
            base: format!("http://127.0.0.1:{port}"),
            port,
            svc,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Starts the shutdown (the drain) without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the node and waits until it stopped.
    pub async fn stop(mut self) {
        self.begin_stop();
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// `GET /readyz`: the status and the body.
    pub async fn readyz(&self) -> (reqwest::StatusCode, Value) {
        let res = reqwest::get(format!("{}/readyz", self.base)).await.unwrap();
        (res.status(), res.json().await.unwrap())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.begin_stop();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The value of the sample `series` (exactly as exposed) in a node's metrics.
#[track_caller]
pub(crate) fn metric(svc: &Services, series: &str) -> f64 {
    let text = svc.metrics.render(&Default::default());
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in the metrics:\n{text}"))
}

/// The content hash of the one hook version stored.
pub(crate) async fn only_hash(app: &TestApp) -> String {
    let (hash,): (String,) = sqlx::query_as("SELECT hash FROM hook_versions")
        .fetch_one(app.svc.db.store.pool())
        .await
        .unwrap();
    hash
}
