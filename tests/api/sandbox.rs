//! The sandbox, exercised directly on the runtime: every hostile guest is stopped within its
//! limit with the right named error and the runtime stays healthy; the sealed WASI; the example
//! hooks; flow semantics; capacity.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sigil::runner::{LocalEvent, LocalRunner};
use sigil_hooks::event::PostLoginEvent;
use sigil_hooks::host::AddableScopes;
use sigil_hooks::outcome::{FailurePolicy, FlowOutcome, FlowStatus};
use sigil_hooks::prepare::PreparedHook;
use sigil_hooks::runtime::{FlowStep, HookRuntime, RuntimeSettings};
use sigil_hooks::upload::{self, UploadError};
use sigil_hooks::{Limits, compile};

use crate::helpers::{guest, hook, shared_runtime};

/// Hooks run through the library's local runner, as `sigil hooks test` and the benchmarks run
/// them.
pub(crate) fn prepare(rt: &Arc<HookRuntime>, bytes: &[u8]) -> Arc<PreparedHook> {
    LocalRunner::with_runtime(rt.clone())
        .prepare(bytes)
        .expect("a valid hook that implements the world")
}

pub(crate) fn event(edit: impl FnOnce(&mut Value)) -> PostLoginEvent {
    let mut v: Value = serde_json::from_str(include_str!("../../docs/sample-event.json")).unwrap();
    edit(&mut v);
    serde_json::from_value(v).unwrap()
}

pub(crate) fn mode(m: &str) -> PostLoginEvent {
    event(|e| e["user"]["user_metadata"]["mode"] = json!(m))
}

pub(crate) fn step(h: Arc<PreparedHook>, limits: Limits, policy: FailurePolicy) -> FlowStep {
    FlowStep {
        hook_id: "hook_test".into(),
        hook_name: "test".into(),
        version: 1,
        hook: h,
        policy,
        secrets: vec![("CRM_KEY".into(), "s3cr3t-value".into())],
        limits,
        allow: Default::default(),
        fuel_seen: Default::default(),
    }
}

pub(crate) fn run(rt: &Arc<HookRuntime>, steps: &[FlowStep], e: &PostLoginEvent) -> FlowOutcome {
    // Hooks may add what the event requested and `admin:all` (the example hook's scope).
    let addable = AddableScopes::new(
        e.transaction
            .requested_scopes
            .iter()
            .cloned()
            .chain(["admin:all".to_string()]),
    );
    LocalRunner::with_runtime(rt.clone()).run(steps, &LocalEvent::new(e.clone()), addable)
}

/// A runtime of the test's own, with two hook threads and one for each tenant, for tests that
/// fill the pool or hold a tenant at its cap on purpose (the shared runtime is others').
pub(crate) fn two_thread_runtime() -> Arc<HookRuntime> {
    HookRuntime::new(RuntimeSettings {
        threads: 2,
        per_tenant: 1,
        ..Default::default()
    })
    .unwrap()
}

