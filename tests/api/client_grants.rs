//! Client grants (`/t/{tenant}/api/client-grants`): which APIs, and which of their scopes, a
//! machine-to-machine application may get client-credentials tokens for. What the token
//! endpoint does with them is in `grants::client_credentials`; this is the management side,
//! and the upgrade that turns yesterday's implicit access into grants.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Db, FreshDb, Reply, TestApp, assert_error, spawn_app, spawn_app_on};

/// A confidential application allowed client credentials; returns its `client_id`.
async fn m2m_app(app: &TestApp, name: &str) -> String {
    let a = app
        .post(
            "/t/default/api/applications",
            json!({"name": name, "grant_types": ["client_credentials"]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    a["client_id"].as_str().unwrap().to_string()
}

/// An API with the scopes `read` and `write`; returns it.
async fn api(app: &TestApp, identifier: &str) -> Value {
    app.post(
        "/t/default/api/apis",
        json!({"identifier": identifier, "name": identifier,
               "scopes": [{"value": "read"}, {"value": "write", "description": "changes"}]}),
    )
    .await
    .expect_status(StatusCode::CREATED)
}

async fn create(app: &TestApp, client_id: &str, audience: &str, scopes: &[&str]) -> Value {
    app.post(
        "/t/default/api/client-grants",
        json!({"client_id": client_id, "audience": audience, "scopes": scopes}),
    )
    .await
    .expect_status(StatusCode::CREATED)
}

fn ids(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect()
}

async fn a_grant_is_created_read_updated_and_deleted(db: Db) {
    let app = spawn_app(db).await;
    let client = m2m_app(&app, "cron").await;
    let a = api(&app, "https://a.example.com").await;
    let g = create(&app, &client, "https://a.example.com", &["read"]).await;
    let id = g["id"].as_str().unwrap();
    assert!(id.starts_with("cgr_"), "{g}");
    assert_eq!(
        (&g["client_id"], &g["audience"], &g["api_id"], &g["scopes"]),
        (
            &json!(client),
            &json!("https://a.example.com"),
            &a["id"],
            &json!(["read"])
        )
    );
    let path = format!("/t/default/api/client-grants/{id}");
    assert_eq!(app.get(&path).await.expect_status(StatusCode::OK), g);
    let u = app
        .patch(&path, json!({"scopes": ["read", "write"]}))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(u["scopes"], json!(["read", "write"]));
    assert_eq!(
        app.get(&path).await.expect_status(StatusCode::OK)["scopes"],
        json!(["read", "write"])
    );
    app.delete(&path)
        .await
        .expect_status(StatusCode::NO_CONTENT);
    assert_error(
        &app.get(&path).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    assert_error(
        &app.delete(&path).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
}

async fn grants_are_listed_by_application_and_audience_in_pages(db: Db) {
    let app = spawn_app(db).await;
    let one = m2m_app(&app, "one").await;
    let two = m2m_app(&app, "two").await;
    api(&app, "https://a.example.com").await;
    api(&app, "https://b.example.com").await;
    let g1 = create(&app, &one, "https://a.example.com", &[]).await;
    let g2 = create(&app, &one, "https://b.example.com", &["write"]).await;
    let g3 = create(&app, &two, "https://a.example.com", &["read"]).await;
    let id = |g: &Value| g["id"].as_str().unwrap().to_string();

    let all = app
        .get("/t/default/api/client-grants")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(ids(&all), [id(&g1), id(&g2), id(&g3)]);
    let of_one = app
        .get(&format!("/t/default/api/client-grants?client_id={one}"))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(ids(&of_one), [id(&g1), id(&g2)]);
    let on_a = app
        .get("/t/default/api/client-grants?audience=https%3A%2F%2Fa.example.com")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(ids(&on_a), [id(&g1), id(&g3)]);
    let both = app
        .get(&format!(
            "/t/default/api/client-grants?client_id={two}&audience=https%3A%2F%2Fa.example.com"
        ))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(ids(&both), [id(&g3)]);

    let first = app
        .get("/t/default/api/client-grants?limit=2")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(ids(&first), [id(&g1), id(&g2)]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = app
        .get(&format!(
            "/t/default/api/client-grants?limit=2&cursor={cursor}"
        ))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(ids(&second), [id(&g3)]);
    assert!(second.get("next_cursor").is_none(), "{second}");
}

async fn grant_validation_names_the_field(db: Db) {
    let app = spawn_app(db).await;
    let client = m2m_app(&app, "cron").await;
    api(&app, "https://a.example.com").await;
    let post = |body: Value| app.post("/t/default/api/client-grants", body);
    let body = |client: &str, audience: &str, scopes: Value| json!({"client_id": client, "audience": audience, "scopes": scopes});

    let got = post(body("app_nosuch", "https://a.example.com", json!([]))).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("client_id"),
    );
    let got = post(body(&client, "https://nosuch.example.com", json!([]))).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("audience"),
    );
    let got = post(body(
        &client,
        "https://a.example.com",
        json!(["read", "delete"]),
    ))
    .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("scopes[1]"),
    );
    assert!(got.1["message"].as_str().unwrap().contains("`delete`"));
    let got = post(body(
        &client,
        "https://a.example.com",
        json!(["read", "read"]),
    ))
    .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("scopes[1]"),
    );
    let got = post(json!({"client_id": client, "audience": "https://a.example.com"})).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", None);
    let got = post(
        json!({"client_id": client, "audience": "https://a.example.com",
                          "scopes": [], "scope": "read"}),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_field", None);

    // Public clients cannot use client credentials (RFC 6749 4.4), so they hold no grant.
    let spa = app
        .post(
            "/t/default/api/applications",
            json!({"name": "spa", "type": "public", "redirect_uris": ["https://spa.example.com/cb"]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let got = post(body(
        spa["client_id"].as_str().unwrap(),
        "https://a.example.com",
        json!([]),
    ))
    .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("client_id"),
    );
    assert!(got.1["message"].as_str().unwrap().contains("public"));

    // One grant per application and API.
    let g = create(&app, &client, "https://a.example.com", &["read"]).await;
    let got = post(body(&client, "https://a.example.com", json!(["write"]))).await;
    assert_error(&got, StatusCode::CONFLICT, "conflict", Some("audience"));

    let path = format!("/t/default/api/client-grants/{}", g["id"].as_str().unwrap());
    let got = app.patch(&path, json!({"scopes": ["admin"]})).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("scopes[0]"),
    );
    let got = app
        .patch(
            "/t/default/api/client-grants/cgr_nosuch",
            json!({"scopes": []}),
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
    // Nothing of the refused requests was kept.
    let all = app
        .get("/t/default/api/client-grants")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
    assert_eq!(all["data"][0]["scopes"], json!(["read"]));
}

async fn a_grant_cannot_name_another_tenant_s_application_or_api(db: Db) {
    let app = spawn_app(db).await;
    let alpha = app.tenant("alpha").await;
    let call = |m: Method, path: String, body: Option<Value>| {
        let alpha = alpha.clone();
        let app = &app;
        async move { app.call(m, &path, Some(&alpha), body).await }
    };
    let their_app = call(
        Method::POST,
        "/t/alpha/api/applications".into(),
        Some(json!({"name": "theirs", "grant_types": ["client_credentials"]})),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let their_app = their_app["client_id"].as_str().unwrap();
    call(
        Method::POST,
        "/t/alpha/api/apis".into(),
        Some(json!({"identifier": "https://alpha.example.com", "name": "a"})),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let ours = m2m_app(&app, "ours").await;
    api(&app, "https://a.example.com").await;

    // Default's key (through default's path): alpha's application and API are unknown here.
    let got = app
        .post(
            "/t/default/api/client-grants",
            json!({"client_id": their_app, "audience": "https://a.example.com", "scopes": []}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("client_id"),
    );
    let got = app
        .post(
            "/t/default/api/client-grants",
            json!({"client_id": ours, "audience": "https://alpha.example.com", "scopes": []}),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("audience"),
    );
    // Alpha's key: default's grants are neither listed nor reachable.
    let g = create(&app, &ours, "https://a.example.com", &["read"]).await;
    let id = g["id"].as_str().unwrap();
    let got = call(Method::GET, "/t/default/api/client-grants".into(), None).await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden", None);
    let got = call(
        Method::GET,
        format!("/t/alpha/api/client-grants/{id}"),
        None,
    )
    .await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
    let got = call(
        Method::DELETE,
        format!("/t/alpha/api/client-grants/{id}"),
        None,
    )
    .await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found", None);
    let listed = call(Method::GET, "/t/alpha/api/client-grants".into(), None)
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(listed["data"], json!([]));
}

async fn deleting_the_application_or_the_api_deletes_its_grants(db: Db) {
    let app = spawn_app(db).await;
    let one = m2m_app(&app, "one").await;
    let two = m2m_app(&app, "two").await;
    let a = api(&app, "https://a.example.com").await;
    api(&app, "https://b.example.com").await;
    create(&app, &one, "https://a.example.com", &["read"]).await;
    let kept = create(&app, &one, "https://b.example.com", &["read"]).await;
    create(&app, &two, "https://a.example.com", &["read"]).await;
    let g4 = create(&app, &two, "https://b.example.com", &["write"]).await;

    app.delete(&format!(
        "/t/default/api/apis/{}",
        a["id"].as_str().unwrap()
    ))
    .await
    .expect_status(StatusCode::NO_CONTENT);
    let left = app
        .get("/t/default/api/client-grants")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        ids(&left),
        [kept["id"].as_str().unwrap(), g4["id"].as_str().unwrap()]
    );
    app.delete(&format!("/t/default/api/applications/{two}"))
        .await
        .expect_status(StatusCode::NO_CONTENT);
    let left = app
        .get("/t/default/api/client-grants")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(ids(&left), [kept["id"].as_str().unwrap()]);
}

async fn grant_changes_are_audited(db: Db) {
    let app = spawn_app(db).await;
    let client = m2m_app(&app, "cron").await;
    api(&app, "https://a.example.com").await;
    let g = create(&app, &client, "https://a.example.com", &["read"]).await;
    let id = g["id"].as_str().unwrap();
    let path = format!("/t/default/api/client-grants/{id}");
    app.patch(&path, json!({"scopes": ["write"]}))
        .await
        .expect_status(StatusCode::OK);
    app.delete(&path)
        .await
        .expect_status(StatusCode::NO_CONTENT);
    let log = app
        .get(&format!("/t/default/api/audit-log?resource_id={id}"))
        .await
        .expect_status(StatusCode::OK);
    let mut entries: Vec<(&str, &str)> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["resource_type"].as_str().unwrap(),
            )
        })
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            ("create", "client_grant"),
            ("delete", "client_grant"),
            ("update", "client_grant")
        ]
    );
}

async fn the_openapi_document_lists_the_client_grant_endpoints(db: Db) {
    let app = spawn_app(db).await;
    let doc = app
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .expect_status(StatusCode::OK);
    let list = &doc["paths"]["/t/{tenant}/api/client-grants"];
    let one = &doc["paths"]["/t/{tenant}/api/client-grants/{id}"];
    for op in [
        &list["get"],
        &list["post"],
        &one["get"],
        &one["patch"],
        &one["delete"],
    ] {
        assert_eq!(op["tags"], json!(["client-grants"]), "{op}");
    }
    let params: Vec<&str> = list["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for p in ["client_id", "audience", "limit", "cursor"] {
        assert!(
            params.contains(&p),
            "list lacks the parameter {p}: {params:?}"
        );
    }
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "client-grants")
    );
    assert!(doc["components"]["schemas"]["ClientGrant"].is_object());
}

