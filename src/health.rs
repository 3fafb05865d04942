//! Whether this node should get traffic, as `/readyz` answers a load balancer: the database
//! reachable, every migration this binary embeds applied, the tenants' bound hooks prepared
//! (warmed in the background at start, [`warm_hooks`]), and not draining (SIGTERM received).
//! `/healthz` only says the process is alive and is not here.
//!
//! The node-wide state is a [`Health`] handle, shared by the HTTP layer (which reads it) and
//! the composition root (which warms the hooks and starts the drain). The database checks run
//! on every `/readyz`, bounded by [`CHECK_TIMEOUT`], so a balancer's health check never hangs
//! on an unreachable database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::clock::Stopwatch;
use crate::db::Db;
use crate::flows::Hooks;
use crate::store::{Store, schema};

/// The longest `/readyz` waits for the database before it calls it unreachable.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The node's start-up and shut-down state (cheap to clone: one shared set of flags).
#[derive(Debug, Clone, Default)]
pub struct Health(Arc<State>);

#[derive(Debug, Default)]
struct State {
    /// The warm-up of the bound hooks finished (whatever its outcome).
    hooks_warm: AtomicBool,
    /// Tenants whose flow failed to prepare in the warm-up.
    hooks_failed: AtomicU64,
    /// Shutdown started: new connections are refused and in-flight requests finish.
    draining: AtomicBool,
}

impl Health {
    /// Records that the warm-up finished, with how many tenants' flows failed to prepare.
    pub fn hooks_warmed(&self, failed: u64) {
        self.0.hooks_failed.store(failed, Ordering::Relaxed);
        self.0.hooks_warm.store(true, Ordering::Release);
    }

    /// Whether the warm-up finished.
    pub fn hooks_warm(&self) -> bool {
        self.0.hooks_warm.load(Ordering::Acquire)
    }

    /// Marks the node as draining: from now on it is not ready.
    pub fn start_draining(&self) {
        self.0.draining.store(true, Ordering::Release);
    }

    /// Whether the node is draining.
    pub fn draining(&self) -> bool {
        self.0.draining.load(Ordering::Acquire)
    }
}

/// `/readyz`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// The verdict.
    pub status: Status,
    /// Each check's state.
    pub checks: Checks,
    /// Tenants whose bound hooks failed to prepare at start (their logins prepare them again;
    /// see the log and `sigil_hook_warmup_failures_total`). Absent when none did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_failed: Option<u64>,
}

impl Readiness {
    /// Whether the node should get traffic (`/readyz` answers 200).
    pub fn is_ready(&self) -> bool {
        self.status == Status::Ready
    }
}

/// The verdict of `/readyz`, first match wins: `draining` (shutting down), `unavailable` (the
/// database or its schema), `starting` (hooks still warming), `ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Serve traffic.
    Ready,
    /// The bound hooks are still being prepared.
    Starting,
    /// Shutting down: finishing in-flight requests.
    Draining,
    /// The database is unreachable or its schema is older than this binary.
    Unavailable,
}

/// The state of each check (strings, so a balancer's or an operator's `curl` reads them as
/// they are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checks {
    /// `ok`, or `unreachable` (no answer within [`CHECK_TIMEOUT`], or an error).
    pub database: &'static str,
    /// `ok` (every migration this binary embeds is applied; a newer binary's extra ones do not
    /// matter), `behind` (the database misses some: run `sigil migrate` with this binary, or
    /// start it once), or `unknown` (the database did not answer).
    pub migrations: &'static str,
    /// `warming`, `ok`, or `degraded` (the warm-up finished but some tenants' flows failed to
    /// prepare: the node is ready, see `hooks_failed`).
    pub hooks: &'static str,
}

/// Runs the checks.
pub async fn check(store: &Store, health: &Health) -> Readiness {
    let (database, migrations) =
        match tokio::time::timeout(CHECK_TIMEOUT, schema_state(store)).await {
            Ok(state) => state,
            Err(_) => {
                tracing::warn!(
                    timeout_ms = CHECK_TIMEOUT.as_millis() as u64,
                    "readiness check: the database did not answer in time"
                );
                ("unreachable", "unknown")
            }
        };
    let failed = health.0.hooks_failed.load(Ordering::Relaxed);
    let hooks = match (health.hooks_warm(), failed) {
        (false, _) => "warming",
        (true, 0) => "ok",
        (true, _) => "degraded",
    };
    let status = if health.draining() {
        Status::Draining
    } else if database != "ok" || migrations != "ok" {
        Status::Unavailable
    } else if hooks == "warming" {
        Status::Starting
    } else {
        Status::Ready
    };
    Readiness {
        status,
        checks: Checks {
            database,
            migrations,
            hooks,
        },
        hooks_failed: (failed > 0).then_some(failed),
    }
}

/// The database's and the schema's checks.
async fn schema_state(store: &Store) -> (&'static str, &'static str) {
    if let Err(e) = store.ping().await {
        tracing::warn!(error = %e, "readiness check: the database is unreachable");
        return ("unreachable", "unknown");
    }
    match schema::missing_migrations(store).await {
        Ok(missing) if missing.is_empty() => ("ok", "ok"),
        Ok(missing) => {
            tracing::warn!(
                ?missing,
                "readiness check: the database misses migrations this binary embeds"
            );
            ("ok", "behind")
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: reading the applied migrations failed");
            ("ok", "unknown")
        }
    }
}

/// Prepares every tenant's bound hooks (loads each post-login flow that binds any), so the
/// first login after start neither compiles nor deserializes; then marks the warm-up done.
///
/// A tenant whose flow fails to prepare is logged and counted
/// (`sigil_hook_warmup_failures_total`, and `hooks_failed` in `/readyz`) and does not keep the
/// node unready: its next login prepares the flow again and, if it still fails, meets the
/// failure under the flow's failure policy, as it would have without the warm-up.
pub async fn warm_hooks(db: &Db, hooks: &Hooks, health: &Health) {
    let timer = Stopwatch::start();
    let tenants = match crate::store::flows::tenants_with_bindings(&db.store).await {
        Ok(t) => t,
        Err(e) => {
            warm_failed(hooks, None, &e);
            health.hooks_warmed(1);
            return;
        }
    };
    let mut failed = 0;
    for tenant in &tenants {
        if let Err(e) = crate::flows::load::load_flow(&db.store, hooks, tenant, db.now()).await {
            warm_failed(hooks, Some(tenant), &e);
            failed += 1;
        }
    }
    health.hooks_warmed(failed);
    tracing::info!(
        tenants = tenants.len(),
        failed,
        seconds = timer.seconds(),
        "prepared the tenants' bound hooks"
    );
}

fn warm_failed(hooks: &Hooks, tenant: Option<&str>, e: &dyn std::error::Error) {
    hooks.metrics.warmup_failed();
    tracing::warn!(
        tenant,
        error = %e,
        "preparing bound hooks at start failed; the node is ready anyway, and the next login \
         of the tenant prepares them again"
    );
}
