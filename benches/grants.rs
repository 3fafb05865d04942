//! Load benchmark of the token endpoint on loopback: the `refresh_token` and `password` grants,
//! with RS256 and ES256, with no hooks and with a three-hook flow, next to the raw signing rate
//! measured in the same run (a grant signs twice: the physical limit).
//!
//! Run: `./scripts/build-hooks.sh && cargo bench --bench grants`
//! (the server runs in this process on 127.0.0.1:0 with a fresh SQLite file; 8 concurrent
//! clients per scenario; the refresh comparison alternates five 5 s rounds of each
//! configuration and reports each one's median round, and the hooks' cost as the median of the
//! per-round ratios).

// These benchmarks measure real elapsed time (the server under test takes its time from the
// injected clock), so the workspace's ban on `Instant::now` does not apply to them.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sigil::startup::{Application, Settings};

const CLIENTS: usize = 8;
const RUN: Duration = Duration::from_secs(5);
/// Alternating rounds per configuration in the refresh comparison.
const ROUNDS: usize = 5;

fn hook(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/target/guests/wasm32-unknown-unknown/release/{name}.wasm",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run ./scripts/build-hooks.sh)"))
}

struct Env {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Env {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap().json().await.unwrap_or(Value::Null)
    }
}

struct Stats {
    rps: f64,
    p50: f64,
    p99: f64,
}

