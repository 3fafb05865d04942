//! Every hook limit is exact and every refusal is named and traced (the hook contract, docs/hooks.md).
//!
//! The hostile guest's `raw` mode makes exactly the host calls listed in the user's
//! `user_metadata.calls`, with exactly the text given, so these tests send what the SDK never
//! would: `1E15`, names with NUL, scopes the login does not allow.
//!
//! - The custom-claim cap counts what the token holds, the same way for a new and a replaced
//!   claim, and guest-controlled arithmetic never wraps.
//! - Restricted claims are matched canonically, profile claims included, and templates share
//!   the rule.
//! - `add-scope` cannot escalate: `offline_access` never, API scopes only for that audience,
//!   and in the code flow only what the user consented to.
//! - A metadata write the commit would refuse is refused at call time, named and traced.
//! - A deny reason reaches the wire only as RFC 6749 characters, capped; the trace keeps it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sigil_hooks::Limits;
use sigil_hooks::outcome::{FailurePolicy, FlowStatus};

use super::hostile_tenant::{API, PASSWORD, REDIRECT, password_grant, tenant_with_hostile};
use crate::both_backends;
use crate::code_flow::Browser;
use crate::helpers::{Db, Reply, TestApp, hook, shared_runtime, spawn_app, verify};
use crate::sandbox::{event, failure, prepare, run, step};

/// The per-hook entries of the tenant's newest trace.
async fn newest_trace(app: &TestApp, tenant: &str) -> Value {
    let (s, traces) = app.get(&format!("/t/{tenant}/api/hook-traces")).await;
    assert_eq!(s, StatusCode::OK, "{traces}");
    traces["data"][0].clone()
}

/// Asserts the tenant's newest trace failed its first hook with `code`, naming `needle`.
#[track_caller]
fn assert_first_hook_failed(trace: &Value, code: &str, needle: &str) {
    assert_eq!(trace["hooks"][0]["error_code"], code, "{trace}");
    assert!(
        trace["hooks"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains(needle)),
        "{trace}"
    );
}

/// The user's `user_metadata` for the hostile guest's `raw` mode.
fn raw(calls: Value) -> Value {
    json!({"mode": "raw", "calls": calls})
}

/// An in-process event for the `raw` mode.
fn raw_event(calls: Value) -> sigil_hooks::event::PostLoginEvent {
    event(|e| e["user"]["user_metadata"] = raw(calls))
}

// ---------------------------------------------------------------------------------------------
// The custom-claim cap
// ---------------------------------------------------------------------------------------------

/// docs/hooks.md "Limits": the custom-claim bytes of a token count each claim as the token
/// holds it, its name and its value serialized as JSON, the same way when a claim is added and
/// when it is replaced. `1E15` is 4 bytes of text but `1000000000000000.0` once parsed and
/// serialized, so counting the text let a hook put several times the cap into a token, and
/// replacing a claim subtracted more than it had added (a wrapping counter).
#[test]
fn claim_cap_counts_what_the_token_holds() {
    let rt = shared_runtime();
    let h = prepare(&rt, &hook("hostile"));
    // Hundreds of host calls: a generous deadline, so a loaded machine running a debug build
    // fails on the cap this test is about and never on time.
    let limits = Limits {
        deadline_ms: 2_000,
        flow_deadline_ms: 2_000,
        ..Limits::default()
    };
    let stored = serde_json::to_string(&serde_json::from_str::<Value>("1E15").unwrap()).unwrap();
    assert_eq!(stored, "1000000000000000.0");
    let per_claim = "\"c000\"".len() + stored.len();
    let fit = limits.claim_bytes / per_claim;
    let flow = |calls: Value| {
        run(
            &rt,
            &[step(h.clone(), limits, FailurePolicy::FailClosed)],
            &raw_event(calls),
        )
    };

    let out = flow(json!([["set-id-token-claim", "c{i}", "1E15", fit]]));
    assert_eq!(out.status, FlowStatus::Success, "{:?}", out.trace);
    assert_eq!(out.id_token_claims.len(), fit);
    let out = flow(json!([["set-id-token-claim", "c{i}", "1E15", fit + 1]]));
    let (code, message) = failure(&out);
    assert_eq!(code, "output_limit", "{message}");
    println!(
        "claim cap {} bytes: {fit} claims of {per_claim} bytes fit, {} do not",
        limits.claim_bytes,
        fit + 1
    );

    // Replacing counts the same way: a claim replaced 500 times (first with a shorter text,
    // then with `1E15`) still counts once, and the cap still falls at the same claim.
    let replaced = json!([
        ["set-id-token-claim", "c000", "1", 1],
        ["set-id-token-claim", "c000", "1E15", 500],
        ["set-id-token-claim", "c{i}", "1E15", fit]
    ]);
    let out = flow(replaced);
    assert_eq!(out.status, FlowStatus::Success, "{:?}", out.trace);
    let over = json!([
        ["set-id-token-claim", "c000", "1E15", 500],
        ["set-access-token-claim", "c{i}", "1E15", fit],
        ["set-id-token-claim", "c{i}", "1E15", fit + 1]
    ]);
    assert_eq!(failure(&flow(over)).0, "output_limit");
}

