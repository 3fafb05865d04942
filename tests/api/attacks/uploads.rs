//! Uploads: compiling is bounded (workers, per-tenant rate).
//!
//! Issue 10 item 6; the contract is docs/hooks.md, "Uploads and compilation". Compiling
//! untrusted wasm is outside wasmtime's security model and is the most expensive thing a
//! tenant can make the server do, so a tenant's uploads must never take the CPUs other tenants
//! log in with. What compiling leaves behind is in [`super::artifacts`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, assert_error, hook, spawn_app, spawn_app_with};

use crate::hooks::upload_with_headers as upload;

/// A component of another world whose core module defines `n` small functions: it validates
/// (no imports), compiles (every function is compiled whether used or not), then fails the
/// world check. `salt` makes each one distinct, so nothing is served from a cache.
fn many_functions(n: usize, salt: u64) -> Vec<u8> {
    let mut wat = String::with_capacity(n * 80);
    wat.push_str("(component (core module $m (func (export \"run\"))\n");
    for i in 0..n {
        wat.push_str(&format!(
            "(func (param i32) (result i32) local.get 0 i32.const {} i32.mul i32.const {i} i32.add)\n",
            salt.wrapping_add(i as u64) as u32 as i32
        ));
    }
    wat.push_str(
        ")\n(core instance $i (instantiate $m))\n(func (export \"run\") (canon lift (core func $i \"run\"))))",
    );
    wat::parse_str(&wat).unwrap()
}

/// A tenant with a user and a confidential application allowed the password grant.
pub(super) struct Login {
    pub tenant: String,
    pub client_id: String,
    pub secret: String,
}

