//! The hosted login page: what it shows, how it is protected, what a login sets and where it
//! redirects.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Browser, REDIRECT, authorize_path, setup};
use crate::both_backends;
use crate::helpers::{Db, Reply, TestApp, spawn_app, spawn_app_with};

async fn the_login_page_escapes_the_application_name(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let page = Browser::new(&app)
        .get(&authorize_path(&s.client_id, &[]))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Dashboard &lt;b&gt;&amp;amp;&lt;/b&gt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<b>"));
}

async fn the_login_page_fills_in_the_login_hint(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let page = Browser::new(&app)
        .get(&authorize_path(
            &s.client_id,
            &[("login_hint", "ada@example.com")],
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("value=\"ada@example.com\""));
}

async fn the_login_page_may_not_be_framed_or_cached(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let page = Browser::new(&app)
        .get(&authorize_path(&s.client_id, &[]))
        .await;
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["cache-control"], "no-store");
}

async fn the_login_page_sets_a_csrf_cookie(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    b.get(&authorize_path(&s.client_id, &[])).await;
    assert!(b.cookies.contains_key("sigil_csrf"));
}

async fn a_wrong_password_stays_on_the_page_with_the_message_of_an_unknown_user(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let page = b.get(&authorize_path(&s.client_id, &[])).await;
    let wrong = b.login(&page, "ada@example.com", "nope").await;
    let unknown = b.login(&page, "bob@example.com", "nope").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .body
            .contains("role=\"alert\">Wrong email or password.")
    );
    assert_eq!(
        wrong.body.replace("ada@example.com", "X"),
        unknown.body.replace("bob@example.com", "X")
    );
}

async fn a_login_form_posted_without_the_csrf_cookie_is_refused(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let page = Browser::new(&app)
        .get(&authorize_path(&s.client_id, &[]))
        .await;
    let mut other = Browser::new(&app);
    let forged = other
        .post(
            "/t/default/login",
            &[
                ("authz", &page.field("authz")),
                ("csrf", &page.field("csrf")),
                ("email", "ada@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(!other.cookies.contains_key("sigil_session"));
}

async fn a_login_sets_an_http_only_lax_session_cookie_for_the_tenant_only(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let page = b.get(&authorize_path(&s.client_id, &[])).await;
    let done = b
        .login(&page, "ada@example.com", "correct horse battery")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let set_cookie: Vec<&str> = done
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session_cookie = set_cookie
        .iter()
        .find(|c| c.starts_with("sigil_session="))
        .unwrap();
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"));
    assert!(session_cookie.contains("Path=/t/default"));
}

/// The session cookie of a login, as the server set it.
async fn session_cookie_of_a_login(app: &TestApp) -> String {
    let s = setup(app, json!({})).await;
    let mut b = Browser::new(app);
    let page = b.get(&authorize_path(&s.client_id, &[])).await;
    let done = b
        .login(&page, "ada@example.com", "correct horse battery")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    done.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("sigil_session="))
        .unwrap()
}

async fn the_session_cookie_outlives_a_browser_restart_for_the_session_s_lifetime(db: Db) {
    let app = spawn_app(db).await;
    let cookie = session_cookie_of_a_login(&app).await;
    assert!(
        cookie.contains("; Max-Age=604800"),
        "persistent for the 7-day session lifetime: {cookie}"
    );
}

async fn the_operator_can_make_the_session_cookie_session_only(db: Db) {
    let app = spawn_app_with(db, |s| s.sessions.persistent_cookie = false).await;
    let cookie = session_cookie_of_a_login(&app).await;
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("Expires"),
        "{cookie}"
    );
}

async fn a_login_redirects_to_the_client_with_the_code_the_state_and_the_issuer(db: Db) {
    let app = spawn_app(db).await;
    let s = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let page = b.get(&authorize_path(&s.client_id, &[])).await;
    let done = b
        .login(&page, "ada@example.com", "correct horse battery")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let loc = done.headers["location"].to_str().unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let q = done.location();
    assert!(q.contains_key("code"), "{q:?}");
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], format!("{}/t/default", app.base));
}

async fn an_imported_bcrypt_hash_is_upgraded_to_argon2id_at_the_hosted_login(db: Db) {
    let app = spawn_app(db).await;
    let bcrypt_hash = bcrypt::hash("legacy password 42", 4).unwrap();
    let line = json!({"email": "old@example.com", "external_id": "legacy-1", "password_hash": bcrypt_hash});
    app.raw(
        Method::POST,
        "/t/default/api/users/import",
        &app.operator_key.clone(),
        line.to_string().into_bytes(),
    )
    .await
    .expect_status(StatusCode::OK);
    let a = app
        .post(
            "/t/default/api/applications",
            json!({"name": "web", "redirect_uris": [REDIRECT]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let mut b = Browser::new(&app);
    let page = b
        .get(&authorize_path(a["client_id"].as_str().unwrap(), &[]))
        .await;
    let done = b
        .login(&page, "old@example.com", "legacy password 42")
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (h,): (String,) =
        sqlx::query_as("SELECT password_hash FROM users WHERE external_id = 'legacy-1'")
            .fetch_one(app.svc.db.store.pool())
            .await
            .unwrap();
    assert!(h.starts_with("$argon2id$"), "{h}");
    assert_eq!(
        app.svc.passwords.verify("legacy password 42", &h),
        sigil::passwords::Verified::Yes
    );
}

both_backends!(
    the_login_page_escapes_the_application_name,
    the_login_page_fills_in_the_login_hint,
    the_login_page_may_not_be_framed_or_cached,
    the_login_page_sets_a_csrf_cookie,
    a_wrong_password_stays_on_the_page_with_the_message_of_an_unknown_user,
    a_login_form_posted_without_the_csrf_cookie_is_refused,
    a_login_sets_an_http_only_lax_session_cookie_for_the_tenant_only,
    the_session_cookie_outlives_a_browser_restart_for_the_session_s_lifetime,
    the_operator_can_make_the_session_cookie_session_only,
    a_login_redirects_to_the_client_with_the_code_the_state_and_the_issuer,
    an_imported_bcrypt_hash_is_upgraded_to_argon2id_at_the_hosted_login,
);
