//! What operators count: the server's Prometheus metrics, in one [`Registry`] owned by the
//! running server (no global recorder, so tests run many servers in one process, each with its
//! own numbers), and the security events that are both a log line and a counter.
//!
//! Label values are closed sets chosen here (a grant type Sigil knows, an OAuth error code, a
//! login-failure reason), never text from a request, so a client cannot make new series. The
//! tenant is a label only when the operator asks for it ([`Metrics::new`]), and then only on the
//! grant counter and the token-latency histogram: one series per tenant is unbounded
//! cardinality on a server with many tenants. `docs/operating.md` lists every metric.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s output: the OpenMetrics text format, which
/// Prometheus reads (and negotiates) natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bucket bounds of one hook's duration, seconds (as before the registry existed: a hook is
/// meant to take micro- to milliseconds).
const HOOK_BUCKETS: [f64; 12] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
];
/// Bucket bounds of a whole flow, seconds (several hooks, up to the flow deadline).
const FLOW_BUCKETS: [f64; 12] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// Bucket bounds of a hook's fetch, seconds: a customer's API, milliseconds to seconds.
const FETCH_BUCKETS: [f64; 12] = [
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Bucket bounds of a token request, seconds: argon2id alone takes tens of milliseconds.
const TOKEN_BUCKETS: [f64; 13] = [
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A label set whose labels depend on the settings (the opt-in `tenant` label) or on the
/// event (`reason` only where there is one).
type Labels = Vec<(&'static str, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// How one password attempt ended (`sigil_password_attempts_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The password was right.
    Ok,
    /// The password was verified and wrong (or the user is unknown).
    Wrong,
    /// The (user, IP) pair was locked: the password was not even compared.
    Locked,
}

impl Attempt {
    const ALL: [Attempt; 3] = [Attempt::Ok, Attempt::Wrong, Attempt::Locked];

    fn label(self) -> &'static str {
        match self {
            Attempt::Ok => "ok",
            Attempt::Wrong => "wrong",
            Attempt::Locked => "locked",
        }
    }
}

/// Why a request was answered 503 `temporarily_unavailable`
/// (`sigil_unavailable_total{cause}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// The database was unreachable, restarting or refused a connection in time.
    Database,
    /// The request ran past the request timeout (a database that stopped answering
    /// mid-statement, most likely).
    Timeout,
}

impl Unavailable {
    const ALL: [Unavailable; 2] = [Unavailable::Database, Unavailable::Timeout];

    fn label(self) -> &'static str {
        match self {
            Unavailable::Database => "database",
            Unavailable::Timeout => "timeout",
        }
    }
}

/// Why a password login failed. On the wire every one of these answers the same (no user
/// enumeration); only the security log and `/metrics` tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// No user has that email in the tenant.
    UnknownUser,
    /// The password was compared and is wrong.
    WrongPassword,
    /// The user has no password (invited, or signs in another way).
    NoPassword,
    /// The brute-force lock refused the attempt without comparing the password.
    Locked,
    /// The password was right, but the user is blocked.
    Blocked,
}

impl LoginFailure {
    const ALL: [LoginFailure; 5] = [
        LoginFailure::UnknownUser,
        LoginFailure::WrongPassword,
        LoginFailure::NoPassword,
        LoginFailure::Locked,
        LoginFailure::Blocked,
    ];

    /// The `reason` label and log field.
    pub fn label(self) -> &'static str {
        match self {
            LoginFailure::UnknownUser => "unknown_user",
            LoginFailure::WrongPassword => "wrong_password",
            LoginFailure::NoPassword => "no_password",
            LoginFailure::Locked => "locked",
            LoginFailure::Blocked => "blocked",
        }
    }
}

