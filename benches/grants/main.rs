//! Load benchmark of the token endpoint on loopback: refresh grants (the hot path of every
//! app) and password grants, with RS256 and ES256, with no hooks and with a three-hook flow, on
//! SQLite, on PostgreSQL, and on PostgreSQL with one and two nodes behind HAProxy; next to the
//! raw signing rate measured in the same run (a grant signs twice: the physical limit). Each
//! Sigil runs as its own processes (`sigil serve`, or `scripts/cluster.sh`), so the CPU each
//! grant costs the nodes, the balancer and the database is read from `/proc` apart from the
//! load generator. A last pass counts the database round trips and transactions of one grant
//! through a wire-protocol proxy.
//!
//! Run: `cargo bench --bench grants` (all targets), or name some:
//! `cargo bench --bench grants -- peer sqlite postgres haproxy-1 haproxy-2 round-trips`.
//! `peer` is the reference peer, node `oidc-provider` with in-memory storage
//! (`../shared/peers/oidc-provider`, installed by `scripts/setup-peer.sh`), measured in the same
//! run with the same load, and every refresh row is then also given as a ratio to it.
//! `SIGIL_BENCH_POSTGRES` is the server (default `postgres://postgres@127.0.0.1:5432`; each
//! target gets a fresh database, dropped after). `SIGIL_BENCH_ROUNDS` (default 3) and
//! `SIGIL_BENCH_SECONDS` (default 5) set the rounds: each configuration alternates no-hook and
//! three-hook rounds and reports its median round, and the hooks' cost as the median of the
//! per-round ratios (this machine's speed drifts by more than the effect measured).
//! HAProxy comes from `scripts/setup-cluster-tools.sh`. `SIGIL_BENCH_BASELINE=PATH` adds the
//! target `baseline`: the `sigil` binary at PATH (an earlier build) on SQLite, measured in the
//! same run as the others, so a change is read against what it changed; `baseline-postgres`
//! runs it on PostgreSQL. With it, `ab` (SQLite) and `ab-postgres` run the earlier build and
//! this one side by side, alternating their ES256 refresh rounds, and report the per-round
//! ratios: the machine drifts too much between targets for anything else to compare builds.
//! `SIGIL_BENCH_PERF=DIR` also records a `perf` profile of the servers during each
//! configuration's first round (`profile.rs`; `SIGIL_BENCH_PERF_CALL_GRAPH=dwarf` for call
//! graphs through code without frame pointers). `SIGIL_BENCH_HOOK_SET=noop` makes the three
//! hooks ones that do nothing (the cost of running a flow at all).

// These benchmarks measure real elapsed time (the server under test takes its time from the
// injected clock), so the workspace's ban on `Instant::now` does not apply to them.
#![allow(clippy::disallowed_methods)]

mod cpu;
mod load;
mod profile;
mod servers;
mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use load::{Env, Stats};
use servers::Server;

/// Concurrent clients (each a refresh-token chain).
const CLIENTS: usize = 16;
const PASSWORD: &str = "correct horse battery";

/// An example hook or test guest, built by crates/test-guests (a dev-dependency): built
/// against contract 0.1.0 when an earlier build is compared (`SIGIL_BENCH_BASELINE`), which
/// binds only that version, so that both builds run the same hooks; else the SDK's default.
fn hook(name: &str) -> Vec<u8> {
    let path = if std::env::var_os("SIGIL_BENCH_BASELINE").is_some() {
        sigil_test_guests::path_0_1(name)
    } else {
        sigil_test_guests::path(sigil_test_guests::HOOK_TARGET, name)
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return; // `cargo test --all-targets` builds this; only `cargo bench` runs it
    }
    let named: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    let wanted = |t: &str| named.is_empty() || named.contains(&t);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(&wanted));
}

