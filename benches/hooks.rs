//! Hook runtime benchmarks, with the production settings (pooling allocator, fuel and epoch
//! deadline on, default limits).
//!
//! - `noop_hook`: the baseline, a hook that does nothing (the runtime's fixed cost: event
//!   conversion, new store, instantiate, call, drop).
//! - `one_hook`: build the event, new store, instantiate, call, collect the claims, drop.
//! - `three_hook_flow`: the same for a flow of three example hooks.
//! - `three_noop_flow`: a flow of three hooks that do nothing: the least three hooks can cost
//!   a login (each a fresh store and instance, the sandbox's rule; docs/performance.md).
//! - `jwt_template_render`: a parsed five-claim JWT template rendered against the event (and
//!   with the event's conversion to JSON, as the token pipeline does it).
//! - then a latency pass printing median and p99 of each, from rounds that interleave the three
//!   so a slow spell of this noisy machine hits them alike, with ratios to the baseline; and
//!   the isolation measurement: a well-behaved hook of tenant B, alone and while four
//!   infinite-loop hooks of tenant A run.
//!
//! Hooks run through the library's local runner (`sigil::runner`), as `sigil hooks test` and
//! the tests run them.
//!
//! Run: `cargo bench --bench hooks` (crates/test-guests builds the hooks it runs)

// These benchmarks measure real elapsed time (the server under test takes its time from the
// injected clock), so the workspace's ban on `Instant::now` does not apply to them.
#![allow(clippy::disallowed_methods)]

/// The allocator the `sigil` binary runs with (src/main.rs), so the hooks cost here what
/// they cost in the server.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, black_box};
use sigil::runner::{self, LocalEvent, LocalRunner};
use sigil_hooks::Limits;
use sigil_hooks::event::PostLoginEvent;
use sigil_hooks::host::AddableScopes;
use sigil_hooks::prepare::PreparedHook;
use sigil_hooks::runtime::{FlowStep, HookRuntime, RuntimeSettings};

