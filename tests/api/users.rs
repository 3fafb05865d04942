//! Users: CRUD, uniqueness, lookups, pagination, metadata rules and limits, roles, passwords,
//! atomicity and concurrent merges.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sigil::passwords::Verified;

use crate::both_backends;
use crate::helpers::{Db, Reply, assert_error, spawn_app};

async fn user_lifecycle(db: Db) {
    let app = spawn_app(db).await;
    let (s, u) = app
        .post(
            "/t/default/api/users",
            json!({
                "email": "Ada@Example.com", "password": "correct horse battery", "name": "Ada Lovelace",
                "given_name": "Ada", "family_name": "Lovelace", "picture": "https://example.com/a.png",
                "user_metadata": {"department": "eng"}, "app_metadata": {"plan": "pro"}, "external_id": "legacy-1"
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let id = u["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("usr_"));
    assert_eq!(u["email"], "Ada@Example.com");
    assert_eq!(u["has_password"], true);
    assert_eq!(u["logins_count"], 0);
    assert!(u.get("password").is_none() && u.get("password_hash").is_none());
    assert!(!u.to_string().contains("argon2"));

    let (s, got) = app.get(&format!("/t/default/api/users/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, u);
    let by_ext = app
        .get("/t/default/api/users/by-external-id/legacy-1")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(by_ext["id"], id.as_str());
    let filtered = app
        .get("/t/default/api/users?email=ADA@example.COM")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(filtered["data"][0]["id"], id.as_str());
    let filtered = app
        .get("/t/default/api/users?external_id=legacy-1")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);

    // PATCH: absent unchanged, null clears, blocked toggles, metadata merges.
    let (s, p) = app
        .patch(
            &format!("/t/default/api/users/{id}"),
            json!({"nickname": "countess", "picture": null, "blocked": true, "user_metadata": {"team": "engines"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["nickname"], "countess");
    assert_eq!(p["picture"], Value::Null);
    assert_eq!(p["name"], "Ada Lovelace");
    assert_eq!(p["blocked"], true);
    assert_eq!(
        p["user_metadata"],
        json!({"department": "eng", "team": "engines"})
    );
    let p = app
        .patch(
            &format!("/t/default/api/users/{id}"),
            json!({"blocked": false}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(p["blocked"], false);

    // Password: policy enforced, stored as argon2id and verifiable.
    let got = app
        .put(
            &format!("/t/default/api/users/{id}/password"),
            json!({"password": "short"}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("password"),
    );
    let (s, _) = app
        .put(
            &format!("/t/default/api/users/{id}/password"),
            json!({"password": "a brand new secret"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(&id)
        .fetch_one(app.svc.db.store.pool())
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert_eq!(
        app.svc.passwords.verify("a brand new secret", &hash),
        Verified::Yes
    );
    assert_eq!(
        app.svc.passwords.verify("correct horse battery", &hash),
        Verified::No
    );

    let (s, _) = app.delete(&format!("/t/default/api/users/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    for got in [
        app.get(&format!("/t/default/api/users/{id}")).await,
        app.delete(&format!("/t/default/api/users/{id}")).await,
        app.patch(&format!("/t/default/api/users/{id}"), json!({"name": "x"}))
            .await,
        app.get("/t/default/api/users/by-external-id/legacy-1")
            .await,
    ] {
        assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
    }
}

async fn uniqueness_and_validation(db: Db) {
    let app = spawn_app(db).await;
    app.post(
        "/t/default/api/users",
        json!({"email": "ÉMILE@Example.com", "external_id": "e-1"}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    // Case-insensitive per Unicode, not only ASCII.
    let got = app
        .post(
            "/t/default/api/users",
            json!({"email": "émile@example.com"}),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "conflict", Some("email"));
    let got = app
        .post(
            "/t/default/api/users",
            json!({"email": "other@example.com", "external_id": "e-1"}),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "conflict", Some("external_id"));
    let second = app
        .post(
            "/t/default/api/users",
            json!({"email": "second@example.com"}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let got = app
        .patch(
            &format!("/t/default/api/users/{}", second["id"].as_str().unwrap()),
            json!({"email": "Émile@example.com"}),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "conflict", Some("email"));

    for (body, field) in [
        (json!({"email": "not-an-email"}), "email"),
        (
            json!({"email": "a@b.co", "external_id": "x".repeat(129)}),
            "external_id",
        ),
        (json!({"email": "a@b.co", "picture": "ftp://x"}), "picture"),
        (json!({"email": "a@b.co", "name": ""}), "name"),
        (
            json!({"email": "a@b.co", "password": "1234567"}),
            "password",
        ),
        (
            json!({"email": "a@b.co", "user_metadata": [1, 2]}),
            "user_metadata",
        ),
        (json!({"email": "a@b.co", "roles": ["nope"]}), "roles[0]"),
    ] {
        let got = app.post("/t/default/api/users", body).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", Some(field));
    }
    // None of the refused requests left a user behind.
    let all = app
        .get("/t/default/api/users")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
}

async fn cursor_pagination(db: Db) {
    let app = spawn_app(db).await;
    for i in 0..5 {
        app.user(&format!("u{i}@example.com")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/t/default/api/users?limit=2&cursor={c}"),
            None => "/t/default/api/users?limit=2".into(),
        };
        let (s, page) = app.get(&path).await;
        assert_eq!(s, StatusCode::OK);
        let items = page["data"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "no duplicates across pages");
}

async fn metadata_merge_rules_and_limits(db: Db) {
    let app = spawn_app(db).await;
    let u = app
        .post(
            "/t/default/api/users",
            json!({"email": "m@example.com", "user_metadata": {"a": 1, "nested": {"x": 1, "y": 2}, "gone": true}}),
        )
        .await.expect_status(StatusCode::CREATED);
    let path = format!(
        "/t/default/api/users/{}/user_metadata",
        u["id"].as_str().unwrap()
    );
    let (s, m) = app
        .patch(&path, json!({"b": 2, "nested": {"z": 3}, "gone": null}))
        .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(
        m,
        json!({"a": 1, "b": 2, "nested": {"z": 3}}),
        "top-level merge, null deletes, nested replaced whole"
    );
    let same = app
        .patch(&path, json!({}))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(same, m, "{{}} changes nothing");
    let replaced = app
        .put(&path, json!({"only": true}))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(replaced, json!({"only": true}));

    let app_path = path.replace("user_metadata", "app_metadata");
    let am = app
        .patch(&app_path, json!({"roles": ["admin"]}))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(am, json!({"roles": ["admin"]}));
    let user = app
        .get(&format!(
            "/t/default/api/users/{}",
            u["id"].as_str().unwrap()
        ))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(user["user_metadata"], json!({"only": true}));
    assert_eq!(user["app_metadata"], json!({"roles": ["admin"]}));

    let got = app
        .patch(&path, json!({"big": "x".repeat(16 * 1024)}))
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("user_metadata"),
    );
    assert!(got.1["message"].as_str().unwrap().contains("16384"));
    let long = "k".repeat(256);
    let got = app.patch(&path, json!({"outer": {long.clone(): 1}})).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some(&format!("user_metadata.outer.{long}")),
    );
    let got = app.patch(&path, json!("text")).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("user_metadata"),
    );
    // Refused writes changed nothing.
    let after = app
        .get(&format!(
            "/t/default/api/users/{}",
            u["id"].as_str().unwrap()
        ))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(after["user_metadata"], json!({"only": true}));
}

async fn concurrent_merges_all_land(db: Db) {
    let app = spawn_app(db).await;
    let u = app
        .post("/t/default/api/users", json!({"email": "c@example.com"}))
        .await
        .expect_status(StatusCode::CREATED);
    let path = format!(
        "/t/default/api/users/{}/app_metadata",
        u["id"].as_str().unwrap()
    );
    let key = app.operator_key.clone();
    let results = join_all((0..50).map(|i| {
        let path = path.clone();
        let key = key.clone();
        let app = &app;
        async move {
            app.call(
                Method::PATCH,
                &path,
                Some(&key),
                Some(json!({format!("k{i}"): i})),
            )
            .await
        }
    }))
    .await;
    for (s, b) in &results {
        assert_eq!(*s, StatusCode::OK, "{b}");
    }
    let user = app
        .get(&format!(
            "/t/default/api/users/{}",
            u["id"].as_str().unwrap()
        ))
        .await
        .expect_status(StatusCode::OK);
    let meta = user["app_metadata"].as_object().unwrap();
    assert_eq!(meta.len(), 50, "every concurrent merge landed: {meta:?}");
    for i in 0..50 {
        assert_eq!(meta[&format!("k{i}")], i);
    }
}

async fn tenant_roles(db: Db) {
    let app = spawn_app(db).await;
    for name in ["admin", "viewer", "editor"] {
        let (s, _) = app
            .post(
                "/t/default/api/roles",
                json!({"name": name, "permissions": [format!("{name}:all")]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let u = app
        .post(
            "/t/default/api/users",
            json!({"email": "r@example.com", "roles": ["viewer"]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    assert_eq!(u["roles"], json!(["viewer"]));
    let path = format!("/t/default/api/users/{}/roles", u["id"].as_str().unwrap());
    let r = app
        .post(&path, json!({"roles": ["admin"]}))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(r["roles"], json!(["admin", "viewer"]));
    let r = app
        .put(&path, json!({"roles": ["editor"]}))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(r["roles"], json!(["editor"]));
    let r = app
        .delete(&format!("{path}/editor"))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(r["roles"], json!([]));
    let got = app.put(&path, json!({"roles": ["editor", "ghost"]})).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("roles[1]"),
    );
    let r = app.get(&path).await.expect_status(StatusCode::OK);
    assert_eq!(r["roles"], json!([]), "a refused change granted nothing");
}

/// The directory's search box: users whose email starts with what was typed, any case, paged,
/// the LIKE wildcards matching only themselves.
async fn users_are_found_by_the_start_of_their_email(db: Db) {
    let app = spawn_app(db).await;
    for email in [
        "Ada@example.com",
        "adam@example.org",
        "grace@example.com",
        "a_b@example.com",
        "axb@example.com",
    ] {
        app.post("/t/default/api/users", json!({ "email": email }))
            .await
            .expect_status(StatusCode::CREATED);
    }
    let emails = |page: &Value| -> Vec<String> {
        let mut e: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_string())
            .collect();
        e.sort();
        e
    };
    let got = app
        .get("/t/default/api/users?email_prefix=AD")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(emails(&got), ["Ada@example.com", "adam@example.org"]);
    let got = app
        .get("/t/default/api/users?email_prefix=a_")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(emails(&got), ["a_b@example.com"], "`_` is not a wildcard");
    let got = app
        .get("/t/default/api/users?email_prefix=%25")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(emails(&got), Vec::<String>::new(), "`%` is not a wildcard");
    let first = app
        .get("/t/default/api/users?email_prefix=a&limit=2")
        .await
        .expect_status(StatusCode::OK);
    let rest = app
        .get(&format!(
            "/t/default/api/users?email_prefix=a&limit=2&cursor={}",
            first["next_cursor"].as_str().unwrap()
        ))
        .await
        .expect_status(StatusCode::OK);
    let mut all = emails(&first);
    all.extend(emails(&rest));
    all.sort();
    assert_eq!(
        all,
        [
            "Ada@example.com",
            "a_b@example.com",
            "adam@example.org",
            "axb@example.com"
        ]
    );
    assert!(rest.get("next_cursor").is_none(), "{rest}");
    let (s, e) = app
        .get(&format!(
            "/t/default/api/users?email_prefix={}",
            "a".repeat(321)
        ))
        .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("email_prefix")),
        "{e}"
    );
}

both_backends!(
    user_lifecycle,
    users_are_found_by_the_start_of_their_email,
    uniqueness_and_validation,
    cursor_pagination,
    metadata_merge_rules_and_limits,
    concurrent_merges_all_land,
    tenant_roles
);