/// Something an operator watching for attacks wants to see: logged with
/// `target: "sigil::security"` and counted in `sigil_security_events_total{event, reason}`
/// (see [`security_event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityEvent {
    /// A password login failed, and why.
    LoginFailed(LoginFailure),
    /// This attempt crossed the brute-force limit: the (user, IP) pair is locked from now on.
    LockEngaged,
    /// An administrator lifted a user's brute-force lock through the API (the line itself is
    /// logged by the management domain, which also logs lifts by a password reset or the CLI).
    LockLifted,
    /// A rotated refresh token came back: its family was revoked (RFC 9700 4.14.2).
    RefreshReuse,
    /// A rotated refresh token came back within the retry grace window while its successor
    /// was still unused: the client is taken to be retrying a refresh whose answer it lost, and
    /// gets the same successor again (RFC 9700 4.14.2 allows this leeway).
    RefreshRetry,
    /// A used authorization code came back: what it issued was revoked (RFC 6749 4.1.2).
    CodeReplay,
    /// A post-login hook denied a login.
    HookDeny,
    /// A post-login hook failed during a login (fail-closed or fail-open), with the error
    /// kind (`timeout`, `out_of_fuel`, `trap`... as the hook host names them).
    HookFailure(String),
}

impl SecurityEvent {
    /// Every event name, for the zero series `/metrics` shows before anything happened.
    const NAMES: [&'static str; 8] = [
        "login_failed",
        "lock_engaged",
        "lock_lifted",
        "refresh_reuse",
        "refresh_retry",
        "code_replay",
        "hook_deny",
        "hook_failure",
    ];

    /// The `event` field and label.
    pub fn name(&self) -> &'static str {
        match self {
            SecurityEvent::LoginFailed(_) => "login_failed",
            SecurityEvent::LockEngaged => "lock_engaged",
            SecurityEvent::LockLifted => "lock_lifted",
            SecurityEvent::RefreshReuse => "refresh_reuse",
            SecurityEvent::RefreshRetry => "refresh_retry",
            SecurityEvent::CodeReplay => "code_replay",
            SecurityEvent::HookDeny => "hook_deny",
            SecurityEvent::HookFailure(_) => "hook_failure",
        }
    }

    /// The `reason` field and label, for the events that have one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            SecurityEvent::LoginFailed(r) => Some(r.label()),
            SecurityEvent::HookFailure(kind) => Some(kind),
            _ => None,
        }
    }

    fn labels(&self) -> Labels {
        let mut l = vec![("event", self.name().to_string())];
        if let Some(r) = self.reason() {
            l.push(("reason", error_kind(r)));
        }
        l
    }
}

/// A hook error kind as a label value: the host's codes are short snake_case words; anything
/// else (which would be a bug) is `other`, so a label can never carry free text.
fn error_kind(kind: &str) -> String {
    let sane = !kind.is_empty()
        && kind.len() <= 32
        && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if sane { kind } else { "other" }.to_string()
}

/// Logs a [`SecurityEvent`] at WARN with `target: "sigil::security"`, the `event` and `reason`
/// fields and the fields given (the tenant and the ids involved; never a password, token, code
/// or secret), and counts it in `metrics`. One macro so the line and the counter cannot drift
/// apart.
macro_rules! security_event {
    ($metrics:expr, $event:expr, $($fields:tt)+) => {{
        let event: $crate::metrics::SecurityEvent = $event;
        $metrics.security(&event);
        ::tracing::warn!(
            target: "sigil::security",
            event = event.name(),
            reason = event.reason(),
            $($fields)+
        );
    }};
}
pub(crate) use security_event;

/// Where a hook version that was not prepared in memory came from
/// (`sigil_hook_prepares_total{source}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrepareSource {
    /// This node's disk cache of compiled artifacts (`--artifact-cache-dir`).
    Disk,
    /// The artifact stored in the database (compiled by this node or another one).
    Database,
    /// Compiled now, in the bounded compile worker.
    Compiled,
}

impl PrepareSource {
    const ALL: [PrepareSource; 3] = [
        PrepareSource::Disk,
        PrepareSource::Database,
        PrepareSource::Compiled,
    ];

    fn label(self) -> &'static str {
        match self {
            PrepareSource::Disk => "disk",
            PrepareSource::Database => "database",
            PrepareSource::Compiled => "compiled",
        }
    }
}

