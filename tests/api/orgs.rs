//! Organizations, their metadata and memberships with per-organization roles.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Db, Reply, assert_error, spawn_app};

async fn organization_lifecycle(db: Db) {
    let app = spawn_app(db).await;
    let (s, o) = app
        .post(
            "/t/default/api/organizations",
            json!({"name": "acme", "display_name": "Acme Corp", "metadata": {"tier": "gold"}, "external_id": "crm-7"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let id = o["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("org_"));
    let got = app
        .post("/t/default/api/organizations", json!({"name": "acme"}))
        .await;
    assert_error(&got, StatusCode::CONFLICT, "conflict", Some("name"));
    let got = app
        .post(
            "/t/default/api/organizations",
            json!({"name": "other", "external_id": "crm-7"}),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "conflict", Some("external_id"));
    let got = app
        .post(
            "/t/default/api/organizations",
            json!({"name": "x", "metadata": {"k": "v".repeat(17_000)}}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("metadata"),
    );

    let by_ext = app
        .get("/t/default/api/organizations/by-external-id/crm-7")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(by_ext["id"], id.as_str());
    let by_name = app
        .get("/t/default/api/organizations?name=acme")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(by_name["data"][0]["id"], id.as_str());

    let m = app
        .patch(
            &format!("/t/default/api/organizations/{id}/metadata"),
            json!({"region": "eu", "tier": null}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(m, json!({"region": "eu"}));
    let m = app
        .put(
            &format!("/t/default/api/organizations/{id}/metadata"),
            json!({"tier": "silver"}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(m, json!({"tier": "silver"}));
    let (s, o2) = app
        .patch(
            &format!("/t/default/api/organizations/{id}"),
            json!({"display_name": null, "metadata": {"seats": 10}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(o2["display_name"], serde_json::Value::Null);
    assert_eq!(o2["metadata"], json!({"tier": "silver", "seats": 10}));

    let (s, _) = app
        .delete(&format!("/t/default/api/organizations/{id}"))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let got = app.get(&format!("/t/default/api/organizations/{id}")).await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
}

async fn memberships_with_roles(db: Db) {
    let app = spawn_app(db).await;
    app.post(
        "/t/default/api/roles",
        json!({"name": "org:admin", "permissions": ["billing:manage"]}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    app.post("/t/default/api/roles", json!({"name": "org:member"}))
        .await
        .expect_status(StatusCode::CREATED);
    let o = app
        .post("/t/default/api/organizations", json!({"name": "acme"}))
        .await
        .expect_status(StatusCode::CREATED);
    let org = o["id"].as_str().unwrap().to_string();
    let u = app.user("member@example.com").await;
    let user = u["id"].as_str().unwrap().to_string();

    let (s, m) = app
        .post(
            &format!("/t/default/api/organizations/{org}/members"),
            json!({"user_id": user, "roles": ["org:admin"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["roles"], json!(["org:admin"]));
    let got = app
        .post(
            &format!("/t/default/api/organizations/{org}/members"),
            json!({"user_id": user}),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "conflict", Some("user_id"));
    let got = app
        .post(
            &format!("/t/default/api/organizations/{org}/members"),
            json!({"user_id": "usr_nope"}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("user_id"),
    );

    // An unknown role refuses the whole membership: nothing half-made is left.
    let other = app.user("other@example.com").await;
    let got = app
        .post(
            &format!("/t/default/api/organizations/{org}/members"),
            json!({"user_id": other["id"], "roles": ["org:member", "ghost"]}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("roles[1]"),
    );
    let got = app
        .get(&format!(
            "/t/default/api/organizations/{org}/members/{}",
            other["id"].as_str().unwrap()
        ))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);

    let m = app
        .put(
            &format!("/t/default/api/organizations/{org}/members/{user}"),
            json!({"roles": ["org:member"]}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(m["roles"], json!(["org:member"]));
    let list = app
        .get(&format!("/t/default/api/organizations/{org}/members"))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    // Each side names the other, so a list of members or of organizations reads without a
    // request per row.
    assert_eq!(list["data"][0]["user_email"], "member@example.com");
    assert_eq!(list["data"][0]["organization_name"], "acme");
    let mine = app
        .get(&format!("/t/default/api/users/{user}/organizations"))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(mine["data"][0]["organization_id"], org.as_str());
    assert_eq!(mine["data"][0]["organization_name"], "acme");
    assert_eq!(mine["data"][0]["user_email"], "member@example.com");
    assert_eq!(mine["data"][0]["roles"], json!(["org:member"]));

    let (s, _) = app
        .delete(&format!(
            "/t/default/api/organizations/{org}/members/{user}"
        ))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let got = app
        .delete(&format!(
            "/t/default/api/organizations/{org}/members/{user}"
        ))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);

    // Deleting a user or an organization removes its memberships.
    app.post(
        &format!("/t/default/api/organizations/{org}/members"),
        json!({"user_id": user}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    app.delete(&format!("/t/default/api/users/{user}"))
        .await
        .expect_status(StatusCode::NO_CONTENT);
    let list = app
        .get(&format!("/t/default/api/organizations/{org}/members"))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
}

/// The directory's search: organizations whose name starts with what was typed, ASCII letters
/// in any case, the same on both back-ends; wildcards match only themselves.
async fn organizations_are_found_by_the_start_of_their_name(db: Db) {
    let app = spawn_app(db).await;
    for name in [
        "Globex",
        "globe-trotters",
        "Initech",
        "g_x",
        "Égide",
        "égal",
    ] {
        app.post("/t/default/api/organizations", json!({ "name": name }))
            .await
            .expect_status(StatusCode::CREATED);
    }
    let names = |q: &str| {
        let app = &app;
        let q = q.to_string();
        async move {
            let page = app
                .get(&format!("/t/default/api/organizations?name_prefix={q}"))
                .await
                .expect_status(StatusCode::OK);
            let mut n: Vec<String> = page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["name"].as_str().unwrap().to_string())
                .collect();
            n.sort();
            n
        }
    };
    assert_eq!(names("GLOB").await, ["Globex", "globe-trotters"]);
    assert_eq!(names("g_").await, ["g_x"]);
    assert_eq!(names("init").await, ["Initech"]);
    // Only ASCII letters fold: `É` finds `Égide`, not `égal`, on SQLite and PostgreSQL alike.
    assert_eq!(names("%C3%89").await, ["Égide"]);
    assert_eq!(names("x").await, Vec::<String>::new());
    let (s, e) = app
        .get(&format!(
            "/t/default/api/organizations?name_prefix={}",
            "a".repeat(256)
        ))
        .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("name_prefix")),
        "{e}"
    );
}

both_backends!(
    organization_lifecycle,
    memberships_with_roles,
    organizations_are_found_by_the_start_of_their_name
);
