//! Stored flow traces through the management API: filtered by user, application, status and
//! hook; one trace by id; what each hook did (claims, scopes, metadata); latency and outcomes
//! over time computed from them; and never another tenant's.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::grants::{ADA_PASSWORD, ada_grant, application, setup, token};
use crate::helpers::{Db, Reply, spawn_app, spawn_app_with, upload_and_bind, upload_version};
use sigil::clock::{Clock as _, ManualClock, SystemClock};

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

async fn traces_are_filtered_and_charted_by_user_application_status_and_hook(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, "ES256").await;
    // The API lets a hook add `admin:all`, which the example hook adds for organization admins.
    let apis = app
        .get("/t/default/api/apis")
        .await
        .expect_status(StatusCode::OK);
    app.patch(
        &format!(
            "/t/default/api/apis/{}",
            apis["data"][0]["id"].as_str().unwrap()
        ),
        json!({"scopes": [{"value": "read:reports"}, {"value": "admin:all"}]}),
    )
    .await
    .expect_status(StatusCode::OK);
    upload_and_bind(
        &app,
        &[
            ("stamp", "first_login_stamp", "fail_closed"),
            ("scopes", "admin_scopes", "fail_closed"),
        ],
    )
    .await;
    let other = application(&app, json!({"name": "other", "grant_types": ["password"]})).await;
    let bob = app
        .post(
            "/t/default/api/users",
            json!({"email": "bob@example.com", "password": ADA_PASSWORD}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let bob = bob["id"].as_str().unwrap();

    let full = [
        ("scope", "openid read:reports"),
        ("audience", "https://api.example.com"),
        ("organization", "globex"),
    ];
    for _ in 0..2 {
        let (st, b) = ada_grant(&app, &s, ADA_PASSWORD, &full).await;
        assert_eq!(st, StatusCode::OK, "{b}");
    }

    let mut ada_other = other;
    ada_other.user_id = s.user_id.clone();
    let (st, b, _) = token(
        &app,
        &ada_other,
        &[
            ("username", "ada@example.com"),
            ("password", ADA_PASSWORD),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (st, b, _) = token(
        &app,
        &s,
        &[
            ("username", "bob@example.com"),
            ("password", ADA_PASSWORD),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");

    let all = app
        .get("/t/default/api/hook-traces")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(ids(&all).len(), 4, "{all}");
    for t in all["data"].as_array().unwrap() {
        let sum: u64 = t["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["duration_us"].as_u64().unwrap())
            .sum();
        assert_eq!(t["duration_us"], sum, "{t}");
    }
    // Bob's is the newest; Ada's first login is the oldest.
    assert_eq!(all["data"][0]["user_id"], bob);
    assert_eq!(all["data"][0]["client_id"], s.client_id.as_str());
    let first = &all["data"][3];
    assert_eq!(first["user_id"], s.user_id.as_str());
    assert_eq!(
        first["hooks"][0]["metadata_written"],
        json!(["app_metadata.first_login_at"]),
        "{first}"
    );
    assert_eq!(
        first["hooks"][1]["scopes_added"],
        json!(["admin:all"]),
        "{first}"
    );
    // The second login has nothing to stamp: the field is left out, not empty.
    assert!(all["data"][2]["hooks"][0].get("metadata_written").is_none());

    let by = |q: String| {
        let app = &app;
        async move {
            app.get(&format!("/t/default/api/hook-traces?{q}"))
                .await
                .expect_status(StatusCode::OK)
        }
    };
    let ada_runs = by(format!("user_id={}", s.user_id)).await;
    assert_eq!(ids(&ada_runs).len(), 3);
    let other_app = by(format!("client_id={}", ada_other.client_id)).await;
    assert_eq!(
        ids(&other_app),
        vec![all["data"][1]["id"].as_str().unwrap()]
    );
    let both = by(format!("user_id={}&client_id={}", s.user_id, s.client_id)).await;
    assert_eq!(ids(&both).len(), 2);
    assert_eq!(ids(&by("hook=stamp".into()).await).len(), 4);
    assert_eq!(
        ids(&by("hook=stam".into()).await).len(),
        0,
        "whole names only"
    );
    assert_eq!(ids(&by("hook=st%25".into()).await).len(), 0, "no wildcard");
    assert_eq!(ids(&by("status=success".into()).await).len(), 4);
    assert_eq!(ids(&by("status=denied".into()).await).len(), 0);
    let paged = by("limit=3".into()).await;
    assert_eq!(ids(&paged).len(), 3);
    let rest = by(format!(
        "limit=3&cursor={}",
        paged["next_cursor"].as_str().unwrap()
    ))
    .await;
    assert_eq!(ids(&rest), vec![first["id"].as_str().unwrap()]);
    let (st, e) = app.get("/t/default/api/hook-traces?status=ok").await;
    assert_eq!(
        (st, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("status")),
        "{e}"
    );

    // One trace by id, as listed.
    let one = app
        .get(&format!(
            "/t/default/api/hook-traces/{}",
            first["id"].as_str().unwrap()
        ))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(&one, first);

    // Latency and outcomes, over the same filters.
    let l = app
        .get("/t/default/api/hook-traces/latency")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(l["traces"], 4, "{l}");
    let names: Vec<&str> = l["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hook_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["scopes", "stamp"]);
    let count = |series: &Value| -> u64 {
        series["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["count"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(count(&l["hooks"][1]), 4);
    let p = &l["hooks"][1]["points"][0];
    assert!(
        p["p50_us"].as_u64().unwrap() <= p["p99_us"].as_u64().unwrap()
            && p["p99_us"].as_u64().unwrap() <= p["max_us"].as_u64().unwrap(),
        "{p}"
    );
    let successes: u64 = l["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["success"].as_u64().unwrap())
        .sum();
    assert_eq!(successes, 4);
    let bob_only = app
        .get(&format!(
            "/t/default/api/hook-traces/latency?user_id={bob}&hook=stamp"
        ))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(bob_only["traces"], 1);
    assert_eq!(bob_only["hooks"].as_array().unwrap().len(), 1);
    assert_eq!(bob_only["hooks"][0]["hook_name"], "stamp");

    // Another tenant sees none of it, not even by id.
    let beta = app
        .post("/api/tenants", json!({"name": "beta"}))
        .await
        .expect_status(StatusCode::CREATED);
    let key = beta["api_key"]["key"].as_str().unwrap();
    let (st, _) = app
        .call(
            reqwest::Method::GET,
            &format!("/t/beta/api/hook-traces/{}", first["id"].as_str().unwrap()),
            Some(key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, l) = app
        .call(
            reqwest::Method::GET,
            "/t/beta/api/hook-traces/latency",
            Some(key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(l["traces"], 0, "{l}");
}

/// Above the tenant's trace rate (here 2 a second, the clock standing still), a successful
/// login's trace is counted, not stored, and the next stored one stands for it (`runs`), so
/// the latency chart still counts every login; the traces of denied logins, of logins in which
/// a hook failed open, and of test runs are stored whatever the rate.
async fn successful_logins_above_the_trace_rate_are_counted_in_the_next_stored_trace(db: Db) {
    let clock = ManualClock::new(SystemClock.now_ms());
    let server_clock = clock.clone();
    let app = spawn_app_with(db, move |s| {
        s.clock = server_clock;
        s.traces_per_second = 2;
    })
    .await;
    let s = setup(&app, "ES256").await;
    upload_and_bind(&app, &[("stamp", "first_login_stamp", "fail_closed")]).await;
    let bind = |hooks: &'static [&'static str]| {
        let app = &app;
        async move {
            let bindings: Vec<Value> = hooks
                .iter()
                .map(|h| json!({"hook": h, "failure_policy": "fail_closed"}))
                .collect();
            app.put(
                "/t/default/api/flows/post-login",
                json!({"bindings": bindings}),
            )
            .await
            .expect_status(StatusCode::OK);
        }
    };
    let list = || async {
        app.get("/t/default/api/hook-traces")
            .await
            .expect_status(StatusCode::OK)
    };
    let skipped = "sigil_hook_traces_skipped_total";

    for _ in 0..5 {
        let (st, b) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
        assert_eq!(st, StatusCode::OK, "{b}");
    }
    let stored = list().await;
    assert_eq!(ids(&stored).len(), 2, "{stored}");
    for t in stored["data"].as_array().unwrap() {
        assert_eq!(
            (&t["status"], &t["runs"]),
            (&json!("success"), &json!(1)),
            "{t}"
        );
    }
    assert_eq!(app.metric(skipped).await, 3.0);

    // This hook denies a user whose email is not verified, and every denial is stored.
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"email_verified": false}),
    )
    .await
    .expect_status(StatusCode::OK);
    upload_version(&app, "verified", "require_verified_email").await;
    app.post(
        "/t/default/api/hooks/verified/deploy",
        json!({"version": 1}),
    )
    .await
    .expect_status(StatusCode::OK);
    bind(&["stamp", "verified"]).await;
    for _ in 0..3 {
        let (st, b) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
    }
    let test = app
        .post(
            "/t/default/api/hooks/stamp/versions/1/test",
            json!({"event": serde_json::from_str::<Value>(include_str!("../../docs/sample-event.json")).unwrap()}),
        )
        .await;
    assert_eq!(test.0, StatusCode::OK, "{}", test.1);
    let stored = list().await;
    assert_eq!(ids(&stored).len(), 2 + 3 + 1, "{stored}");

    // A hook that fails open lets the login through, and its trace is stored too.
    app.patch(
        &format!("/t/default/api/users/{}", s.user_id),
        json!({"user_metadata": {"mode": "restricted"}}),
    )
    .await
    .expect_status(StatusCode::OK);
    upload_version(&app, "hostile", "hostile").await;
    app.post("/t/default/api/hooks/hostile/deploy", json!({"version": 1}))
        .await
        .expect_status(StatusCode::OK);
    app.put(
        "/t/default/api/flows/post-login",
        json!({"bindings": [
            {"hook": "stamp", "failure_policy": "fail_closed"},
            {"hook": "hostile", "failure_policy": "fail_open"},
        ]}),
    )
    .await
    .expect_status(StatusCode::OK);
    // A millisecond on (a trace's id sorts by its time; two thousandths of a trace back in
    // the bucket), so that this login's trace is the newest.
    clock.advance_ms(1);
    let (st, b) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let newest = list().await["data"][0].clone();
    assert_eq!(
        (
            &newest["status"],
            &newest["hooks"][1]["outcome"],
            &newest["runs"]
        ),
        (&json!("success"), &json!("failed_open"), &json!(1)),
        "{newest}"
    );

    // Half a second gives one trace back: the login's trace stands for the three skipped.
    bind(&["stamp"]).await;
    clock.advance_ms(500);
    let (st, b) = ada_grant(&app, &s, ADA_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let newest = list().await["data"][0].clone();
    assert_eq!(
        (&newest["status"], &newest["runs"]),
        (&json!("success"), &json!(4)),
        "{newest}"
    );
    assert_eq!(app.metric(skipped).await, 3.0);

    let l = app
        .get("/t/default/api/hook-traces/latency")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(l["traces"], 8, "{l}");
    let flows = |status: &str| -> u64 {
        l["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[status].as_u64().unwrap())
            .sum()
    };
    // Seven successful logins (one with a hook that failed open) and the test run; three
    // denied.
    assert_eq!((flows("success"), flows("denied")), (7 + 1, 3), "{l}");
}

both_backends!(
    traces_are_filtered_and_charted_by_user_application_status_and_hook,
    successful_logins_above_the_trace_rate_are_counted_in_the_next_stored_trace,
);
