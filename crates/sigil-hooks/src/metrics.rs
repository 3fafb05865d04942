//! Prometheus metrics of the hook runtime: a duration histogram per outcome and flow outcome
//! counters, rendered in the text exposition format at `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Histogram bucket upper bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
];
const OUTCOMES: [&str; 4] = ["ok", "denied", "failed", "failed_open"];
const FLOW: [&str; 3] = ["success", "denied", "failed"];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_us: AtomicU64,
}

/// The runtime's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    hooks: [Histogram; 4],
    flows: [AtomicU64; 3],
}

impl Metrics {
    /// Records one hook run.
    pub fn hook(&self, outcome: &str, duration_us: u64) {
        let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) else {
            return;
        };
        let h = &self.hooks[i];
        let secs = duration_us as f64 / 1e6;
        for (b, bound) in h.buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_us.fetch_add(duration_us, Ordering::Relaxed);
    }

    /// Records one flow run.
    pub fn flow(&self, status: &str) {
        if let Some(i) = FLOW.iter().position(|o| *o == status) {
            self.flows[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP sigil_hook_duration_seconds Duration of one hook invocation (store, instantiate, call, drop).\n");
        out.push_str("# TYPE sigil_hook_duration_seconds histogram\n");
        for (o, h) in OUTCOMES.iter().zip(&self.hooks) {
            for (b, bound) in h.buckets.iter().zip(BUCKETS) {
                out.push_str(&format!(
                    "sigil_hook_duration_seconds_bucket{{outcome=\"{o}\",le=\"{bound}\"}} {}\n",
                    b.load(Ordering::Relaxed)
                ));
            }
            let count = h.count.load(Ordering::Relaxed);
            out.push_str(&format!(
                "sigil_hook_duration_seconds_bucket{{outcome=\"{o}\",le=\"+Inf\"}} {count}\n"
            ));
            out.push_str(&format!(
                "sigil_hook_duration_seconds_sum{{outcome=\"{o}\"}} {}\n",
                h.sum_us.load(Ordering::Relaxed) as f64 / 1e6
            ));
            out.push_str(&format!(
                "sigil_hook_duration_seconds_count{{outcome=\"{o}\"}} {count}\n"
            ));
        }
        out.push_str("# HELP sigil_flow_runs_total Post-login flow runs by outcome.\n");
        out.push_str("# TYPE sigil_flow_runs_total counter\n");
        for (s, c) in FLOW.iter().zip(&self.flows) {
            out.push_str(&format!(
                "sigil_flow_runs_total{{outcome=\"{s}\"}} {}\n",
                c.load(Ordering::Relaxed)
            ));
        }
        out
    }
}
