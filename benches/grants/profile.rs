//! Optional `perf` profiles of the servers under load: with `SIGIL_BENCH_PERF=DIR`, each
//! refresh round of the first configuration round is also recorded by `perf record -g` into
//! `DIR/{target}-{alg}-{hooks}hooks.data` (read with `perf report -i FILE`). Sampling slows the
//! server a little, so a profiled run's rates are not the ones to report.
//! `SIGIL_BENCH_PERF_CALL_GRAPH=dwarf` records call graphs from the stack's debug information
//! instead of frame pointers (`perf record --call-graph dwarf`): the release build keeps no
//! frame pointers, so only then does `perf report --children` say which caller a cost belongs
//! to (the files are far larger).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `perf record` of some processes for the length of one round; it ends by itself.
pub struct Profile(Option<Child>);

impl Profile {
    /// Starts recording `pids` for `seconds` into `{target}-{alg}-{hooks}hooks.data`, when
    /// `SIGIL_BENCH_PERF` names a directory; does nothing otherwise.
    pub fn start(pids: &[u32], file: &str, seconds: Duration) -> Profile {
        let Some(dir) = std::env::var_os("SIGIL_BENCH_PERF") else {
            return Profile(None);
        };
        std::fs::create_dir_all(&dir).expect("creating SIGIL_BENCH_PERF");
        let out = std::path::Path::new(&dir).join(format!("{file}.data"));
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        let call_graph =
            std::env::var("SIGIL_BENCH_PERF_CALL_GRAPH").unwrap_or_else(|_| "fp".into());
        let child = Command::new("perf")
            .args(["record", "-F", "999", "--call-graph", &call_graph, "-o"])
            .arg(&out)
            .args(["-p", &pids.join(",")])
            .args(["--", "sleep", &seconds.as_secs().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("running perf (SIGIL_BENCH_PERF is set)");
        Profile(Some(child))
    }

    /// Waits for the recording to be written.
    pub fn finish(self) {
        if let Some(mut c) = self.0 {
            let _ = c.wait();
        }
    }
}
