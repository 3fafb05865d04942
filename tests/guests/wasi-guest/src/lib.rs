//! A guest built for wasm32-wasip2: it imports WASI for std's needs. It reports what the
//! sealed WASI lets it see: the clock (frozen at the event's time), the environment (empty),
//! the filesystem (nothing preopened) and stdout (captured into the hook's log).

use std::time::{SystemTime, UNIX_EPOCH};

use sigil_hooks::{Api, Event};

fn on_login(_event: &Event, api: &Api) -> Result<(), String> {
    println!("hello from stdout");
    eprintln!("hello from stderr");
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(-1);
    let env_count = std::env::vars().count();
    let fs = match std::fs::read_to_string("/etc/passwd") {
        Ok(_) => "readable".to_string(),
        Err(e) => format!("error: {e}"),
    };
    api.id_token().set_custom_claim("clock_ms", &now_ms)?;
    api.id_token().set_custom_claim("env_count", &env_count)?;
    api.id_token().set_custom_claim("fs", &fs)?;
    Ok(())
}

sigil_hooks::export_post_login!(on_login);