/// Values read when `/metrics` is scraped rather than counted as they change.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sampled {
    /// Database connections open (idle and in use).
    pub db_connections: u32,
    /// Of those, idle.
    pub db_idle: u32,
    /// The pool's ceiling.
    pub db_max: u32,
    /// Hook compiles running in a compile worker.
    pub compiles_running: usize,
    /// Hook uploads waiting for a compile worker.
    pub compiles_waiting: usize,
}

/// The server's metrics: the registry and a handle on each family. Cheap to share behind an
/// `Arc`; every handle is atomic.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    tenant_labels: bool,
    grants: Family<Labels, Counter>,
    token_duration: HistogramFamily,
    hook_duration: HistogramFamily,
    fetch_duration: HistogramFamily,
    flow_runs: Family<Labels, Counter>,
    flows_inline: Counter,
    flow_duration: HistogramFamily,
    legacy_logins: Family<Labels, Counter>,
    password_attempts: Family<Labels, Counter>,
    security: Family<Labels, Counter>,
    traces_dropped: Counter,
    traces_skipped: Counter,
    unavailable: Family<Labels, Counter>,
    prepares: Family<Labels, Counter>,
    artifact_cache_rejected: Counter,
    warmup_failures: Counter,
    db_connections: Family<Labels, Gauge>,
    db_max: Gauge,
    compiles: Family<Labels, Gauge>,
}

/// A histogram family whose members all have `buckets` (a fn pointer, not a closure, so the
/// family's type does not depend on which).
fn histograms(buckets: fn() -> Histogram) -> HistogramFamily {
    Family::new_with_constructor(buckets)
}

fn hook_buckets() -> Histogram {
    Histogram::new(HOOK_BUCKETS)
}

fn fetch_buckets() -> Histogram {
    Histogram::new(FETCH_BUCKETS)
}

fn flow_buckets() -> Histogram {
    Histogram::new(FLOW_BUCKETS)
}

fn token_buckets() -> Histogram {
    Histogram::new(TOKEN_BUCKETS)
}