/// The migration that introduced grants gave every existing confidential application allowed
/// client credentials a grant for every API of its tenant with all its scopes (what it could
/// get before), so running M2M clients keep working; applications without the grant type, and
/// other tenants' APIs, got none.
async fn existing_m2m_applications_keep_their_access_after_the_upgrade(db: Db) {
    use sigil::crypto::{MasterKey, SecretHasher};

    let fresh = FreshDb::new(db).await;
    let master = MasterKey::generate();
    let secret = "cs_legacy-secret";
    {
        let store = sigil::store::Store::connect(&fresh.url, 1).await.unwrap();
        // The schema as it was before grants: the migrations up to 0007 only.
        let dir = std::env::temp_dir().join(format!("sigil-premig-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(match db {
            Db::Sqlite => "migrations/sqlite",
            Db::Postgres => "migrations/postgres",
        });
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.as_str() < "0008" {
                std::fs::copy(&path, dir.join(&name)).unwrap();
            }
        }
        sqlx::migrate::Migrator::new(dir.as_path())
            .await
            .unwrap()
            .run(store.pool())
            .await
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let hash = SecretHasher::new(&master).hash(secret);
        for sql in [
            "INSERT INTO tenants (id, name, created_at) VALUES ('ten_1', 'legacy', 1000), \
             ('ten_2', 'other', 1000)"
                .to_string(),
            format!(
                "INSERT INTO applications (client_id, tenant_id, name, client_type, secret_hash, \
                 grant_types, id_token_lifetime, access_token_lifetime, refresh_token_lifetime, \
                 signing_alg, created_at, updated_at) VALUES \
                 ('app_m2m', 'ten_1', 'm2m', 'confidential', '{hash}', \
                  '[\"authorization_code\",\"client_credentials\"]', 3600, 900, 86400, 'RS256', 2000, 2000), \
                 ('app_web', 'ten_1', 'web', 'confidential', '{hash}', \
                  '[\"authorization_code\",\"refresh_token\"]', 3600, 900, 86400, 'RS256', 2000, 2000)"
            ),
            "INSERT INTO apis (id, tenant_id, identifier, name, scopes, created_at, updated_at) \
             VALUES ('api_1', 'ten_1', 'https://reports.example.com', 'r', \
                     '[{\"value\":\"read:reports\"},{\"value\":\"write:reports\",\"description\":\"w\"}]', 1500, 1500), \
                    ('api_2', 'ten_1', 'https://bare.example.com', 'b', '[]', 3000, 3000), \
                    ('api_3', 'ten_2', 'https://other.example.com', 'o', '[{\"value\":\"x\"}]', 1500, 1500)"
                .to_string(),
        ] {
            sqlx::query(&sql).execute(store.pool()).await.unwrap();
        }
        store.close().await;
    }
    let app = spawn_app_on(db, fresh, |s| s.master_key = Some(master.to_base64())).await;

    let svc = &app.svc;
    let list = |tenant: &'static str| async move {
        sigil::store::client_grants::list(
            svc.db.store.pool(),
            tenant,
            Default::default(),
            None,
            100,
        )
        .await
        .unwrap()
        .items
    };
    let mut legacy: Vec<(String, String, Vec<String>, i64)> = list("ten_1")
        .await
        .into_iter()
        .map(|g| {
            assert!(g.id.starts_with("cgr_") && g.id.len() == 30, "{}", g.id);
            (g.client_id, g.audience, g.scopes, g.created_at)
        })
        .collect();
    legacy.sort();
    assert_eq!(
        legacy,
        [
            (
                "app_m2m".to_string(),
                "https://bare.example.com".to_string(),
                vec![],
                3000
            ),
            (
                "app_m2m".to_string(),
                "https://reports.example.com".to_string(),
                vec!["read:reports".to_string(), "write:reports".to_string()],
                2000
            ),
        ]
    );
    assert!(list("ten_2").await.is_empty(), "another tenant's API");

    // And the running client still gets what it got before.
    let res = app
        .client
        .post(format!("{}/t/legacy/oauth/token", app.base))
        .basic_auth("app_m2m", Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("audience", "https://reports.example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "read:reports write:reports");
    // The backfilled grants are ordinary grants: visible and manageable through the API.
    let listed = app
        .get("/t/legacy/api/client-grants?client_id=app_m2m")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
}

both_backends!(
    a_grant_is_created_read_updated_and_deleted,
    grants_are_listed_by_application_and_audience_in_pages,
    grant_validation_names_the_field,
    a_grant_cannot_name_another_tenant_s_application_or_api,
    deleting_the_application_or_the_api_deletes_its_grants,
    grant_changes_are_audited,
    the_openapi_document_lists_the_client_grant_endpoints,
    existing_m2m_applications_keep_their_access_after_the_upgrade,
);