/// An example hook or test guest, built by crates/test-guests (a dev-dependency).
fn hook(name: &str) -> Vec<u8> {
    let path = sigil_test_guests::path(sigil_test_guests::HOOK_TARGET, name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn prepare(runner: &LocalRunner, name: &str) -> Arc<PreparedHook> {
    runner.prepare(&hook(name)).unwrap()
}

/// An example hook or guest as built against contract 0.1.0 (the SDK's `contract-0-1`).
fn prepare_0_1(runner: &LocalRunner, name: &str) -> Arc<PreparedHook> {
    runner
        .prepare(&std::fs::read(sigil_test_guests::path_0_1(name)).unwrap())
        .unwrap()
}

/// Prints the median and p99 of `samples`, and the median's ratio to the baseline's `b50`.
fn report(label: &str, samples: Vec<Duration>, b50: f64) {
    let n = samples.len();
    let (p50, p99) = percentiles(samples);
    println!(
        "latency {:<16} median {p50:7.1} us   p99 {p99:7.1} us   ({n} runs, {:.2}x baseline median)",
        format!("{label}:"),
        p50 / b50
    );
}

fn step(h: Arc<PreparedHook>, limits: Limits) -> FlowStep {
    runner::step("bench", h, limits, vec![], Default::default())
}

fn event() -> PostLoginEvent {
    serde_json::from_str(include_str!("../docs/sample-event.json")).unwrap()
}

fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (us(v[v.len() / 2]), us(v[v.len() * 99 / 100]))
}

fn main() {
    // The production runtime's sizing (the isolation pass below uses its pool).
    let runner = LocalRunner::with_runtime(HookRuntime::new(RuntimeSettings::default()).unwrap());
    let roles = prepare(&runner, "roles_claims");
    let flow = vec![
        step(roles.clone(), Limits::default()),
        step(prepare(&runner, "org_tier"), Limits::default()),
        step(prepare(&runner, "tenant_id_claim"), Limits::default()),
    ];
    let one = vec![step(roles.clone(), Limits::default())];
    let noop = vec![step(prepare(&runner, "noop"), Limits::default())];
    let noops = vec![noop[0].clone(); 3];
    let local = LocalEvent::new(event());
    let e = local.event().clone();

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("noop_hook", |b| {
        b.iter(|| black_box(runner.run(&noop, black_box(&local), AddableScopes::default())))
    });
    c.bench_function("one_hook", |b| {
        b.iter(|| black_box(runner.run(&one, black_box(&local), AddableScopes::default())))
    });
    c.bench_function("three_hook_flow", |b| {
        b.iter(|| black_box(runner.run(&flow, black_box(&local), AddableScopes::default())))
    });
    c.bench_function("three_noop_flow", |b| {
        b.iter(|| black_box(runner.run(&noops, black_box(&local), AddableScopes::default())))
    });
    // JWT templates as the token pipeline runs them: the event to JSON, then the render of a
    // parsed five-claim template (the README's examples).
    let template = sigil::templates::Template::parse(
        &serde_json::json!({
            "department": "{{user.user_metadata.department}}",
            "org_tier": "{{organization.metadata.tier}}",
            "full_name": "{{user.given_name}} {{user.family_name}}",
            "https://example.com/roles": "{{user.app_metadata.roles}}",
            "region": "{{user.user_metadata.region || organization.metadata.region || 'eu'}}"
        }),
        sigil_hooks::host::RESTRICTED_CLAIMS,
        &Default::default(),
    )
    .unwrap();
    let ev_json = serde_json::to_value(&e).unwrap();
    c.bench_function("jwt_template_render", |b| {
        b.iter(|| black_box(template.render(black_box(&ev_json))))
    });
    c.bench_function("jwt_template_event_to_json_and_render", |b| {
        b.iter(|| {
            let v = serde_json::to_value(black_box(&e)).unwrap();
            black_box(template.render(&v))
        })
    });
    c.final_summary();

    // Criterion gives medians; this pass adds the p99 (and runs only under `cargo bench`).
    if std::env::args().any(|a| a == "--bench") {
        let sample = |steps: &[FlowStep], n: usize| {
            (0..n)
                .map(|_| {
                    let t = Instant::now();
                    black_box(runner.run(steps, &local, AddableScopes::default()));
                    t.elapsed()
                })
                .collect::<Vec<_>>()
        };
        sample(&flow, 2_000);
        const ROUNDS: usize = 10;
        const PER_ROUND: usize = 2_000;
        let (mut base, mut single, mut triple) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            base.extend(sample(&noop, PER_ROUND));
            single.extend(sample(&one, PER_ROUND));
            triple.extend(sample(&flow, PER_ROUND));
        }
        let n = ROUNDS * PER_ROUND;
        let (b50, b99) = percentiles(base);
        println!(
            "latency noop_hook:       median {b50:7.1} us   p99 {b99:7.1} us   ({n} runs, baseline)"
        );
        report("one_hook", single, b50);
        report("three_hook_flow", triple, b50);
        let (p50, p99) = percentiles(
            (0..20_000)
                .map(|_| {
                    let t = Instant::now();
                    let v = serde_json::to_value(&e).unwrap();
                    black_box(template.render(&v));
                    t.elapsed()
                })
                .collect(),
        );
        println!(
            "latency jwt_template:    median {p50:7.1} us   p99 {p99:7.1} us   (20000 runs, event to JSON + render)"
        );
        // The same hook built against contract 0.1.0 (the SDK's `contract-0-1`), for the
        // cost of each version's event and bindings.
        let one_old = vec![step(
            prepare_0_1(&runner, "roles_claims"),
            Limits::default(),
        )];
        let noop_old = vec![step(prepare_0_1(&runner, "noop"), Limits::default())];
        let (mut n1, mut n2, mut v1, mut v2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            n1.extend(sample(&noop_old, PER_ROUND));
            n2.extend(sample(&noop, PER_ROUND));
            v1.extend(sample(&one_old, PER_ROUND));
            v2.extend(sample(&one, PER_ROUND));
        }
        report("noop_hook 0.1.0", n1, b50);
        report("noop_hook 0.2.0", n2, b50);
        report("one_hook 0.1.0", v1, b50);
        report("one_hook 0.2.0", v2, b50);
        isolation(&runner, roles);
        fetch_concurrency();
    }
}

