//! A PostgreSQL server of the fault run's own, in a temporary directory on a free loopback
//! port, so that restarting it mid-load touches nothing else (the test suite runs beside it on
//! the machine's shared server). Built from the server binaries the machine's PostgreSQL
//! package installed (`/usr/lib/postgresql/<version>/bin`); PostgreSQL refuses to run as root,
//! so as root its commands run as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::run;

/// A running server; stopped (immediately) and deleted when dropped.
pub struct OwnPostgres {
    dir: PathBuf,
    bin: PathBuf,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl OwnPostgres {
    /// Initializes a cluster and starts it.
    pub fn start(port: u16) -> Result<Self> {
        let bin = server_bin_dir()?;
        let dir =
            std::env::temp_dir().join(format!("sigil-faults-pg-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir)?;
        let pg = Self { dir, bin, port };
        if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg.dir))?;
        }
        run(pg
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(pg.data()))
        .context("initdb")?;
        run(pg.ctl().arg("start")).context("starting PostgreSQL")?;
        Ok(pg)
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Restarts the server (`pg_ctl restart -m fast`: open sessions are cut, committed work is
    /// kept); returns how long it was away.
    pub fn restart(&self) -> Result<Duration> {
        let t = Instant::now();
        run(self.ctl().args(["restart", "-m", "fast"])).context("restarting PostgreSQL")?;
        Ok(t.elapsed())
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn ctl(&self) -> Command {
        let mut c = self.command("pg_ctl");
        c.arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=200",
                self.port,
                self.dir.display()
            ));
        c
    }

    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["stop", "-m", "immediate"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The newest `/usr/lib/postgresql/<version>/bin` that holds `initdb`.
fn server_bin_dir() -> Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .with_context(|| format!("{}: the PostgreSQL server package", root.display()))?
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!("no initdb under {}", root.display()),
    }
}
