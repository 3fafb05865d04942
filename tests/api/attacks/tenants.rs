//! One tenant cannot hurt another: the per-tenant hook cap and the flow budget hold while clients hang up, and for flows that run inline, and pool threads survive panics.
//!
//! The contract is docs/hooks.md "Isolation and capacity": a tenant holds at most its share of
//! the hook pool for as long as its hooks run (not as long as its clients wait), a whole flow
//! has one wall-clock budget, and the pool never shrinks.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sigil_hooks::Limits;
use sigil_hooks::outcome::{FailurePolicy, FlowStatus};

use super::hostile_tenant::{grant_request, password_grant, tenant_with_hostile};
use crate::both_backends;
use crate::helpers::{Db, hook, spawn_app_with};
use crate::sandbox::{mode, prepare, run, step, two_thread_runtime};

/// A loose bound on tenant B's p99 login latency while tenant A attacks: far above what a
/// login costs (a few milliseconds of argon2id and a microsecond hook), far below the
/// `hook_capacity` failures and multi-second stalls the attack caused.
const B_P99_BOUND: Duration = Duration::from_millis(2500);

/// docs/hooks.md "Isolation and capacity": tenant A's slow flows (five bindings of a spinning
/// hook, fail-open, each stopped only by its deadline) come from clients that hang up after
/// 60 ms, continuously. Tenant A's permit used to be released when its request was dropped
/// while its hooks kept running, so A filled the whole pool and B's logins failed with
/// `hook_capacity`. Every one of B's password grants (which run B's own hook) must succeed,
/// with a bounded p99.
async fn tenant_cap_holds_when_clients_hang_up(db: Db) {
    // Its own runtime (2 threads, 1 per tenant), so other tests neither disturb nor see this.
    let rt = two_thread_runtime();
    let app = spawn_app_with(db, |s| {
        s.hook_runtime = Some(rt);
        // Fuel out of the way: the spinning hook runs until its wall-clock deadline.
        s.hook_ceilings.fuel = u64::MAX / 2;
        // Generous ceilings, so B's fail-closed hook is judged on capacity, not on how fast a
        // debug build runs on a loaded machine; A's hook gets the usual 50 ms below.
        s.hook_ceilings.deadline_ms = 2_000;
        s.hook_ceilings.flow_deadline_ms = 2_000;
    })
    .await;
    let a = tenant_with_hostile(&app, "default", json!({"mode": "loop"}), "fail_open", 5).await;
    let defaults = Limits::default();
    let (st, body) = app
        .put(
            "/t/default/api/hooks/hostile/limits",
            json!({"deadline_ms": defaults.deadline_ms,
                   "flow_deadline_ms": defaults.flow_deadline_ms}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let b = tenant_with_hostile(&app, "beta", json!({}), "fail_closed", 1).await;
    let (s, body) = password_grant(&app, &b, &[("scope", "openid")]).await;
    assert_eq!(s, StatusCode::OK, "B works before the attack: {body}");

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut attackers = Vec::new();
    for _ in 0..4 {
        let req = grant_request(&app, &a, &[("scope", "openid")]);
        let stop = stop.clone();
        attackers.push(tokio::spawn(async move {
            let mut sent = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = req.try_clone().unwrap();
                // Hang up after 60 ms: the request future (and its connection) is dropped.
                let _ = tokio::time::timeout(Duration::from_millis(60), r.send()).await;
                sent += 1;
            }
            sent
        }));
    }
    // Let the attack fill what it can before B starts.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    for _ in 0..40 {
        let start = Instant::now();
        let (s, body) = password_grant(&app, &b, &[("scope", "openid")]).await;
        latencies.push(start.elapsed());
        if s != StatusCode::OK {
            failures.push(format!("{s} {body}"));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sent = 0;
    for t in attackers {
        sent += t.await.unwrap();
    }
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    println!(
        "tenant B under attack ({sent} abandoned slow flows from A): {} logins, p50 {p50:?}, \
         p99 {p99:?} (bound {B_P99_BOUND:?}), {} failed",
        latencies.len(),
        failures.len()
    );
    if !failures.is_empty() {
        // Name the cause: B's traces say which hook failed and how.
        let (_, traces) = app.get("/t/beta/api/hook-traces").await;
        let failed: Vec<&Value> = traces["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["status"] != "success")
            .collect();
        panic!("B's logins failed: {failures:?}; B's failed flows: {failed:?}");
    }
    assert!(p99 < B_P99_BOUND, "B's p99 {p99:?} is over {B_P99_BOUND:?}");
}

/// docs/hooks.md "Limits": a flow has one wall-clock budget (200 ms by default), not 20 times
/// the per-hook deadline. Twenty fail-open hooks that each spin to their 50 ms deadline: the
/// first ones time out, the one running when the budget ends and every later one fail with
/// `flow_timeout`, and the flow ends near the budget instead of after a second.
#[test]
fn flow_has_one_wall_clock_budget() {
    let rt = crate::helpers::shared_runtime();
    let h = prepare(&rt, &hook("hostile"));
    let spin = Limits {
        fuel: u64::MAX / 2,
        deadline_ms: 50,
        ..Limits::default()
    };
    let steps: Vec<_> = (0..20)
        .map(|_| step(h.clone(), spin, FailurePolicy::FailOpen))
        .collect();
    let start = Instant::now();
    let out = run(&rt, &steps, &mode("loop"));
    let elapsed = start.elapsed();
    let codes: Vec<&str> = out
        .trace
        .iter()
        .map(|t| t.error_code.as_deref().unwrap_or("ok"))
        .collect();
    println!("flow of 20 spinning hooks: {elapsed:?}, {codes:?}");
    assert_eq!(codes.len(), 20, "every hook is traced");
    let first_budget = codes.iter().position(|c| *c == "flow_timeout");
    let first_budget = first_budget.expect("the budget stopped the flow");
    assert!(
        (1..=4).contains(&first_budget),
        "hooks time out on their own until the budget runs out: {codes:?}"
    );
    assert!(codes[..first_budget].iter().all(|c| *c == "timeout"));
    assert!(codes[first_budget..].iter().all(|c| *c == "flow_timeout"));
    assert!(
        elapsed < Duration::from_millis(800),
        "the flow ends near its 200 ms budget, not after 20 x 50 ms: {elapsed:?}"
    );
    // An operator may set any ceiling; the budget's arithmetic does not overflow.
    let unbounded = Limits {
        flow_deadline_ms: u64::MAX,
        ..Limits::default()
    };
    let out = run(
        &rt,
        &[step(h, unbounded, FailurePolicy::FailClosed)],
        &mode("ok"),
    );
    assert_eq!(out.status, sigil_hooks::outcome::FlowStatus::Success);
}

/// docs/hooks.md "Isolation and capacity": pool threads survive a panicking job (the caller
/// gets an error naming the panic) and the pool never shrinks. More panics than threads, then
/// as many jobs as threads must all be running at once, which only a full pool can do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_threads_survive_panicking_jobs() {
    use std::sync::{Arc, Barrier};

    use sigil_hooks::pool::{Pool, PoolError};

    let pool = Pool::new(3, "test-pool").unwrap();
    for i in 0..10 {
        let got = pool
            .spawn(move |_| -> u32 { panic!("job {i} broke") })
            .await
            .unwrap();
        assert_eq!(got, Err(PoolError::Panicked(format!("job {i} broke"))));
    }
    assert_eq!(pool.live(), 3, "no thread was lost");
    // Three jobs that can only finish together: each waits for the other two.
    let together = Arc::new(Barrier::new(3));
    let jobs: Vec<_> = (0..3)
        .map(|i| {
            let together = together.clone();
            pool.spawn(move |_| {
                together.wait();
                i
            })
        })
        .collect();
    let all = tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(jobs))
        .await
        .expect("three threads still serve");
    let got: Vec<u32> = all.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(got, vec![0, 1, 2]);
}

/// docs/hooks.md "Isolation and capacity": a cheap flow that runs inline (on the async worker
/// that admitted it, within the slice) takes no pool thread, so it neither waits for its
/// tenant's share of the pool nor uses it up, and the cap on pool threads still holds. Tenant A
/// (a cap of one flow running on the pool) has a spinning flow on the pool: A's cheap flow still
/// runs inline at once, A's second spinning flow gets `hook_capacity`, and tenant B gets the
/// other pool thread as well as its inline flows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_flows_take_no_pool_thread_and_the_tenant_cap_still_holds() {
    use sigil_hooks::host::AddableScopes;

    let rt = two_thread_runtime();
    let hostile = prepare(&rt, &hook("hostile"));
    let cheap = || {
        vec![step(
            hostile.clone(),
            Limits::default(),
            FailurePolicy::FailClosed,
        )]
    };
    let (a_cheap, b_cheap) = (cheap(), cheap());
    let login = |tenant: &'static str, steps: Vec<_>, m: &str| {
        let rt = rt.clone();
        let e = mode(m);
        async move {
            rt.run_flow(tenant, steps, e, AddableScopes::default())
                .await
        }
    };
    // One run each on the pool shows both flows cheap.
    for (tenant, steps) in [("ten_a", &a_cheap), ("ten_b", &b_cheap)] {
        let out = login(tenant, steps.clone(), "ok").await.unwrap();
        assert!(!out.ran_inline);
    }
    let spin = Limits {
        fuel: u64::MAX / 2,
        deadline_ms: 400,
        flow_deadline_ms: 1000,
        ..Limits::default()
    };
    // A fresh step's first run is on the pool; a flow waits for the pool as long as its
    // hooks' longest deadline.
    let spinner = |deadline_ms| {
        let limits = Limits {
            deadline_ms,
            ..spin
        };
        vec![step(hostile.clone(), limits, FailurePolicy::FailClosed)]
    };
    let spinning = tokio::spawn(login("ten_a", spinner(400), "loop"));
    tokio::time::sleep(Duration::from_millis(50)).await;

    let a = login("ten_a", a_cheap.clone(), "ok").await.unwrap();
    assert!(a.ran_inline, "A's cheap flow needs no pool thread: {a:?}");
    assert_eq!(a.id_token_claims["ok"], json!(true));
    assert_eq!(
        login("ten_a", spinner(50), "loop")
            .await
            .map(|o| o.status)
            .map_err(|e| e.code()),
        Err("hook_capacity"),
        "A's share of the pool is still one thread"
    );
    let b = login("ten_b", b_cheap.clone(), "ok").await.unwrap();
    assert!(b.ran_inline);
    let b_pool = login("ten_b", cheap(), "ok").await.unwrap();
    assert!(!b_pool.ran_inline, "a fresh step runs on the pool");
    assert_eq!(b_pool.status, FlowStatus::Success, "B has the other thread");

    let spun = spinning.await.unwrap().unwrap();
    assert!(!spun.ran_inline);
    assert_eq!(crate::sandbox::failure(&spun).0, "timeout");
}

both_backends!(tenant_cap_holds_when_clients_hang_up);
