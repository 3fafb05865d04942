//! User import over the API: per-line errors, idempotency, imported hashes and the cost ceiling.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sigil::passwords::Verified;

use crate::both_backends;
use crate::helpers::{Db, Reply, assert_error, spawn_app};

async fn import_reports_lines_and_is_idempotent(db: Db) {
    let app = spawn_app(db).await;
    let bcrypt_hash = bcrypt::hash("bcrypt-password", 4).unwrap();
    let argon = sigil::passwords::PasswordHasher::new(1024, 1, 1)
        .hash("argon-password")
        .unwrap();
    let lines = [
        json!({"email": "one@example.com", "external_id": "old-1", "password_hash": bcrypt_hash, "user_metadata": {"dept": "eng"}}).to_string(),
        json!({"email": "two@example.com", "password_hash": argon, "name": "Two"}).to_string(),
        "{not json".to_string(),
        json!({"email": "bad-email"}).to_string(),
        json!({"email": "slow@example.com", "password_hash": "$2b$14$abcdefghijklmnopqrstuu9vQK2Ogr7LcM5XwlSR0Vw1VxX3e5Wba"}).to_string(),
        json!({"email": "md5@example.com", "password_hash": "$1$salt$hash"}).to_string(),
        String::new(),
        json!({"email": "three@example.com", "unknown_field": 1}).to_string(),
    ]
    .join("\n");
    let (s, report) = app
        .raw(
            Method::POST,
            "/t/default/api/users/import",
            &app.operator_key.clone(),
            lines.clone().into_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(
        (
            report["created"].as_u64(),
            report["updated"].as_u64(),
            report["failed"].as_u64()
        ),
        (Some(2), Some(0), Some(5))
    );
    let errors = report["errors"].as_array().unwrap();
    let lines_failed: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines_failed, vec![3, 4, 5, 6, 8]);
    assert_eq!(errors[1]["field"], "email");
    assert_eq!(errors[2]["field"], "password_hash");
    assert!(errors[2]["message"].as_str().unwrap().contains("ceiling"));

    // Imported hashes verify, and ask to be upgraded to argon2id at the next login.
    let one = app
        .get("/t/default/api/users/by-external-id/old-1")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(one["user_metadata"], json!({"dept": "eng"}));
    assert_eq!(one["has_password"], true);
    let (h,): (String,) =
        sqlx::query_as("SELECT password_hash FROM users WHERE external_id = 'old-1'")
            .fetch_one(app.svc.db.store.pool())
            .await
            .unwrap();
    assert_eq!(
        app.svc.passwords.verify("bcrypt-password", &h),
        Verified::YesRehash
    );
    assert_eq!(app.svc.passwords.verify("wrong", &h), Verified::No);

    // Running the same import again changes nothing: no duplicates, no updates.
    let again = app
        .raw(
            Method::POST,
            "/t/default/api/users/import",
            &app.operator_key.clone(),
            lines.into_bytes(),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        (
            again["created"].as_u64(),
            again["updated"].as_u64(),
            again["skipped"].as_u64()
        ),
        (Some(0), Some(0), Some(2))
    );
    let all = app
        .get("/t/default/api/users")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(all["data"].as_array().unwrap().len(), 2);

    // With `update`, a changed line updates the matched user (by external id, even with a new
    // email).
    let change = json!({"email": "one-new@example.com", "external_id": "old-1", "name": "Renamed"})
        .to_string();
    let r = app
        .raw(
            Method::POST,
            "/t/default/api/users/import?update=true",
            &app.operator_key.clone(),
            change.into_bytes(),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(r["updated"], 1);
    let one2 = app
        .get("/t/default/api/users/by-external-id/old-1")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        (
            one2["id"].clone(),
            one2["email"].clone(),
            one2["has_password"].clone()
        ),
        (one["id"].clone(), json!("one-new@example.com"), json!(true))
    );

    let got = app
        .raw(
            Method::POST,
            "/t/default/api/users/import",
            &app.operator_key.clone(),
            b"[{\"email\":\"x@y.z\"}]".to_vec(),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_json", None);
}

both_backends!(import_reports_lines_and_is_idempotent);