// ---------------------------------------------------------------------------------------------
// Restricted claims
// ---------------------------------------------------------------------------------------------

/// docs/hooks.md "Claim precedence": restricted names are matched ASCII case-insensitively
/// after trimming (`Sub`, ` sub `, `SUB` are `sub` to a lax relying party); control characters
/// and NUL are refused (`su\0b` is `su` to a C parser); the profile claims (`name`,
/// `updated_at`, ...) are restricted too, with a message saying so, because the user profile
/// would silently replace them; RFC 7800 `cnf` and RFC 8693 `act`/`may_act` are on the list.
#[test]
fn restricted_claims_are_matched_canonically() {
    let rt = shared_runtime();
    let h = prepare(&rt, &hook("hostile"));
    let cases = [
        ("set-id-token-claim", "Sub", "restricted_claim"),
        ("set-id-token-claim", " sub ", "restricted_claim"),
        ("set-id-token-claim", "SUB", "restricted_claim"),
        ("set-access-token-claim", "Scope", "restricted_claim"),
        ("set-access-token-claim", "CLIENT_ID", "restricted_claim"),
        ("set-id-token-claim", "cnf", "restricted_claim"),
        ("set-access-token-claim", "act", "restricted_claim"),
        ("set-access-token-claim", "may_act", "restricted_claim"),
        ("set-id-token-claim", "Org_Id", "restricted_claim"),
        ("set-id-token-claim", "name", "restricted_claim"),
        ("set-id-token-claim", "updated_at", "restricted_claim"),
        ("set-id-token-claim", "Email_Verified", "restricted_claim"),
        ("set-id-token-claim", "su\u{0}b", "invalid_claim_name"),
        ("set-id-token-claim", "sub\n", "invalid_claim_name"),
        ("set-id-token-claim", "", "invalid_claim_name"),
    ];
    for (call, name, code) in cases {
        let out = run(
            &rt,
            &[step(
                h.clone(),
                Limits::default(),
                FailurePolicy::FailClosed,
            )],
            &raw_event(json!([[call, name, "\"x\""]])),
        );
        let (got, message) = failure(&out);
        assert_eq!(got, code, "{call} {name:?}: {message}");
        if matches!(name, "name" | "updated_at" | "Email_Verified") {
            assert!(message.contains("user profile"), "{name}: {message}");
        }
    }
    let out = run(
        &rt,
        &[step(h, Limits::default(), FailurePolicy::FailClosed)],
        &raw_event(json!([
            ["set-id-token-claim", "department", "\"eng\""],
            ["set-access-token-claim", "https://example.com/sub", "1"]
        ])),
    );
    assert_eq!(out.status, FlowStatus::Success, "{:?}", out.trace);
    assert_eq!(out.id_token_claims["department"], "eng");
    assert_eq!(out.access_token_claims["https://example.com/sub"], 1);
}

