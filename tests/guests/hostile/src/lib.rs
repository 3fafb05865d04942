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
        "error" => return Err("upstream CRM unavailable".into()),
        "secret" => {
            let key = event.secret("CRM_KEY").unwrap_or("missing");
            api.id_token().set_custom_claim("crm_key_len", &key.len())?;
        }
        _ => {
            api.id_token().set_custom_claim("ok", &true)?;
        }
    }
    Ok(())
}

sigil_hooks::export_post_login!(on_login);
