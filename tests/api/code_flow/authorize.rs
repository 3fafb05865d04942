//! `/authorize` errors: those that cannot be trusted to a redirect stay on the page, the others
//! go back to the client with `state` and `iss` (RFC 6749 4.1.2.1, RFC 9207).

use reqwest::StatusCode;
use serde_json::json;

use super::{Browser, REDIRECT, VERIFIER, authorize_path, challenge, setup};
use crate::both_backends;
use crate::helpers::{Db, Reply, spawn_app};

async fn an_unknown_client_is_shown_on_the_page_never_redirected(db: Db) {
    let app = spawn_app(db).await;
    let mut b = Browser::new(&app);
    let unknown = b.get(&authorize_path("app_nope", &[])).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.headers.get("location").is_none());
    assert!(unknown.body.contains("not known"));
}

async fn an_unregistered_redirect_uri_is_shown_on_the_page_escaped_never_redirected(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let evil = authorize_path(&s.client_id, &[]).replace(
        &url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fevil.example%2F%3Cscript%3E",
    );
    let mismatch = Browser::new(&app).get(&evil).await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert!(mismatch.headers.get("location").is_none());
    assert!(!mismatch.body.contains("<script>"));
}

async fn a_repeated_parameter_is_shown_on_the_page(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let dup = Browser::new(&app)
        .get(&format!(
            "{}&state=again",
            authorize_path(&s.client_id, &[])
        ))
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
}

async fn other_errors_go_back_to_the_client_with_state_and_issuer(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let ch = challenge(VERIFIER);
    let base = format!(
        "/t/default/authorize?client_id={}&redirect_uri={}&state=s1",
        s.client_id,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    for (extra, error) in [
        (
            format!(
                "&response_type=code&code_challenge={ch}&code_challenge_method=S256&scope=openid%20nope"
            ),
            "invalid_scope",
        ),
        ("&response_type=code".to_string(), "invalid_request"),
        (
            format!("&response_type=code&code_challenge={ch}&code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            format!("&response_type=code&code_challenge={ch}"),
            "invalid_request",
        ),
        (
            format!("&response_type=token&code_challenge={ch}&code_challenge_method=S256"),
            "unsupported_response_type",
        ),
        (
            format!(
                "&response_type=code&code_challenge={ch}&code_challenge_method=S256&prompt=none%20login"
            ),
            "invalid_request",
        ),
    ] {
        let p = b.get(&format!("{base}{extra}")).await;
        assert_eq!(p.status, StatusCode::FOUND, "{extra}: {}", p.body);
        let q = p.location();
        assert_eq!(q["error"], error, "{extra}");
        assert_eq!(q["state"], "s1");
        assert!(q.contains_key("iss"));
    }
}

async fn a_client_without_the_code_grant_is_told_so_at_its_redirect_uri(db: Db) {
    let app = spawn_app(db).await;
    setup(&app, json!({})).await;
    let m2m = app
        .post(
            "/t/default/api/applications",
            json!({"name": "m2m", "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let p = Browser::new(&app)
        .get(&authorize_path(m2m["client_id"].as_str().unwrap(), &[]))
        .await;
    assert_eq!(p.location()["error"], "unauthorized_client");
}

both_backends!(
    an_unknown_client_is_shown_on_the_page_never_redirected,
    an_unregistered_redirect_uri_is_shown_on_the_page_escaped_never_redirected,
    a_repeated_parameter_is_shown_on_the_page,
    other_errors_go_back_to_the_client_with_state_and_issuer,
    a_client_without_the_code_grant_is_told_so_at_its_redirect_uri,
);