async fn run(wanted: &dyn Fn(&str) -> bool) {
    let rounds = env_number("SIGIL_BENCH_ROUNDS", 3) as usize;
    let seconds = Duration::from_secs(env_number("SIGIL_BENCH_SECONDS", 5));
    let pg = std::env::var("SIGIL_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());

    println!("raw signing (2 threads):");
    for alg in ["RS256", "ES256"] {
        let rate = signing_rate(alg);
        println!(
            "  {alg}: {rate:.0} signatures/s -> {:.0} grants/s at 2 signatures each",
            rate / 2.0
        );
    }
    println!(
        "\n{CLIENTS} clients, closed loop; median of {rounds} rounds of {seconds:?}; CPU in us per grant; server switches: the server's context switches per grant"
    );
    println!(
        "\n| target | grant | alg | hooks | grants/s | p50 ms | p99 ms | server CPU | server switches | haproxy CPU | postgres CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut peer = Vec::new();
    if wanted("peer") {
        peer = measure_peer(rounds, seconds).await;
    }
    let mut refresh_rows = Vec::new();
    let mut threads = Vec::new();
    // An earlier build of `sigil` on SQLite, first, to read each change against in one run.
    if let Some(bin) = std::env::var_os("SIGIL_BENCH_BASELINE").filter(|_| wanted("baseline")) {
        let server = Server::single_of(std::path::Path::new(&bin), None);
        refresh_rows.extend(measure("baseline", &server, rounds, seconds, &mut threads).await);
    }
    // The same build on PostgreSQL, for a change to the PostgreSQL path.
    if let Some(bin) =
        std::env::var_os("SIGIL_BENCH_BASELINE").filter(|_| wanted("baseline-postgres"))
    {
        let db = servers::create_database(&pg).await;
        let url = format!("{pg}/{db}?sslmode=disable");
        let server = Server::single_of(std::path::Path::new(&bin), Some(&url));
        refresh_rows
            .extend(measure("baseline-postgres", &server, rounds, seconds, &mut threads).await);
        drop(server);
        servers::drop_database(&pg, &db).await;
    }
    // The earlier build and this one side by side, round by round, on SQLite (`ab`) or
    // PostgreSQL (`ab-postgres`): this machine drifts by more than a change is worth between
    // the minutes one target runs and the next, so only interleaved rounds compare them.
    if let Some(bin) = std::env::var_os("SIGIL_BENCH_BASELINE") {
        for (target, postgres) in [("ab", false), ("ab-postgres", true)] {
            if !wanted(target) {
                continue;
            }
            let dbs = if postgres {
                vec![
                    servers::create_database(&pg).await,
                    servers::create_database(&pg).await,
                ]
            } else {
                Vec::new()
            };
            let url = |i: usize| dbs.get(i).map(|d| format!("{pg}/{d}?sslmode=disable"));
            let before = Server::single_of(std::path::Path::new(&bin), url(0).as_deref());
            let now = Server::single(url(1).as_deref());
            ab(target, [&before, &now], rounds, seconds).await;
            drop((before, now));
            for db in dbs {
                servers::drop_database(&pg, &db).await;
            }
        }
    }
    let targets: [(&str, Option<usize>, bool); 4] = [
        ("sqlite", None, false),
        ("postgres", None, true),
        ("haproxy-1", Some(1), true),
        ("haproxy-2", Some(2), true),
    ];
    for (name, balanced, postgres) in targets {
        if !wanted(name) {
            continue;
        }
        let db = if postgres {
            Some(servers::create_database(&pg).await)
        } else {
            None
        };
        let url = db.as_ref().map(|d| format!("{pg}/{d}?sslmode=disable"));
        let server = match (balanced, &url) {
            (Some(n), Some(url)) => Server::cluster(n, url),
            _ => Server::single(url.as_deref()),
        };
        refresh_rows.extend(measure(name, &server, rounds, seconds, &mut threads).await);
        drop(server);
        if let Some(db) = db {
            servers::drop_database(&pg, &db).await;
        }
    }
    if !peer.is_empty() && !refresh_rows.is_empty() {
        println!("\nrefresh grants/s against the reference peer's, same run (median rounds)\n");
        println!("| target | alg | hooks | x oidc-provider |\n|---|---|---|---|");
        for (target, alg, hooks, rps) in &refresh_rows {
            if let Some((_, base)) = peer.iter().find(|(a, _)| a == alg) {
                println!("| {target} | {alg} | {hooks} | {:.2} |", rps / base);
            }
        }
    }
    if !threads.is_empty() {
        println!("\nserver CPU per refresh grant by thread, us (the median round's)\n");
        for (config, by) in &threads {
            let cells: Vec<String> = by.iter().map(|(t, us)| format!("{t} {us:.0}")).collect();
            println!("- {config}: {}", cells.join(", "));
        }
    }
    if wanted("round-trips") {
        round_trips(&pg).await;
    }
}

/// The reference peer's refresh grants (its `extraTokenClaims` standing in for a hook), with
/// each algorithm; returns each one's median rate.
async fn measure_peer(rounds: usize, seconds: Duration) -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    for alg in ["ES256", "RS256"] {
        let Some((server, mut chains)) = servers::peer(alg, CLIENTS) else {
            return out;
        };
        let env = Arc::new(Env::peer(&server.base));
        let mut runs = Vec::new();
        for _ in 0..rounds {
            let cpu = Cpu::start(&server);
            let (mut st, next) =
                load::refresh_round(&env, "peer-client", "peer-secret", chains, seconds).await;
            chains = next;
            cpu.finish(&mut st);
            runs.push(st);
        }
        let st = median(runs);
        println!(
            "| oidc-provider 9 (in memory, not durable) | refresh_token | {alg} | extraTokenClaims | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} | - | - |",
            st.rps, st.p50, st.p99, st.cpu[0], st.switches
        );
        out.push((alg, st.rps));
    }
    out
}

/// The three example hooks and an application per algorithm; returns the applications.
async fn set_up(env: &Env) -> Vec<(&'static str, String, String)> {
    use reqwest::Method;
    env.call(Method::POST, "/t/default/api/users", json!({"email": "ada@example.com", "password": PASSWORD, "email_verified": true, "user_metadata": {"department": "eng", "tenant_id": "t-1"}, "app_metadata": {"roles": ["admin"]}}), 201).await;
    // `SIGIL_BENCH_HOOK_SET=noop` binds three hooks that do nothing instead of the examples:
    // what running a flow costs whatever its hooks do (the sandbox's fixed cost per hook, the
    // event, the hand-off, the trace), read against the examples' rows.
    let noop = std::env::var("SIGIL_BENCH_HOOK_SET").is_ok_and(|s| s == "noop");
    for (name, file) in [
        ("roles", "roles_claims"),
        ("tier", "org_tier"),
        ("tenant", "tenant_id_claim"),
    ] {
        env.upload(name, hook(if noop { "noop" } else { file }))
            .await;
        env.call(
            Method::POST,
            &format!("/t/default/api/hooks/{name}/deploy"),
            json!({"version": 1}),
            200,
        )
        .await;
    }
    let mut apps = Vec::new();
    for alg in ["ES256", "RS256"] {
        let a = env.call(Method::POST, "/t/default/api/applications", json!({"name": alg, "grant_types": ["password", "refresh_token"], "signing_alg": alg}), 201).await;
        apps.push((
            alg,
            a["client_id"].as_str().unwrap().to_string(),
            a["client_secret"].as_str().unwrap().to_string(),
        ));
    }
    apps
}

/// Binds the three hooks, or none; waits out the change's propagation to every node.
async fn set_flow(env: &Env, hooks: bool) {
    let bindings: Vec<Value> = if hooks {
        ["roles", "tier", "tenant"]
            .iter()
            .map(|h| json!({"hook": h}))
            .collect()
    } else {
        vec![]
    };
    env.call(
        reqwest::Method::PUT,
        "/t/default/api/flows/post-login",
        json!({"bindings": bindings}),
        200,
    )
    .await;
    // Other nodes hear of it through the change feed within a second (docs/deploy.md).
    tokio::time::sleep(Duration::from_millis(1200)).await;
}

/// CPU read before and after a round.
struct Cpu<'a> {
    server: &'a Server,
    at: [Duration; 3],
    switches: u64,
    threads: std::collections::BTreeMap<(u32, u32), (String, Duration)>,
}