pub(crate) fn failure(o: &FlowOutcome) -> (String, String) {
    match &o.status {
        FlowStatus::Failed { code, message, .. } => (code.clone(), message.clone()),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn hostile_guests_are_contained_with_named_errors() {
    let rt = shared_runtime();
    let h = prepare(&rt, &hook("hostile"));
    let defaults = Limits::default();
    let cases: Vec<(&str, Limits, &str)> = vec![
        ("loop", defaults, "out_of_fuel"),
        // With fuel out of the way, the wall-clock deadline stops it.
        (
            "loop",
            Limits {
                fuel: u64::MAX / 2,
                deadline_ms: 30,
                ..defaults
            },
            "timeout",
        ),
        ("memory_bomb", defaults, "out_of_memory"),
        ("recursion", defaults, "stack_overflow"),
        ("huge_claim", defaults, "output_limit"),
        ("huge_log", defaults, "output_limit"),
        ("panic", defaults, "panic"),
        ("restricted", defaults, "restricted_claim"),
        ("error", defaults, "hook_error"),
    ];
    for (m, limits, code) in cases {
        let start = Instant::now();
        let out = run(
            &rt,
            &[step(h.clone(), limits, FailurePolicy::FailClosed)],
            &mode(m),
        );
        let elapsed = start.elapsed();
        let (got, message) = failure(&out);
        assert_eq!(got, code, "{m}: {message}");
        assert!(
            out.id_token_claims.is_empty(),
            "{m}: a failed hook's claims are not kept"
        );
        assert!(elapsed < Duration::from_secs(2), "{m} took {elapsed:?}");
        // The runtime is healthy afterwards: the same component runs fine with a sane event.
        let ok = run(
            &rt,
            &[step(h.clone(), defaults, FailurePolicy::FailClosed)],
            &mode("ok"),
        );
        assert_eq!(ok.status, FlowStatus::Success, "after {m}");
        assert_eq!(ok.id_token_claims["ok"], json!(true));
    }
    let out = run(
        &rt,
        &[step(h.clone(), defaults, FailurePolicy::FailClosed)],
        &mode("panic"),
    );
    assert!(
        failure(&out).1.contains("the hook gave up: no widgets"),
        "the guest's panic message is kept"
    );
    let out = run(
        &rt,
        &[step(h.clone(), defaults, FailurePolicy::FailClosed)],
        &mode("restricted"),
    );
    assert!(failure(&out).1.contains("`sub`"));
    let out = run(
        &rt,
        &[step(h.clone(), defaults, FailurePolicy::FailClosed)],
        &mode("huge_log"),
    );
    let logged: usize = out.trace[0].logs.iter().map(|l| l.len() + 1).sum();
    assert!(logged <= defaults.log_bytes, "logs are capped: {logged}");
    let out = run(
        &rt,
        &[step(h, defaults, FailurePolicy::FailClosed)],
        &mode("secret"),
    );
    assert_eq!(
        out.id_token_claims["crm_key_len"],
        json!(12),
        "the hook sees its own secret"
    );
}

/// The SDK's bump allocator serves the first 256 KiB from static data, then grows memory; a
/// hook that allocates past that works, and every login starts from a fresh instance.
#[test]
fn allocating_past_the_sdk_arena_works_and_nothing_survives_a_login() {
    let rt = shared_runtime();
    let h = prepare(&rt, &hook("hostile"));
    // What is tested is memory, not time: a debug build on a loaded machine can take longer
    // than the 50 ms default deadline to touch a megabyte, so the deadline is moved away.
    let limits = Limits {
        deadline_ms: 2_000,
        flow_deadline_ms: 2_000,
        ..Limits::default()
    };
    for _ in 0..3 {
        let out = run(
            &rt,
            &[step(h.clone(), limits, FailurePolicy::FailClosed)],
            &mode("allocate"),
        );
        assert_eq!(out.status, FlowStatus::Success, "{:?}", out.trace);
        // 64 blocks of 16 KiB + 1 byte each, first bytes 0..63.
        let expected: u64 = (0..64).sum::<u64>() + 64 * (16 * 1024 + 1);
        assert_eq!(out.id_token_claims["sum"], json!(expected));
        let text: usize = (0..20_000u32).map(|i| i.to_string().len()).sum();
        assert_eq!(out.id_token_claims["text_len"], json!(text));
        assert_eq!(
            out.id_token_claims["runs"],
            json!(1),
            "a static counter starts from zero on every login"
        );
    }
}

#[test]
fn bad_uploads_are_refused_naming_the_reason() {
    assert!(matches!(
        upload::validate(b"\0asm\x01\0\0\0garbage"),
        Err(UploadError::NotWasm(_)) | Err(UploadError::Componentize(_))
    ));
    assert!(matches!(
        upload::validate(b"not wasm at all"),
        Err(UploadError::NotWasm(_))
    ));
    let sockets =
        wat::parse_str(r#"(component (import "wasi:sockets/tcp@0.2.0" (instance)))"#).unwrap();
    assert_eq!(
        upload::validate(&sockets).unwrap_err(),
        UploadError::ForbiddenImport("wasi:sockets/tcp@0.2.0".into())
    );
    let http =
        wat::parse_str(r#"(component (import "wasi:http/outgoing-handler@0.2.0" (instance)))"#)
            .unwrap();
    assert!(
        upload::validate(&http)
            .unwrap_err()
            .to_string()
            .contains("wasi:http/outgoing-handler@0.2.0")
    );
    let future =
        wat::parse_str(r#"(component (import "sigil:hooks/api@0.9.0" (instance)))"#).unwrap();
    assert!(matches!(
        upload::validate(&future),
        Err(UploadError::UnsupportedVersion(_))
    ));
    // A valid component of another world: it passes the import check but not the world check.
    let wrong_world = wat::parse_str(
        r#"(component
             (core module $m (func (export "run")))
             (core instance $i (instantiate $m))
             (func (export "run") (canon lift (core func $i "run"))))"#,
    )
    .unwrap();
    let rt = shared_runtime();
    let v = upload::validate(&wrong_world).unwrap();
    let c = compile::compile_here(rt.engine(), &v.component).unwrap();
    let err = rt.prepare(&v.hash, &c).unwrap_err();
    assert_eq!(err.code(), "instantiation_failed");
}

#[test]
fn wasi_guests_get_a_sealed_wasi() {
    let rt = shared_runtime();
    let h = prepare(&rt, &guest("wasm32-wasip2", "wasi_guest"));
    let e = mode("ok");
    let out = run(
        &rt,
        &[step(h, Limits::default(), FailurePolicy::FailClosed)],
        &e,
    );
    assert_eq!(out.status, FlowStatus::Success, "{:?}", out.trace);
    assert_eq!(
        out.id_token_claims["clock_ms"],
        json!(e.now_ms()),
        "the clock is frozen at the event's time"
    );
    assert_eq!(out.id_token_claims["env_count"], json!(0));
    assert!(
        out.id_token_claims["fs"]
            .as_str()
            .unwrap()
            .starts_with("error"),
        "nothing is preopened"
    );
    assert_eq!(
        out.trace[0].logs,
        vec!["hello from stdout", "hello from stderr"]
    );
}

#[test]
fn example_hooks_do_what_they_say() {
    let rt = shared_runtime();
    let d = Limits::default();
    let s = |name: &str| step(prepare(&rt, &hook(name)), d, FailurePolicy::FailClosed);

    let out = run(&rt, &[s("roles_claims")], &mode("ok"));
    assert_eq!(
        out.id_token_claims["https://sigil.example/roles"],
        json!(["admin", "billing"])
    );
    assert_eq!(
        out.access_token_claims["https://sigil.example/permissions"],
        json!(["read:reports", "write:reports"])
    );

    let out = run(&rt, &[s("tenant_id_claim")], &mode("ok"));
    assert_eq!(out.access_token_claims["tenant_id"], json!("t-1001"));
    let out = run(
        &rt,
        &[s("tenant_id_claim")],
        &event(|e| e["user"]["user_metadata"] = json!({})),
    );
    assert!(
        !out.id_token_claims.contains_key("tenant_id"),
        "only when present"
    );

    let out = run(&rt, &[s("org_tier")], &mode("ok"));
    assert_eq!(
        (
            out.access_token_claims["org_tier"].clone(),
            out.access_token_claims["department"].clone()
        ),
        (json!("gold"), json!("engineering"))
    );

    let unverified = event(|e| e["user"]["email_verified"] = json!(false));
    let out = run(
        &rt,
        &[s("require_verified_email"), s("roles_claims")],
        &unverified,
    );
    assert!(
        matches!(&out.status, FlowStatus::Denied { reason, .. } if reason.contains("verify your email"))
    );
    assert_eq!(out.trace.len(), 1, "a deny stops the flow");
    let out = run(&rt, &[s("require_verified_email")], &mode("ok"));
    assert_eq!(out.status, FlowStatus::Success);

    let out = run(&rt, &[s("admin_scopes")], &mode("ok"));
    assert_eq!(out.scopes_added, vec!["admin:all"]);
    // The hook's own trace says what it changed.
    assert_eq!(out.trace[0].scopes_added, vec!["admin:all"]);
    let blocked = event(|e| {
        e["client"]["client_metadata"]["plan"] = json!("blocked");
        e["organization"]["roles"] = json!(["member"]);
    });
    let out = run(&rt, &[s("admin_scopes")], &blocked);
    assert!(out.scopes_added.is_empty());
    assert_eq!(out.scopes_removed, vec!["write:reports"]);
    assert_eq!(out.trace[0].scopes_removed, vec!["write:reports"]);
    let mut scopes = vec!["openid".to_string(), "write:reports".to_string()];
    out.apply_scopes(&mut scopes);
    assert_eq!(scopes, vec!["openid"]);

    let e = mode("ok");
    let out = run(&rt, &[s("first_login_stamp")], &e);
    assert_eq!(out.app_metadata["first_login_at"], json!(e.now));
    let stamped =
        event(|e| e["user"]["app_metadata"]["first_login_at"] = json!("2020-01-01T00:00:00Z"));
    let out = run(&rt, &[s("first_login_stamp")], &stamped);
    assert!(out.app_metadata.is_empty(), "stamped once");
}

#[test]
fn failure_policies() {
    let rt = shared_runtime();
    let d = Limits::default();
    let hostile = prepare(&rt, &hook("hostile"));
    let roles = prepare(&rt, &hook("roles_claims"));
    let e = mode("huge_claim");
    let out = run(
        &rt,
        &[
            step(hostile.clone(), d, FailurePolicy::FailOpen),
            step(roles.clone(), d, FailurePolicy::FailClosed),
        ],
        &e,
    );
    assert_eq!(out.status, FlowStatus::Success);
    assert_eq!(out.trace[0].outcome, "failed_open");
    assert_eq!(out.trace[0].error_code.as_deref(), Some("output_limit"));
    assert!(
        !out.id_token_claims.contains_key("big"),
        "a fail-open hook's effects are discarded"
    );
    assert!(
        out.id_token_claims
            .contains_key("https://sigil.example/roles"),
        "the flow continued"
    );

    let out = run(
        &rt,
        &[
            step(hostile, d, FailurePolicy::FailClosed),
            step(roles, d, FailurePolicy::FailClosed),
        ],
        &e,
    );
    assert_eq!(failure(&out).0, "output_limit");
    assert_eq!(out.trace.len(), 1, "fail-closed stops the flow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_is_bounded_and_fails_fast() {
    // Its own runtime: this test fills a pool on purpose.
    let rt = two_thread_runtime();
    let spin = Limits {
        fuel: u64::MAX / 2,
        deadline_ms: 300,
        // Above the hook's deadline, so the hook's own deadline is what stops it.
        flow_deadline_ms: 1000,
        ..Limits::default()
    };
    let hostile = prepare(&rt, &hook("hostile"));
    let looping = mode("loop");
    let a = |rt: Arc<HookRuntime>, h: Arc<PreparedHook>, e: PostLoginEvent| async move {
        let start = Instant::now();
        let r = rt
            .run_flow(
                "ten_a",
                vec![step(h, spin, FailurePolicy::FailClosed)],
                e,
                AddableScopes::default(),
            )
            .await;
        (r, start.elapsed())
    };
    let runs: Vec<_> = (0..4)
        .map(|_| tokio::spawn(a(rt.clone(), hostile.clone(), looping.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Tenant B still gets the other thread while A spins.
    let b = rt
        .run_flow(
            "ten_b",
            vec![step(
                hostile.clone(),
                Limits::default(),
                FailurePolicy::FailClosed,
            )],
            mode("ok"),
            AddableScopes::default(),
        )
        .await
        .unwrap();
    assert_eq!(b.status, FlowStatus::Success);
    let mut capacity = 0;
    for r in runs {
        let (result, elapsed) = r.await.unwrap();
        match result {
            Err(e) => {
                assert_eq!(e.code(), "hook_capacity");
                assert!(
                    elapsed < Duration::from_millis(1500),
                    "fails within about its deadline, took {elapsed:?}"
                );
                capacity += 1;
            }
            Ok(out) => assert_eq!(failure(&out).0, "timeout"),
        }
    }
    assert!(capacity >= 1, "a tenant at its cap gets hook_capacity");
}

/// Runs `steps` for `e` through the runtime as a login does (`run_flow`, on this async task).
async fn login_flow(rt: &Arc<HookRuntime>, steps: &[FlowStep], e: PostLoginEvent) -> FlowOutcome {
    rt.run_flow("ten_inline", steps.to_vec(), e, AddableScopes::default())
        .await
        .expect("admitted")
}

/// The fuel the flow's only hook used, from its trace.
fn fuel_of(o: &FlowOutcome) -> u64 {
    assert_eq!(o.trace.len(), 1, "{o:?}");
    o.trace[0].fuel_used
}

/// A cheap flow runs on the async worker that admitted it once a run showed it cheap (the
/// first runs on the pool), with the same outcome. A login whose hook needs more fuel than the
/// inline slice is stopped at the slice's end and runs again on the pool with the hook's whole
/// limits: its result is a whole run's, from a fresh instance, and the flow goes back to the
/// pool until a run of it is cheap again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cheap_flow_runs_inline_and_one_that_outgrows_the_slice_runs_again_on_the_pool() {
    use sigil_hooks::inline::SLICE_FUEL;
    let rt = shared_runtime();
    let steps = [step(
        prepare(&rt, &hook("hostile")),
        Limits::default(),
        FailurePolicy::FailClosed,
    )];

    let first = login_flow(&rt, &steps, mode("ok")).await;
    assert!(!first.ran_inline, "its cost is not known yet: the pool");
    assert!(fuel_of(&first) < SLICE_FUEL);
    assert_eq!(steps[0].fuel_seen.get(), fuel_of(&first));
    let second = login_flow(&rt, &steps, mode("ok")).await;
    assert!(second.ran_inline, "cheap last time: inline");
    assert_eq!(second.status, FlowStatus::Success);
    assert_eq!(second.id_token_claims, first.id_token_claims);
    assert_eq!(second.id_token_claims["ok"], json!(true));

    // Past the slice: run again on the pool, with the hook's own fuel.
    let heavy = login_flow(&rt, &steps, mode("allocate")).await;
    assert_eq!(heavy.status, FlowStatus::Success, "{heavy:?}");
    assert!(!heavy.ran_inline);
    assert!(fuel_of(&heavy) > SLICE_FUEL, "{}", fuel_of(&heavy));
    assert_eq!(heavy.trace[0].outcome, "ok");
    assert_eq!(
        heavy.id_token_claims["runs"],
        json!(1),
        "the pool's run starts from a fresh instance, not the stopped one"
    );
    assert_eq!(steps[0].fuel_seen.get(), fuel_of(&heavy));
    let after = login_flow(&rt, &steps, mode("ok")).await;
    assert!(!after.ran_inline, "judged by its last, heavy run: the pool");
    assert!(login_flow(&rt, &steps, mode("ok")).await.ran_inline);

    // A spinning guest that was cheap last time: stopped at the slice, then stopped by its
    // own limit on the pool, and the error names that limit.
    let spin = login_flow(&rt, &steps, mode("loop")).await;
    assert!(!spin.ran_inline);
    let (code, message) = failure(&spin);
    let own = Limits::default();
    match code.as_str() {
        "out_of_fuel" => assert!(message.contains(&own.fuel.to_string()), "{message}"),
        "timeout" => assert!(
            message.contains(&format!("{} ms", own.deadline_ms)),
            "{message}"
        ),
        other => panic!("expected the hook's own limit, got {other}: {message}"),
    }
}

/// A hook whose own fuel limit is below the inline slice is stopped by that limit where it
/// runs, inline: the error names its limit and the flow does not run a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_whose_own_fuel_is_below_the_slice_fails_inline_naming_its_limit() {
    let rt = shared_runtime();
    let own = Limits {
        fuel: 100_000,
        ..Limits::default()
    };
    assert!(own.fuel < sigil_hooks::inline::SLICE_FUEL);
    let steps = [step(
        prepare(&rt, &hook("hostile")),
        own,
        FailurePolicy::FailClosed,
    )];
    assert!(!login_flow(&rt, &steps, mode("ok")).await.ran_inline);
    let out = login_flow(&rt, &steps, mode("allocate")).await;
    assert!(out.ran_inline);
    assert_eq!(
        failure(&out),
        (
            "out_of_fuel".to_string(),
            "the hook used its whole budget of 100000 fuel units".to_string()
        )
    );
    assert_eq!(fuel_of(&out), own.fuel);
}
