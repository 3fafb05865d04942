//! Users migrated from the legacy store: by the password grant and the hosted login page, once
//! when their first logins race, refreshed at every login by `delegate`, completed when
//! imported without a password.

use std::sync::atomic::Ordering;

use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::both_backends;
use crate::helpers::{Db, Reply};

/// The issue's first case: the password grant for a user only the legacy system knows migrates
/// them, and the access token carries the roles and the organization the legacy system gave;
/// the second login is local (the legacy API is not called), and the status counts one
/// migrated user.
async fn a_first_password_grant_migrates_the_user_and_the_next_is_local(db: Db) {
    let (app, s, legacy) = legacy_app(db, "migrate").await;
    let (st, body) = login(
        &app,
        &s,
        "Grace@Legacy.example",
        GRACE_PASSWORD,
        &[("organization", "acme"), ("scope", "openid")],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["https://myapp.com/roles"], json!(["editor"]), "{at}");
    let org = app
        .get("/t/default/api/organizations?name=acme")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(at["org_id"], org["data"][0]["id"], "{at}");
    assert_eq!(legacy.verifies.load(Ordering::SeqCst), 1);
    assert_eq!(
        legacy.keys.lock().unwrap().as_slice(),
        [format!("Bearer {}", mock::KEY)],
        "the host put the key in"
    );

    let users = users_named(&app, "grace@legacy.example").await;
    assert_eq!(users.len(), 1, "{users:?}");
    let grace = &users[0];
    assert_eq!(grace["external_id"], "L-1001");
    assert_eq!(
        grace["has_password"], true,
        "an argon2id hash of the verified password"
    );
    assert_eq!(grace["name"], "Grace Hopper");
    assert_eq!(grace["user_metadata"]["department"], "navy");
    assert_eq!(grace["roles"], json!(["editor"]));
    let members = app
        .get(&format!(
            "/t/default/api/organizations/{}/members",
            org["data"][0]["id"].as_str().unwrap()
        ))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(members["data"][0]["roles"], json!(["billing"]), "{members}");

    // From now on the user is local: the legacy API is not asked.
    let (st, body) = login(&app, &s, "grace@legacy.example", GRACE_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(legacy.verifies.load(Ordering::SeqCst), 1);

    let status = app
        .get("/t/default/api/legacy-store/status")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(status["migrated"], 1, "{status}");
    assert_eq!(status["legacy_users"], 1, "{status}");
    assert_eq!(status["only_in_legacy_store"], 0, "{status}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("sigil_legacy_logins_total{outcome=\"authenticated\"} 1"),
        "{metrics}"
    );
    let traces = app
        .get("/t/default/api/hook-traces")
        .await
        .expect_status(StatusCode::OK);
    let text = traces.to_string();
    assert!(
        !text.contains(GRACE_PASSWORD) && !text.contains("grace@legacy"),
        "neither the password nor the login name is traced: {text}"
    );
}

/// Three first logins of one legacy user at once (as many as the lock lets through: each is
/// counted before it is checked) create exactly one user, and each succeeds.
async fn concurrent_first_logins_create_one_user(db: Db) {
    let (app, s, _legacy) = legacy_app(db, "migrate").await;
    let logins = (0..3).map(|_| login(&app, &s, "grace@legacy.example", GRACE_PASSWORD, &[]));
    let answers = futures::future::join_all(logins).await;
    let mut subjects = Vec::new();
    for (st, body) in answers {
        assert_eq!(st, StatusCode::OK, "{body}");
        let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
        subjects.push(at["sub"].clone());
    }
    subjects.dedup();
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert_eq!(users_named(&app, "grace@legacy.example").await.len(), 1);
}

/// `delegate`: every login asks the legacy store, the local profile follows it, and no
/// password is kept.
async fn delegate_mode_asks_every_time_and_refreshes_the_profile(db: Db) {
    let (app, s, legacy) = legacy_app(db, "delegate").await;
    login(&app, &s, "grace@legacy.example", GRACE_PASSWORD, &[])
        .await
        .expect_status(StatusCode::OK);
    legacy.edit("grace@legacy.example", |p| {
        p["name"] = json!("Rear Admiral Hopper");
        p["roles"] = json!(["billing"]);
    });
    let (st, body) = login(&app, &s, "grace@legacy.example", GRACE_PASSWORD, &[]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, at) = verify(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["https://myapp.com/roles"], json!(["billing"]), "{at}");
    assert_eq!(legacy.verifies.load(Ordering::SeqCst), 2);
    let grace = &users_named(&app, "grace@legacy.example").await[0];
    assert_eq!(grace["name"], "Rear Admiral Hopper");
    assert_eq!(grace["has_password"], false, "delegate keeps no password");
}

/// A user imported without a password hash is completed by the legacy store at their first
/// login (their profile kept, the legacy id set), and is local from then on.
async fn an_imported_user_without_a_hash_is_migrated_at_the_first_login(db: Db) {
    let (app, s, legacy) = legacy_app(db, "migrate").await;
    let res = app
        .client
        .post(format!("{}/t/default/api/users/import", app.base))
        .bearer_auth(&app.operator_key)
        .header("content-type", "application/x-ndjson")
        .body(r#"{"email": "grace@legacy.example", "name": "G. Hopper", "user_metadata": {"badge": 7}}"#)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let status = app
        .get("/t/default/api/legacy-store/status")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        (
            status["imported"].clone(),
            status["imported_without_password"].clone()
        ),
        (json!(1), json!(1)),
        "{status}"
    );
    login(&app, &s, "grace@legacy.example", GRACE_PASSWORD, &[])
        .await
        .expect_status(StatusCode::OK);
    let grace = &users_named(&app, "grace@legacy.example").await[0];
    assert_eq!(grace["has_password"], true);
    assert_eq!(grace["external_id"], "L-1001");
    assert_eq!(
        grace["user_metadata"],
        json!({"badge": 7, "department": "navy"})
    );
    login(&app, &s, "grace@legacy.example", GRACE_PASSWORD, &[])
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(legacy.verifies.load(Ordering::SeqCst), 1);
    let status = app
        .get("/t/default/api/legacy-store/status")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(status["migrated"], 1, "{status}");
    assert_eq!(status["imported_without_password"], 0, "{status}");
}

/// The hosted login page migrates a user as the password grant does.
async fn the_hosted_login_page_migrates_a_user(db: Db) {
    let (app, _s, legacy) = legacy_app(db, "migrate").await;
    let a = app
        .post(
            "/t/default/api/applications",
            json!({"name": "web", "redirect_uris": [crate::code_flow::REDIRECT],
                   "grant_types": ["authorization_code"]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let mut b = Browser::new(&app);
    let page = b
        .get(&authorize_path(a["client_id"].as_str().unwrap(), &[]))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let done = b.login(&page, "grace@legacy.example", GRACE_PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.location().contains_key("code"));
    assert_eq!(legacy.verifies.load(Ordering::SeqCst), 1);
    assert_eq!(users_named(&app, "grace@legacy.example").await.len(), 1);

    // The legacy API down: the page says to try again later (503), nothing is created.
    legacy.add("ken@legacy.example", "unix", json!({"id": "L-2"}));
    legacy.down.store(true, Ordering::SeqCst);
    let mut b = Browser::new(&app);
    let page = b
        .get(&authorize_path(a["client_id"].as_str().unwrap(), &[]))
        .await;
    let done = b.login(&page, "ken@legacy.example", "unix").await;
    assert_eq!(
        done.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        done.body
    );
    assert!(users_named(&app, "ken@legacy.example").await.is_empty());
}

/// A tenant with a legacy store can be deleted (its setting goes with its hooks).
async fn a_tenant_with_a_legacy_store_can_be_deleted(db: Db) {
    let app = spawn_app_with(db, |_| ()).await;
    app.post("/api/tenants", json!({"name": "old"}))
        .await
        .expect_status(StatusCode::CREATED);
    let res = app
        .client
        .post(format!("{}/t/old/api/hooks/legacy/versions", app.base))
        .bearer_auth(&app.operator_key)
        .body(hook("legacy_login"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    app.post("/t/old/api/hooks/legacy/deploy", json!({"version": 1}))
        .await
        .expect_status(StatusCode::OK);
    app.put(
        "/t/old/api/legacy-store",
        json!({"hook": "legacy", "mode": "delegate"}),
    )
    .await
    .expect_status(StatusCode::OK);
    app.delete("/api/tenants/old")
        .await
        .expect_status(StatusCode::NO_CONTENT);
}

both_backends!(
    a_first_password_grant_migrates_the_user_and_the_next_is_local,
    concurrent_first_logins_create_one_user,
    delegate_mode_asks_every_time_and_refreshes_the_profile,
    an_imported_user_without_a_hash_is_migrated_at_the_first_login,
    the_hosted_login_page_migrates_a_user,
    a_tenant_with_a_legacy_store_can_be_deleted,
);
