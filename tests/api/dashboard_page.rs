//! The dashboard in a real browser (headless Chromium through ChromeDriver, as
//! `browser.rs`): an administrator signs in through the tenant's hosted login, edits a JWT
//! template with autocomplete from this tenant's metadata keys only, sees an error underlined
//! where the server places it, previews and saves; a user who is not an administrator is
//! refused. Screenshots of each page go to `$CARGO_TARGET_TMPDIR/dashboard-screenshots/`.

use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{callback_server, chromium, console, start_chromedriver};
use crate::helpers::{Db, Reply, TestApp, spawn_app, upload_and_bind};

const PASSWORD: &str = "correct horse battery";

/// Where the screenshots go: a test artifact, kept after the run.
fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// Waits until the text of the element `css` satisfies `ok`; returns it.
async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..150 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            if ok(&t) {
                return t;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`{css}` never showed what was expected; last text: {last:?}");
}

async fn user(app: &TestApp, tenant: &str, email: &str, metadata: Value) -> String {
    let u = app
        .post(
            &format!("/t/{tenant}/api/users"),
            json!({"email": email, "password": PASSWORD, "email_verified": true,
                   "given_name": "Ada", "user_metadata": metadata}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    u["id"].as_str().unwrap().to_string()
}

/// Signs in on the hosted login page the dashboard sent the browser to.
async fn sign_in(c: &Client, email: &str) {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#email"))
        .await
        .expect("the hosted login page");
    type_into(c, "#email", email).await;
    type_into(c, "#password", PASSWORD).await;
    click(c, "button[type=submit]").await;
}

/// The labels of the open completion list.
async fn completions(c: &Client) -> Vec<String> {
    if let Err(e) = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(".cm-tooltip-autocomplete li"))
        .await
    {
        screenshot(c, "no-completion").await;
        let text = c
            .execute(
                "return document.querySelector('#template-editor .cm-content').innerText",
                vec![],
            )
            .await;
        panic!("the completion list did not open ({e}); the editor holds {text:?}");
    }
    let labels = c
        .execute(
            "return [...document.querySelectorAll('.cm-tooltip-autocomplete li')]\
             .map(li => li.querySelector('.cm-completionLabel').textContent)",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(labels).unwrap()
}

/// Waits until the ids of the listed traces satisfy `ok`; returns them.
async fn wait_rows(c: &Client, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut last = Vec::new();
    for _ in 0..100 {
        let ids: Value = c
            .execute(
                "return [...document.querySelectorAll('#traces-list tr[data-trace-id]')]\
                 .map(r => r.dataset.traceId)",
                vec![],
            )
            .await
            .unwrap();
        let ids: Vec<String> = serde_json::from_value(ids).unwrap();
        if ok(&ids) {
            return ids;
        }
        last = ids;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the traces listed never matched; last: {last:?}");
}

/// Empties the editor.
async fn clear(editor: &fantoccini::elements::Element) {
    editor.send_keys(&(Key::Control + "a")).await.unwrap();
    editor.send_keys(&Key::Backspace.to_string()).await.unwrap();
}

/// Moves through the open completion list with the arrow keys to `label`, and takes it.
async fn choose(c: &Client, editor: &fantoccini::elements::Element, label: &str) {
    for _ in 0..50 {
        let selected: Value = c
            .execute(
                "const li = document.querySelector('.cm-tooltip-autocomplete li[aria-selected]');\
                 return li ? li.querySelector('.cm-completionLabel').textContent : null",
                vec![],
            )
            .await
            .unwrap();
        if selected == label {
            editor.send_keys(&Key::Enter.to_string()).await.unwrap();
            return;
        }
        editor.send_keys(&Key::Down.to_string()).await.unwrap();
    }
    panic!("`{label}` is not in the completion list");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_writes_a_template_in_the_dashboard_and_others_are_refused() {
    let app = spawn_app(Db::Sqlite).await;
    let ada = user(
        &app,
        "default",
        "ada@example.com",
        json!({"department": "engineering"}),
    )
    .await;
    let bob = user(&app, "default", "bob@example.com", json!({})).await;
    // One hook in the flow already, so that binding another first means something.
    upload_and_bind(&app, &[("roles", "roles_claims", "fail_closed")]).await;
    app.put(&format!("/t/default/api/dashboard/admins/{ada}"), json!({}))
        .await
        .expect_status(StatusCode::OK);
    let callback = callback_server().await;
    let web = app
        .post(
            "/t/default/api/applications",
            json!({"name": "web", "redirect_uris": [callback]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    // Another tenant's key, which this tenant's editor must never offer.
    app.post("/api/tenants", json!({"name": "globex"}))
        .await
        .expect_status(StatusCode::CREATED);
    user(&app, "globex", "eve@example.com", json!({"codename": "x"})).await;

    let (_driver, webdriver) = start_chromedriver().await;
    let c = chromium(&webdriver).await;
    c.goto(&format!("{}/t/default/dashboard", app.base))
        .await
        .unwrap();
    sign_in(&c, "ada@example.com").await;
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#template-editor .cm-content"))
        .await
        .expect("the template editor after sign-in");
    assert_eq!(
        wait_text(&c, "#signed-in-as", |t| !t.is_empty()).await,
        "ada@example.com"
    );
    wait_text(&c, "#template-problems", |t| t.contains("valid")).await;
    assert!(
        c.find(Locator::Css("p.loading")).await.is_err(),
        "the page's loading line is gone once the dashboard shows"
    );
    let url = c.current_url().await.unwrap();
    assert_eq!(
        url.as_str(),
        format!("{}/t/default/dashboard/", app.base),
        "the code left the address bar"
    );

    templates_step(&c, &app, &ada).await;
    hooks_and_flow_step(&c, &app).await;
    traces_step(&c, &app, &web, &callback, &ada).await;
    directory_step(&c, &app, &ada, &bob, web["client_id"].as_str().unwrap()).await;

    // Bob, who is not an administrator, signs in and is refused.
    click(&c, "#sign-out").await;
    sign_in(&c, "bob@example.com").await;
    let refused = wait_text(&c, "#refused", |t| !t.is_empty()).await;
    assert!(refused.contains("Not an administrator"), "{refused}");
    assert!(
        c.find(Locator::Css("#template-editor")).await.is_err(),
        "no editor for Bob"
    );
    screenshot(&c, "refused").await;
    c.close().await.unwrap();
}

/// The template editor: completion, an error at its place, preview, diff, save, history.
async fn templates_step(c: &Client, app: &TestApp, ada: &str) {
    let editor = c
        .find(Locator::Css("#template-editor .cm-content"))
        .await
        .unwrap();
    // Type a claim; inside `{{` the editor offers this tenant's metadata key.
    editor.click().await.unwrap();
    clear(&editor).await;
    editor.send_keys("{\"dept\": \"{{user.me").await.unwrap();
    let offered = completions(c).await;
    assert!(
        offered.iter().any(|l| l == "user.user_metadata.department"),
        "{offered:?}"
    );
    assert!(
        !offered.iter().any(|l| l.contains("codename")),
        "another tenant's key was offered: {offered:?}"
    );
    choose(c, &editor, "user.user_metadata.department").await;
    editor.send_keys("}}\"}").await.unwrap();
    wait_text(c, "#template-problems", |t| {
        t.contains("The template is valid")
    })
    .await;
    screenshot(c, "templates-editor").await;

    // An error is listed at the position the server gives, and underlined there.
    editor
        .send_keys(&(Key::Left + ", \"bad\": \"{{user.emial}}\""))
        .await
        .unwrap();
    let doc = "{\"dept\": \"{{user.user_metadata.department}}\", \"bad\": \"{{user.emial}}\"}";
    let (_, said) = app
        .post(
            "/t/default/api/jwt-templates/preview",
            json!({"template": serde_json::from_str::<Value>(doc).unwrap()}),
        )
        .await;
    assert_eq!(said["errors"][0]["pointer"], "/template/bad", "{said}");
    let offset = said["errors"][0]["offset"].as_u64().unwrap() as usize;
    let column = doc.find("\"{{user.emial").unwrap() + 1 + offset + 1;
    let listed = wait_text(c, "#template-problems", |t| t.contains("column")).await;
    assert!(
        listed.contains(&format!("line 1, column {column}")),
        "expected column {column}: {listed}"
    );
    let underlined = wait_text(c, ".cm-lintRange-error", |t| !t.is_empty()).await;
    assert!(
        "{{user.emial}}".contains(&underlined),
        "underlined {underlined:?}"
    );
    let save = c.find(Locator::Css("#template-save")).await.unwrap();
    assert!(
        save.attr("disabled").await.unwrap().is_some(),
        "an invalid template cannot be saved"
    );
    screenshot(c, "templates-error").await;

    // Mend it: the one valid claim again, typed whole.
    clear(&editor).await;
    editor
        .send_keys("{\"dept\": \"{{user.user_metadata.department}}\"}")
        .await
        .unwrap();
    wait_text(c, "#template-problems", |t| {
        t.contains("The template is valid")
    })
    .await;

    // Preview for Ada: the draft's claims and the other token's live template (none yet).
    type_into(c, "#preview-email", "ada@example.com").await;
    click(c, "#preview-run").await;
    let claims = wait_text(c, "#preview-id_token", |t| t.contains("dept")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&claims).unwrap(),
        json!({"dept": "engineering"})
    );
    assert_eq!(
        wait_text(c, "#preview-access_token", |t| !t.is_empty()).await,
        "(no template)"
    );

    // The diff against what is live, then save: the API has it, and so does the history.
    click(c, "#template-diff").await;
    wait_text(c, "#template-diff-view", |t| t.contains("dept")).await;
    click(c, "#template-save").await;
    wait_text(c, "#template-notice", |t| t.starts_with("Saved")).await;
    let saved = app
        .get("/t/default/api/jwt-templates")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        saved["id_token"],
        json!({"dept": "{{user.user_metadata.department}}"})
    );
    let history = wait_text(c, "#template-history", |t| t.contains("set")).await;
    assert!(history.contains(ada), "the actor is Ada: {history}");
    screenshot(c, "templates-saved").await;
    let refused: Vec<String> = console(c)
        .await
        .into_iter()
        .filter(|m| m.contains("Content Security Policy"))
        .collect();
    assert!(refused.is_empty(), "the policy refused: {refused:?}");
    let styled: Value = c
        .execute(
            "return getComputedStyle(document.querySelector('.cm-editor')).display",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        styled, "flex",
        "the editor's own styles apply under the policy"
    );

    // The application picker lists applications by the start of their name.
    let scopes = || async {
        let names: Value = c
            .execute(
                "return [...document.querySelectorAll('#template-scope option')]\
                 .map(o => o.textContent)",
                vec![],
            )
            .await
            .unwrap();
        names
    };
    for (typed, want) in [
        ("ZZ", json!(["Every application (tenant default)"])),
        ("WE", json!(["Every application (tenant default)", "web"])),
    ] {
        let find = c.find(Locator::Css("#template-app-find")).await.unwrap();
        find.clear().await.unwrap();
        find.send_keys(&format!("{typed}{}", Key::Enter))
            .await
            .unwrap();
        let mut got = Value::Null;
        for _ in 0..100 {
            got = scopes().await;
            if got == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(got, want, "applications named `{typed}`");
    }
}

/// Upload a hook by its file input, deploy it, and bind it first in the flow.
async fn hooks_and_flow_step(c: &Client, app: &TestApp) {
    click(c, "nav a[href='#/hooks']").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#hook-upload-file"))
        .await
        .expect("the hooks page");
    type_into(c, "#hook-upload-name", "stamp").await;
    let wasm = sigil_test_guests::path(sigil_test_guests::HOOK_TARGET, "tenant_id_claim");
    c.find(Locator::Css("#hook-upload-file"))
        .await
        .unwrap()
        .send_keys(wasm.to_str().unwrap())
        .await
        .unwrap();
    click(c, "#hook-upload-submit").await;
    let notice = wait_text(c, "#hook-upload-notice", |t| !t.is_empty()).await;
    assert!(notice.contains("Uploaded stamp version 1"), "{notice}");
    screenshot(c, "hooks").await;

    click(c, "a.hook-link[data-name='stamp']").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("button.deploy[data-version='1']"))
        .await
        .expect("the hook's page");
    click(c, "button.deploy[data-version='1']").await;
    wait_text(c, "#hook-deployed", |t| t.contains('1')).await;
    let hook = app
        .get("/t/default/api/hooks/stamp")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(hook["deployed_version"], 1, "{hook}");
    let id = hook["id"].as_str().unwrap();
    screenshot(c, "hook").await;

    click(c, "nav a[href='#/flow']").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!(
            "#flow-add-hook option[value='{id}']"
        )))
        .await
        .expect("the flow page offers the new hook");
    click(c, &format!("#flow-add-hook option[value='{id}']")).await;
    click(c, "#flow-add").await;
    click(
        c,
        &format!("#flow-list li[data-hook='{id}'] button.move-up"),
    )
    .await;
    click(c, "#flow-save").await;
    wait_text(c, "#flow-notice", |t| t == "Saved.").await;
    let flow = app
        .get("/t/default/api/flows/post-login")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(flow["bindings"][0]["hook"], id, "{flow}");
    assert_eq!(flow["bindings"].as_array().unwrap().len(), 2, "{flow}");
    screenshot(c, "flow").await;
}

/// Ada logs in to the application through the hosted login (in the same browser, asked for
/// her password again), and the dashboard shows that login's trace and its latency point.
async fn traces_step(c: &Client, app: &TestApp, web: &Value, callback: &str, ada: &str) {
    let client_id = web["client_id"].as_str().unwrap();
    let verifier = "dashboard-test-verifier-0123456789-abcdefghijklmnop";
    let challenge = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
    };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", callback)
        .append_pair("scope", "openid email")
        .append_pair("state", "s1")
        .append_pair("prompt", "login")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    c.goto(&format!("{}/t/default/authorize?{}", app.base, q.finish()))
        .await
        .unwrap();
    sign_in(c, "ada@example.com").await;
    let mut landed = None;
    for _ in 0..100 {
        let url = c.current_url().await.unwrap();
        if url.as_str().starts_with(callback) {
            landed = Some(url);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let landed = landed.expect("the browser reached the application");
    let code = landed
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
        .expect("a code");
    let res = app
        .client
        .post(format!("{}/t/default/oauth/token", app.base))
        .basic_auth(client_id, web["client_secret"].as_str())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", callback),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Back to the dashboard: the session signs Ada in again without a form.
    c.goto(&format!("{}/t/default/dashboard/#/traces", app.base))
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(&format!(
            "#traces-app option[value='{client_id}']"
        )))
        .await
        .expect("the traces page and its filters");
    // The dashboard's own sign-ins run the flow too: filter on the application.
    click(c, &format!("#traces-app option[value='{client_id}']")).await;
    click(c, "#traces-apply").await;
    let listed = app
        .get(&format!("/t/default/api/hook-traces?client_id={client_id}"))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let trace_id = listed["data"][0]["id"].as_str().unwrap();
    assert_eq!(listed["data"][0]["user_id"], ada);
    let rows = wait_rows(c, |ids| ids == [trace_id]).await;
    assert_eq!(rows, [trace_id]);
    let app_cell = c
        .find(Locator::Css(&format!(
            "#traces-list tr[data-trace-id='{trace_id}'] .trace-app"
        )))
        .await
        .unwrap();
    assert_eq!(
        app_cell.attr("data-client-id").await.unwrap().as_deref(),
        Some(client_id)
    );
    // Its latency point: the stamp hook ran once, in the chart and its table.
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#latency-chart canvas"))
        .await
        .expect("the latency chart");
    let count = c
        .find(Locator::Css("#latency-table tr[data-hook='stamp'] .count"))
        .await
        .expect("a latency point of the hook bound in the browser");
    assert_eq!(
        count.attr("data-value").await.unwrap().as_deref(),
        Some("1")
    );
    screenshot(c, "traces").await;

    click(c, "a.trace-link").await;
    let detail = wait_text(c, "#trace-hooks", |t| t.contains("stamp")).await;
    assert!(detail.contains("roles"), "{detail}");
    c.find(Locator::Css(
        "#trace-hooks li[data-hook='stamp'][data-outcome='ok']",
    ))
    .await
    .expect("the bound hook ran first and succeeded");
    screenshot(c, "trace").await;
}

/// The directory: find Bob, merge into his metadata; the applications (the built-in client
/// marked), roles, a key rotation, and the audit log naming Ada.
async fn directory_step(c: &Client, app: &TestApp, ada: &str, bob: &str, web: &str) {
    app.post("/t/default/api/roles", json!({"name": "editor"}))
        .await
        .expect_status(StatusCode::CREATED);
    let globex = app
        .post("/t/default/api/organizations", json!({"name": "globex"}))
        .await
        .expect_status(StatusCode::CREATED);
    let globex = globex["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/t/default/api/organizations/{globex}/members"),
        json!({"user_id": bob, "roles": ["editor"]}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    click(c, "nav a[href='#/users']").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#users-find-value"))
        .await
        .expect("the users page");
    // By the start of the email, as a search box is used.
    type_into(c, "#users-find-value", "BO").await;
    click(c, "#users-find-submit").await;
    let link = format!("#users-list tr[data-user-id='{bob}'] a.user-link");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&link))
        .await
        .expect("Bob found by the start of his email");
    assert!(
        c.find(Locator::Css(&format!(
            "#users-list tr[data-user-id='{ada}']"
        )))
        .await
        .is_err(),
        "only the users whose email starts with `bo`"
    );
    screenshot(c, "users").await;
    click(c, &link).await;
    let editor = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#user-metadata-editor .cm-content"))
        .await
        .expect("Bob's page with his metadata");
    editor.click().await.unwrap();
    clear(&editor).await;
    editor.send_keys("{\"team\": \"blue\"}").await.unwrap();
    click(c, "#user-metadata-merge").await;
    wait_text(c, "#user-metadata-notice", |t| t.starts_with("Merged")).await;
    let got = app
        .get(&format!("/t/default/api/users/{bob}"))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(got["user_metadata"], json!({"team": "blue"}), "{got}");
    // His organizations by name, with his roles in each.
    let org_row = format!("#user-orgs-list tr[data-org-id='{globex}']");
    wait_text(c, &format!("{org_row} a.org-link"), |t| t == "globex").await;
    wait_text(c, &org_row, |t| t.contains("editor")).await;
    screenshot(c, "user").await;

    click(c, "nav a[href='#/applications']").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!(
            "#apps-list tr[data-client-id='{web}']"
        )))
        .await
        .expect("the applications page");
    let dashboard = c
        .find(Locator::Css(
            "#apps-list tr[data-client-id^='sigil-dashboard-']",
        ))
        .await
        .expect("the dashboard client is listed");
    assert_eq!(
        dashboard.attr("data-built-in").await.unwrap().as_deref(),
        Some("true")
    );
    screenshot(c, "applications").await;
    // Found by the start of its name, in any case: the dashboard's own client is not.
    type_into(c, "#apps-find-value", "WE").await;
    click(c, "#apps-find-submit").await;
    wait_gone(c, "#apps-list tr[data-client-id^='sigil-dashboard-']").await;
    c.find(Locator::Css(&format!(
        "#apps-list tr[data-client-id='{web}']"
    )))
    .await
    .expect("the application found by `WE`");

    click(c, "nav a[href='#/roles']").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#roles-list tr[data-role-name='sigil-admin']"))
        .await
        .expect("the built-in role is listed");
    c.find(Locator::Css("#roles-list tr[data-role-name='editor']"))
        .await
        .expect("the tenant's own role is listed");
    screenshot(c, "roles").await;
    // Found by the start of its name, in any case.
    type_into(c, "#roles-find-value", "SIG").await;
    click(c, "#roles-find-submit").await;
    wait_gone(c, "#roles-list tr[data-role-name='editor']").await;
    c.find(Locator::Css("#roles-list tr[data-role-name='sigil-admin']"))
        .await
        .expect("the role found by `SIG`");

    click(c, "nav a[href='#/keys']").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#keys-list tr[data-kid]"))
        .await
        .expect("the signing keys");
    let before = app
        .get("/t/default/api/signing-keys")
        .await
        .expect_status(StatusCode::OK);
    let kids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    click(c, "#keys-rotate").await;
    click(c, "#keys-rotate-confirm").await;
    wait_text(c, "#keys-rotate-notice", |t| !t.is_empty()).await;
    let after = app
        .get("/t/default/api/signing-keys")
        .await
        .expect_status(StatusCode::OK);
    let new: Vec<String> = kids(&after)
        .into_iter()
        .filter(|k| !kids(&before).contains(k))
        .collect();
    assert_eq!(new.len(), 1, "a rotation publishes one new key: {after}");
    // The page lists it, with when it was made.
    let row = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!(
            "#keys-list tr[data-kid='{}']",
            new[0]
        )))
        .await
        .expect("the new key on the page");
    let made = after
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == new[0].as_str())
        .unwrap()["created_at"]
        .clone();
    let shown = row
        .find(Locator::Css(".key-created time"))
        .await
        .expect("the key's creation time")
        .attr("datetime")
        .await
        .unwrap();
    assert_eq!(shown.as_deref(), made.as_str());
    screenshot(c, "keys").await;

    // The keys page's link opens the log filtered to key rotations: Ada's, her id linked.
    click(c, "a.audit-history-link").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!(
            "#audit-list tr[data-actor='{ada}'][data-action='rotate'] a.audit-actor-link"
        )))
        .await
        .expect("Ada's rotation in the audit log, her id linked");
    let kinds: Value = c
        .execute(
            "return [...document.querySelectorAll('#audit-list tr[data-audit-id]')]\
             .map(r => r.dataset.resourceType)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(kinds, json!(["signing_key"]), "only the rotation");
    // All of them, then only Ada's template changes.
    click(c, "#audit-clear").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            "#audit-list tr[data-resource-type='jwt_template']",
        ))
        .await
        .expect("the template Ada saved");
    screenshot(c, "audit").await;
}

