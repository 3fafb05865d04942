//! The fault run (issue 13, item 7; `scripts/faults.sh` runs it with its report shown): three
//! nodes behind HAProxy on a PostgreSQL server of the run's own, under a closed loop of
//! refresh-token chains, authorization-code flows and metadata-writing logins; one node is
//! killed with `kill -9` mid-load and started again, then PostgreSQL is restarted mid-load.
//! Clients retry a failed request once on a connection error or a 502/503/504. Then what the
//! clients were given is checked against the database, and the report printed:
//!
//! - refresh chains broken by the faults, by kind (goal 0: a refresh whose answer was lost is
//!   retried within the grace window and gets the same successor);
//! - codes redeemed twice (0) and refresh tokens accepted twice outside the grace window (0);
//! - metadata writes acknowledged but missing (0);
//! - tokens whose grant row is missing (0);
//! - hook traces lost (at most what a killed node holds in memory: `flows::traces`).
//!
//! Loopback only, bounded in time (about a minute and a half on a debug build).

// A load generator measures real time.
#![allow(clippy::disallowed_methods)]

mod audit;
mod cluster;
mod load;
mod postgres;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use load::{Shared, Target};

/// Clients of each kind.
const CHAINS: usize = 32;
const CODE_FLOWS: usize = 32;
const METADATA_WRITERS: usize = 8;
/// The load's phases, from its start.
const KILL_AT: Duration = Duration::from_secs(6);
const RESTART_NODE_AT: Duration = Duration::from_secs(9);
const RESTART_DATABASE_AT: Duration = Duration::from_secs(15);
const LOAD_FOR: Duration = Duration::from_secs(24);
/// The node killed (1-based).
const VICTIM: usize = 2;
/// The nodes' refresh retry grace window (their default).
const GRACE: Duration = Duration::from_secs(sigil::config::DEFAULT_REFRESH_RETRY_GRACE_SECONDS);
/// What a killed node can hold of traces not yet stored: one batch (`flows::traces`).
const TRACES_AT_RISK: usize = sigil::flows::traces::BATCH;
const PASSWORD: &str = "correct horse battery staple";
const REDIRECT: &str = "https://app.example.com/callback";

