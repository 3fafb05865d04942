//! Several nodes on one PostgreSQL database, as behind a load balancer: any node answers any
//! request (codes, sessions, refresh-token reuse, the brute-force lock, the first signing key,
//! the JWKS), and a change made through one node reaches the next login on another within a
//! second (PostgreSQL `LISTEN/NOTIFY` drops the other nodes' cached copies; see
//! docs/deploy.md).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::code_flow::{self, Browser, VERIFIER, exchange, login_for_code, login_for_tokens};
use crate::grants::{self, ADA_PASSWORD, Setup, ada_grant, ada_login, enable_refresh, refresh};
use crate::helpers::{Cluster, Reply, TestApp, spawn_cluster, upload_and_bind, verify};

const OFFLINE: [(&str, &str); 1] = [("scope", "openid offline_access")];

/// How long a change made on one node may take to reach another.
const PROPAGATION: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_issued_through_one_node_is_redeemed_at_another() {
    let c = spawn_cluster(2, |_| {}).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let s = code_flow::setup(a, json!({})).await;
    let mut browser = Browser::new(a);
    let code = login_for_code(&mut browser, &s, &[]).await;
    let tokens = exchange(b, &s, &code, Some(VERIFIER))
        .await
        .expect_status(StatusCode::OK);
    let (_, id) = verify(a, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id["sub"], s.user_id.as_str());
    // And only once, wherever it is presented again.
    let again = exchange(a, &s, &code, Some(VERIFIER)).await;
    assert_eq!(again.0, StatusCode::BAD_REQUEST, "{}", again.1);
    assert_eq!(again.1["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_session_made_on_one_node_is_honoured_on_another() {
    let c = spawn_cluster(2, |_| {}).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let s = code_flow::setup(a, json!({})).await;
    let mut browser = Browser::new(a);
    login_for_tokens(&mut browser, a, &s).await;
    browser.switch_to(b);
    let sso = browser
        .get(&code_flow::authorize_path(
            &s.client_id,
            &[("prompt", "none")],
        ))
        .await;
    assert_eq!(sso.status, StatusCode::FOUND, "{}", sso.body);
    let code = sso.location()["code"].clone();
    exchange(b, &s, &code, Some(VERIFIER))
        .await
        .expect_status(StatusCode::OK);
}

/// The password-grant fixture of `grants` on node `a`, allowed refresh tokens.
async fn refreshable(a: &TestApp) -> Setup {
    let s = grants::setup(a, "ES256").await;
    enable_refresh(a, &s).await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_rotated_on_one_node_and_replayed_on_another_is_reuse() {
    let c = spawn_cluster(2, |_| {}).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let s = refreshable(a).await;
    let first = ada_login(a, &s, &OFFLINE).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let second = refresh(a, &s, rt1, None)
        .await
        .expect_status(StatusCode::OK);
    let rt2 = second["refresh_token"].as_str().unwrap();
    let third = refresh(a, &s, rt2, None)
        .await
        .expect_status(StatusCode::OK);
    let rt3 = third["refresh_token"].as_str().unwrap();
    // A replay of a rotated token whose successor was used is theft: the family goes.
    let replay = refresh(b, &s, rt1, None).await;
    assert_eq!(replay.0, StatusCode::BAD_REQUEST, "{}", replay.1);
    assert_eq!(replay.1["error"], "invalid_grant");
    let after = refresh(a, &s, rt3, None).await;
    assert_eq!(
        (after.0, after.1["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "the family was revoked by the replay on the other node"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_whose_answer_was_lost_is_retried_on_another_node() {
    let c = spawn_cluster(2, |_| {}).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let s = refreshable(a).await;
    let first = ada_login(a, &s, &OFFLINE).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    // Node a commits the rotation; say its answer never reached the client.
    let lost = refresh(a, &s, rt1, None)
        .await
        .expect_status(StatusCode::OK);
    let retried = refresh(b, &s, rt1, None)
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(retried["refresh_token"], lost["refresh_token"]);
    refresh(b, &s, retried["refresh_token"].as_str().unwrap(), None)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brute_force_lock_counted_on_one_node_holds_on_another() {
    let c = spawn_cluster(2, |_| {}).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let s = grants::setup(a, "ES256").await;
    for _ in 0..10 {
        let (st, body) = ada_grant(a, &s, "wrong password", &[]).await;
        assert_eq!(
            (st, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
    let (st, body) = ada_grant(b, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "the right password is refused on the other node while the lock holds: {body}"
    );
}

/// The key ids of the tenant's JWKS as served by `node`, per algorithm and status order.
async fn jwks(node: &TestApp, tenant: &str) -> Value {
    node.call(
        Method::GET,
        &format!("/t/{tenant}/.well-known/jwks.json"),
        None,
        None,
    )
    .await
    .expect_status(StatusCode::OK)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_s_first_signing_keys_are_made_once_when_nodes_race_for_them() {
    let c = spawn_cluster(3, |_| {}).await;
    c.nodes[0].tenant("beta").await;
    // Every node asks for the new tenant's JWKS at once, several times: each finds no key and
    // tries to make the first ones.
    let asks = c.nodes.iter().flat_map(|n| [n, n]).map(|n| jwks(n, "beta"));
    let seen = futures::future::join_all(asks).await;
    for alg in ["RS256", "ES256", "EdDSA"] {
        let count = seen[0]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["alg"] == alg)
            .count();
        assert_eq!(count, 2, "one current and one next {alg} key: {}", seen[0]);
    }
    for (i, j) in seen.iter().enumerate() {
        assert_eq!(j, &seen[0], "answer {i} differs from the first");
    }
    for n in &c.nodes {
        assert_eq!(
            jwks(n, "beta").await,
            seen[0],
            "{} serves another JWKS",
            n.base
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_serves_the_same_jwks() {
    let c = spawn_cluster(3, |_| {}).await;
    let s = grants::setup(&c.nodes[1], "RS256").await;
    ada_login(&c.nodes[2], &s, &[]).await;
    let first = jwks(&c.nodes[0], "default").await;
    for n in &c.nodes[1..] {
        assert_eq!(jwks(n, "default").await, first);
    }
}

/// Runs `login` on a node until `seen` holds for its token's claims, for at most
/// [`PROPAGATION`]; returns how long it took, or fails naming `what`.
pub(crate) async fn within_a_second<F, Fut>(
    what: &str,
    mut login: F,
    seen: impl Fn(&Value) -> bool,
) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let start = Instant::now();
    loop {
        let claims = login().await;
        if seen(&claims) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < PROPAGATION,
            "{what}: the other node still answers with the old state after {:?}: {claims}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ada's password grant on `node`, verified (against the JWKS of the cluster's first node,
/// whose address is the issuer); returns the access token's claims with its header's `kid`
/// (as `_kid`) and the response's `expires_in` (as `_expires_in`).
pub(crate) async fn access_claims(c: &Cluster, node: &TestApp, s: &Setup) -> Value {
    let body = ada_login(node, s, &[("scope", "openid")]).await;
    let (header, mut claims) = verify(&c.nodes[0], body["access_token"].as_str().unwrap()).await;
    claims["_kid"] = json!(header.kid);
    claims["_expires_in"] = body["expires_in"].clone();
    claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_on_one_node_reach_the_next_login_on_another_within_a_second() {
    let c = spawn_cluster(2, |_| {}).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let s = grants::setup(a, "ES256").await;
    let login = || access_claims(&c, b, &s);
    // Node b has loaded (and cached) the empty flow, the templates and the keys.
    let before = login().await;

    // A hook bound to the flow.
    upload_and_bind(a, &[("h", "roles_claims", "fail_open")]).await;
    within_a_second("binding a hook", login, |c| {
        c["https://sigil.example/roles"].is_array()
    })
    .await;

    // A new version deployed.
    let res = a
        .client
        .post(format!("{}/t/default/api/hooks/h/versions", a.base))
        .bearer_auth(&a.operator_key)
        .body(crate::helpers::hook("org_tier"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    a.post("/t/default/api/hooks/h/deploy", json!({"version": 2}))
        .await
        .expect_status(StatusCode::OK);
    within_a_second("deploying version 2", login, |c| {
        c["department"] == "eng" && c["https://sigil.example/roles"].is_null()
    })
    .await;

    // A tenant limit no hook can run within (the binding fails open: no claim).
    a.put("/t/default/api/hook-limits", json!({"fuel": 1}))
        .await
        .expect_status(StatusCode::OK);
    within_a_second("lowering the tenant's fuel", login, |c| {
        c["department"].is_null()
    })
    .await;

    // The flow emptied.
    a.put("/t/default/api/hook-limits", json!({}))
        .await
        .expect_status(StatusCode::OK);
    a.put("/t/default/api/flows/post-login", json!({"bindings": []}))
        .await
        .expect_status(StatusCode::OK);

    // A JWT template.
    a.put(
        "/t/default/api/jwt-templates/access_token",
        json!({"plan": "gold"}),
    )
    .await
    .expect_status(StatusCode::OK);
    within_a_second("saving a template", login, |c| c["plan"] == "gold").await;

    // The application's settings.
    a.patch(
        &format!("/t/default/api/applications/{}", s.client_id),
        json!({"access_token_lifetime": 120}),
    )
    .await
    .expect_status(StatusCode::OK);
    within_a_second("changing the application", login, |c| {
        c["_expires_in"] == 120
    })
    .await;

    // A key rotation.
    a.post(
        "/t/default/api/signing-keys/rotate",
        json!({"alg": "ES256"}),
    )
    .await
    .expect_status(StatusCode::OK);
    let old_kid = before["_kid"].clone();
    within_a_second("rotating the keys", login, |c| c["_kid"] != old_kid).await;
}

/// Each node keeps its own copy of the applications (src/store/hot.rs): a secret rotated
/// through one node stops working on the others as soon as they hear of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_secret_rotated_on_one_node_is_refused_on_another_within_a_second() {
    let c = spawn_cluster(2, |_| {}).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let s = grants::setup(a, "ES256").await;
    // Node b has the application cached.
    ada_login(b, &s, &[]).await;

    a.post(
        &format!("/t/default/api/applications/{}/rotate-secret", s.client_id),
        json!({}),
    )
    .await
    .expect_status(StatusCode::OK);
    let start = Instant::now();
    loop {
        let (st, body) = ada_grant(b, &s, ADA_PASSWORD, &[]).await;
        if st == StatusCode::UNAUTHORIZED {
            assert_eq!(body["error"], "invalid_client");
            break;
        }
        assert_eq!(st, StatusCode::OK, "{body}");
        assert!(
            start.elapsed() < PROPAGATION,
            "node b still takes the old secret after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_change_listener_reconnects_drops_every_cached_copy() {
    let c = spawn_cluster(2, |_| {}).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let s = grants::setup(a, "ES256").await;
    a.put(
        "/t/default/api/jwt-templates/access_token",
        json!({"plan": "gold"}),
    )
    .await
    .expect_status(StatusCode::OK);
    let login = || access_claims(&c, b, &s);
    within_a_second("saving a template", login, |c| c["plan"] == "gold").await;
    // A change no node announces (as if its announcement was sent while b's listener was
    // away), then b's listener connection is cut.
    let mut db = c.connect().await;
    sqlx::query("UPDATE jwt_templates SET template = '{\"plan\": \"silver\"}'")
        .execute(&mut db)
        .await
        .unwrap();
    assert_eq!(
        login().await["plan"],
        "gold",
        "b still serves its cached copy"
    );
    let cut = sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .execute(&mut db)
    .await
    .unwrap();
    assert_eq!(cut.rows_affected(), 2, "each node has one listener");
    within_a_second("reconnecting the listener", login, |c| {
        c["plan"] == "silver"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_listener_whose_connection_goes_silent_reconnects_and_hears_again() {
    // The listeners reach PostgreSQL through a proxy that can strand their connections: open,
    // silent for good, as when a firewall forgets them. Nothing fails on such a connection, so
    // only the feed's check of a quiet connection can notice.
    let pg: url::Url = crate::helpers::pg_admin_url().parse().unwrap();
    let upstream = tokio::net::lookup_host((pg.host_str().unwrap(), pg.port().unwrap_or(5432)))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = crate::outage::proxy::Proxy::start(upstream).await;
    let port = proxy.port();
    let c = spawn_cluster(2, |s| {
        let mut direct: url::Url = s.database_url.parse().unwrap();
        direct.set_port(Some(port)).unwrap();
        s.database_direct_url = Some(direct.to_string());
        s.change_probe = Duration::from_millis(300);
    })
    .await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let s = grants::setup(a, "ES256").await;
    let template = |plan: &'static str| {
        a.put(
            "/t/default/api/jwt-templates/access_token",
            json!({ "plan": plan }),
        )
    };
    let login = || access_claims(&c, b, &s);
    template("gold").await.expect_status(StatusCode::OK);
    within_a_second("saving a template", login, |c| c["plan"] == "gold").await;

    proxy.strand();
    // Time for a check to find the stranded connection and a new one to listen, well inside
    // the templates' 5 s TTL (which would otherwise hide a listener that hears nothing).
    tokio::time::sleep(Duration::from_secs(2)).await;
    template("silver").await.expect_status(StatusCode::OK);
    within_a_second(
        "saving a template after the listener's connection went silent",
        login,
        |c| c["plan"] == "silver",
    )
    .await;
}