/// 200 logins of tenant A at once, each of whose hook waits 200 ms on its API (a local server
/// that answers after 200 ms), while tenant B's pure hook runs one login after another: the
/// wall time of A's 200, and B's latency beside it and alone.
fn fetch_concurrency() {
    use sigil_hooks::fetch::FetchSettings;
    use sigil_hooks::fetch::allow::{AllowList, AllowRule};

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let port = tokio.block_on(async {
        let app = axum::Router::new().route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                "ok"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        port
    });
    let mut fetch = FetchSettings::new();
    fetch.allow_http = true;
    fetch.ranges =
        sigil_hooks::fetch::address::AllowedRanges::new(vec!["127.0.0.0/8".parse().unwrap()]);
    fetch.resolve = [("crm.bench".to_string(), vec!["127.0.0.1".parse().unwrap()])].into();
    let rt = HookRuntime::with_fetch(RuntimeSettings::default(), fetch).unwrap();
    let runner = LocalRunner::with_runtime(rt.clone());
    let fetcher = prepare(&runner, "fetcher");
    let roles = prepare(&runner, "roles_claims");
    let allow = Arc::new(
        AllowList::new(vec![AllowRule {
            host: "crm.bench".into(),
            paths: vec!["/slow".into()],
            methods: vec![],
        }])
        .unwrap(),
    );
    let waiting = Limits {
        deadline_ms: 2_000,
        flow_deadline_ms: 3_000,
        ..Limits::default()
    };
    let mut a_event = event();
    a_event.user.user_metadata = serde_json::json!({
        "fetch": {"url": format!("http://crm.bench:{port}/slow")}
    });
    let e = event();
    let b_run = |n: usize| b_logins(rt.clone(), roles.clone(), e.clone(), n);
    let (solo50, solo99) = percentiles(tokio.block_on(b_run(3_000)));
    let a_wave = || {
        let mut a = Vec::new();
        for _ in 0..200 {
            let mut s = step(fetcher.clone(), waiting);
            s.allow = allow.clone();
            let (rt, ev) = (rt.clone(), a_event.clone());
            a.push(tokio.spawn(async move {
                rt.run_flow("ten_a", vec![s], ev, AddableScopes::default())
                    .await
            }));
        }
        a
    };
    // One wave alone for the wall time, then one with tenant B beside it.
    let t = Instant::now();
    let wave = a_wave();
    let answered = tokio.block_on(async {
        let mut ok = 0;
        for h in wave {
            let out = h.await.unwrap().unwrap();
            ok += usize::from(out.id_token_claims.get("status") == Some(&serde_json::json!(200)));
        }
        ok
    });
    let wall = t.elapsed();
    let wave = a_wave();
    let beside = tokio.block_on(async {
        let b = tokio::spawn(b_run(3_000));
        for h in wave {
            let _ = h.await;
        }
        b.await.unwrap()
    });
    let (load50, load99) = percentiles(beside);
    println!(
        "fetch: 200 logins of tenant A, each hook waiting 200 ms on its API: all done in {:.0} ms ({answered} of 200 answered 200)",
        wall.as_secs_f64() * 1e3
    );
    println!(
        "fetch: tenant B's pure hook alone:         median {solo50:7.1} us   p99 {solo99:7.1} us"
    );
    println!(
        "fetch: tenant B's pure hook beside A's 200: median {load50:7.1} us   p99 {load99:7.1} us"
    );
}

/// `n` logins of tenant B, one after another, each running `roles` through the pool: their
/// latencies.
async fn b_logins(
    rt: Arc<HookRuntime>,
    roles: Arc<PreparedHook>,
    e: PostLoginEvent,
    n: usize,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = rt
            .run_flow(
                "ten_b",
                vec![step(roles.clone(), Limits::default())],
                e.clone(),
                AddableScopes::default(),
            )
            .await;
        assert!(r.is_ok());
        out.push(t.elapsed());
    }
    out
}

/// Tenant B's hook through the pool, alone and while tenant A keeps four infinite loops in
/// flight (each stopped at its 50 ms deadline, then resubmitted).
fn isolation(runner: &LocalRunner, roles: Arc<PreparedHook>) {
    let rt = runner.runtime();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let hostile = prepare(runner, "hostile");
    let mut looping = event();
    looping.user.user_metadata["mode"] = serde_json::json!("loop");
    let spin = Limits {
        fuel: u64::MAX / 2,
        ..Limits::default()
    };
    let e = event();
    let b_run = |n: usize| tokio.block_on(b_logins(rt.clone(), roles.clone(), e.clone(), n));
    let (solo50, solo99) = percentiles(b_run(5_000));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut spinners = Vec::new();
    for _ in 0..4 {
        let (rt, h, ev, stop) = (rt.clone(), hostile.clone(), looping.clone(), stop.clone());
        spinners.push(tokio.spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = rt
                    .run_flow(
                        "ten_a",
                        vec![step(h.clone(), spin)],
                        ev.clone(),
                        AddableScopes::default(),
                    )
                    .await;
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(100));
    let (load50, load99) = percentiles(b_run(5_000));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in spinners {
        let _ = tokio.block_on(s);
    }
    println!("isolation tenant B solo:            median {solo50:7.1} us   p99 {solo99:7.1} us");
    println!(
        "isolation tenant B, A spinning x4:  median {load50:7.1} us   p99 {load99:7.1} us   (bound: 2 x solo p99 + 1 ms = {:.1} us)",
        2.0 * solo99 + 1000.0
    );
}
