//! A real browser: headless Chromium (Debian's, installed by `scripts/setup-browser.sh`),
//! driven through ChromeDriver, opens `/authorize`, fills the hosted login page, follows the
//! redirect to the application, and the test exchanges the code.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use fantoccini::{ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::helpers::free_port;
use crate::helpers::{Db, Reply, spawn_app, upload_and_bind, verify};

/// ChromeDriver, stopped when dropped.
pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) async fn start_chromedriver() -> (Driver, String) {
    let exe = which("chromedriver").unwrap_or_else(|| {
        panic!("chromedriver is required: run ./scripts/setup-browser.sh (scripts/test.sh does)")
    });
    let port = free_port();
    let child = Command::new(exe)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (driver, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

pub(crate) fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// A headless Chromium session through ChromeDriver at `webdriver`.
pub(crate) async fn chromium(webdriver: &str) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    // The console's messages, for [`console`].
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": which("chromium").expect("chromium"),
               "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--window-size=1280,900"]}),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(webdriver)
        .await
        .expect("a Chromium session")
}

/// ChromeDriver's log command (`POST /session/{id}/se/log`): the browser console's messages
/// since the last call.
#[derive(Debug)]
struct ConsoleLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// The messages the page wrote to the browser console (errors the browser reports there too,
/// such as a Content-Security-Policy violation) since the last call.
pub(crate) async fn console(c: &fantoccini::Client) -> Vec<String> {
    let entries = c.issue_cmd(ConsoleLog).await.expect("the console log");
    entries
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| format!("{} {}", e["level"], e["message"]))
                .collect()
        })
        .unwrap_or_default()
}

/// The application's callback: a tiny server that answers every path.
pub(crate) async fn callback_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(|| async { "signed in" });
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://127.0.0.1:{port}/callback")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_logs_in_through_the_hosted_page() {
    let app = spawn_app(Db::Sqlite).await;
    let redirect = callback_server().await;
    let user = app
        .post(
            "/t/default/api/users",
            json!({"email": "grace@example.com", "password": "correct horse battery",
                   "email_verified": true, "app_metadata": {"roles": ["admin"]}}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let a = app
        .post(
            "/t/default/api/applications",
            json!({"name": "Browser app", "redirect_uris": [redirect]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    upload_and_bind(&app, &[("roles", "roles_claims", "fail_closed")]).await;
    let client_id = a["client_id"].as_str().unwrap();
    let verifier = "browser-test-verifier-0123456789-abcdefghijklmnop";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let authorize = format!(
        "{}/t/default/authorize?response_type=code&client_id={client_id}&redirect_uri={}\
         &scope=openid%20email&state=browser-state&nonce=browser-nonce\
         &code_challenge={challenge}&code_challenge_method=S256",
        app.base,
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );

    let (_driver, webdriver) = start_chromedriver().await;
    let c = chromium(&webdriver).await;
    c.goto(&authorize).await.unwrap();
    assert_eq!(c.title().await.unwrap(), "Sign in");
    c.find(Locator::Css("#email"))
        .await
        .unwrap()
        .send_keys("grace@example.com")
        .await
        .unwrap();
    c.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys("correct horse battery")
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut landed = None;
    for _ in 0..100 {
        let url = c.current_url().await.unwrap();
        if url.as_str().starts_with(&redirect) {
            landed = Some(url);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let landed = landed.expect("the browser reached the application's callback");
    c.close().await.unwrap();
    let q: std::collections::HashMap<String, String> = landed
        .query_pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(q["state"], "browser-state");
    assert_eq!(q["iss"], format!("{}/t/default", app.base));

    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(client_id, a["client_secret"].as_str())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    let (_, id) = verify(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id["sub"], user["id"]);
    assert_eq!(id["nonce"], "browser-nonce");
    assert_eq!(id["email"], "grace@example.com");
    assert_eq!(id["https://sigil.example/roles"], json!(["admin"]));
}