impl Metrics {
    /// A registry with every family registered. `tenant_labels` adds a `tenant` label to the
    /// grant counter and the token-latency histogram (off by default: see the module doc).
    pub fn new(tenant_labels: bool) -> Self {
        let mut registry = Registry::with_prefix("sigil");
        let grants = Family::<Labels, Counter>::default();
        registry.register(
            "grants",
            "Token-endpoint requests by grant type and outcome (`ok` or the OAuth error code)",
            grants.clone(),
        );
        let token_duration = histograms(token_buckets);
        registry.register(
            "token_request_duration_seconds",
            "Time to answer a token-endpoint request, by grant type",
            token_duration.clone(),
        );
        let hook_duration = histograms(hook_buckets);
        registry.register(
            "hook_duration_seconds",
            "Duration of one hook invocation (store, instantiate, call, drop), by outcome",
            hook_duration.clone(),
        );
        let fetch_duration = histograms(fetch_buckets);
        registry.register(
            "hook_fetch_duration_seconds",
            "Duration of a hook's fetch (contract 0.2.0), by outcome: the status class \
             (`2xx`...) or the error (`denied`, `timeout`, `circuit_open`...)",
            fetch_duration.clone(),
        );
        let legacy_logins = Family::<Labels, Counter>::default();
        registry.register(
            "legacy_logins",
            "Password logins checked by a tenant's legacy store (its user-store hook), by \
             outcome: `authenticated`, `wrong_password`, `unknown_user`, `locked` (not asked), \
             `unavailable` (the hook or the legacy system failed), `invalid_profile`",
            legacy_logins.clone(),
        );
        let flow_runs = Family::<Labels, Counter>::default();
        registry.register(
            "flow_runs",
            "Post-login flow runs by outcome",
            flow_runs.clone(),
        );
        let flows_inline = Counter::default();
        registry.register(
            "flows_inline",
            "Post-login flows that ran on the async worker that admitted them (their hooks' \
             last runs fit the inline slice of fuel) instead of on the hook pool",
            flows_inline.clone(),
        );
        let flow_duration = histograms(flow_buckets);
        registry.register(
            "flow_duration_seconds",
            "Duration of a post-login flow with hooks bound, by outcome",
            flow_duration.clone(),
        );
        let password_attempts = Family::<Labels, Counter>::default();
        registry.register(
            "password_attempts",
            "Password logins (grant and hosted page) by result; `locked` were refused by the \
             brute-force lock without comparing the password",
            password_attempts.clone(),
        );
        let security = Family::<Labels, Counter>::default();
        registry.register(
            "security_events",
            "Security events (also logged with target sigil::security) by event and reason",
            security.clone(),
        );
        let traces_dropped = Counter::default();
        registry.register(
            "hook_traces_dropped",
            "Traces not stored: the trace queue was full, or the database refused a batch for longer than the writer retries",
            traces_dropped.clone(),
        );
        let traces_skipped = Counter::default();
        registry.register(
            "hook_traces_skipped",
            "Successful logins' traces not stored, above the tenant's rate of stored traces \
             (--traces-per-second); the next stored trace counts them in its runs",
            traces_skipped.clone(),
        );
        let unavailable = Family::<Labels, Counter>::default();
        registry.register(
            "unavailable",
            "Requests answered 503 temporarily_unavailable, by cause: `database` (unreachable, \
             restarting or refusing connections) or `timeout` (past the request timeout)",
            unavailable.clone(),
        );
        let prepares = Family::<Labels, Counter>::default();
        registry.register(
            "hook_prepares",
            "Hook versions prepared that were not in memory, by where the compiled artifact \
             came from (disk, database, compiled)",
            prepares.clone(),
        );
        let artifact_cache_rejected = Counter::default();
        registry.register(
            "hook_artifact_cache_rejected",
            "Files of the disk cache of compiled artifacts refused (MAC, truncation) and deleted",
            artifact_cache_rejected.clone(),
        );
        let warmup_failures = Counter::default();
        registry.register(
            "hook_warmup_failures",
            "Tenants whose bound hooks failed to prepare in the warm-up at start",
            warmup_failures.clone(),
        );
        let db_connections = Family::<Labels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections open, by state (idle, in_use)",
            db_connections.clone(),
        );
        let db_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The database pool's ceiling",
            db_max.clone(),
        );
        let compiles = Family::<Labels, Gauge>::default();
        registry.register(
            "hook_compiles",
            "Hook compiles by state: running in a worker, or waiting for one",
            compiles.clone(),
        );
        let m = Self {
            registry,
            tenant_labels,
            grants,
            token_duration,
            hook_duration,
            fetch_duration,
            flow_runs,
            flows_inline,
            flow_duration,
            legacy_logins,
            password_attempts,
            security,
            traces_dropped,
            traces_skipped,
            unavailable,
            prepares,
            artifact_cache_rejected,
            warmup_failures,
            db_connections,
            db_max,
            compiles,
        };
        // Closed sets start at zero, so a rate() over them works from the first scrape and a
        // dashboard shows 0 rather than "no data".
        for a in Attempt::ALL {
            drop(m.password_attempts.get_or_create(&one("result", a.label())));
        }
        for name in SecurityEvent::NAMES {
            if name == "login_failed" {
                for r in LoginFailure::ALL {
                    drop(
                        m.security
                            .get_or_create(&SecurityEvent::LoginFailed(r).labels()),
                    );
                }
            } else if name != "hook_failure" {
                drop(m.security.get_or_create(&one("event", name)));
            }
        }
        for cause in Unavailable::ALL {
            drop(m.unavailable.get_or_create(&one("cause", cause.label())));
        }
        for outcome in ["success", "denied", "failed"] {
            drop(m.flow_runs.get_or_create(&one("outcome", outcome)));
        }
        for source in PrepareSource::ALL {
            drop(m.prepares.get_or_create(&one("source", source.label())));
        }
        m
    }

    /// Counts one token-endpoint request and observes its duration. `grant_type` is one Sigil
    /// knows (anything else is `unsupported`); `outcome` is `ok` or an OAuth error code.
    pub fn grant(&self, tenant: &str, grant_type: &str, outcome: &str, seconds: f64) {
        let grant_type = match grant_type {
            "password" | "refresh_token" | "client_credentials" | "authorization_code" => {
                grant_type
            }
            _ => "unsupported",
        };
        let mut labels = vec![
            ("grant_type", grant_type.to_string()),
            ("outcome", outcome.to_string()),
        ];
        if self.tenant_labels {
            labels.push(("tenant", tenant.to_string()));
        }
        self.grants.get_or_create(&labels).inc();
        labels.retain(|(k, _)| *k != "outcome");
        self.token_duration.get_or_create(&labels).observe(seconds);
    }

    /// Records one hook run (`outcome`: `ok`, `denied`, `failed` or `failed_open`).
    pub fn hook(&self, outcome: &str, duration_us: u64) {
        self.hook_duration
            .get_or_create(&one("outcome", outcome))
            .observe(duration_us as f64 / 1e6);
    }

    /// Records one fetch of a hook of `tenant` (the tenant is a label only when the operator
    /// turned tenant labels on).
    pub fn fetch(&self, tenant: &str, outcome: &str, duration_us: u64) {
        let mut labels = one("outcome", outcome);
        if self.tenant_labels {
            labels.push(("tenant", tenant.to_string()));
        }
        self.fetch_duration
            .get_or_create(&labels)
            .observe(duration_us as f64 / 1e6);
    }

    /// Counts one password login checked by a legacy store, by outcome (tenant-labelled only
    /// when the operator turned tenant labels on).
    pub fn legacy_login(&self, tenant: &str, outcome: &str) {
        let mut labels = one("outcome", outcome);
        if self.tenant_labels {
            labels.push(("tenant", tenant.to_string()));
        }
        self.legacy_logins.get_or_create(&labels).inc();
    }

    /// Counts one flow run (`success`, `denied` or `failed`), with its duration when hooks ran.
    pub fn flow(&self, outcome: &str, seconds: Option<f64>) {
        let labels = one("outcome", outcome);
        self.flow_runs.get_or_create(&labels).inc();
        if let Some(s) = seconds {
            self.flow_duration.get_or_create(&labels).observe(s);
        }
    }

    /// Counts one flow that ran inline (also counted by [`Metrics::flow`]).
    pub fn flow_inline(&self) {
        self.flows_inline.inc();
    }

    /// Counts one password attempt.
    pub fn attempt(&self, a: Attempt) {
        self.password_attempts
            .get_or_create(&one("result", a.label()))
            .inc();
    }

    /// Counts a security event (log it with [`security_event`], which calls this).
    pub fn security(&self, e: &SecurityEvent) {
        self.security.get_or_create(&e.labels()).inc();
    }

    /// Counts one request answered 503 `temporarily_unavailable`.
    pub fn unavailable(&self, cause: Unavailable) {
        self.unavailable
            .get_or_create(&one("cause", cause.label()))
            .inc();
    }

    /// Counts a hook version prepared from `source` (it was not prepared in memory).
    pub fn prepared(&self, source: PrepareSource) {
        self.prepares
            .get_or_create(&one("source", source.label()))
            .inc();
    }

    /// Counts a file of the disk artifact cache refused (and deleted).
    pub fn artifact_cache_rejected(&self) {
        self.artifact_cache_rejected.inc();
    }

    /// Counts a tenant whose flow failed to prepare in the warm-up at start.
    pub fn warmup_failed(&self) {
        self.warmup_failures.inc();
    }

    /// The counter the trace writer adds its drops to.
    pub fn traces_dropped(&self) -> Counter {
        self.traces_dropped.clone()
    }

    /// The counter the trace writer adds the successful logins' traces it does not store to
    /// (above the tenant's trace rate).
    pub fn traces_skipped(&self) -> Counter {
        self.traces_skipped.clone()
    }

    /// The text exposition, with the sampled values as of now.
    pub fn render(&self, sampled: &Sampled) -> String {
        let in_use = sampled.db_connections.saturating_sub(sampled.db_idle);
        self.db_connections
            .get_or_create(&one("state", "idle"))
            .set(i64::from(sampled.db_idle));
        self.db_connections
            .get_or_create(&one("state", "in_use"))
            .set(i64::from(in_use));
        self.db_max.set(i64::from(sampled.db_max));
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.compiles
            .get_or_create(&one("state", "running"))
            .set(count(sampled.compiles_running));
        self.compiles
            .get_or_create(&one("state", "waiting"))
            .set(count(sampled.compiles_waiting));
        let mut out = String::new();
        // Writing into a String cannot fail, and every label value here is plain text.
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics");
        }
        out
    }
}