async fn login_tenant(app: &TestApp, tenant: &str) -> (String, Login) {
    let key = app.tenant(tenant).await;
    let (s, u) = app
        .call(
            reqwest::Method::POST,
            &format!("/t/{tenant}/api/users"),
            Some(&key),
            Some(json!({"email": "bea@example.com", "password": "correct horse battery", "email_verified": true})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let (s, a) = app
        .call(
            reqwest::Method::POST,
            &format!("/t/{tenant}/api/applications"),
            Some(&key),
            Some(json!({"name": "web", "grant_types": ["password"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let login = Login {
        tenant: tenant.into(),
        client_id: a["client_id"].as_str().unwrap().into(),
        secret: a["client_secret"].as_str().unwrap().into(),
    };
    (key, login)
}

pub(super) async fn password_grant(app: &TestApp, l: &Login) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/t/{}/oauth/token", app.base, l.tenant))
        .basic_auth(&l.client_id, Some(&l.secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "bea@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Successful password grants per second over `window`, from `clients` concurrent clients.
async fn grant_rate(app: &Arc<TestApp>, l: &Arc<Login>, clients: usize, window: Duration) -> f64 {
    let ok = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (app, l, ok, stop) = (app.clone(), l.clone(), ok.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let (s, body) = password_grant(&app, &l).await;
                    assert_eq!(s, StatusCode::OK, "{body}");
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    // Count what completed inside the window only.
    let done = ok.load(Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    for t in tasks {
        t.await.unwrap();
    }
    done as f64 / secs
}

/// The best rate of `n` consecutive windows. Other tests run beside this one and can only take
/// CPU away from a window, never give it, so the best window of each condition is the fairest
/// estimate of what that condition leaves the tenant (the same estimator on both sides).
async fn best_rate(
    app: &Arc<TestApp>,
    l: &Arc<Login>,
    clients: usize,
    window: Duration,
    n: usize,
) -> Vec<f64> {
    let mut rates = Vec::with_capacity(n);
    for _ in 0..n {
        rates.push(grant_rate(app, l, clients, window).await);
    }
    rates
}

fn best(rates: &[f64]) -> f64 {
    rates.iter().copied().fold(0.0, f64::max)
}

/// Item 6 (docs/hooks.md "Uploads and compilation"): compiling is bounded. One tenant uploads
/// four distinct 100,000-function components at once, which without bounds means four
/// compilers each with a thread per core; another tenant's password grants keep at least half
/// their throughput, measured in this test before and during the compile load. The 50% bound
/// is the contract; with one single-threaded, lower-priority worker the measured ratio is well
/// above it (69% to 78% here) when nothing else runs: `scripts/test.sh` runs this test alone,
/// after the rest of the suite, because a neighbouring test's load during the measured
/// windows is not something the contract is about.
async fn compile_load_leaves_other_tenants_half_their_login_throughput(db: Db) {
    // A debug build of the worker does not compile such a component within its CPU-time
    // limit, so each upload holds its worker for the whole limit (a release build compiles it,
    // and the world check refuses it): compile load either way. The limit is 4 s here, not the
    // default 10 s, so the load (4 uploads one after the other: 16 s or more) outlasts the
    // measurement without slowing the rest of the suite, running beside this test, for longer.
    let app = Arc::new(spawn_app_with(db, |s| s.compiler.timeout = Duration::from_secs(4)).await);
    let (a_key, _) = login_tenant(&app, "alpha").await;
    let (_, b) = login_tenant(&app, "beta").await;
    let b = Arc::new(b);
    let components: Vec<Vec<u8>> = (0..4u64)
        .map(|i| many_functions(100_000, i * 7_919 + 1))
        .collect();
    println!(
        "components: 4 x {} KiB, 100,000 functions each",
        components[0].len() / 1024
    );
    // Warm up the login path (first connections, key material, caches).
    for _ in 0..5 {
        assert_eq!(password_grant(&app, &b).await.0, StatusCode::OK);
    }
    let clients = 4;
    let window = Duration::from_secs(2);
    let before = best_rate(&app, &b, clients, window, 2).await;

    let started = Instant::now();
    let uploads: Vec<_> = components
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let (app, key) = (app.clone(), a_key.clone());
            tokio::spawn(async move {
                let r = upload(&app, &key, "alpha", &format!("big{i}"), c).await;
                (r, started.elapsed())
            })
        })
        .collect();
    // Let validation finish and the first compile start.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let under_load = best_rate(&app, &b, clients, window, 3).await;
    let window_end = started.elapsed();
    let mut finished = Vec::new();
    for u in uploads {
        let ((status, _, body), at) = u.await.unwrap();
        let message = body["message"].as_str().unwrap_or_default().to_string();
        println!("upload done after {at:.1?}: {status} {message}");
        // Each one was compiled, then refused by the world check or stopped by the time
        // limit: either way a worker ran for it.
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            message.contains("does not implement the world")
                || message.contains("compilation took longer than")
                || message.contains("compilation did not finish within"),
            "{message}"
        );
        finished.push(at);
    }
    // The baseline is measured on both sides of the load, so a neighbour's build starting or
    // stopping on a shared machine skews the ratio less; each side keeps its best window.
    let after = best_rate(&app, &b, clients, window, 2).await;
    let baseline = best(&before).max(best(&after));
    let ratio = best(&under_load) / baseline;
    println!(
        "tenant beta password grants/s ({clients} clients, {window:?} windows): baseline {baseline:.1} \
         (before {before:.1?}, after {after:.1?}), during compile load {under_load:.1?} (best {:.0}% of baseline)",
        ratio * 100.0
    );
    assert!(
        finished.iter().any(|at| *at >= window_end),
        "the compile load lasted the whole measurement window (uploads finished at {finished:?}, \
         window ended at {window_end:?})"
    );
    assert!(
        ratio >= 0.5,
        "another tenant's logins kept {:.0}% of their throughput (contract: >= 50%)",
        ratio * 100.0
    );
}

/// Item 6 (docs/hooks.md "Uploads and compilation"; 429 is RFC 6585 section 4, `Retry-After`
/// RFC 9110 section 10.2.3): a tenant over its upload allowance gets `429` with a JSON error
/// naming the limit and a `Retry-After`, before anything is validated or compiled; another
/// tenant is unaffected.
async fn uploads_over_the_rate_limit_get_429_with_retry_after(db: Db) {
    let app = spawn_app(db).await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let burst = sigil_hooks::admission::UploadRate::default().burst;
    for i in 0..burst {
        let (s, _, body) = upload(&app, &a, "alpha", "roles", hook("roles_claims")).await;
        assert_eq!(s, StatusCode::CREATED, "upload {i}: {body}");
    }
    let (s, headers, body) = upload(&app, &a, "alpha", "roles", hook("roles_claims")).await;
    assert_error(
        &(s, body.clone()),
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        None,
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("per minute") && message.contains(&burst.to_string()),
        "the message names the limit: {message}"
    );
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    // Refused before anything else: even garbage gets 429, not 400.
    let (s, _, _) = upload(&app, &a, "alpha", "junk", b"not wasm".to_vec()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let list = app
        .call(
            reqwest::Method::GET,
            "/t/alpha/api/hooks/roles",
            Some(&a),
            None,
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        list["versions"].as_array().unwrap().len(),
        burst as usize,
        "a refused upload stores no version"
    );
    // Another tenant has its own allowance.
    let (s, _, body) = upload(&app, &b, "beta", "roles", hook("roles_claims")).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
}

both_backends!(
    #[ignore = "a throughput measurement: scripts/test.sh runs it alone, after the suite"]
    compile_load_leaves_other_tenants_half_their_login_throughput,
    uploads_over_the_rate_limit_get_429_with_retry_after,
);