/// Runs `cmd` to its end; an error holding its output unless it succeeded.
fn run(cmd: &mut std::process::Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_run_loses_nothing_a_client_was_told_was_done() -> Result<()> {
    let pg = postgres::OwnPostgres::start(free_port())?;
    let mut admin = sqlx::PgConnection::connect(&pg.url("postgres")).await?;
    sqlx::query("CREATE DATABASE sigil_faults")
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let url = pg.url("sigil_faults");
    let cluster = cluster::Cluster::up(
        3,
        &url,
        free_port(),
        &[
            // Light argon2id: the run is about faults, not password hashing.
            ("SIGIL_ARGON2_MEMORY_KIB", "4096"),
            ("SIGIL_ARGON2_PASSES", "1"),
            // Every trace kept, so each token's trace can be looked up.
            ("SIGIL_TRACES_KEPT", "100000000"),
        ],
    )?;
    let target = setup(&cluster).await?;

    let rec = Shared::default();
    let stop = Instant::now() + LOAD_FOR;
    let mut clients = Vec::new();
    for i in 0..CHAINS {
        clients.push(tokio::spawn(load::refresh_chain(
            rec.clone(),
            target.clone(),
            format!("chain{i}@example.com"),
            stop,
        )));
    }
    for i in 0..CODE_FLOWS {
        clients.push(tokio::spawn(load::code_flows(
            rec.clone(),
            target.clone(),
            format!("browser{i}@example.com"),
            stop,
        )));
    }
    for i in 0..METADATA_WRITERS {
        clients.push(tokio::spawn(load::metadata_logins(
            rec.clone(),
            target.clone(),
            format!("writer{i}@example.com"),
            stop,
        )));
    }
    let started = Instant::now();
    let at = |t: Duration| tokio::time::sleep_until((started + t).into());
    let cluster = std::sync::Arc::new(cluster);
    let blocking = |f: Box<dyn FnOnce() -> Result<()> + Send>| tokio::task::spawn_blocking(f);
    at(KILL_AT).await;
    let c = cluster.clone();
    blocking(Box::new(move || c.kill_node(VICTIM))).await??;
    at(RESTART_NODE_AT).await;
    let c = cluster.clone();
    blocking(Box::new(move || c.start_node(VICTIM))).await??;
    at(RESTART_DATABASE_AT).await;
    let pg = std::sync::Arc::new(pg);
    let p = pg.clone();
    let away = tokio::task::spawn_blocking(move || p.restart()).await??;
    for c in clients {
        c.await?;
    }
    // SIGTERM: the nodes drain and store their queued traces.
    drop(cluster);

    let rec = std::sync::Arc::try_unwrap(rec)
        .map_err(|_| anyhow::anyhow!("clients still hold the record"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a client panicked"))?;
    let v = audit::audit(&url, &rec, GRACE).await?;
    report(&rec, &v, away, started);

    let broken: u32 = rec.chains_broken.values().sum();
    ensure!(
        v.issued > 200,
        "too little load to mean anything: {} tokens",
        v.issued
    );
    ensure!(
        broken == 0,
        "refresh chains broken: {:?}",
        rec.chains_broken
    );
    ensure!(v.codes_redeemed_twice == 0, "codes redeemed twice");
    ensure!(
        v.refresh_accepted_twice_outside_grace == 0,
        "refresh tokens accepted twice outside the grace window"
    );
    ensure!(
        v.metadata_writes_missing == 0,
        "acknowledged metadata writes missing"
    );
    ensure!(v.tokens_without_grant == 0, "tokens without a grant row");
    ensure!(
        v.traces_lost.len() <= TRACES_AT_RISK,
        "{} traces lost, more than a killed node can hold ({TRACES_AT_RISK})",
        v.traces_lost.len()
    );
    drop(pg);
    Ok(())
}

fn report(rec: &load::Record, v: &audit::Verdict, away: Duration, started: Instant) {
    println!(
        "== fault run: 3 nodes behind HAProxy, one kill -9 and restart, one PostgreSQL restart ({away:.1?} away)"
    );
    println!("completed        {:?}", rec.completed);
    println!("retried          {:?}", rec.retries);
    println!("gave up (later)  {:?}", rec.gave_up);
    println!("tokens issued    {}", v.issued);
    println!("chains broken    {:?} (goal: none)", rec.chains_broken);
    println!("code flows lost  {:?}", rec.codes_lost);
    println!(
        "codes redeemed twice                        {}",
        v.codes_redeemed_twice
    );
    println!(
        "refresh accepted twice outside the window   {}",
        v.refresh_accepted_twice_outside_grace
    );
    println!(
        "refresh accepted twice within it (retries)  {}",
        v.refresh_accepted_twice_within_grace
    );
    println!(
        "metadata writes acknowledged but missing    {}",
        v.metadata_writes_missing
    );
    println!(
        "metadata writes stored but not acknowledged {}",
        v.metadata_writes_unacknowledged
    );
    println!(
        "tokens whose grant row is missing           {}",
        v.tokens_without_grant
    );
    let mut by_second = std::collections::BTreeMap::<u64, usize>::new();
    for at in &v.traces_lost {
        *by_second
            .entry(at.saturating_duration_since(started).as_secs())
            .or_default() += 1;
    }
    println!(
        "hook traces lost                            {} (at most {TRACES_AT_RISK}); by second of the run: {by_second:?}",
        v.traces_lost.len()
    );
    println!(
        "(node {VICTIM} was killed at {KILL_AT:?} and started at {RESTART_NODE_AT:?}; PostgreSQL restarted at {RESTART_DATABASE_AT:?}; logs in {})",
        cluster::kept_logs().display()
    );
}

/// The tenant: the hostile test guest bound fail-closed (its default mode sets a claim, its
/// `count` mode writes `user_metadata.logins`), one application, and the users.
async fn setup(cluster: &cluster::Cluster) -> Result<Target> {
    let key = cluster.operator_key()?;
    let http = reqwest::Client::new();
    let base = &cluster.base;
    let call = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{base}{path}"))
            .bearer_auth(&key)
    };
    let expect = |res: reqwest::Response, status: StatusCode| async move {
        let got = res.status();
        let body = res.text().await.unwrap_or_default();
        ensure!(got == status, "{got}: {body}");
        Ok::<Value, anyhow::Error>(serde_json::from_str(&body).unwrap_or(Value::Null))
    };
    let wasm = std::fs::read(sigil_test_guests::path(
        sigil_test_guests::HOOK_TARGET,
        "hostile",
    ))
    .context("the hostile test guest")?;
    expect(
        call(reqwest::Method::POST, "/t/default/api/hooks/probe/versions")
            .body(wasm)
            .send()
            .await?,
        StatusCode::CREATED,
    )
    .await?;
    expect(
        call(reqwest::Method::POST, "/t/default/api/hooks/probe/deploy")
            .json(&json!({"version": 1}))
            .send()
            .await?,
        StatusCode::OK,
    )
    .await?;
    expect(
        call(reqwest::Method::PUT, "/t/default/api/flows/post-login")
            .json(&json!({"bindings": [{"hook": "probe", "failure_policy": "fail_closed"}]}))
            .send()
            .await?,
        StatusCode::OK,
    )
    .await?;
    let app = expect(
        call(reqwest::Method::POST, "/t/default/api/applications")
            .json(
                &json!({"name": "faults", "redirect_uris": [REDIRECT], "first_party": true,
                "grant_types": ["password", "refresh_token", "authorization_code"]}),
            )
            .send()
            .await?,
        StatusCode::CREATED,
    )
    .await?;
    let users = (0..CHAINS)
        .map(|i| (format!("chain{i}@example.com"), json!({})))
        .chain((0..CODE_FLOWS).map(|i| (format!("browser{i}@example.com"), json!({}))))
        .chain((0..METADATA_WRITERS).map(|i| {
            (
                format!("writer{i}@example.com"),
                json!({"mode": "count", "logins": 0}),
            )
        }));
    for (email, meta) in users {
        expect(
            call(reqwest::Method::POST, "/t/default/api/users")
                .json(
                    &json!({"email": email, "password": PASSWORD, "email_verified": true,
                    "user_metadata": meta}),
                )
                .send()
                .await?,
            StatusCode::CREATED,
        )
        .await?;
    }
    Ok(Target {
        base: base.clone(),
        client_id: app["client_id"].as_str().context("client_id")?.into(),
        secret: app["client_secret"]
            .as_str()
            .context("client_secret")?
            .into(),
        redirect: REDIRECT.into(),
        password: PASSWORD.into(),
    })
}
