//! Latency and outcomes over time, computed from the stored traces (a tenant keeps its newest
//! [`crate::flows::TRACES_KEPT`] by default): what the dashboard charts. Computed when asked,
//! from at most [`WINDOW`] traces, so it costs nothing on the login path.
//!
//! A trace counts as the runs it stands for (`runs`: more than one when successful logins
//! above the tenant's trace rate were not stored), so counts are the logins', and percentiles
//! weigh each stored duration by its runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::traces::TraceQuery;
use crate::clock::rfc3339;
use crate::db::Db;
use crate::flows::Hooks;
use crate::manage::{Result, TenantCtx};
use crate::store::hook_traces as store;

/// The most traces one answer reads (more than a tenant keeps by default).
const WINDOW: i64 = 2000;

/// The most buckets one answer spans: about a chart's width of points.
const MAX_BUCKETS: i64 = 60;

/// The bucket widths offered, in seconds: the narrowest that keeps the span within
/// [`MAX_BUCKETS`] is used.
const WIDTHS: [i64; 14] = [
    1, 5, 10, 30, 60, 300, 900, 1800, 3600, 10_800, 21_600, 43_200, 86_400, 604_800,
];

/// Latency per hook and outcomes per bucket of time.
#[derive(Debug, Serialize, ToSchema)]
pub struct Latency {
    /// Each bucket's width, in seconds.
    pub bucket_seconds: i64,
    /// The oldest trace used (RFC 3339), absent when there is none.
    pub from: Option<String>,
    /// The newest trace used.
    pub to: Option<String>,
    /// How many traces were used (they may stand for more runs: see the counts).
    pub traces: usize,
    /// Per hook (by name, in order of name), its buckets.
    pub hooks: Vec<HookSeries>,
    /// The flows' outcomes per bucket.
    pub flows: Vec<FlowPoint>,
}

/// One hook's points.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookSeries {
    /// The hook's name.
    pub hook_name: String,
    /// Its buckets that have runs, in time order.
    pub points: Vec<LatencyPoint>,
}

/// One bucket of one hook.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct LatencyPoint {
    /// The bucket's start, epoch seconds.
    pub at: i64,
    /// Runs of the hook in it.
    pub count: u64,
    /// Median duration, microseconds (nearest rank, each stored duration counted as the runs
    /// its trace stands for).
    pub p50_us: u64,
    /// 99th percentile duration, microseconds (nearest rank, weighed as the median).
    pub p99_us: u64,
    /// Longest stored duration, microseconds.
    pub max_us: u64,
    /// Runs by outcome (`ok`, `denied`, `failed`, `failed_open`).
    pub outcomes: BTreeMap<String, u64>,
}

/// One bucket of flow runs by status.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct FlowPoint {
    /// The bucket's start, epoch seconds.
    pub at: i64,
    /// Runs that succeeded.
    pub success: u64,
    /// Runs a hook denied.
    pub denied: u64,
    /// Runs that failed.
    pub failed: u64,
    /// Runs whose hooks succeeded and whose login failed after them.
    pub aborted: u64,
}

/// The fields of a stored trace this reads.
#[derive(Deserialize)]
struct Stored {
    hooks: Vec<StoredHook>,
}

#[derive(Deserialize)]
struct StoredHook {
    hook_name: String,
    outcome: String,
    duration_us: u64,
}

/// A stored trace as the computation takes it.
struct Run {
    /// When (epoch ms).
    at: i64,
    /// The flow's status.
    status: String,
    /// The runs it stands for (at least 1).
    runs: u64,
    /// Each hook's name, outcome and duration.
    hooks: Vec<(String, String, u64)>,
}

/// The latency and outcomes of the runs `query` matches among the newest stored traces.
pub async fn latency(
    db: &Db,
    hooks: &Hooks,
    ctx: &TenantCtx,
    query: &TraceQuery,
) -> Result<Latency> {
    let filter = query.filter()?;
    hooks.traces.flush().await;
    let rows = store::recent_traces(&db.store, &ctx.tenant_id, &filter, WINDOW).await?;
    let runs: Vec<Run> = rows
        .into_iter()
        .filter_map(|r| {
            // A trace that does not parse (written by a future version, or damaged) is left
            // out of the chart; the list shows it as an error of its own.
            let stored: Stored = serde_json::from_str(&r.trace).ok()?;
            let hooks = stored
                .hooks
                .into_iter()
                .map(|h| (h.hook_name, h.outcome, h.duration_us))
                .collect();
            Some(Run {
                at: r.at,
                status: r.status,
                runs: u64::try_from(r.runs).unwrap_or(1).max(1),
                hooks,
            })
        })
        .collect();
    Ok(compute(&runs, filter.hook))
}

