//! Compiling hooks away from the login path, and loading compiled artifacts safely.
//!
//! Compiling untrusted wasm can itself be slow or huge (compile-time denial of service is
//! outside wasmtime's security model), so uploads are compiled by a child process (`sigil
//! hooks compile-worker`) that caps its own address space (RLIMIT_AS) and CPU time
//! (RLIMIT_CPU), and is killed if it runs far past its time limit on the wall clock: a
//! pathological module is refused and the server's memory does not grow. The time limit is CPU
//! time because the worker runs at a lower priority than logins: on a busy machine it gets
//! less of the CPU, and a legitimate upload must not be refused for waiting its turn.
//!
//! Deserializing compiled code is `unsafe` in wasmtime: bytes that were not produced by this
//! deployment could be arbitrary machine code. Artifacts are therefore only ever loaded from
//! our own worker's output, and those kept in the database carry an HMAC under a key derived
//! from the master key, checked before loading.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::engine::{self, EngineSettings};
use subtle::ConstantTimeEq;

/// Why compilation or loading failed.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The worker used its whole CPU-time limit and was killed.
    #[error("compilation took longer than {0:?} of CPU time and was stopped")]
    Timeout(Duration),
    /// The worker ran past the wall-clock backstop ([`WALL_FACTOR`] times its CPU limit).
    #[error("compilation did not finish within {0:?} and was stopped")]
    WallTimeout(Duration),
    /// The worker failed (invalid wasm, or it ran out of its memory limit).
    #[error("compilation failed: {0}")]
    Failed(String),
    /// Starting or talking to the worker failed.
    #[error("the compile worker could not run: {0}")]
    Worker(String),
    /// A stored artifact's MAC did not verify: it is not ours and will not be loaded.
    #[error("a stored compiled artifact failed authentication")]
    BadMac,
}

/// Limits of the compile worker.
#[derive(Debug, Clone)]
pub struct CompilerSettings {
    /// The `sigil` binary to run as the worker.
    pub exe: PathBuf,
    /// Address-space limit of the worker.
    pub memory_limit: u64,
    /// CPU-time limit of the worker (whole seconds; the wall-clock backstop is
    /// [`WALL_FACTOR`] times this).
    pub timeout: Duration,
    /// Workers that may compile at once, server-wide (see [`super::admission::CompileGate`]).
    pub workers: usize,
    /// How long an upload may wait for a worker before it is answered `compile_busy`.
    pub queue: Duration,
}

impl CompilerSettings {
    /// Defaults: this executable, 512 MiB, 10 s, [`default_workers`], a 60 s queue.
    pub fn current_exe() -> Self {
        CompilerSettings {
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sigil")),
            memory_limit: 512 << 20,
            timeout: Duration::from_secs(10),
            workers: default_workers(),
            queue: Duration::from_secs(60),
        }
    }
}

/// Half the cores, at least one: each worker compiles on one thread, so logins always keep
/// at least half the machine (all of it on a 2-core machine but the one worker's core).
pub fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores / 2).max(1)
}

/// The wall-clock backstop, as a multiple of the CPU-time limit. Only a worker that gets a
/// sixth of a core or less for its whole run hits it.
pub const WALL_FACTOR: u32 = 6;

