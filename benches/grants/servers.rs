//! The servers under load, each in processes of its own (so their CPU is measured apart from
//! the load generator): one `sigil serve` on SQLite or PostgreSQL, or `scripts/cluster.sh`'s
//! nodes behind HAProxy.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running target; stopped when dropped.
pub struct Server {
    /// Where clients send requests.
    pub base: String,
    /// An operator API key.
    pub key: String,
    /// The Sigil processes.
    pub nodes: Vec<u32>,
    /// The balancer's process, if any.
    pub balancer: Option<u32>,
    kind: Kind,
}

enum Kind {
    Process(Child, PathBuf),
    Cluster(PathBuf),
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn state_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sigil-bench-{what}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The settings every target runs with besides the defaults (the request log included, as in
/// production). The brute-force lock counts every attempt before comparing
/// (docs/brute-force.md), so 16 clients logging one user in at once from one address would
/// lock it at its default of 10.
const ENV: &[(&str, &str)] = &[("SIGIL_LOGIN_MAX_FAILURES", "1000")];

impl Server {
    /// One `sigil serve` on `database` (a SQLite file in its own directory when `None`).
    pub fn single(database: Option<&str>) -> Server {
        Self::single_of(Path::new(env!("CARGO_BIN_EXE_sigil")), database)
    }

    /// [`Server::single`] running the `sigil` binary at `bin` (an earlier build, to measure a
    /// change against in the same run).
    pub fn single_of(bin: &Path, database: Option<&str>) -> Server {
        let dir = state_dir("node");
        let port = free_port();
        let database = database
            .map(str::to_string)
            .unwrap_or_else(|| format!("sqlite://{}/sigil.db", dir.display()));
        let master = base64_key();
        let child = Command::new(bin)
            .args([
                "--database",
                &database,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("serve")
            .env("SIGIL_MASTER_KEY", master)
            .env("SIGIL_OPERATOR_KEY_FILE", dir.join("operator-key"))
            .envs(ENV.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("node.log")).unwrap())
            .spawn()
            .expect("starting sigil serve");
        wait_ready(port, "/readyz", &dir.join("node.log"));
        Server {
            key: read_key(&dir.join("operator-key")),
            base: format!("http://127.0.0.1:{port}"),
            nodes: vec![child.id()],
            balancer: None,
            kind: Kind::Process(child, dir),
        }
    }

    /// `nodes` nodes on `database` behind HAProxy (`scripts/cluster.sh up`).
    pub fn cluster(nodes: usize, database: &str) -> Server {
        let dir = state_dir("cluster");
        let port = free_port();
        script(
            &dir,
            &[
                "up",
                &nodes.to_string(),
                "--database",
                database,
                "--port",
                &port.to_string(),
            ],
        );
        let pid = |name: &str| -> u32 {
            std::fs::read_to_string(dir.join(format!("{name}.pid")))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        Server {
            base: format!("http://127.0.0.1:{port}"),
            key: read_key(&dir.join("operator-key")),
            nodes: (1..=nodes).map(|i| pid(&format!("node-{i}"))).collect(),
            balancer: Some(pid("haproxy")),
            kind: Kind::Cluster(dir),
        }
    }
}

/// The reference peer (`../shared/peers/oidc-provider`): node `oidc-provider` with its
/// in-memory storage, signing with `alg`, and `chains` refresh tokens made by its own script;
/// `None` (with the reason printed) when `scripts/setup-peer.sh` finds no Node.js or no peer.
pub fn peer(alg: &str, chains: usize) -> Option<(Server, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let setup = Command::new("bash")
        .arg(root.join("scripts/setup-peer.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/setup-peer.sh");
    assert!(setup.status.success(), "scripts/setup-peer.sh failed");
    let dir = PathBuf::from(String::from_utf8_lossy(&setup.stdout).trim());
    if dir.as_os_str().is_empty() {
        return None;
    }
    let logs = state_dir("peer");
    let port = free_port();
    let child = Command::new("node")
        .arg("provider.mjs")
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("SIGN_ALG", alg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(logs.join("peer.log")).unwrap())
        .spawn()
        .expect("starting the peer");
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(
        port,
        "/.well-known/openid-configuration",
        &logs.join("peer.log"),
    );
    let out = Command::new("node")
        .arg("refresh-tokens.mjs")
        .arg(&base)
        .arg(chains.to_string())
        .current_dir(&dir)
        .output()
        .expect("running the peer's refresh-tokens.mjs");
    assert!(
        out.status.success(),
        "refresh-tokens.mjs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tokens: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(tokens.len(), chains, "refresh tokens from the peer");
    Some((
        Server {
            base,
            key: String::new(),
            nodes: vec![child.id()],
            balancer: None,
            kind: Kind::Process(child, logs),
        },
        tokens,
    ))
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.kind {
            Kind::Process(child, dir) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(dir);
            }
            Kind::Cluster(dir) => {
                script(dir, &["down"]);
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

fn script(dir: &Path, args: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("scripts/cluster.sh"))
        .args(args)
        .env("SIGIL_BIN", env!("CARGO_BIN_EXE_sigil"))
        .env("SIGIL_CLUSTER_DIR", dir)
        .envs(ENV.iter().copied())
        .output()
        .expect("running scripts/cluster.sh");
    assert!(
        out.status.success(),
        "scripts/cluster.sh {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `GET /readyz` at `port` answers 200 (plain HTTP/1.0 on a socket: this runs outside
/// the load generator's runtime).
fn ready(port: u16, path: &str) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = [0u8; 12];
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .is_ok()
        && s.read_exact(&mut head).is_ok()
        && &head[9..12] == b"200"
}

fn wait_ready(port: u16, path: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if ready(port, path) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "port {port} not ready after 60 s: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn read_key(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn base64_key() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

/// A fresh database on the PostgreSQL server at `server` (a URL without a database name);
/// dropped by [`drop_database`].
pub async fn create_database(server: &str) -> String {
    use sqlx::Connection as _;
    let name = format!("sigil_bench_{:08x}", rand::random::<u32>());
    let mut c = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("PostgreSQL for the benchmark");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    name
}

/// Drops database `name` (made by [`create_database`]), cutting any sessions left.
pub async fn drop_database(server: &str, name: &str) {
    use sqlx::Connection as _;
    if let Ok(mut c) = sqlx::PgConnection::connect(&format!("{server}/postgres")).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut c)
            .await;
    }
}
