//! CPU time of processes, from `/proc/<pid>/stat` (user + system, in clock ticks), so a grant's
//! cost is measured where it is spent: the server processes, the balancer and the database, each
//! apart from the load generator in this process.

use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`; 100 on every Linux this runs on).
const TICKS_PER_SECOND: u64 = 100;

/// User plus system CPU time of process `pid` (its threads included), or zero once it is gone.
pub fn of_pid(pid: u32) -> Duration {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(Duration::ZERO, |s| ticks_of(&s))
}

/// Total CPU time of `pids`.
pub fn of_pids(pids: &[u32]) -> Duration {
    pids.iter().map(|p| of_pid(*p)).sum()
}

/// Every process whose command name is `name` (`postgres` for the database server's backends,
/// which come and go with the connections).
pub fn named(name: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .collect()
}

/// Context switches of process `pid` so far, every thread's (voluntary: it waited on something;
/// involuntary: the scheduler took the CPU), or zero once it is gone. On a small machine a
/// thread hand-off per grant shows here before it shows anywhere else.
pub fn switches_of_pid(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// Context switches of `pids` so far.
pub fn switches_of_pids(pids: &[u32]) -> u64 {
    pids.iter().map(|p| switches_of_pid(*p)).sum()
}

/// Each thread of `pids` so far: its name (`comm`: `tokio-runtime-w` for the async workers,
/// `sigil-hook` for the guests' pool, and so on) and CPU time, by thread id. A round's CPU by
/// thread is the difference of two of these per thread id, summed by name, so a change is read
/// where it moved CPU rather than only in the process total. Per id, not per name: tokio's
/// blocking threads (argon2id) carry the workers' name and end after ten idle seconds, and a
/// sum by name then fell below its value at the round's start, which hid the workers' line.
pub fn by_thread_of_pids(
    pids: &[u32],
) -> std::collections::BTreeMap<(u32, u32), (String, Duration)> {
    let mut out = std::collections::BTreeMap::new();
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Some(tid) = task
                .file_name()
                .to_str()
                .and_then(|t| t.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            // The name sits between the first '(' and the last ')' (it may hold either).
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let name = stat[open + 1..close].to_string();
            out.insert((*pid, tid), (name, ticks_of(&stat)));
        }
    }
    out
}

/// User plus system time of one `/proc/.../stat` line. The command name (field 2) may hold
/// spaces; the fields after its closing parenthesis are fixed: state is the first, utime the
/// 12th and stime the 13th.
fn ticks_of(stat: &str) -> Duration {
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / TICKS_PER_SECOND)
}