impl<'a> Cpu<'a> {
    fn start(server: &'a Server) -> Self {
        Self {
            server,
            at: Self::read(server),
            switches: cpu::switches_of_pids(&server.nodes),
            threads: cpu::by_thread_of_pids(&server.nodes),
        }
    }

    fn read(server: &Server) -> [Duration; 3] {
        [
            cpu::of_pids(&server.nodes),
            cpu::of_pids(&server.balancer.into_iter().collect::<Vec<_>>()),
            cpu::of_pids(&cpu::named("postgres")),
        ]
    }

    /// The nodes' context switches per grant since `start` (every thread's, voluntary and not).
    fn switches_per_grant(&self, grants: usize) -> f64 {
        let now = cpu::switches_of_pids(&self.server.nodes);
        now.saturating_sub(self.switches) as f64 / grants.max(1) as f64
    }

    /// Fills in `st`'s CPU per grant, context switches per grant and CPU by thread since
    /// `start`.
    fn finish(&self, st: &mut Stats) {
        st.cpu = self.per_grant(st.grants);
        st.switches = self.switches_per_grant(st.grants);
        st.threads = self.by_thread(st.grants);
    }

    /// The nodes' CPU per grant since `start` by thread name, microseconds, largest first.
    fn by_thread(&self, grants: usize) -> Vec<(String, f64)> {
        // Threads that ended during the round are missing here (their CPU is in the process
        // total); threads that started in it count from zero.
        let mut by_name = std::collections::BTreeMap::<String, Duration>::new();
        for (id, (name, now)) in cpu::by_thread_of_pids(&self.server.nodes) {
            let before = self.threads.get(&id).map(|t| t.1).unwrap_or_default();
            *by_name.entry(name).or_default() += now.saturating_sub(before);
        }
        let mut out: Vec<(String, f64)> = by_name
            .into_iter()
            .map(|(name, cpu)| (name, cpu.as_secs_f64() * 1e6 / grants.max(1) as f64))
            .filter(|(_, us)| *us > 0.0)
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }

    /// Microseconds per grant of the nodes, the balancer and the database since `start`.
    fn per_grant(&self, grants: usize) -> [f64; 3] {
        let now = Self::read(self.server);
        std::array::from_fn(|i| {
            now[i].saturating_sub(self.at[i]).as_secs_f64() * 1e6 / grants.max(1) as f64
        })
    }
}

/// Runs the refresh rounds and the password round on `server`; returns the refresh rows
/// (target, alg, hooks, grants/s).
async fn measure(
    name: &'static str,
    server: &Server,
    rounds: usize,
    seconds: Duration,
    threads: &mut Vec<(String, Vec<(String, f64)>)>,
) -> Vec<(&'static str, &'static str, &'static str, f64)> {
    let mut rows = Vec::new();
    let env = Arc::new(Env::new(&server.base, &server.key));
    let apps = set_up(&env).await;
    let postgres = !matches!(name, "sqlite" | "baseline");
    let cpu_cell = |us: f64, applies: bool| {
        if applies {
            format!("{us:.0}")
        } else {
            "-".into()
        }
    };
    let row = |grant: &str, alg: &str, hooks: &str, st: &Stats, note: &str| {
        let note = match st.retried {
            0 => note.to_string(),
            n => format!("{note} ({n} answers were 503 and sent again)"),
        };
        println!(
            "| {name} | {grant} | {alg} | {hooks} | {:.0}{note} | {:.1} | {:.1} | {} | {:.1} | {} | {} |",
            st.rps,
            st.p50,
            st.p99,
            cpu_cell(st.cpu[0], true),
            st.switches,
            cpu_cell(st.cpu[1], server.balancer.is_some()),
            cpu_cell(st.cpu[2], postgres),
        );
    };
    for (alg, id, secret) in &apps {
        let mut chains = load::log_in_all(&env, id, secret, CLIENTS).await;
        let mut by_config: [Vec<Stats>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            for hooks in [false, true] {
                set_flow(&env, hooks).await;
                let profile = (round == 0).then(|| {
                    let file = format!("{name}-{alg}-{}hooks", if hooks { 3 } else { 0 });
                    profile::Profile::start(&server.nodes, &file, seconds)
                });
                let cpu = Cpu::start(server);
                let (mut st, next) = load::refresh_round(&env, id, secret, chains, seconds).await;
                chains = next;
                cpu.finish(&mut st);
                if let Some(p) = profile {
                    p.finish();
                }
                by_config[usize::from(hooks)].push(st);
            }
        }
        // The hooks' cost: each round's three-hook rate against the no-hook rate of the same
        // round (run just before it), so both sides of a ratio saw the same machine.
        let mut ratios: Vec<f64> = by_config[0]
            .iter()
            .zip(&by_config[1])
            .map(|(base, with)| 1.0 - with.rps / base.rps)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let cost = ratios[ratios.len() / 2] * 100.0;
        let (lo, hi) = (ratios[0] * 100.0, ratios[ratios.len() - 1] * 100.0);
        let [without, with] = by_config;
        let (base, with) = (median(without), median(with));
        row("refresh_token", alg, "0", &base, "");
        row(
            "refresh_token",
            alg,
            "3",
            &with,
            &format!(" ({cost:.1}% below 0 hooks; rounds {lo:.1}% to {hi:.1}%)"),
        );
        for (hooks, st) in [("0", &base), ("3", &with)] {
            threads.push((format!("{name} {alg} {hooks} hooks"), st.threads.clone()));
        }
        rows.push((name, *alg, "0", base.rps));
        rows.push((name, *alg, "3", with.rps));
        if *alg == "ES256" {
            // The same three-hook refresh load while as many clients spray wrong passwords:
            // argon2id work is bounded (docs/brute-force.md), so the refreshes keep going.
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let sprayer = tokio::spawn({
                let (env, id, secret, stop) =
                    (env.clone(), id.clone(), secret.clone(), stop.clone());
                async move { load::spray(&env, &id, &secret, CLIENTS, stop).await }
            });
            let cpu = Cpu::start(server);
            // The flow is the three hooks' still (the last configuration of the rounds).
            let (mut st, _) = load::refresh_round(&env, id, secret, chains, seconds).await;
            cpu.finish(&mut st);
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let attempts = sprayer.await.unwrap();
            let note = format!(
                " ({:.0}% of the rate without the spray; {:.0} sprayed attempts/s answered)",
                st.rps / with.rps * 100.0,
                attempts as f64 / seconds.as_secs_f64()
            );
            row("refresh_token under a password spray", alg, "3", &st, &note);
        }
        // The password grant at the hashing parameters the server was started with.
        let cpu = Cpu::start(server);
        let mut st = load::password_round(&env, id, secret, PASSWORD, CLIENTS, seconds).await;
        cpu.finish(&mut st);
        row("password", alg, "3", &st, "");
    }
    rows
}