/// The narrowest bucket width (seconds) that keeps `span_ms` within [`MAX_BUCKETS`].
fn width(span_ms: i64) -> i64 {
    let span = span_ms / 1000 + 1;
    WIDTHS
        .into_iter()
        .find(|w| (span + w - 1) / w <= MAX_BUCKETS)
        .unwrap_or(WIDTHS[WIDTHS.len() - 1])
}

/// Nearest-rank percentile `p` (0 < p <= 100) of `sorted` (durations and how many runs each
/// stands for), which is not empty.
fn percentile(sorted: &[(u64, u64)], p: u64) -> u64 {
    let total: u64 = sorted.iter().map(|(_, w)| w).sum();
    let rank = (total * p).div_ceil(100).max(1);
    let mut seen = 0;
    for (us, w) in sorted {
        seen += w;
        if seen >= rank {
            return *us;
        }
    }
    sorted[sorted.len() - 1].0
}

/// Buckets `runs`; `only` keeps one hook's series (the others ran in the same flows).
fn compute(runs: &[Run], only: Option<&str>) -> Latency {
    let (Some(oldest), Some(newest)) = (
        runs.iter().map(|r| r.at).min(),
        runs.iter().map(|r| r.at).max(),
    ) else {
        return Latency {
            bucket_seconds: WIDTHS[0],
            from: None,
            to: None,
            traces: 0,
            hooks: Vec::new(),
            flows: Vec::new(),
        };
    };
    let bucket_seconds = width(newest - oldest);
    let bucket = |at_ms: i64| (at_ms.div_euclid(1000)).div_euclid(bucket_seconds) * bucket_seconds;
    let mut flows: BTreeMap<i64, FlowPoint> = BTreeMap::new();
    // hook name -> bucket -> (durations, outcomes)
    type Cell = (Vec<(u64, u64)>, BTreeMap<String, u64>);
    let mut per_hook: BTreeMap<&str, BTreeMap<i64, Cell>> = BTreeMap::new();
    for Run {
        at,
        status,
        runs: w,
        hooks,
    } in runs
    {
        let b = bucket(*at);
        let f = flows.entry(b).or_insert(FlowPoint {
            at: b,
            success: 0,
            denied: 0,
            failed: 0,
            aborted: 0,
        });
        match status.as_str() {
            "success" => f.success += w,
            "denied" => f.denied += w,
            "aborted" => f.aborted += w,
            _ => f.failed += w,
        }
        for (name, outcome, us) in hooks {
            if only.is_some_and(|o| o != name) {
                continue;
            }
            let cell = per_hook.entry(name).or_default().entry(b).or_default();
            cell.0.push((*us, *w));
            *cell.1.entry(outcome.clone()).or_default() += w;
        }
    }
    let hooks = per_hook
        .into_iter()
        .map(|(name, buckets)| HookSeries {
            hook_name: name.to_string(),
            points: buckets
                .into_iter()
                .map(|(at, (mut us, outcomes))| {
                    us.sort_unstable();
                    LatencyPoint {
                        at,
                        count: us.iter().map(|(_, w)| w).sum(),
                        p50_us: percentile(&us, 50),
                        p99_us: percentile(&us, 99),
                        max_us: us[us.len() - 1].0,
                        outcomes,
                    }
                })
                .collect(),
        })
        .collect();
    Latency {
        bucket_seconds,
        from: Some(rfc3339(oldest)),
        to: Some(rfc3339(newest)),
        traces: runs.len(),
        hooks,
        flows: flows.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(at_ms: i64, status: &str, hooks: &[(&str, &str, u64)]) -> Run {
        standing_for(1, at_ms, status, hooks)
    }

    fn standing_for(runs: u64, at_ms: i64, status: &str, hooks: &[(&str, &str, u64)]) -> Run {
        Run {
            at: at_ms,
            status: status.into(),
            runs,
            hooks: hooks
                .iter()
                .map(|(n, o, d)| (n.to_string(), o.to_string(), *d))
                .collect(),
        }
    }

    fn once(v: &[u64]) -> Vec<(u64, u64)> {
        v.iter().map(|&us| (us, 1)).collect()
    }

    #[test]
    fn buckets_are_as_narrow_as_the_span_allows() {
        assert_eq!(width(0), 1);
        assert_eq!(width(59_000), 1);
        assert_eq!(width(61_000), 5);
        // Just under an hour fits 60 one-minute buckets; a whole hour (its two ends in buckets
        // of their own) needs 61, so five minutes.
        assert_eq!(width(3_540_000), 60);
        assert_eq!(width(3_600_000), 300);
        assert_eq!(width(30 * 86_400_000), 86_400);
        assert_eq!(width(i64::MAX / 2), 604_800);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&once(&v), 50), 50);
        assert_eq!(percentile(&once(&v), 99), 99);
        assert_eq!(percentile(&once(&[7]), 99), 7);
        assert_eq!(percentile(&once(&[1, 2]), 50), 1);
        // A duration standing for 9 runs is 9 of the 10 ranks.
        assert_eq!(percentile(&[(10, 1), (100, 9)], 10), 10);
        assert_eq!(percentile(&[(10, 1), (100, 9)], 50), 100);
        assert_eq!(percentile(&[(10, 9), (100, 1)], 90), 10);
        assert_eq!(percentile(&[(10, 9), (100, 1)], 99), 100);
    }

    #[test]
    fn a_trace_counts_as_the_runs_it_stands_for() {
        let runs = vec![
            standing_for(9, 1_000_000, "success", &[("a", "ok", 100)]),
            run(1_000_500, "success", &[("a", "ok", 10)]),
            run(1_000_700, "denied", &[("a", "denied", 50)]),
        ];
        let l = compute(&runs, None);
        assert_eq!(l.traces, 3);
        assert_eq!((l.flows[0].success, l.flows[0].denied), (10, 1));
        let p = &l.hooks[0].points[0];
        assert_eq!((p.count, p.p50_us, p.max_us), (11, 100, 100));
        assert_eq!(p.outcomes["ok"], 10);
    }

    #[test]
    fn runs_fall_in_buckets_per_hook_with_their_outcomes() {
        // Two minutes of runs: 5-second buckets.
        let runs = vec![
            run(1_000_000, "success", &[("a", "ok", 10), ("b", "ok", 100)]),
            run(
                1_001_000,
                "denied",
                &[("a", "ok", 30), ("b", "denied", 300)],
            ),
            run(1_120_000, "failed", &[("a", "failed", 20)]),
        ];
        let l = compute(&runs, None);
        assert_eq!(l.bucket_seconds, 5);
        assert_eq!(l.traces, 3);
        assert_eq!(
            l.flows,
            vec![
                FlowPoint {
                    at: 1000,
                    success: 1,
                    denied: 1,
                    failed: 0,
                    aborted: 0
                },
                FlowPoint {
                    at: 1120,
                    success: 0,
                    denied: 0,
                    failed: 1,
                    aborted: 0
                },
            ]
        );
        let a = &l.hooks[0];
        assert_eq!(a.hook_name, "a");
        assert_eq!(
            a.points[0],
            LatencyPoint {
                at: 1000,
                count: 2,
                p50_us: 10,
                p99_us: 30,
                max_us: 30,
                outcomes: BTreeMap::from([("ok".to_string(), 2)]),
            }
        );
        assert_eq!(
            a.points[1].outcomes,
            BTreeMap::from([("failed".to_string(), 1)])
        );
        assert_eq!(l.hooks[1].points[0].outcomes["denied"], 1);

        let only_b = compute(&runs, Some("b"));
        assert_eq!(only_b.hooks.len(), 1);
        assert_eq!(only_b.hooks[0].hook_name, "b");
        assert_eq!(compute(&[], None).traces, 0);
    }
}
