//! A legacy user API, as a customer's old system would have one: users with salted SHA-1
//! password hashes (a format Sigil refuses at import), roles and an organization id, behind a
//! bearer key. It counts the calls it gets and can be taken down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

/// The key the hook's `LEGACY_KEY` secret must hold.
pub const KEY: &str = "legacy-api-key-0001";

/// A user of the legacy system.
#[derive(Clone)]
pub struct LegacyUser {
    pub salt: String,
    /// hex(SHA-1(salt + password)).
    pub sha1: String,
    /// What `/v1/verify` and `/v1/users` return for the user.
    pub profile: Value,
}

/// The mock's state: its users, its calls, whether it is down.
#[derive(Clone, Default)]
pub struct Legacy {
    pub users: Arc<Mutex<HashMap<String, LegacyUser>>>,
    /// Calls of `/v1/verify`.
    pub verifies: Arc<AtomicUsize>,
    /// Answers 503 to everything while set.
    pub down: Arc<AtomicBool>,
    /// The bearer tokens it was sent.
    pub keys: Arc<Mutex<Vec<String>>>,
    /// How long `/v1/verify` takes before it answers, ms (a real legacy system is a network
    /// away).
    pub delay_ms: Arc<AtomicU64>,
}

fn sha1_hex(text: &str) -> String {
    Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Legacy {
    /// Adds a user with `password` and the profile fields of `profile` (`email` is set).
    pub fn add(&self, email: &str, password: &str, mut profile: Value) {
        let salt = format!("salt-{}", email.len());
        profile["email"] = json!(email);
        self.users.lock().unwrap().insert(
            email.to_lowercase(),
            LegacyUser {
                sha1: sha1_hex(&format!("{salt}{password}")),
                salt,
                profile,
            },
        );
    }

    /// Changes a user's profile (what `delegate` mode picks up at the next login).
    pub fn edit(&self, email: &str, change: impl FnOnce(&mut Value)) {
        let mut users = self.users.lock().unwrap();
        change(&mut users.get_mut(&email.to_lowercase()).unwrap().profile);
    }

    fn authorized(&self, h: &HeaderMap) -> bool {
        let got = h
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        self.keys.lock().unwrap().push(got.clone());
        got == format!("Bearer {KEY}")
    }
}

async fn verify(State(l): State<Legacy>, h: HeaderMap, body: axum::Json<Value>) -> Response {
    l.verifies.fetch_add(1, Ordering::SeqCst);
    let delay = l.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    if l.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if !l.authorized(&h) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let email = body["email"].as_str().unwrap_or_default().to_lowercase();
    let password = body["password"].as_str().unwrap_or_default();
    let users = l.users.lock().unwrap();
    match users.get(&email) {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(u) if sha1_hex(&format!("{}{password}", u.salt)) == u.sha1 => {
            axum::Json(u.profile.clone()).into_response()
        }
        Some(_) => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn user(
    State(l): State<Legacy>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if l.down.load(Ordering::SeqCst) || !l.authorized(&h) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let email = q.get("email").cloned().unwrap_or_default().to_lowercase();
    match l.users.lock().unwrap().get(&email) {
        Some(u) => axum::Json(u.profile.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn count(State(l): State<Legacy>, h: HeaderMap) -> Response {
    if l.down.load(Ordering::SeqCst) || !l.authorized(&h) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    axum::Json(json!({"count": l.users.lock().unwrap().len()})).into_response()
}

/// Starts the mock on 127.0.0.1: its port and its state.
pub async fn start() -> (u16, Legacy) {
    let state = Legacy::default();
    let app = Router::new()
        .route("/v1/verify", post(verify))
        .route("/v1/users", get(user))
        .route("/v1/users/count", get(count))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, state)
}
