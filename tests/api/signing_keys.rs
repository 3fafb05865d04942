//! Signing-key rotation: the JWKS publishes the next, current and previous keys of each
//! algorithm, so tokens keep verifying across one rotation and a new key is known before it
//! signs; a second rotation retires the oldest key and its tokens.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::grants::{Setup, ada_login, setup};
use crate::helpers::{Db, Reply, TestApp, spawn_app, spawn_app_with, spawn_app_with_clock};
use sigil::config::LoginLock;

fn kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

/// A fresh access token for Ada.
async fn access_token(app: &TestApp, s: &Setup) -> String {
    ada_login(app, s, &[("scope", "openid")]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Rotates the ES256 keys; returns the key list (previous, current, next).
async fn rotate(app: &TestApp) -> Value {
    app.post(
        "/t/default/api/signing-keys/rotate",
        json!({"alg": "ES256"}),
    )
    .await
    .expect_status(StatusCode::OK)
}

async fn userinfo_status(app: &TestApp, at: &str) -> StatusCode {
    app.call(Method::GET, "/t/default/userinfo", Some(at), None)
        .await
        .0
}

async fn a_rotation_lists_the_previous_current_and_next_keys(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    access_token(&app, &s).await;
    let keys = rotate(&app).await;
    let statuses: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["previous", "current", "next"]);
}

/// Each key says when it was made, so that an operator sees how old the signing key is.
async fn each_key_names_when_it_was_made(db: Db) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let s = setup(&app, "ES256").await;
    access_token(&app, &s).await;
    let made = |keys: &Value, status: &str| -> String {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["status"] == status)
            .and_then(|k| k["created_at"].as_str())
            .unwrap_or_else(|| panic!("a {status} key with created_at: {keys}"))
            .to_string()
    };
    let first = app
        .get("/t/default/api/signing-keys")
        .await
        .expect_status(StatusCode::OK);
    let es256 = |keys: &Value| -> Value {
        Value::Array(
            keys.as_array()
                .unwrap()
                .iter()
                .filter(|k| k["alg"] == "ES256")
                .cloned()
                .collect(),
        )
    };
    let before = made(&es256(&first), "current");
    // A day later, the rotation's new next key is a day younger than the first.
    clock.advance_ms(86_400_000);
    let keys = es256(&rotate(&app).await);
    assert_eq!(made(&keys, "previous"), before);
    let next = made(&keys, "next");
    let day = |t: &str| t[..10].to_string();
    assert_ne!(day(&next), day(&before), "{keys}");
    assert!(next > before, "{keys}");
}

async fn the_jwks_publishes_all_three_keys_and_every_algorithm_s_current_key(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    access_token(&app, &s).await;
    rotate(&app).await;
    let jwks = app
        .call(Method::GET, "/t/default/.well-known/jwks.json", None, None)
        .await
        .expect_status(StatusCode::OK);
    let es256 = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "ES256")
        .count();
    assert_eq!(es256, 3, "next, current and previous are published: {jwks}");
    // Every other algorithm an application may pick has its current key published too.
    for alg in ["RS256", "EdDSA"] {
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["alg"] == alg)
        );
    }
}

async fn after_a_rotation_the_new_current_key_signs(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let at0 = access_token(&app, &s).await;
    rotate(&app).await;
    let at1 = access_token(&app, &s).await;
    assert_ne!(kid(&at0), kid(&at1), "the new current key signs");
}

async fn a_token_signed_before_a_rotation_still_verifies(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let at0 = access_token(&app, &s).await;
    rotate(&app).await;
    assert_eq!(
        userinfo_status(&app, &at0).await,
        StatusCode::OK,
        "a token signed before the rotation still verifies"
    );
}

async fn a_second_rotation_makes_the_published_next_key_current(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    access_token(&app, &s).await;
    let keys = rotate(&app).await;
    let next_kid = keys[2]["kid"].as_str().unwrap().to_string();
    rotate(&app).await;
    assert_eq!(kid(&access_token(&app, &s).await), next_kid);
}

async fn a_second_rotation_retires_the_oldest_key_and_its_tokens(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let at0 = access_token(&app, &s).await;
    rotate(&app).await;
    let at1 = access_token(&app, &s).await;
    rotate(&app).await;
    assert_eq!(userinfo_status(&app, &at0).await, StatusCode::UNAUTHORIZED);
    assert_eq!(userinfo_status(&app, &at1).await, StatusCode::OK);
}

/// The kids of the tenant's published `alg` keys.
async fn published(app: &TestApp, alg: &str) -> Vec<String> {
    let jwks = app
        .call(Method::GET, "/t/default/.well-known/jwks.json", None, None)
        .await
        .expect_status(StatusCode::OK);
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == alg)
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

async fn a_tenant_s_first_key_comes_with_a_published_next_key(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let signer = kid(&access_token(&app, &s).await);
    let kids = published(&app, "ES256").await;
    assert_eq!(
        kids.len(),
        2,
        "current and next from the first key on: {kids:?}"
    );
    assert!(kids.contains(&signer));
}

/// Every one of a new tenant's first logins makes the tenant's first key, and all but one are
/// refused by the unique index and read the winner's. On SQLite they meet in one group commit,
/// where the losers once read before the winner's group had committed (a 500 each).
async fn a_tenant_s_first_logins_at_once_all_get_tokens_signed_with_one_key(db: Db) {
    // 16 logins of one user from one address count 16 attempts against the brute-force lock.
    let app = spawn_app_with(db, |s| s.login_lock = LoginLock::new(100, 5).unwrap()).await;
    let s = setup(&app, "ES256").await;
    let tokens = futures::future::join_all((0..16).map(|_| access_token(&app, &s))).await;
    let kids: std::collections::BTreeSet<String> = tokens.iter().map(|t| kid(t)).collect();
    assert_eq!(kids.len(), 1, "one first key signs them all: {kids:?}");
    assert_eq!(published(&app, "ES256").await.len(), 2, "current and next");
}

async fn the_first_rotation_promotes_a_key_relying_parties_could_already_fetch(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    access_token(&app, &s).await;
    // A relying party fetches the JWKS once and caches it.
    let cached = published(&app, "ES256").await;
    rotate(&app).await;
    let signer = kid(&access_token(&app, &s).await);
    assert!(
        cached.contains(&signer),
        "the key signing after the first rotation was published before it: {signer} not in {cached:?}"
    );
}

async fn rotating_keys_of_an_unsupported_algorithm_is_refused(db: Db) {
    let app = spawn_app(db).await;
    let got = app
        .post(
            "/t/default/api/signing-keys/rotate",
            json!({"alg": "HS256"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST);
}

both_backends!(
    a_tenant_s_first_key_comes_with_a_published_next_key,
    a_tenant_s_first_logins_at_once_all_get_tokens_signed_with_one_key,
    the_first_rotation_promotes_a_key_relying_parties_could_already_fetch,
    a_rotation_lists_the_previous_current_and_next_keys,
    each_key_names_when_it_was_made,
    the_jwks_publishes_all_three_keys_and_every_algorithm_s_current_key,
    after_a_rotation_the_new_current_key_signs,
    a_token_signed_before_a_rotation_still_verifies,
    a_second_rotation_makes_the_published_next_key_current,
    a_second_rotation_retires_the_oldest_key_and_its_tokens,
    rotating_keys_of_an_unsupported_algorithm_is_refused,
);
