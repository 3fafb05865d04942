//! The nodes and the balancer, through `scripts/cluster.sh` (the operator's one command for a
//! local cluster), with the server binary this test was built with.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::run;

/// A cluster started by `scripts/cluster.sh up`; brought down when dropped.
pub struct Cluster {
    state: PathBuf,
    /// The balancer's base URL (also every node's public URL).
    pub base: String,
}

impl Cluster {
    /// Starts `nodes` nodes on `database` behind a balancer on `port`, with `env` added to the
    /// nodes' environment.
    pub fn up(nodes: usize, database: &str, port: u16, env: &[(&str, &str)]) -> Result<Self> {
        let state =
            std::env::temp_dir().join(format!("sigil-faults-{:016x}", rand::random::<u64>()));
        let c = Self {
            state,
            base: format!("http://127.0.0.1:{port}"),
        };
        c.script(
            &[
                "up",
                &nodes.to_string(),
                "--database",
                database,
                "--port",
                &port.to_string(),
            ],
            env,
        )?;
        Ok(c)
    }

    /// The operator key the first node's first start wrote.
    pub fn operator_key(&self) -> Result<String> {
        let path = self.state.join("operator-key");
        Ok(std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .trim()
            .to_string())
    }

    /// `kill -9` of node `i` (1-based).
    pub fn kill_node(&self, i: usize) -> Result<()> {
        self.script(&["kill-node", &i.to_string()], &[])
    }

    /// Starts node `i` again on its port.
    pub fn start_node(&self, i: usize) -> Result<()> {
        self.script(&["start-node", &i.to_string()], &[])
    }

    fn script(&self, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        run(Command::new("bash")
            .arg(root.join("scripts/cluster.sh"))
            .args(args)
            .env("SIGIL_BIN", env!("CARGO_BIN_EXE_sigil"))
            .env("SIGIL_CLUSTER_DIR", &self.state)
            .envs(env.iter().copied()))
    }
}

/// Where the last run's node and balancer logs are kept.
pub fn kept_logs() -> PathBuf {
    std::env::temp_dir().join("sigil-faults-last")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.script(&["down"], &[]);
        // The logs outlive the run (the report names the place); the rest goes.
        let keep = kept_logs();
        let _ = std::fs::remove_dir_all(&keep);
        let _ = std::fs::create_dir_all(&keep);
        if let Ok(entries) = std::fs::read_dir(&self.state) {
            for e in entries.flatten() {
                if e.path().extension().is_some_and(|x| x == "log") {
                    let _ = std::fs::copy(e.path(), keep.join(e.file_name()));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