/// Refresh rounds on `servers` (the earlier build, then this one) in turn, ES256, with no hooks
/// and with three; prints each one's median round and the per-round ratios of this build to
/// the earlier one (each pair ran one after the other, seconds apart).
async fn ab(name: &str, servers: [&Server; 2], rounds: usize, seconds: Duration) {
    let mut envs = Vec::new();
    for server in servers {
        let env = Arc::new(Env::new(&server.base, &server.key));
        let apps = set_up(&env).await;
        let (_, id, secret) = apps.into_iter().find(|(alg, ..)| *alg == "ES256").unwrap();
        let chains = load::log_in_all(&env, &id, &secret, CLIENTS).await;
        envs.push((env, id, secret, Some(chains)));
    }
    // [hooks][build] -> rounds
    let mut runs: [[Vec<Stats>; 2]; 2] = Default::default();
    for _ in 0..rounds {
        for hooks in [false, true] {
            for (build, server) in servers.iter().enumerate() {
                let (env, id, secret, chains) = &mut envs[build];
                set_flow(env, hooks).await;
                let cpu = Cpu::start(server);
                let (mut st, next) =
                    load::refresh_round(env, id, secret, chains.take().unwrap(), seconds).await;
                *chains = Some(next);
                cpu.finish(&mut st);
                runs[usize::from(hooks)][build].push(st);
            }
        }
    }
    println!("\n{name}: the earlier build and this one, ES256 refresh, rounds interleaved\n");
    println!(
        "| hooks | build | grants/s | p50 ms | p99 ms | server CPU us | switches | postgres CPU us | CPU by thread, us |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (hooks, [before, now]) in runs.into_iter().enumerate() {
        let ratio = |f: &dyn Fn(&Stats) -> f64| {
            let mut r: Vec<f64> = before.iter().zip(&now).map(|(b, n)| f(n) / f(b)).collect();
            r.sort_by(f64::total_cmp);
            (r[r.len() / 2], r[0], r[r.len() - 1])
        };
        let rps = ratio(&|s| s.rps);
        let cpu = ratio(&|s| s.cpu[0]);
        for (label, st) in [("before", median(before)), ("now", median(now))] {
            let threads: Vec<String> = st
                .threads
                .iter()
                .map(|(t, us)| format!("{t} {us:.0}"))
                .collect();
            println!(
                "| {} | {label} | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} | {:.0} | {} |",
                hooks * 3,
                st.rps,
                st.p50,
                st.p99,
                st.cpu[0],
                st.switches,
                st.cpu[2],
                threads.join(", ")
            );
        }
        println!(
            "\n{} hooks, now / before, median of the rounds' ratios (lowest to highest): grants/s {:.2} ({:.2} to {:.2}), server CPU per grant {:.2} ({:.2} to {:.2})\n",
            hooks * 3,
            rps.0,
            rps.1,
            rps.2,
            cpu.0,
            cpu.1,
            cpu.2
        );
    }
}