fn one(key: &'static str, value: &str) -> Labels {
    vec![(key, value.to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_with_their_labels_and_closed_sets_start_at_zero() {
        let m = Metrics::new(false);
        m.grant("acme", "password", "ok", 0.02);
        m.grant("acme", "../../etc", "unsupported_grant_type", 0.001);
        m.hook("ok", 250);
        m.flow("success", Some(0.001));
        m.security(&SecurityEvent::HookFailure("out_of_fuel".into()));
        m.security(&SecurityEvent::HookFailure("Free text!".into()));
        m.unavailable(Unavailable::Timeout);
        let text = m.render(&Sampled {
            db_connections: 3,
            db_idle: 1,
            db_max: 5,
            compiles_running: 1,
            compiles_waiting: 2,
        });
        for line in [
            "sigil_grants_total{grant_type=\"password\",outcome=\"ok\"} 1",
            "sigil_grants_total{grant_type=\"unsupported\",outcome=\"unsupported_grant_type\"} 1",
            "sigil_token_request_duration_seconds_count{grant_type=\"password\"} 1",
            "sigil_hook_duration_seconds_count{outcome=\"ok\"} 1",
            "sigil_flow_runs_total{outcome=\"success\"} 1",
            "sigil_flow_runs_total{outcome=\"denied\"} 0",
            "sigil_flow_duration_seconds_count{outcome=\"success\"} 1",
            "sigil_flows_inline_total 0",
            "sigil_password_attempts_total{result=\"locked\"} 0",
            "sigil_security_events_total{event=\"login_failed\",reason=\"unknown_user\"} 0",
            "sigil_security_events_total{event=\"refresh_reuse\"} 0",
            "sigil_security_events_total{event=\"hook_failure\",reason=\"out_of_fuel\"} 1",
            "sigil_security_events_total{event=\"hook_failure\",reason=\"other\"} 1",
            "sigil_hook_traces_dropped_total 0",
            "sigil_hook_traces_skipped_total 0",
            "sigil_unavailable_total{cause=\"database\"} 0",
            "sigil_unavailable_total{cause=\"timeout\"} 1",
            "sigil_db_pool_connections{state=\"in_use\"} 2",
            "sigil_db_pool_connections{state=\"idle\"} 1",
            "sigil_db_pool_max_connections 5",
            "sigil_hook_compiles{state=\"waiting\"} 2",
            "sigil_hook_prepares_total{source=\"disk\"} 0",
            "sigil_hook_artifact_cache_rejected_total 0",
            "sigil_hook_warmup_failures_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
        assert!(!text.contains("tenant="), "no tenant label unless asked");
    }

    #[test]
    fn tenant_labels_are_opt_in_and_only_on_grants_and_token_latency() {
        let m = Metrics::new(true);
        m.grant("acme", "client_credentials", "ok", 0.01);
        m.flow("success", Some(0.001));
        let text = m.render(&Sampled::default());
        assert!(text.contains(
            "sigil_grants_total{grant_type=\"client_credentials\",outcome=\"ok\",tenant=\"acme\"} 1"
        ));
        assert!(text.contains(
            "sigil_token_request_duration_seconds_count{grant_type=\"client_credentials\",tenant=\"acme\"} 1"
        ));
        assert_eq!(
            text.matches("tenant=").count(),
            text.lines()
                .filter(|l| l.starts_with("sigil_grants") || l.starts_with("sigil_token_request"))
                .count()
        );
    }
}