/// Waits (up to ten seconds) until nothing matches `css`: a list filtered on the server.
async fn wait_gone(c: &Client, css: &str) {
    for _ in 0..100 {
        if c.find(Locator::Css(css)).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`{css}` is still on the page");
}

async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("`{css}`: {e}"))
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("typing into `{css}`: {e}"));
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("`{css}`: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking `{css}`: {e}"));
}

#[tokio::test]
async fn the_dashboard_page_is_served_under_a_strict_policy() {
    let app = spawn_app(Db::Sqlite).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http
        .get(format!("{}/t/default/dashboard", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "dashboard/");

    let res = http
        .get(format!("{}/t/default/dashboard/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let policy = res.headers()["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'self'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    let html = res.text().await.unwrap();
    assert!(html.contains("src=\"./assets/app.js\""), "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("<style"),
        "nothing inline: {html}"
    );

    // Compressed, revalidated by ETag.
    let res = http
        .get(format!("{}/t/default/dashboard/assets/app.js", app.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let etag = res.headers()["etag"].clone();
    let res = http
        .get(format!("{}/t/default/dashboard/assets/app.js", app.base))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let res = http
        .get(format!("{}/t/default/dashboard/assets/nope.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Before any administrator, the settings say the page has no one to sign in.
    let s: Value = http
        .get(format!("{}/t/default/dashboard/settings.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["ready"], false, "{s}");
    assert_eq!(s["issuer"], format!("{}/t/default", app.base));
    let res = http
        .get(format!("{}/t/nope/dashboard/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = http
        .get(format!("{}/t/nope/dashboard/settings.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