/// docs/hooks.md "Claim precedence": a hook setting `name` used to be traced as having set it
/// while the user's profile silently replaced it in the ID token. Now the hook fails with
/// `restricted_claim` (here fail-open, so the login goes on), the trace says so, and the ID
/// token carries the profile's name.
async fn hook_cannot_silently_overwrite_profile_claims(db: Db) {
    let app = spawn_app(db).await;
    let calls = json!([["set-id-token-claim", "name", "\"Mallory\""]]);
    let t = tenant_with_hostile(&app, "default", raw(calls), "fail_open", 1).await;
    let (s, body) = password_grant(&app, &t, &[("scope", "openid profile")]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (_, id) = verify(&app, body["id_token"].as_str().unwrap()).await;
    assert_eq!(id["name"], "Ada");
    let trace = newest_trace(&app, "default").await;
    let hook = &trace["hooks"][0];
    assert_eq!(hook["outcome"], "failed_open", "{trace}");
    assert_eq!(hook["error_code"], "restricted_claim", "{trace}");
    assert_eq!(hook["claims_set"], json!([]), "{trace}");
}

// ---------------------------------------------------------------------------------------------
// add-scope
// ---------------------------------------------------------------------------------------------

/// docs/hooks.md "Scopes": a hook can never add `offline_access` (a refresh token is the
/// user's and the application's choice, RFC 6749 1.5, OIDC Core 11); the refusal is a named
/// error in the trace, not a silent drop.
async fn add_scope_cannot_add_offline_access(db: Db) {
    let app = spawn_app(db).await;
    let calls = json!([["add-scope", "offline_access"]]);
    let t = tenant_with_hostile(&app, "default", raw(calls), "fail_closed", 1).await;
    let (s, body) = password_grant(&app, &t, &[("scope", "openid")]).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body.get("refresh_token").is_none());
    let trace = newest_trace(&app, "default").await;
    assert_first_hook_failed(&trace, "scope_not_allowed", "offline_access");
}

/// docs/hooks.md "Scopes": an API's scope may be added only when that API is the login's
/// audience (RFC 8707: an access token's scopes belong to its audience); a scope no API
/// defines is refused too.
async fn add_scope_of_an_api_needs_it_as_audience(db: Db) {
    let app = spawn_app(db).await;
    let calls = json!([["add-scope", "read:reports"]]);
    let t = tenant_with_hostile(&app, "default", raw(calls), "fail_closed", 1).await;
    let (s, body) = password_grant(&app, &t, &[("scope", "openid")]).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let trace = newest_trace(&app, "default").await;
    assert_first_hook_failed(&trace, "scope_not_allowed", "read:reports");

    let invented = raw(json!([["add-scope", "admin:everything"]]));
    set_user_metadata(&app, "default", invented).await;
    let (s, _) = password_grant(&app, &t, &[("scope", "openid"), ("audience", API)]).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let trace = newest_trace(&app, "default").await;
    assert_first_hook_failed(&trace, "scope_not_allowed", "");
}

/// docs/hooks.md "Scopes": what the application may request is addable: OIDC scopes other than
/// `offline_access`, and the audience API's scopes. They reach the token's `scope` (RFC 6749
/// 5.1, RFC 9068 2.2.3).
async fn add_scope_within_what_the_app_may_request_reaches_the_token(db: Db) {
    let app = spawn_app(db).await;
    let calls = json!([["add-scope", "read:reports"], ["add-scope", "email"]]);
    let t = tenant_with_hostile(&app, "default", raw(calls), "fail_closed", 1).await;
    let (s, body) = password_grant(&app, &t, &[("scope", "openid"), ("audience", API)]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "openid read:reports email");
    let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["scope"], "openid read:reports email");
}

/// docs/hooks.md "Scopes": in the code flow of a third-party application, a hook may add only
/// scopes the user consented to (OIDC Core 3.1.2.4): `profile` is a scope the application may
/// request, but this user consented to `openid` alone.
async fn add_scope_in_the_code_flow_needs_consent(db: Db) {
    let app = spawn_app(db).await;
    let calls = json!([["add-scope", "profile"]]);
    let t = tenant_with_hostile(&app, "default", raw(calls), "fail_closed", 1).await;
    app.patch(
        &format!("/t/default/api/applications/{}", t.client_id),
        json!({"first_party": false}),
    )
    .await
    .expect_status(StatusCode::OK);
    let mut b = Browser::new(&app);
    let page = b.get(&authorize_path(&t.client_id, "openid")).await;
    let consent = b.login(&page, "ada@example.com", PASSWORD).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let (authz, csrf) = (consent.field("authz"), consent.field("csrf"));
    let back = b
        .post(
            "/t/default/consent",
            &[("authz", &authz), ("csrf", &csrf), ("decision", "allow")],
        )
        .await;
    let q = back.location();
    assert_eq!(q["error"], "server_error", "{q:?}");
    let trace = newest_trace(&app, "default").await;
    assert_first_hook_failed(&trace, "scope_not_allowed", "");
}

