//! SIGTERM (issue 13 item 4): the node stops taking connections and says `draining` on
//! `/readyz`, lets the requests in flight finish within `--drain-seconds`, drops what is still
//! open after that, stores the queued hook traces, and exits 0.
//!
//! A request is known to be in flight without any sleep: it is sent with `Expect:
//! 100-continue` and its body held back, and the server answers `100 Continue` only once the
//! handler reads the body. Until the client sends the body, the request stays in flight.

use std::time::{Duration, Instant};

use axum::body::Body;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sigil::startup::Application;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tower::ServiceExt as _;

use super::process::Serve;
use super::{Node, node_settings};
use crate::both_backends;
use crate::helpers::{Db, FreshDb, hook, ready};

/// How long a test waits for something the server does at once (a reply, a refused connection).
const PATIENCE: Duration = Duration::from_secs(10);

/// Sends the head of a request whose body (`body_len` bytes) the client holds back, and waits
/// for `100 Continue`: from then on the request is in flight in the server's handler.
async fn request_in_flight(port: u16, head: &str, body_len: usize) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "{head}Host: 127.0.0.1:{port}\r\nContent-Length: {body_len}\r\nExpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("100 Continue in time")
            .unwrap();
        assert!(n > 0, "the server closed the connection: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 100 Continue"), "{got}");
    stream
}

/// Sends the held-back body and reads the response to its end (the draining server closes the
/// connection after it): the status and the body.
async fn finish(mut stream: TcpStream, body: &[u8]) -> (u16, String) {
    stream.write_all(body).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut got))
        .await
        .expect("the response in time")
        .unwrap();
    let got = String::from_utf8_lossy(&got).into_owned();
    let status = got
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {got}"));
    let body = got
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// Waits until connecting to `port` is refused (the listener closed).
async fn wait_until_refused(port: u16) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return,
            _ if Instant::now() > deadline => panic!("port {port} still takes connections"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// In process, so `/readyz` can be asked while no new connection is taken: with a request in
/// flight and the shutdown started, new connections are refused, `/readyz` answers 503
/// `draining`, and the request in flight still completes.
async fn while_draining_readyz_answers_503_and_new_connections_are_refused(db: Db) {
    let fresh = FreshDb::new(db).await;
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let app = Application::build(node_settings(&fresh.url, &master))
        .await
        .unwrap();
    let key = app.bootstrap_key().unwrap().key.clone();
    let mut node = Node::start(app);
    assert!(ready(node.port).await);

    let body = br#"{"name":"made-while-draining"}"#;
    let held = request_in_flight(
        node.port,
        &format!(
            "POST /api/tenants HTTP/1.1\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\n"
        ),
        body.len(),
    )
    .await;
    node.begin_stop();
    wait_until_refused(node.port).await;

    let app = sigil::http::app(
        node.svc.clone(),
        sigil::http::metrics::Exposure::Off,
        sigil::http::unavailable::DEFAULT_REQUEST_TIMEOUT,
    );
    let res = app
        .oneshot(
            axum::http::Request::get("/readyz")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let readiness: Value = serde_json::from_slice(
        &axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        readiness,
        json!({"status": "draining", "checks": {"database": "ok", "migrations": "ok", "hooks": "ok"}})
    );

    let (status, reply) = finish(held, body).await;
    assert_eq!(status, 201, "the request in flight completes: {reply}");
    node.stop().await;
}

both_backends!(while_draining_readyz_answers_503_and_new_connections_are_refused);

/// A password grant in flight when SIGTERM arrives completes with 200 while new connections
/// are refused, and the process then exits 0 (well within the drain bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish_then_the_process_exits_0() {
    let fresh = FreshDb::new(Db::Sqlite).await;
    let mut serve = Serve::start(&fresh, &["--drain-seconds", "10"], &[]).await;
    let (form, authorization) = serve.password_login().await;
    let held = request_in_flight(
        serve.port,
        &format!(
            "POST /t/default/oauth/token HTTP/1.1\r\nAuthorization: {authorization}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n"
        ),
        form.len(),
    )
    .await;

    serve.sigterm();
    let signalled = Instant::now();
    wait_until_refused(serve.port).await;
    let (status, reply) = finish(held, form.as_bytes()).await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("access_token"), "{reply}");
    let exit = serve.exit_within(Duration::from_secs(10) + PATIENCE).await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "nothing left to wait for once the request finished"
    );
}

/// A login that ran a bound hook just before SIGTERM: its trace (queued for the batched
/// writer) is in the database once the process has exited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_of_a_login_just_before_sigterm_is_stored_before_the_process_exits() {
    let fresh = FreshDb::new(Db::Sqlite).await;
    let mut serve = Serve::start(&fresh, &[], &[]).await;
    let (form, authorization) = serve.password_login().await;
    let res = reqwest::Client::new()
        .post(format!("{}/t/default/api/hooks/roles/versions", serve.base))
        .bearer_auth(&serve.key)
        .header("content-type", "application/wasm")
        .body(hook("roles_claims"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    serve
        .call(
            reqwest::Method::POST,
            "/t/default/api/hooks/roles/deploy",
            json!({"version": 1}),
            StatusCode::OK,
        )
        .await;
    serve
        .call(
            reqwest::Method::PUT,
            "/t/default/api/flows/post-login",
            json!({"bindings": [{"hook": "roles", "failure_policy": "fail_closed"}]}),
            StatusCode::OK,
        )
        .await;

    let res = reqwest::Client::new()
        .post(format!("{}/t/default/oauth/token", serve.base))
        .header("authorization", authorization)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    serve.sigterm();
    let exit = serve.exit_within(PATIENCE).await;
    assert_eq!(exit.code(), Some(0), "{exit}");

    let store = sigil::store::Store::connect(&fresh.url, 1).await.unwrap();
    let (traces,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM hook_traces")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(traces, 1, "the login's trace was stored");
    store.close().await;
}

/// A request held open (its body never sent) past `SIGIL_DRAIN_SECONDS=1`: the process waits
/// out the bound, drops the connection and exits 0; it does not wait for the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_held_open_past_the_drain_bound_does_not_keep_the_process_alive() {
    let fresh = FreshDb::new(Db::Sqlite).await;
    let mut serve = Serve::start(&fresh, &[], &[("SIGIL_DRAIN_SECONDS", "1")]).await;
    let (form, authorization) = serve.password_login().await;
    let mut held = request_in_flight(
        serve.port,
        &format!(
            "POST /t/default/oauth/token HTTP/1.1\r\nAuthorization: {authorization}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n"
        ),
        form.len(),
    )
    .await;

    serve.sigterm();
    let signalled = Instant::now();
    let exit = serve.exit_within(Duration::from_secs(1) + PATIENCE).await;
    let took = signalled.elapsed();
    assert_eq!(exit.code(), Some(0), "{exit}");
    assert!(
        took >= Duration::from_millis(900),
        "the request in flight had the drain bound: {took:?}"
    );
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, held.read_to_end(&mut rest))
        .await
        .expect("the connection is closed");
    assert!(
        closed.is_err() || rest.is_empty(),
        "no reply to the dropped request: {:?}",
        String::from_utf8_lossy(&rest)
    );
}
