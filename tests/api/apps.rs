//! Applications: secrets shown once and hashed, safe grant defaults, exact redirect URIs.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Db, Reply, assert_error, spawn_app};

async fn application_lifecycle(db: Db) {
    let app = spawn_app(db).await;
    let (s, a) = app
        .post(
            "/t/default/api/applications",
            json!({
                "name": "Web", "redirect_uris": ["https://app.example.com/callback", "http://localhost:3000/cb"],
                "allowed_web_origins": ["https://app.example.com"], "client_metadata": {"plan": "pro"}
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let client_id = a["client_id"].as_str().unwrap().to_string();
    let secret = a["client_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("cs_") && secret.len() > 40);
    assert_eq!(a["type"], "confidential");
    assert_eq!(
        a["grant_types"],
        json!(["authorization_code", "refresh_token"]),
        "password is off by default"
    );
    assert_eq!(a["access_token_lifetime"], 900);
    assert_eq!(a["signing_alg"], "RS256");

    // The secret is never shown again and is stored as a keyed hash.
    let got = app
        .get(&format!("/t/default/api/applications/{client_id}"))
        .await
        .expect_status(StatusCode::OK);
    assert!(got.get("client_secret").is_none() && !got.to_string().contains(&secret));
    let (stored,): (String,) =
        sqlx::query_as("SELECT secret_hash FROM applications WHERE client_id = $1")
            .bind(&client_id)
            .fetch_one(app.svc.db.store.pool())
            .await
            .unwrap();
    assert!(app.svc.secrets.verify(&secret, &stored) && stored != secret);

    let (s, rotated) = app
        .post(
            &format!("/t/default/api/applications/{client_id}/rotate-secret"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let (stored,): (String,) =
        sqlx::query_as("SELECT secret_hash FROM applications WHERE client_id = $1")
            .bind(&client_id)
            .fetch_one(app.svc.db.store.pool())
            .await
            .unwrap();
    assert!(app.svc.secrets.verify(new_secret, &stored));
    assert!(
        !app.svc.secrets.verify(&secret, &stored),
        "the old secret stops working"
    );

    let upd = app
        .patch(
            &format!("/t/default/api/applications/{client_id}"),
            json!({"grant_types": ["authorization_code", "password"], "client_metadata": {"tier": 2}, "signing_alg": "ES256"}),
        )
        .await.expect_status(StatusCode::OK);
    assert_eq!(
        upd["grant_types"],
        json!(["authorization_code", "password"]),
        "a confidential app may opt in"
    );
    assert_eq!(upd["client_metadata"], json!({"plan": "pro", "tier": 2}));
    assert_eq!(upd["signing_alg"], "ES256");
    let m = app
        .put(
            &format!("/t/default/api/applications/{client_id}/client_metadata"),
            json!({"x": 1}),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(m, json!({"x": 1}));

    let (s, _) = app
        .delete(&format!("/t/default/api/applications/{client_id}"))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let got = app
        .get(&format!("/t/default/api/applications/{client_id}"))
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
}

async fn application_rules(db: Db) {
    let app = spawn_app(db).await;
    let (s, public) = app
        .post("/t/default/api/applications", json!({"name": "SPA", "type": "public", "redirect_uris": ["https://spa.example.com/cb"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(public.get("client_secret").is_none());
    let got = app
        .post(
            &format!(
                "/t/default/api/applications/{}/rotate-secret",
                public["client_id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", Some("type"));
    let got = app
        .patch(
            &format!(
                "/t/default/api/applications/{}",
                public["client_id"].as_str().unwrap()
            ),
            json!({"grant_types": ["password"]}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("grant_types[0]"),
    );

    for (body, field) in [
        (
            json!({"name": "a", "type": "public", "grant_types": ["authorization_code", "password"]}),
            "grant_types[1]",
        ),
        (
            json!({"name": "a", "type": "public", "grant_types": ["client_credentials"]}),
            "grant_types[0]",
        ),
        (
            json!({"name": "a", "grant_types": ["implicit"]}),
            "grant_types[0]",
        ),
        (json!({"name": "a", "type": "spa"}), "type"),
        (
            json!({"name": "a", "redirect_uris": ["https://ok.example.com/cb", "https://*.example.com/cb"]}),
            "redirect_uris[1]",
        ),
        (
            json!({"name": "a", "redirect_uris": ["http://evil.example.com/cb"]}),
            "redirect_uris[0]",
        ),
        (
            json!({"name": "a", "redirect_uris": ["https://app.example.com/cb#frag"]}),
            "redirect_uris[0]",
        ),
        (
            json!({"name": "a", "redirect_uris": ["not a uri"]}),
            "redirect_uris[0]",
        ),
        (
            json!({"name": "a", "post_logout_redirect_uris": ["javascript:alert(1)"]}),
            "post_logout_redirect_uris[0]",
        ),
        (
            json!({"name": "a", "allowed_web_origins": ["https://app.example.com/path"]}),
            "allowed_web_origins[0]",
        ),
        (
            json!({"name": "a", "access_token_lifetime": 10}),
            "access_token_lifetime",
        ),
        (json!({"name": "a", "signing_alg": "HS256"}), "signing_alg"),
        (
            json!({"name": "a", "client_metadata": {"k": "v".repeat(17_000)}}),
            "client_metadata",
        ),
    ] {
        let got = app.post("/t/default/api/applications", body.clone()).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", Some(field));
    }
    let list = app
        .get("/t/default/api/applications")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "refused registrations stored nothing"
    );
}

/// The directory's search: applications whose name starts with what was typed, ASCII letters
/// in any case.
async fn applications_are_found_by_the_start_of_their_name(db: Db) {
    let app = spawn_app(db).await;
    for name in ["Portal", "portfolio", "Admin"] {
        app.post("/t/default/api/applications", json!({ "name": name }))
            .await
            .expect_status(StatusCode::CREATED);
    }
    let page = app
        .get("/t/default/api/applications?name_prefix=PORT")
        .await
        .expect_status(StatusCode::OK);
    let mut names: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Portal", "portfolio"]);
    let all = app
        .get("/t/default/api/applications")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(all["data"].as_array().unwrap().len(), 3);
}

both_backends!(
    application_lifecycle,
    application_rules,
    applications_are_found_by_the_start_of_their_name
);