fn authorize_path(client_id: &str, scope: &str) -> String {
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "st-1")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    format!("/t/default/authorize?{}", q.finish())
}

async fn set_user_metadata(app: &TestApp, tenant: &str, user_metadata: Value) {
    let users = app
        .get(&format!("/t/{tenant}/api/users"))
        .await
        .expect_status(StatusCode::OK);
    let id = users["data"][0]["id"].as_str().unwrap().to_string();
    let (s, b) = app
        .call(
            Method::PATCH,
            &format!("/t/{tenant}/api/users/{id}"),
            Some(&app.operator_key),
            Some(json!({"user_metadata": user_metadata})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

// ---------------------------------------------------------------------------------------------
// Metadata writes
// ---------------------------------------------------------------------------------------------

/// docs/hooks.md "Flow semantics" and src/metadata.rs: a write the commit's merge would refuse
/// (here a nested key of 300 characters, over the 255 limit at any depth) is refused inside the
/// `set-user-metadata` call with `metadata_refused`, so the flow fails where the hook made the
/// mistake and the trace names it (it used to pass the host and fail the commit, untraced).
async fn metadata_write_refused_at_call_time(db: Db) {
    let app = spawn_app(db).await;
    let long = "k".repeat(300);
    let value = json!({"outer": {long.clone(): 1}}).to_string();
    let calls = json!([["set-user-metadata", "profile", value]]);
    let t = tenant_with_hostile(&app, "default", raw(calls), "fail_closed", 1).await;
    let (s, body) = password_grant(&app, &t, &[("scope", "openid")]).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let trace = newest_trace(&app, "default").await;
    assert_eq!(trace["status"], "failed", "{trace}");
    let hook = &trace["hooks"][0];
    assert_eq!(hook["error_code"], "metadata_refused", "{trace}");
    let error = hook["error"].as_str().unwrap();
    assert!(error.contains(&format!("profile.outer.{long}")), "{error}");
}

/// src/metadata.rs: the host checks a write against the metadata the commit will merge it
/// into (the user's current metadata and earlier hooks' writes), with the same code: over the
/// 16 KiB limit together, or nested deeper than the limit, is refused at call time.
#[test]
fn metadata_writes_are_checked_against_what_the_commit_merges() {
    let rt = shared_runtime();
    let h = prepare(&rt, &hook("hostile"));
    let nine_kib = json!("x".repeat(9 * 1024)).to_string();
    // The hook reads its calls from its secret `CALLS`, so the user's metadata holds only
    // the mode and what each case puts there.
    let writes = |calls: Value| {
        let mut s = step(h.clone(), Limits::default(), FailurePolicy::FailClosed);
        s.secrets = vec![("CALLS".into(), calls.to_string())];
        s
    };
    let user_with = |mut metadata: Value| {
        metadata["mode"] = json!("raw");
        event(|e| e["user"]["user_metadata"] = metadata)
    };
    let has_big = user_with(json!({"big": "y".repeat(9 * 1024)}));

    // The user already has 9 KiB; another 9 KiB key would be over 16 KiB once merged.
    let out = run(
        &rt,
        &[writes(json!([["set-user-metadata", "more", nine_kib]]))],
        &has_big,
    );
    let (code, message) = failure(&out);
    assert_eq!(code, "metadata_refused", "{message}");
    assert!(message.contains("16384"), "{message}");

    // Replacing the big key instead fits (a top-level key replaces the old value whole).
    let out = run(
        &rt,
        &[writes(json!([["set-user-metadata", "big", nine_kib]]))],
        &has_big,
    );
    assert_eq!(out.status, FlowStatus::Success, "{:?}", out.trace);

    // Two hooks, each fine alone: the second is refused with the first one's write counted.
    let empty = user_with(json!({}));
    let app_write = |key: &str| writes(json!([["set-app-metadata", key, nine_kib]]));
    let out = run(&rt, &[app_write("a"), app_write("a")], &empty);
    assert_eq!(out.status, FlowStatus::Success, "{:?}", out.trace);
    let out = run(&rt, &[app_write("a"), app_write("b")], &empty);
    assert_eq!(failure(&out).0, "metadata_refused");
    assert_eq!(out.trace[0].outcome, "ok");

    // Too deep: 40 nested arrays (the limit is 32 levels, the object itself being one).
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    let out = run(
        &rt,
        &[writes(json!([["set-user-metadata", "deep", deep]]))],
        &empty,
    );
    let (code, message) = failure(&out);
    assert_eq!(code, "metadata_refused", "{message}");
    assert!(message.contains("deeper"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Deny reasons on the wire
// ---------------------------------------------------------------------------------------------

/// A reason with a quote, a backslash, a newline, a non-ASCII letter and a long tail.
fn hostile_reason() -> String {
    format!("bad\"\\reason\n\u{e9}{}", " tail".repeat(60))
}

/// What RFC 6749 4.1.2.1 / 5.2 allow in `error_description`: %x20-21 / %x23-5B / %x5D-7E,
/// at most 200 characters (docs/hooks.md "Flow semantics").
fn assert_wire_safe(description: &str) {
    assert!(description.chars().count() <= 200, "{description}");
    assert!(
        description
            .chars()
            .all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')),
        "{description:?}"
    );
    let expected: String = format!("bad??reason??{}", " tail".repeat(60))
        .chars()
        .take(200)
        .collect();
    assert_eq!(description, expected);
}

/// RFC 6749 5.2: the token endpoint's `error_description` carries only %x20-21 / %x23-5B /
/// %x5D-7E; a hook's deny reason is sanitized (others become `?`) and capped at 200 characters
/// there, while the trace keeps the reason as the hook gave it.
async fn deny_reason_is_wire_safe_at_the_token_endpoint(db: Db) {
    let app = spawn_app(db).await;
    let calls = json!([["deny", hostile_reason()]]);
    let t = tenant_with_hostile(&app, "default", raw(calls), "fail_closed", 1).await;
    let (s, body) = password_grant(&app, &t, &[("scope", "openid")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "access_denied");
    assert_wire_safe(body["error_description"].as_str().unwrap());
    let trace = newest_trace(&app, "default").await;
    assert_eq!(trace["hooks"][0]["outcome"], "denied", "{trace}");
    assert_eq!(trace["hooks"][0]["reason"], hostile_reason(), "{trace}");
}

/// RFC 6749 4.1.2.1: the authorization error redirect's `error_description` follows the same
/// rule as the token endpoint's.
async fn deny_reason_is_wire_safe_in_the_redirect(db: Db) {
    let app = spawn_app(db).await;
    let calls = json!([["deny", hostile_reason()]]);
    let t = tenant_with_hostile(&app, "default", raw(calls), "fail_closed", 1).await;
    let mut b = Browser::new(&app);
    let page = b.get(&authorize_path(&t.client_id, "openid")).await;
    let back = b.login(&page, "ada@example.com", PASSWORD).await;
    let q = back.location();
    assert_eq!(q["error"], "access_denied", "{q:?}");
    assert_wire_safe(&q["error_description"]);
    let trace = newest_trace(&app, "default").await;
    assert_eq!(trace["hooks"][0]["reason"], hostile_reason(), "{trace}");
}

both_backends!(
    hook_cannot_silently_overwrite_profile_claims,
    add_scope_cannot_add_offline_access,
    add_scope_of_an_api_needs_it_as_audience,
    add_scope_within_what_the_app_may_request_reaches_the_token,
    add_scope_in_the_code_flow_needs_consent,
    metadata_write_refused_at_call_time,
    deny_reason_is_wire_safe_at_the_token_endpoint,
    deny_reason_is_wire_safe_in_the_redirect,
);