/// Compiles `component` in a bounded child process; returns the serialized artifact.
pub fn compile_in_child(
    c: &CompilerSettings,
    engine: &EngineSettings,
    component: &[u8],
) -> Result<Vec<u8>, CompileError> {
    let mut child = Command::new(&c.exe)
        .args(worker_args(engine, c.memory_limit, cpu_seconds(c.timeout)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CompileError::Worker(format!("{}: {e}", c.exe.display())))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| CompileError::Worker("no stdin".into()))?;
    let input = component.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| CompileError::Worker("no stdout".into()))?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).map(|_| buf)
    });
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| CompileError::Worker("no stderr".into()))?;
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let wall = c.timeout * WALL_FACTOR;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > wall => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CompileError::WallTimeout(wall));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(CompileError::Worker(e.to_string())),
        }
    };
    let _ = writer.join();
    let out = reader
        .join()
        .map_err(|_| CompileError::Worker("reader panicked".into()))?
        .map_err(|e| CompileError::Worker(e.to_string()))?;
    let err = err_reader.join().unwrap_or_default();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // SIGXCPU at the soft CPU limit, SIGKILL at the hard one a second later.
        if matches!(status.signal(), Some(libc::SIGXCPU) | Some(libc::SIGKILL)) {
            return Err(CompileError::Timeout(Duration::from_secs(cpu_seconds(
                c.timeout,
            ))));
        }
    }
    if !status.success() {
        let msg = err.trim();
        return Err(CompileError::Failed(if msg.is_empty() {
            format!(
                "the worker exited with {status} (memory limit {} MiB)",
                c.memory_limit >> 20
            )
        } else {
            msg.to_string()
        }));
    }
    Ok(out)
}

/// The CPU limit in whole seconds (at least one).
fn cpu_seconds(timeout: Duration) -> u64 {
    timeout.as_secs().max(1)
}

fn worker_args(e: &EngineSettings, memory_limit: u64, cpu_seconds: u64) -> Vec<String> {
    vec![
        "hooks".into(),
        "compile-worker".into(),
        "--max-wasm-stack".into(),
        e.max_wasm_stack.to_string(),
        "--max-memory".into(),
        e.max_memory_bytes.to_string(),
        "--pool-instances".into(),
        e.pool_instances.to_string(),
        "--address-space".into(),
        memory_limit.to_string(),
        "--cpu-seconds".into(),
        cpu_seconds.to_string(),
    ]
}

/// Scheduling priority of the worker (`nice`): compiling is background work, so on a busy
/// machine the kernel runs logins first.
#[cfg(unix)]
const WORKER_NICE: libc::c_int = 10;

/// The worker's body: caps its own address space and CPU time, lowers its priority, compiles
/// stdin on one thread, writes the artifact to stdout.
// The only way to cap this process's own memory and CPU is the libc calls below.
#[allow(unsafe_code)]
pub fn worker_main(
    settings: &EngineSettings,
    address_space: u64,
    cpu_seconds: u64,
) -> Result<(), String> {
    #[cfg(unix)]
    {
        // SAFETY: setpriority only changes this process's nice value. Failing to lower it is
        // not worth refusing the upload for.
        unsafe {
            let _ = libc::setpriority(libc::PRIO_PROCESS, 0, WORKER_NICE);
        }
        let lim = libc::rlimit {
            rlim_cur: address_space as libc::rlim_t,
            rlim_max: address_space as libc::rlim_t,
        };
        // SAFETY: setrlimit only reads the struct we pass; it affects this process alone.
        if unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) } != 0 {
            return Err("setrlimit(RLIMIT_AS) failed".into());
        }
        // The kernel sends SIGXCPU at the soft limit and SIGKILL at the hard one.
        let cpu = libc::rlimit {
            rlim_cur: cpu_seconds as libc::rlim_t,
            rlim_max: cpu_seconds.saturating_add(1) as libc::rlim_t,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_CPU, &cpu) } != 0 {
            return Err("setrlimit(RLIMIT_CPU) failed".into());
        }
    }
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| e.to_string())?;
    // The pooling allocator reserves address space up front; the worker only compiles, so it
    // uses the on-demand allocator with otherwise identical settings.
    let mut config = worker_config(settings);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::OnDemand);
    let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
    let artifact = engine
        .precompile_component(&input)
        .map_err(|e| format!("{e:#}"))?;
    std::io::stdout()
        .write_all(&artifact)
        .map_err(|e| e.to_string())
}

