//! A user-store hook outside a login: the local runner asks it as the server would, and the
//! host holds it to its world.

use serde_json::{Value, json};

use super::*;
use crate::helpers::hook;

/// The local runner asks a user-store hook as a tenant's legacy store is asked:
/// `sigil hooks test HOOK --login NAME` (the password on stdin) prints the verdict with the
/// profile and the trace, and exits 1 for a refused login; `--user-count` counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_test_asks_a_user_store_hook_as_a_login_would() {
    let (port, legacy) = mock::start().await;
    legacy.add(
        "grace@legacy.example",
        GRACE_PASSWORD,
        json!({"id": "L-1001", "roles": ["editor"]}),
    );
    let dir = std::env::temp_dir().join(format!("sigil-legacy-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = dir.join("legacy_login.wasm");
    std::fs::write(&wasm, hook("legacy_login")).unwrap();
    let run = move |args: Vec<String>, stdin: &'static str| {
        let wasm = wasm.clone();
        tokio::task::spawn_blocking(move || {
            use std::io::Write as _;
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sigil"))
                .args(["hooks", "test"])
                .arg(&wasm)
                .args(args)
                .args([
                    "--secret".to_string(),
                    format!("LEGACY_URL=http://legacy.test:{port}"),
                    "--secret".into(),
                    format!("LEGACY_KEY={}", mock::KEY),
                    "--allow".into(),
                    "legacy.test/v1".into(),
                    "--hook-fetch-allow-http".into(),
                    "--hook-fetch-allow-range".into(),
                    "127.0.0.0/8".into(),
                    "--hook-fetch-resolve".into(),
                    "legacy.test=127.0.0.1".into(),
                ])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stdin.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let stdout: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            (
                out.status.success(),
                stdout,
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };
    let login = |name: &str| vec!["--login".to_string(), name.to_string()];
    let (ok, out, err) = run(login("grace@legacy.example"), "legacy pass 1\n")
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert_eq!(out["answer"]["login"]["outcome"], "authenticated", "{out}");
    assert_eq!(out["answer"]["login"]["profile"]["legacy_id"], "L-1001");
    assert_eq!(out["trace"]["fetches"][0]["status"], 200, "{out}");
    assert!(!out.to_string().contains("legacy pass 1"), "{out}");

    let (ok, out, err) = run(login("grace@legacy.example"), "wrong\n").await.unwrap();
    assert!(!ok);
    assert_eq!(out["answer"]["login"]["outcome"], "wrong_password", "{out}");
    assert!(err.contains("refused: wrong_password"), "{err}");

    let (ok, out, err) = run(vec!["--user-count".into()], "").await.unwrap();
    assert!(ok, "{err}");
    assert_eq!(out["answer"]["user_count"], 1, "{out}");
}

/// A user-store hook acts only through what it returns: a post-login call (setting a claim)
/// fails it, naming the call; its panic is named with its message; and a post-login hook asked
/// as a legacy store is refused before it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_store_hook_acts_only_through_its_answer() {
    use sigil_hooks::user_store::{Password, StoreCall};
    use sigil_hooks::{HookError, Limits};

    let rt = runtime();
    let step = |name: &str| {
        sigil::runner::step(
            name,
            crate::sandbox::prepare(&rt, &hook(name)),
            Limits {
                deadline_ms: 2_000,
                ..Limits::default()
            },
            vec![],
            Default::default(),
        )
    };
    let login = |name: &str| StoreCall::Login {
        identifier: name.into(),
        password: Password("pw".into()),
        tenant_id: "ten_rogue".into(),
        tenant_name: "rogue".into(),
        now: "2026-12-05T00:00:00Z".into(),
        now_ms: 1_796_428_800_000,
    };
    let run = rt
        .run_user_store("ten_rogue", step("rogue_store"), login("claim@rogue.test"))
        .await;
    assert_eq!(
        run.result,
        Err(HookError::PostLoginOnly("set-id-token-claim")),
        "{run:?}"
    );
    assert_eq!(run.trace.error_code.as_deref(), Some("post_login_only"));

    let run = rt
        .run_user_store("ten_rogue", step("rogue_store"), login("panic@rogue.test"))
        .await;
    match &run.result {
        Err(HookError::Panic(m)) => assert!(m.contains("not what it expected"), "{m}"),
        other => panic!("{other:?}"),
    }

    let run = rt
        .run_user_store("ten_rogue", step("roles_claims"), login("a@rogue.test"))
        .await;
    assert!(
        matches!(&run.result, Err(HookError::Instantiate(m)) if m.contains("not a user-store hook")),
        "{run:?}"
    );
}
