//! Roles and APIs (resource servers).

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Db, Reply, assert_error, spawn_app};

async fn role_lifecycle(db: Db) {
    let app = spawn_app(db).await;
    let (s, r) = app
        .post("/t/default/api/roles", json!({"name": "admin", "description": "All", "permissions": ["read:all", "write:all", "read:all"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(
        r["permissions"],
        json!(["read:all", "write:all"]),
        "de-duplicated"
    );
    let id = r["id"].as_str().unwrap().to_string();
    let got = app
        .post("/t/default/api/roles", json!({"name": "admin"}))
        .await;
    assert_error(&got, StatusCode::CONFLICT, "conflict", Some("name"));
    let got = app
        .post("/t/default/api/roles", json!({"name": "has space"}))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", Some("name"));
    let got = app
        .post(
            "/t/default/api/roles",
            json!({"name": "ok", "permissions": ["fine", "not fine"]}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("permissions[1]"),
    );

    let r2 = app
        .patch(
            &format!("/t/default/api/roles/{id}"),
            json!({"permissions": ["read:all"], "description": null}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(r2["permissions"], json!(["read:all"]));
    assert_eq!(r2["description"], serde_json::Value::Null);
    let list = app
        .get("/t/default/api/roles")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    // Deleting a role takes it away from its holders.
    let u = app
        .post(
            "/t/default/api/users",
            json!({"email": "r@example.com", "roles": ["admin"]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let (s, _) = app.delete(&format!("/t/default/api/roles/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let u2 = app
        .get(&format!(
            "/t/default/api/users/{}",
            u["id"].as_str().unwrap()
        ))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(u2["roles"], json!([]));
    let got = app.get(&format!("/t/default/api/roles/{id}")).await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
}

async fn api_lifecycle(db: Db) {
    let app = spawn_app(db).await;
    let (s, a) = app
        .post(
            "/t/default/api/apis",
            json!({"identifier": "https://api.example.com", "name": "Orders", "scopes": [{"value": "read:orders", "description": "Read"}, {"value": "write:orders"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("api_"));
    assert_eq!(a["scopes"][1], json!({"value": "write:orders"}));
    let got = app
        .post(
            "/t/default/api/apis",
            json!({"identifier": "https://api.example.com", "name": "Dup"}),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "conflict", Some("identifier"));
    let got = app
        .post(
            "/t/default/api/apis",
            json!({"identifier": "x", "name": "n", "scopes": [{"value": "a"}, {"value": "a"}]}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("scopes[1].value"),
    );
    let got = app
        .post(
            "/t/default/api/apis",
            json!({"identifier": "has space", "name": "n"}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("identifier"),
    );
    let got = app
        .patch(
            &format!("/t/default/api/apis/{id}"),
            json!({"identifier": "changed"}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", None);

    let a2 = app
        .patch(
            &format!("/t/default/api/apis/{id}"),
            json!({"name": "Orders API", "scopes": [{"value": "read:orders"}]}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(a2["name"], "Orders API");
    assert_eq!(a2["scopes"].as_array().unwrap().len(), 1);
    assert_eq!(a2["identifier"], "https://api.example.com");
    let (s, _) = app.delete(&format!("/t/default/api/apis/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let got = app.get(&format!("/t/default/api/apis/{id}")).await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
}

/// The names a listing at `path` returns for `query`, sorted.
async fn names_listed(app: &crate::helpers::TestApp, path: &str, query: &str) -> Vec<String> {
    let page = app
        .get(&format!("/t/default/api/{path}?{query}"))
        .await
        .expect_status(StatusCode::OK);
    let mut names: Vec<String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// The directory's search: roles and APIs whose name starts with what was typed, ASCII letters
/// in any case, the `LIKE` wildcards matching only themselves, paged like every list.
async fn roles_and_apis_are_found_by_the_start_of_their_name(db: Db) {
    let app = spawn_app(db).await;
    for name in ["Editor", "editor_lite", "Viewer", "Edit%"] {
        app.post("/t/default/api/roles", json!({ "name": name }))
            .await
            .expect_status(StatusCode::CREATED);
    }
    for (i, name) in ["Billing", "billing v2", "Reports"].iter().enumerate() {
        app.post(
            "/t/default/api/apis",
            json!({ "identifier": format!("https://api{i}.example.com"), "name": name }),
        )
        .await
        .expect_status(StatusCode::CREATED);
    }
    assert_eq!(
        names_listed(&app, "roles", "name_prefix=EDIT").await,
        ["Edit%", "Editor", "editor_lite"]
    );
    assert_eq!(
        names_listed(&app, "roles", "name_prefix=edit%25").await,
        ["Edit%"]
    );
    assert_eq!(
        names_listed(&app, "roles", "name_prefix=editor_").await,
        ["editor_lite"]
    );
    assert_eq!(
        names_listed(&app, "apis", "name_prefix=bILL").await,
        ["Billing", "billing v2"]
    );
    assert!(
        names_listed(&app, "apis", "name_prefix=Bills")
            .await
            .is_empty()
    );
    // Paged: the first page holds one of the two, its cursor the other.
    let first = app
        .get("/t/default/api/apis?name_prefix=bill&limit=1")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = app
        .get(&format!(
            "/t/default/api/apis?name_prefix=bill&limit=1&cursor={cursor}"
        ))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_ne!(first["data"][0]["name"], second["data"][0]["name"]);
    let long = "a".repeat(256);
    for path in ["roles", "apis"] {
        let got = app
            .get(&format!("/t/default/api/{path}?name_prefix={long}"))
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some("name_prefix"),
        );
    }
}

both_backends!(
    role_lifecycle,
    api_lifecycle,
    roles_and_apis_are_found_by_the_start_of_their_name
);