/// The worker's engine configuration: the server's, compiling on one thread. Cranelift would
/// otherwise compile functions on a thread per core, and a single upload of a large component
/// would take every core from the logins; the server caps workers, each worker takes one core.
/// Neither setting is part of the engine's compatibility hash, so the artifact loads in the
/// server (checked by a test below).
pub fn worker_config(settings: &EngineSettings) -> wasmtime::Config {
    let mut config = engine::config(settings);
    config.parallel_compilation(false);
    config
}

/// Compiles in this process (the local test runner, on the customer's own machine).
pub fn compile_here(engine: &Engine, component: &[u8]) -> Result<Component, CompileError> {
    Component::new(engine, component).map_err(|e| CompileError::Failed(format!("{e:#}")))
}

/// Loads an artifact produced by our compile worker (or one whose MAC verified).
#[allow(unsafe_code)] // See the SAFETY note: the artifact's MAC was checked first.
pub fn load(engine: &Engine, artifact: &[u8]) -> Result<Component, CompileError> {
    // SAFETY: `artifact` is the output of this deployment's own compile worker, either just
    // received over its stdout or read back from the database after its MAC (under a key only
    // this deployment has) verified. wasmtime additionally checks the engine compatibility
    // header and refuses artifacts built with other settings.
    unsafe { Component::deserialize(engine, artifact) }
        .map_err(|e| CompileError::Failed(format!("loading the compiled artifact: {e:#}")))
}

/// MACs over stored artifacts.
#[derive(Clone)]
pub struct ArtifactSeal([u8; 32]);

impl std::fmt::Debug for ArtifactSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArtifactSeal([redacted])")
    }
}

impl ArtifactSeal {
    /// The seal keyed with `key` (the server derives it from its master key, purpose
    /// `artifact-mac`; this crate never sees the master key).
    pub fn new(key: [u8; 32]) -> Self {
        ArtifactSeal(key)
    }

    fn mac(&self, hash: &str, compat: &str, artifact: &[u8]) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        m.update(hash.as_bytes());
        m.update(b"\0");
        m.update(compat.as_bytes());
        m.update(b"\0");
        m.update(artifact);
        m.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The MAC to store beside an artifact.
    pub fn seal(&self, hash: &str, compat: &str, artifact: &[u8]) -> String {
        self.mac(hash, compat, artifact)
    }

    /// Checks a stored MAC.
    pub fn verify(
        &self,
        hash: &str,
        compat: &str,
        artifact: &[u8],
        mac: &str,
    ) -> Result<(), CompileError> {
        if bool::from(
            self.mac(hash, compat, artifact)
                .as_bytes()
                .ct_eq(mac.as_bytes()),
        ) {
            Ok(())
        } else {
            Err(CompileError::BadMac)
        }
    }
}

/// Where the compile worker binary is, for tests that run the server in-process.
pub fn exe_or_current(path: Option<&Path>) -> PathBuf {
    path.map(Path::to_path_buf)
        .unwrap_or_else(|| CompilerSettings::current_exe().exe)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Artifacts of the single-threaded worker engine load in the server's engine: the
    /// compatibility hash (what artifacts are keyed and checked by) is the same.
    #[test]
    fn the_worker_engine_is_compatible_with_the_server() {
        let s = EngineSettings {
            pool_instances: 2,
            ..EngineSettings::default()
        };
        let mut w = worker_config(&s);
        w.allocation_strategy(wasmtime::InstanceAllocationStrategy::OnDemand);
        let worker = Engine::new(&w).unwrap();
        let server = Engine::new(&engine::config(&s)).unwrap();
        assert_eq!(
            engine::compatibility_hash(&worker),
            engine::compatibility_hash(&server)
        );
        let wat = r#"(component (core module (func (export "f"))))"#;
        let artifact = worker
            .precompile_component(&wat::parse_str(wat).unwrap())
            .unwrap();
        load(&server, &artifact).expect("the worker's artifact loads in the server");
    }
}
