//! The audit log's filters: by resource, by kind of resource, by who acted and by what they
//! did, each exact, combined with AND, newest first and paged.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, assert_error, spawn_app};

/// The `(action, resource_type)` of each entry the log lists for `query`, newest first.
async fn listed(app: &TestApp, query: &str) -> Vec<(String, String)> {
    let page = app
        .get(&format!("/t/default/api/audit-log?{query}"))
        .await
        .expect_status(StatusCode::OK);
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["resource_type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn the_audit_log_is_filtered_by_resource_type_actor_and_action(db: Db) {
    let app = spawn_app(db).await;
    let role = app
        .post("/t/default/api/roles", json!({"name": "auditor"}))
        .await
        .expect_status(StatusCode::CREATED);
    app.patch(
        &format!("/t/default/api/roles/{}", role["id"].as_str().unwrap()),
        json!({"description": "Reads the log"}),
    )
    .await
    .expect_status(StatusCode::OK);
    app.post(
        "/t/default/api/apis",
        json!({"identifier": "https://api.example.com", "name": "Orders"}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    // Logged under the tenant's id: found by its kind, not by a resource id.
    app.post(
        "/t/default/api/signing-keys/rotate",
        json!({"alg": "ES256"}),
    )
    .await
    .expect_status(StatusCode::OK);

    assert_eq!(
        listed(&app, "resource_type=role").await,
        [
            ("update".to_string(), "role".to_string()),
            ("create".to_string(), "role".to_string())
        ]
    );
    assert_eq!(
        listed(&app, "resource_type=signing_key").await,
        [("rotate".to_string(), "signing_key".to_string())]
    );
    assert_eq!(
        listed(&app, "action=create&resource_type=api").await,
        [("create".to_string(), "api".to_string())]
    );
    assert!(listed(&app, "resource_type=rol").await.is_empty());

    // Who: the operator's key made every change above.
    let all = app
        .get("/t/default/api/audit-log")
        .await
        .expect_status(StatusCode::OK);
    let actor = all["data"][0]["actor"].as_str().unwrap().to_string();
    assert!(actor.starts_with("key_"), "{all}");
    let by_key = listed(&app, &format!("actor={actor}&resource_type=role")).await;
    assert_eq!(by_key.len(), 2);
    assert!(
        listed(&app, "actor=cli&resource_type=role")
            .await
            .is_empty()
    );

    // Paged like every list, the filters kept.
    let first = app
        .get("/t/default/api/audit-log?resource_type=role&limit=1")
        .await
        .expect_status(StatusCode::OK);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = app
        .get(&format!(
            "/t/default/api/audit-log?resource_type=role&limit=1&cursor={cursor}"
        ))
        .await
        .expect_status(StatusCode::OK);
    let action = |p: &Value| p["data"][0]["action"].clone();
    assert_eq!(
        (action(&first), action(&second)),
        (json!("update"), json!("create"))
    );
    assert!(second.get("next_cursor").is_none(), "{second}");

    let long = "a".repeat(101);
    for field in ["resource_type", "action", "actor"] {
        let got = app
            .get(&format!("/t/default/api/audit-log?{field}={long}"))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", Some(field));
    }
}

both_backends!(the_audit_log_is_filtered_by_resource_type_actor_and_action);