/// Runs `CLIENTS` clients; each returns its latencies and the start and end of its timed
/// loop (set-up such as the first login stays outside). Throughput counts the span from the
/// first timed request to the last.
async fn load<F, Fut>(make: F) -> Stats
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = (Vec<Duration>, Instant, Instant)> + Send + 'static,
{
    let tasks: Vec<_> = (0..CLIENTS).map(|i| tokio::spawn(make(i))).collect();
    let mut all = Vec::new();
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for t in tasks {
        let (lat, start, end) = t.await.unwrap();
        all.extend(lat);
        first = Some(first.map_or(start, |f| f.min(start)));
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    let secs = (last.unwrap() - first.unwrap()).as_secs_f64();
    all.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Stats {
        rps: all.len() as f64 / secs,
        p50: ms(all[all.len() / 2]),
        p99: ms(all[all.len() * 99 / 100]),
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test --all-targets` builds this; only `cargo bench` runs it
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let dir = std::env::temp_dir().join(format!("sigil-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = Settings::new(
        "127.0.0.1:0".parse().unwrap(),
        format!("sqlite://{}/sigil.db", dir.display()),
    );
    s.compiler.exe = env!("CARGO_BIN_EXE_sigil").into();
    let params = s.passwords.describe();
    let app = Application::build(s).await.unwrap();
    let env = Arc::new(Env {
        base: format!("http://127.0.0.1:{}", app.port()),
        key: app.bootstrap_key().unwrap().key.clone(),
        http: reqwest::Client::new(),
    });
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    use reqwest::Method;
    env.call(Method::POST, "/t/default/api/users", Some(json!({"email": "ada@example.com", "password": "correct horse battery", "email_verified": true, "user_metadata": {"department": "eng", "tenant_id": "t-1"}, "app_metadata": {"roles": ["admin"]}}))).await;
    for (name, file) in [
        ("roles", "roles_claims"),
        ("tier", "org_tier"),
        ("tenant", "tenant_id_claim"),
    ] {
        env.http
            .post(format!("{}/t/default/api/hooks/{name}/versions", env.base))
            .bearer_auth(&env.key)
            .body(hook(file))
            .send()
            .await
            .unwrap();
        env.call(
            Method::POST,
            &format!("/t/default/api/hooks/{name}/deploy"),
            Some(json!({"version": 1})),
        )
        .await;
    }
    let mut apps = Vec::new();
    for alg in ["RS256", "ES256"] {
        let a = env.call(Method::POST, "/t/default/api/applications", Some(json!({"name": alg, "grant_types": ["password", "refresh_token"], "signing_alg": alg}))).await;
        apps.push((
            alg,
            a["client_id"].as_str().unwrap().to_string(),
            a["client_secret"].as_str().unwrap().to_string(),
        ));
    }

    // Raw signing rate: two threads signing ID-token-sized claims, as a grant's two signatures.
    println!("raw signing (2 threads):");
    for (alg, _, _) in &apps {
        let rate = signing_rate(alg);
        println!(
            "  {alg}: {rate:.0} signatures/s -> {:.0} grants/s at 2 signatures each",
            rate / 2.0
        );
    }

    println!("\n| grant | alg | hooks | grants/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|");
    for (alg, client_id, secret) in &apps {
        // Alternate no-hook and three-hook rounds and keep each configuration's median round:
        // this machine's speed drifts by more than the effect being measured.
        let mut rounds: [Vec<Stats>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..ROUNDS {
            for hooks in [false, true] {
                let bindings: Vec<Value> = if hooks {
                    ["roles", "tier", "tenant"]
                        .iter()
                        .map(|h| json!({"hook": h}))
                        .collect()
                } else {
                    vec![]
                };
                env.call(
                    Method::PUT,
                    "/t/default/api/flows/post-login",
                    Some(json!({"bindings": bindings})),
                )
                .await;
                let st =
                    load(|_| refresh_client(env.clone(), client_id.clone(), secret.clone())).await;
                rounds[usize::from(hooks)].push(st);
            }
        }
        // The cost of the hooks: each round's three-hook rate against the no-hook rate of the
        // same round (run just before it), so both sides of a ratio saw the same machine; the
        // median of those ratios, and their range to show the noise.
        let mut ratios: Vec<f64> = rounds[0]
            .iter()
            .zip(&rounds[1])
            .map(|(base, with)| 1.0 - with.rps / base.rps)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let cost = ratios[ratios.len() / 2] * 100.0;
        let (lo, hi) = (ratios[0] * 100.0, ratios[ratios.len() - 1] * 100.0);
        let median = |v: &mut Vec<Stats>| {
            v.sort_by(|a, b| a.rps.total_cmp(&b.rps));
            v.remove(v.len() / 2)
        };
        let base = median(&mut rounds[0]);
        let with = median(&mut rounds[1]);
        for (hooks, st) in [(false, &base), (true, &with)] {
            let cost = if hooks {
                format!(" ({cost:.1}% below no hooks; rounds {lo:.1}% to {hi:.1}%)")
            } else {
                String::new()
            };
            println!(
                "| refresh_token | {alg} | {} | {:.0}{cost} | {:.1} | {:.1} |",
                if hooks { "3" } else { "0" },
                st.rps,
                st.p50,
                st.p99
            );
        }
        let st = load(|_| {
            let env = env.clone();
            let (id, sec) = (client_id.clone(), secret.clone());
            async move {
                let mut out = Vec::new();
                let start = Instant::now();
                let end = start + RUN;
                while Instant::now() < end {
                    let t = Instant::now();
                    let r = env
                        .http
                        .post(format!("{}/t/default/oauth/token", env.base))
                        .basic_auth(&id, Some(&sec))
                        .form(&[
                            ("grant_type", "password"),
                            ("username", "ada@example.com"),
                            ("password", "correct horse battery"),
                            ("scope", "openid"),
                        ])
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success());
                    out.push(t.elapsed());
                }
                (out, start, Instant::now())
            }
        })
        .await;
        println!(
            "| password ({params}) | {alg} | 3 | {:.0} | {:.1} | {:.1} |",
            st.rps, st.p50, st.p99
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// One client of the refresh benchmark: logs in once (untimed), then refreshes for `RUN`.
async fn refresh_client(
    env: Arc<Env>,
    id: String,
    sec: String,
) -> (Vec<Duration>, Instant, Instant) {
    let tok = |form: Vec<(&'static str, String)>| {
        env.http
            .post(format!("{}/t/default/oauth/token", env.base))
            .basic_auth(&id, Some(&sec))
            .form(&form)
            .send()
    };
    let first: Value = tok(vec![
        ("grant_type", "password".into()),
        ("username", "ada@example.com".into()),
        ("password", "correct horse battery".into()),
        ("scope", "openid offline_access".into()),
    ])
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let mut rt = first["refresh_token"].as_str().unwrap().to_string();
    let mut out = Vec::new();
    let start = Instant::now();
    let end = start + RUN;
    while Instant::now() < end {
        let t = Instant::now();
        let b: Value = tok(vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", rt.clone()),
        ])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        out.push(t.elapsed());
        rt = b["refresh_token"]
            .as_str()
            .expect("refresh succeeded")
            .to_string();
    }
    (out, start, Instant::now())
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
