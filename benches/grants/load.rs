//! The clients: a closed loop of refresh-token chains (each client presents the refresh token
//! its previous grant returned), or of password grants.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The target's address and an operator key, with one HTTP client (keep-alive) for all.
pub struct Env {
    base: String,
    key: String,
    /// The token endpoint's path.
    token_path: String,
    http: reqwest::Client,
    /// Token requests answered 503 (`temporarily_unavailable`: the server shed load, e.g. a
    /// flow that could not get a hook thread within its deadline while a password spray held
    /// the CPU) and sent again, as a client following RFC 6749's advice would.
    pub retried: std::sync::atomic::AtomicU64,
}

/// One round's result.
pub struct Stats {
    pub grants: usize,
    pub rps: f64,
    pub p50: f64,
    pub p99: f64,
    /// CPU per grant, microseconds: the nodes, the balancer, the database.
    pub cpu: [f64; 3],
    /// The nodes' context switches per grant.
    pub switches: f64,
    /// The nodes' CPU per grant by thread name, microseconds, largest first.
    pub threads: Vec<(String, f64)>,
    /// Requests answered 503 and sent again ([`Env::retried`]); their time is in the latency
    /// of the grant that followed.
    pub retried: u64,
}

impl Env {
    /// Sigil at `base`, managed with the operator key `key`.
    pub fn new(base: &str, key: &str) -> Self {
        Self {
            base: base.into(),
            key: key.into(),
            token_path: "/t/default/oauth/token".into(),
            http: reqwest::Client::new(),
            retried: Default::default(),
        }
    }

    /// The reference peer at `base` (its token endpoint is `/token`).
    pub fn peer(base: &str) -> Self {
        Self {
            token_path: "/token".into(),
            ..Self::new(base, "")
        }
    }

    /// A management call that must answer `status`.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
        status: u16,
    ) -> Value {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let got = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(got, status, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Uploads version 1 of hook `name`.
    pub async fn upload(&self, name: &str, wasm: Vec<u8>) {
        let r = self
            .http
            .post(format!("{}/t/default/api/hooks/{name}/versions", self.base))
            .bearer_auth(&self.key)
            .body(wasm)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "uploading {name}");
    }

    async fn token(&self, id: &str, secret: &str, form: &[(&str, &str)]) -> Value {
        loop {
            let r = self
                .http
                .post(format!("{}{}", self.base, self.token_path))
                .basic_auth(id, Some(secret))
                .form(form)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                // Nothing was spent (a refused refresh rotates nothing): the same request again,
                // after a pause shorter than Retry-After's whole seconds, counted.
                self.retried
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            assert!(status.is_success(), "token endpoint: {status} {body}");
            return body;
        }
    }

    async fn refresh(&self, id: &str, secret: &str, rt: &str) -> String {
        let b = self
            .token(
                id,
                secret,
                &[("grant_type", "refresh_token"), ("refresh_token", rt)],
            )
            .await;
        b["refresh_token"].as_str().unwrap().to_string()
    }
}

/// `n` password logins (untimed set-up), concurrently; their refresh tokens.
pub async fn log_in_all(env: &Arc<Env>, id: &str, secret: &str, n: usize) -> Vec<String> {
    let logins: Vec<_> = (0..n)
        .map(|_| {
            let (env, id, secret) = (env.clone(), id.to_string(), secret.to_string());
            tokio::spawn(async move {
                let b = env
                    .token(
                        &id,
                        &secret,
                        &[
                            ("grant_type", "password"),
                            ("username", "ada@example.com"),
                            ("password", super::PASSWORD),
                            ("scope", "openid offline_access"),
                        ],
                    )
                    .await;
                b["refresh_token"].as_str().unwrap().to_string()
            })
        })
        .collect();
    let mut out = Vec::new();
    for l in logins {
        out.push(l.await.unwrap());
    }
    out
}

/// Every chain refreshes for `run`; returns the round's numbers (CPU left to the caller) and
/// the chains' current tokens.
pub async fn refresh_round(
    env: &Arc<Env>,
    id: &str,
    secret: &str,
    chains: Vec<String>,
    run: Duration,
) -> (Stats, Vec<String>) {
    let retried_before = env.retried.load(std::sync::atomic::Ordering::Relaxed);
    let start = Instant::now();
    let end = start + run;
    let clients: Vec<_> = chains
        .into_iter()
        .map(|mut rt| {
            let (env, id, secret) = (env.clone(), id.to_string(), secret.to_string());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < end {
                    let t = Instant::now();
                    rt = env.refresh(&id, &secret, &rt).await;
                    lat.push(t.elapsed());
                }
                (lat, rt)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut next = Vec::new();
    for c in clients {
        let (lat, rt) = c.await.unwrap();
        all.extend(lat);
        next.push(rt);
    }
    let mut st = stats(all, start.elapsed());
    st.retried = env.retried.load(std::sync::atomic::Ordering::Relaxed) - retried_before;
    (st, next)
}

/// `n` refreshes of each chain, one after another (for counting, not timing).
pub async fn refresh_count(
    env: &Arc<Env>,
    id: &str,
    secret: &str,
    chains: Vec<String>,
    n: usize,
) -> Vec<String> {
    let mut next = Vec::new();
    for mut rt in chains {
        for _ in 0..n {
            rt = env.refresh(id, secret, &rt).await;
        }
        next.push(rt);
    }
    next
}

/// `clients` clients doing password grants for `run`.
pub async fn password_round(
    env: &Arc<Env>,
    id: &str,
    secret: &str,
    password: &'static str,
    clients: usize,
    run: Duration,
) -> Stats {
    let start = Instant::now();
    let end = start + run;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (env, id, secret) = (env.clone(), id.to_string(), secret.to_string());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < end {
                    let t = Instant::now();
                    env.token(
                        &id,
                        &secret,
                        &[
                            ("grant_type", "password"),
                            ("username", "ada@example.com"),
                            ("password", password),
                            ("scope", "openid"),
                        ],
                    )
                    .await;
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    stats(all, start.elapsed())
}

fn stats(mut all: Vec<Duration>, took: Duration) -> Stats {
    all.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Stats {
        grants: all.len(),
        rps: all.len() as f64 / took.as_secs_f64(),
        p50: ms(all[all.len() / 2]),
        p99: ms(all[all.len() * 99 / 100]),
        cpu: [0.0; 3],
        switches: 0.0,
        threads: Vec::new(),
        retried: 0,
    }
}

/// `clients` clients trying a wrong password for unknown users, one after another, until
/// `stop` is set: a password spray (each attempt costs argon2id work: docs/brute-force.md);
/// returns how many attempts were answered.
pub async fn spray(
    env: &Arc<Env>,
    id: &str,
    secret: &str,
    clients: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> usize {
    use std::sync::atomic::Ordering;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (env, id, secret, stop) = (
                env.clone(),
                id.to_string(),
                secret.to_string(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let user = format!("sprayed-{c}-{n}@example.com");
                    let r = env
                        .http
                        .post(format!("{}{}", env.base, env.token_path))
                        .basic_auth(&id, Some(&secret))
                        .form(&[
                            ("grant_type", "password"),
                            ("username", user.as_str()),
                            ("password", "Winter2026!"),
                        ])
                        .send()
                        .await
                        .unwrap();
                    assert!(
                        matches!(r.status().as_u16(), 400 | 429 | 503),
                        "a sprayed password: {}",
                        r.status()
                    );
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total
}
