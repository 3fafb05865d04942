//! Sessions survive server-side failures (RFC 9700 4.14.2 is about theft, not our errors), and
//! revocation reaches every token a family or a code issued (RFC 7009 2.1, RFC 6749 4.1.2).
//!
//! Items 1-4 of the trust issue: refresh rotation commits with issuance, a concurrent code
//! replay revokes from fresh state, revocation cascades to access tokens, and an import never
//! silently undoes a password change.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::code_flow::{self, Browser, VERIFIER, login_for_code};
use crate::grants::{ADA_PASSWORD, Setup, ada_grant, refresh, setup};
use crate::helpers::{
    Db, REFRESH_RETRY_GRACE_MS, Reply, TestApp, spawn_app, spawn_app_with, spawn_app_with_clock,
    upload_and_bind,
};
use sigil_hooks::runtime::{HookRuntime, RuntimeSettings};

/// A password-grant application with refresh tokens, the user Ada, and a first refresh token.
async fn logged_in(app: &TestApp) -> (Setup, Value) {
    let s = setup(app, "ES256").await;
    let (st, b) = app
        .patch(
            &format!("/t/default/api/applications/{}", s.client_id),
            json!({"grant_types": ["password", "refresh_token"]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (st, first) = ada_grant(app, &s, ADA_PASSWORD, &[("scope", "openid offline_access")]).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    (s, first)
}

async fn set_mode(app: &TestApp, user_id: &str, mode: &str) {
    let (st, b) = app
        .patch(
            &format!("/t/default/api/users/{user_id}/user_metadata"),
            json!({ "mode": mode }),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
}

fn error_of(r: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (r.0, r.1["error"].as_str())
}

/// RFC 7662 2.2 through the tenant's own client: is the token active?
async fn active(app: &TestApp, s: &Setup, tok: &str) -> bool {
    let res = app
        .client
        .post(format!("{}/t/default/oauth/introspect", app.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[("token", tok)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let b: Value = res.json().await.unwrap();
    b["active"].as_bool().expect("introspection answers active")
}

async fn userinfo_status(app: &TestApp, at: &str) -> StatusCode {
    app.call(Method::GET, "/t/default/userinfo", Some(at), None)
        .await
        .0
}

/// Item 1. A refresh that fails on our side (a `fail_closed` hook erroring) issues nothing and
/// leaves the presented token valid: the client's retry succeeds instead of being taken for
/// reuse (RFC 9700 4.14.2 revokes on theft, not on our errors). Only a real second use of a
/// rotated token revokes the family.
async fn refresh_that_fails_server_side_keeps_the_token_valid(db: Db) {
    let app = spawn_app(db).await;
    let (s, first) = logged_in(&app).await;
    let rt = first["refresh_token"].as_str().unwrap().to_string();
    upload_and_bind(&app, &[("flaky", "hostile", "fail_closed")]).await;

    set_mode(&app, &s.user_id, "error").await;
    let failed = refresh(&app, &s, &rt, None).await;
    assert_eq!(
        error_of(&failed),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("server_error")),
        "{}",
        failed.1
    );
    let failed_again = refresh(&app, &s, &rt, None).await;
    assert_eq!(failed_again.0, StatusCode::INTERNAL_SERVER_ERROR);

    // The hook recovers: the same token still works, exactly once.
    set_mode(&app, &s.user_id, "").await;
    let ok = refresh(&app, &s, &rt, None).await;
    assert_eq!(ok.0, StatusCode::OK, "the retry must succeed: {}", ok.1);
    let rt2 = ok.1["refresh_token"].as_str().unwrap().to_string();
    let next = refresh(&app, &s, &rt2, None).await;
    assert_eq!(next.0, StatusCode::OK, "{}", next.1);
    let rt3 = next.1["refresh_token"].as_str().unwrap().to_string();
    // Once its successor was used, the first token coming back is reuse, grace window or not.
    let reuse = refresh(&app, &s, &rt, None).await;
    assert_eq!(
        error_of(&reuse),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let family = refresh(&app, &s, &rt3, None).await;
    assert_eq!(
        error_of(&family),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "a real reuse still revokes the family"
    );
}

/// Item 1. A hook's deny on refresh answers `access_denied` (RFC 6749 5.2 has no better code;
/// Sigil's contract, docs/hooks.md) and leaves the token as it was: the next refresh runs the
/// hooks again and succeeds once the reason is gone.
async fn refresh_denied_by_a_hook_leaves_the_token_unspent(db: Db) {
    let app = spawn_app(db).await;
    let (s, first) = logged_in(&app).await;
    let rt = first["refresh_token"].as_str().unwrap().to_string();
    upload_and_bind(
        &app,
        &[("verified", "require_verified_email", "fail_closed")],
    )
    .await;

    let (st, b) = app
        .patch(
            &format!("/t/default/api/users/{}", s.user_id),
            json!({"email_verified": false}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let denied = refresh(&app, &s, &rt, None).await;
    assert_eq!(
        error_of(&denied),
        (StatusCode::FORBIDDEN, Some("access_denied")),
        "{}",
        denied.1
    );
    let (st, b) = app
        .patch(
            &format!("/t/default/api/users/{}", s.user_id),
            json!({"email_verified": true}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let ok = refresh(&app, &s, &rt, None).await;
    assert_eq!(ok.0, StatusCode::OK, "{}", ok.1);
}

/// Item 1. Two concurrent uses of one refresh token, with a hook in the flow so both are in
/// flight together: exactly one is issued tokens, the other gets `invalid_grant` (RFC 6749
/// 10.4, RFC 9700 4.14.2). Repeated so the race really happens.
async fn concurrent_refreshes_of_one_token_issue_one_successor(db: Db) {
    let app = spawn_app(db).await;
    let (s, _) = logged_in(&app).await;
    upload_and_bind(&app, &[("tier", "org_tier", "fail_closed")]).await;
    // Access tokens handed out: the login of `logged_in`, then per round a password grant, the
    // winners of the race and the successor's refresh.
    let mut issued: i64 = 1;
    for round in 0..8 {
        let (st, fresh) = ada_grant(
            &app,
            &s,
            ADA_PASSWORD,
            &[("scope", "openid offline_access")],
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{fresh}");
        let rt = fresh["refresh_token"].as_str().unwrap();
        let (a, b) = tokio::join!(refresh(&app, &s, rt, None), refresh(&app, &s, rt, None));
        // One rotates; the other loses the race (`invalid_grant`, nothing revoked) or, when it
        // arrives after the winner committed, is taken for a retry within the grace window and
        // given the same successor. Never two successors.
        let successors: std::collections::HashSet<&str> = [&a, &b]
            .iter()
            .filter(|r| r.0 == StatusCode::OK)
            .map(|r| r.1["refresh_token"].as_str().unwrap())
            .collect();
        assert_eq!(
            successors.len(),
            1,
            "round {round}: one successor: {a:?} {b:?}"
        );
        for r in [&a, &b] {
            if r.0 != StatusCode::OK {
                assert_eq!(
                    error_of(r),
                    (StatusCode::BAD_REQUEST, Some("invalid_grant")),
                    "round {round}"
                );
            }
        }
        let successor = successors.into_iter().next().unwrap();
        refresh(&app, &s, successor, None)
            .await
            .expect_status(StatusCode::OK);
        issued += 2 + [&a, &b].iter().filter(|r| r.0 == StatusCode::OK).count() as i64;
    }
    // A use that lost the race stored nothing: every access grant on record is one of the
    // tokens handed out (the rotation and what it pays for commit together, store::rotation).
    let (grants,): (i64,) = sqlx::query_as("SELECT count(*) FROM access_grants")
        .fetch_one(app.svc.db.store.pool())
        .await
        .unwrap();
    assert_eq!(grants, issued, "access grants stored against tokens issued");
}

/// Item 11 (its second half). A login that fails after its hooks ran still leaves their trace,
/// marked `aborted` (docs/hooks.md: every run of a tenant's hooks is traced). Two concurrent
/// refreshes of one token, both past the read before either commits (the hook takes its whole
/// 100 ms deadline, fail-open): one is issued tokens, the other loses at commit, and both runs
/// are in the trace list.
async fn a_login_that_fails_after_its_hooks_ran_is_traced_as_aborted(db: Db) {
    // A runtime of its own: the shared one is busy with other tests, and a wait for a pool
    // slot would fail a flow before its hook ran.
    let runtime = HookRuntime::new(RuntimeSettings {
        threads: 2,
        per_tenant: 2,
        ..Default::default()
    })
    .expect("hook runtime");
    // Fuel far beyond what 100 ms of looping burns, so the deadline (not the fuel) ends the
    // hook and the two refreshes overlap however fast or loaded the machine is.
    let app = spawn_app_with(db, |s| {
        s.hook_runtime = Some(runtime);
        s.hook_ceilings.fuel = 50_000_000_000;
    })
    .await;
    let (s, first) = logged_in(&app).await;
    let rt = first["refresh_token"].as_str().unwrap().to_string();
    upload_and_bind(&app, &[("slow", "hostile", "fail_open")]).await;
    let (st, b) = app
        .put(
            "/t/default/api/hooks/slow/limits",
            json!({"deadline_ms": 100}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    set_mode(&app, &s.user_id, "loop").await;

    let (a, b) = tokio::join!(refresh(&app, &s, &rt, None), refresh(&app, &s, &rt, None));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::BAD_REQUEST],
        "{a:?} {b:?}"
    );

    // Traces are written in batches within milliseconds; the list reads after a flush.
    let (st, traces) = app.get("/t/default/api/hook-traces").await;
    assert_eq!(st, StatusCode::OK, "{traces}");
    let mut got: Vec<&str> = traces["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, ["aborted", "success"], "{traces}");
}

/// Item 2. Six concurrent exchanges of one code: at most one wins, and every loser revokes
/// from fresh state, so the winner's access and refresh tokens both end up dead (RFC 6749
/// 4.1.2: "SHOULD revoke ... all tokens previously issued based on that authorization code";
/// RFC 9700 4.5). Repeated so the race actually happens.
async fn concurrent_code_replay_revokes_everything_the_code_issued(db: Db) {
    let app = spawn_app(db).await;
    let s = code_flow::setup(&app, json!({})).await;
    let mut browser = Browser::new(&app);
    let mut races = 0;
    for round in 0..6 {
        let code = login_for_code(&mut browser, &s, &[("prompt", "login")]).await;
        let results = futures::future::join_all(
            (0..6).map(|_| code_flow::exchange(&app, &s, &code, Some(VERIFIER))),
        )
        .await;
        let winners: Vec<&Value> = results
            .iter()
            .filter(|r| r.0 == StatusCode::OK)
            .map(|r| &r.1)
            .collect();
        assert!(winners.len() <= 1, "round {round}: a code works once");
        for r in &results {
            if r.0 != StatusCode::OK {
                assert_eq!(
                    error_of(r),
                    (StatusCode::BAD_REQUEST, Some("invalid_grant"))
                );
            }
        }
        let Some(w) = winners.first() else { continue };
        races += 1;
        let at = w["access_token"].as_str().unwrap();
        let rt = w["refresh_token"].as_str().unwrap();
        assert_eq!(
            code_flow::userinfo(&app, at).await.0,
            StatusCode::UNAUTHORIZED,
            "round {round}: the winner's access token is revoked"
        );
        let res = app
            .client
            .post(format!("{}/t/default/oauth/token", app.base))
            .basic_auth(&s.client_id, s.secret.as_deref())
            .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "round {round}: the winner's refresh token is revoked"
        );
    }
    assert!(races > 0, "no round had a winner");
}

/// Item 3. Revoking a refresh token (RFC 7009 2.1: "the authorization server SHOULD also
/// invalidate all access tokens based on the same authorization grant") also revokes the access
/// tokens its family issued: introspection says inactive and `/userinfo` answers 401.
async fn revoking_a_refresh_token_revokes_its_access_tokens(db: Db) {
    let app = spawn_app(db).await;
    let (s, first) = logged_in(&app).await;
    let at1 = first["access_token"].as_str().unwrap().to_string();
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let second = refresh(&app, &s, &rt1, None).await;
    assert_eq!(second.0, StatusCode::OK, "{}", second.1);
    let at2 = second.1["access_token"].as_str().unwrap().to_string();
    let rt2 = second.1["refresh_token"].as_str().unwrap().to_string();
    assert!(active(&app, &s, &at1).await && active(&app, &s, &at2).await);

    let res = app
        .client
        .post(format!("{}/t/default/oauth/revoke", app.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[("token", rt2.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    for at in [&at1, &at2] {
        assert!(!active(&app, &s, at).await, "revoked with its family");
        assert_eq!(userinfo_status(&app, at).await, StatusCode::UNAUTHORIZED);
    }
}

/// Item 3. Reuse detection (RFC 9700 4.14.2) revokes the family's access tokens too: a thief
/// who rotated first loses the access token it got once the owner's copy comes back after the
/// retry grace window.
async fn refresh_reuse_revokes_the_familys_access_tokens(db: Db) {
    let (app, clock) = spawn_app_with_clock(db).await;
    let (s, first) = logged_in(&app).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let stolen = refresh(&app, &s, &rt1, None).await;
    assert_eq!(stolen.0, StatusCode::OK);
    let at = stolen.1["access_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::OK);
    clock.advance_ms(REFRESH_RETRY_GRACE_MS + 1);
    let reuse = refresh(&app, &s, &rt1, None).await;
    assert_eq!(
        error_of(&reuse),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(!active(&app, &s, &at).await);
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
}

async fn import(app: &TestApp, query: &str, lines: &[Value]) -> Value {
    let body: Vec<String> = lines.iter().map(Value::to_string).collect();
    let res = app
        .client
        .post(format!("{}/t/default/api/users/import{query}", app.base))
        .bearer_auth(&app.operator_key)
        .body(body.join("\n"))
        .send()
        .await
        .unwrap();
    let st = res.status();
    let b: Value = res.json().await.unwrap();
    assert_eq!(st, StatusCode::OK, "{b}");
    b
}

/// bcrypt of "imported password", cost 4 (what a legacy system would hand over).
fn legacy_hash() -> String {
    bcrypt::hash("imported password", 4).unwrap()
}

async fn password_login(app: &TestApp, s: &Setup, password: &str) -> StatusCode {
    ada_grant(app, s, password, &[("scope", "openid offline_access")])
        .await
        .0
}

/// Item 4. Re-running an import never overwrites a user's current password (or any field
/// changed since): existing users are skipped unless the operator asks for `update`
/// explicitly (docs: README "Importing users").
async fn reimport_never_undoes_a_password_change(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    let line =
        json!({"email": "ada@example.com", "password_hash": legacy_hash(), "name": "Imported"});
    let (st, b) = app
        .put(
            &format!("/t/default/api/users/{}/password", s.user_id),
            json!({"password": "changed after import"}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{b}");
    let report = import(&app, "", std::slice::from_ref(&line)).await;
    assert_eq!(report["skipped"], 1, "{report}");
    assert_eq!(report["updated"], 0, "{report}");
    assert_eq!(
        password_login(&app, &s, "changed after import").await,
        StatusCode::OK
    );
    assert_eq!(
        password_login(&app, &s, "imported password").await,
        StatusCode::BAD_REQUEST
    );
    let u = app
        .get(&format!("/t/default/api/users/{}", s.user_id))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(u["name"], "Ada", "no field changes without update");
}

/// Item 4. An explicit `update` that changes a password revokes the user's sessions and grants
/// exactly as `PUT /password` does (RFC 9700 4.14.2: credentials changed, tokens end).
async fn import_update_that_changes_a_password_revokes_tokens(db: Db) {
    let app = spawn_app(db).await;
    let (s, first) = logged_in(&app).await;
    let at = first["access_token"].as_str().unwrap().to_string();
    let rt = first["refresh_token"].as_str().unwrap().to_string();
    let line =
        json!({"email": "ada@example.com", "password_hash": legacy_hash(), "name": "Imported"});
    let report = import(&app, "?update=true", &[line]).await;
    assert_eq!(report["updated"], 1, "{report}");
    assert_eq!(userinfo_status(&app, &at).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_of(&refresh(&app, &s, &rt, None).await),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        password_login(&app, &s, "imported password").await,
        StatusCode::OK
    );
}

/// Item 4. Seed data from a legacy system carries roles and organization memberships (by id,
/// name or external id, with per-organization roles); unknown names are line errors.
async fn import_carries_roles_and_memberships(db: Db) {
    let app = spawn_app(db).await;
    for r in ["admin", "org:billing"] {
        let (st, b) = app.post("/t/default/api/roles", json!({"name": r})).await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
    }
    let (st, o) = app
        .post(
            "/t/default/api/organizations",
            json!({"name": "globex", "external_id": "crm-7"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{o}");
    let report = import(
        &app,
        "",
        &[
            json!({"email": "grace@example.com", "roles": ["admin"],
                   "organizations": [{"organization": "crm-7", "roles": ["org:billing"]}]}),
            json!({"email": "linus@example.com", "roles": ["nope"]}),
            json!({"email": "ken@example.com", "organizations": [{"organization": "initech"}]}),
        ],
    )
    .await;
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["failed"], 2, "{report}");
    assert_eq!(report["errors"][0]["line"], 2);
    assert_eq!(report["errors"][0]["field"], "roles[0]");
    assert_eq!(
        report["errors"][1]["field"],
        "organizations[0].organization"
    );
    let users = app
        .get("/t/default/api/users?email=grace@example.com")
        .await
        .expect_status(StatusCode::OK);
    let u = &users["data"][0];
    assert_eq!(u["roles"], json!(["admin"]), "{users}");
    let orgs = app
        .get(&format!(
            "/t/default/api/users/{}/organizations",
            u["id"].as_str().unwrap()
        ))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(orgs["data"][0]["organization_id"], o["id"], "{orgs}");
    assert_eq!(orgs["data"][0]["roles"], json!(["org:billing"]), "{orgs}");
}

both_backends!(
    refresh_that_fails_server_side_keeps_the_token_valid,
    refresh_denied_by_a_hook_leaves_the_token_unspent,
    concurrent_refreshes_of_one_token_issue_one_successor,
    a_login_that_fails_after_its_hooks_ran_is_traced_as_aborted,
    concurrent_code_replay_revokes_everything_the_code_issued,
    revoking_a_refresh_token_revokes_its_access_tokens,
    refresh_reuse_revokes_the_familys_access_tokens,
    reimport_never_undoes_a_password_change,
    import_update_that_changes_a_password_revokes_tokens,
    import_carries_roles_and_memberships,
);
