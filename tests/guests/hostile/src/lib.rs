//! One guest, many misbehaviours: `user_metadata.mode` picks which.

use std::hint::black_box;

use sigil_hooks::{Api, Event};

fn recurse(n: u64) -> u64 {
    if black_box(n) == u64::MAX {
        return 0;
    }
    black_box(recurse(n + 1)) + 1
}

fn on_login(event: &Event, api: &Api) -> Result<(), String> {
    let mode = event
        .user()
        .user_metadata
        .get("mode")
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_string();
    match mode.as_str() {
        "loop" => {
            let mut x = 0u64;
            loop {
                x = black_box(x.wrapping_add(1));
            }
        }
        "memory_bomb" => {
            // Allocate without touching the memory: every allocation is a memory.grow, until
            // the host refuses one and the allocator aborts.
            loop {
                let chunk: Vec<u8> = Vec::with_capacity(black_box(4 << 20));
                std::mem::forget(black_box(chunk));
            }
        }
        "allocate" => {
            // Not hostile: a hook that allocates well past the SDK allocator's 256 KiB arena
            // (so memory grows), frees and reallocates, and reports what it saw. A static
            // counter shows whether anything survives from one login to the next.
            static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            for i in 0..64u32 {
                let mut b = vec![0u8; 16 * 1024];
                b[0] = i as u8;
                b.push(1);
                blocks.push(b);
            }
            let mut s = String::new();
            for i in 0..20_000u32 {
                s.push_str(&i.to_string());
            }
            let sum: u64 = blocks.iter().map(|b| u64::from(b[0]) + b.len() as u64).sum();
            api.id_token().set_custom_claim("sum", &sum)?;
            api.id_token().set_custom_claim("text_len", &s.len())?;
            let runs = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            api.id_token().set_custom_claim("runs", &runs)?;
        }
        "recursion" => {
            black_box(recurse(0));
        }
        "huge_claim" => {
            api.id_token().set_custom_claim("big", &"x".repeat(64 * 1024))?;
        }
        "huge_log" => {
            for i in 0..10_000 {
                api.log(format!("line {i}: {}", "y".repeat(100)));
            }
        }
        "panic" => {
            let v: Vec<u32> = black_box(Vec::new());
            if v.is_empty() {
                panic!("the hook gave up: no widgets");
            }
        }
        "restricted" => {
            api.id_token().set_custom_claim("sub", &"usr_impostor")?;
        }
        "count" => {
            // Not hostile: a metadata write on every login (`user_metadata.logins` + 1), which
            // the fault run counts to prove acknowledged writes are never lost.
            let n = event
                .user()
                .user_metadata
                .get("logins")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            api.user().set_user_metadata("logins", &(n + 1))?;
        }
        "error" => return Err("upstream CRM unavailable".into()),
        "raw" => raw_calls(event)?,
        "secret" => {
            let key = event.secret("CRM_KEY").unwrap_or_else(|| "missing".into());
            api.id_token().set_custom_claim("crm_key_len", &key.len())?;
        }
        _ => {
            api.id_token().set_custom_claim("ok", &true)?;
        }
    }
    Ok(())
}

/// Makes the host calls listed in the hook's secret `CALLS` (JSON text) or else in
/// `user_metadata.calls`, with exactly the text given, so a test
/// can send what the SDK would never produce (`1E15`, names with NUL, ...). Each call is
/// `[function, arg1, arg2?, count?]`: `count` repeats it, with `{i}` in the arguments replaced by
/// the repetition's index (three digits, zero-padded).
fn raw_calls(event: &Event) -> Result<(), String> {
    use sigil_hooks::bindings::sigil::hooks::api as host;
    let calls: Vec<sigil_hooks::serde_json::Value> = match event.secret("CALLS") {
        Some(text) => sigil_hooks::serde_json::from_str(&text).map_err(|e| e.to_string())?,
        None => event
            .user()
            .user_metadata
            .get("calls")
            .and_then(|c| c.as_array())
            .cloned()
            .unwrap_or_default(),
    };
    for call in &calls {
        let text = |i: usize| call.get(i).and_then(|v| v.as_str()).unwrap_or("");
        let count = call.get(3).and_then(|v| v.as_u64()).unwrap_or(1);
        for n in 0..count {
            let arg = |i: usize| text(i).replace("{i}", &format!("{n:03}"));
            match text(0) {
                "set-id-token-claim" => host::set_id_token_claim(&arg(1), &arg(2)),
                "set-access-token-claim" => host::set_access_token_claim(&arg(1), &arg(2)),
                "deny" => host::deny(&arg(1)),
                "add-scope" => host::add_scope(&arg(1)),
                "remove-scope" => host::remove_scope(&arg(1)),
                "set-user-metadata" => host::set_user_metadata(&arg(1), &arg(2)),
                "set-app-metadata" => host::set_app_metadata(&arg(1), &arg(2)),
                "log" => host::log(&arg(1)),
                other => return Err(format!("unknown host call `{other}`")),
            }
        }
    }
    Ok(())
}

sigil_hooks::export_post_login!(on_login);