/// The round with the median rate./// The round with the median rate.
fn median(mut rounds: Vec<Stats>) -> Stats {
    rounds.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    rounds.remove(rounds.len() / 2)
}

/// The statements executed between two tallies, per grant, most frequent first (whitespace
/// collapsed, long ones cut).
fn statements_since(
    now: &std::collections::HashMap<String, u64>,
    before: &std::collections::HashMap<String, u64>,
    grants: usize,
) -> Vec<(f64, String)> {
    let mut out: Vec<(f64, String)> = now
        .iter()
        .filter_map(|(text, n)| {
            let d = n - before.get(text).copied().unwrap_or(0);
            let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let text = match text.char_indices().nth(110) {
                Some((i, _)) => format!("{}...", &text[..i]),
                None => text,
            };
            (d > 0).then(|| (d as f64 / grants as f64, text))
        })
        .collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    out
}

/// Round trips and transactions per grant, counted between one node and PostgreSQL, and the
/// statements behind them.
async fn round_trips(pg: &str) {
    let db = servers::create_database(pg).await;
    let upstream: url::Url = pg.parse().unwrap();
    let addr = tokio::net::lookup_host((
        upstream.host_str().unwrap(),
        upstream.port().unwrap_or(5432),
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let (port, counts) = wire::proxy(addr).await;
    let user = upstream.username();
    let server = Server::single(Some(&format!(
        "postgres://{user}@127.0.0.1:{port}/{db}?sslmode=disable"
    )));
    let env = Arc::new(Env::new(&server.base, &server.key));
    let apps = set_up(&env).await;
    let (_, id, secret) = &apps[0];
    println!(
        "\ndatabase round trips per grant (one node on PostgreSQL, ES256, sequential; background trace writes included)\n"
    );
    println!(
        "| grant | hooks | round trips | of them BEGIN/COMMIT and other simple queries | transactions |"
    );
    println!("|---|---|---|---|---|");
    const GRANTS: usize = 200;
    let mut ran: [Vec<(f64, String)>; 2] = Default::default();
    for hooks in [false, true] {
        set_flow(&env, hooks).await;
        let chains = load::log_in_all(&env, id, secret, 1).await;
        // Warm every cache first; then wait for the trace writer's batch of the warm-up.
        let chains = load::refresh_count(&env, id, secret, chains, 20).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let before = counts.snapshot();
        let statements_before = counts.statements();
        load::refresh_count(&env, id, secret, chains, GRANTS).await;
        // The traces of those grants are written in batches after them.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let d = counts.snapshot().since(&before);
        ran[usize::from(hooks)] =
            statements_since(&counts.statements(), &statements_before, GRANTS);
        let per = |n: u64| n as f64 / GRANTS as f64;
        println!(
            "| refresh_token | {} | {:.2} | {:.2} | {:.2} |",
            if hooks { 3 } else { 0 },
            per(d.round_trips()),
            per(d.queries),
            per(d.begins)
        );
    }
    let before = counts.snapshot();
    const LOGINS: usize = 20;
    load::log_in_all(&env, id, secret, LOGINS).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let d = counts.snapshot().since(&before);
    let per = |n: u64| n as f64 / LOGINS as f64;
    println!(
        "| password | 3 | {:.2} | {:.2} | {:.2} |",
        per(d.round_trips()),
        per(d.queries),
        per(d.begins)
    );
    for (hooks, statements) in ran.iter().enumerate() {
        println!(
            "\nstatements per refresh grant with {} hooks:\n",
            if hooks == 1 { 3 } else { 0 }
        );
        for (n, text) in statements {
            println!("- {n:.2} `{text}`");
        }
    }
    drop(server);
    servers::drop_database(pg, &db).await;
}

/// Signatures per second with a freshly generated key of `alg`, two threads.
fn signing_rate(alg: &str) -> f64 {
    use sigil::keys::SigningKey;
    let key = Arc::new(SigningKey::generate_for_bench(alg));
    let claims = json!({"iss": "https://id.example.com/t/default", "sub": "usr_01", "aud": "app_01", "exp": 2_000_000_000u64, "iat": 1_700_000_000u64, "email": "ada@example.com", "https://sigil.example/roles": ["admin"]});
    let start = Instant::now();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (key, claims) = (key.clone(), claims.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                let end = Instant::now() + Duration::from_secs(2);
                while Instant::now() < end {
                    key.sign("JWT", &claims).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let n: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    n as f64 / start.elapsed().as_secs_f64()
}
