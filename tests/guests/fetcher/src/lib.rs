//! A contract 0.2.0 hook that does what `user_metadata` tells it, so a test can drive every
//! fetch and cache path from the event:
//!
//! - `fetch`: `{url, method?, headers?: [[name, value]], body?, timeout_ms?, times?}` sends the
//!   request (`times` times, stopping at the first error) and sets the ID-token claims
//!   `status`, `body` and `sent` (requests answered), or `error` (the variant's name) and
//!   `detail` (its text) for the first failure.
//! - `cache`: `[[op, key, value?, ttl_ms?]]` with op `get`, `set` or `delete`; each result is
//!   appended to the claim `cache` (the value got, `ok`, or the error).

use sigil_hooks::cache;
use sigil_hooks::http::{FetchError, Method, Request};
use sigil_hooks::serde_json::{Value, json};
use sigil_hooks::{Api, Event};

fn on_login(event: &Event, api: &Api) -> Result<(), String> {
    let m = event.user().user_metadata.clone();
    if let Some(f) = m.get("fetch") {
        fetch(f, api)?;
    }
    if let Some(ops) = m.get("cache").and_then(Value::as_array) {
        let mut results = Vec::new();
        for op in ops {
            let s = |i: usize| op.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
            results.push(match s(0).as_str() {
                "get" => match cache::get(&s(1)) {
                    Some(v) => json!(String::from_utf8_lossy(&v)),
                    None => Value::Null,
                },
                "set" => {
                    let ttl = op.get(3).and_then(Value::as_u64).unwrap_or(60_000);
                    let ttl = std::time::Duration::from_millis(ttl);
                    match cache::set(&s(1), s(2).as_bytes(), ttl) {
                        Ok(()) => json!("ok"),
                        Err(e) => json!(format!("{e:?}")),
                    }
                }
                _ => {
                    cache::delete(&s(1));
                    json!("ok")
                }
            });
        }
        api.id_token().set_custom_claim("cache", &results)?;
    }
    Ok(())
}

fn fetch(f: &Value, api: &Api) -> Result<(), String> {
    let method = match f.get("method").and_then(Value::as_str).unwrap_or("GET") {
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        _ => Method::Get,
    };
    let url = f.get("url").and_then(Value::as_str).unwrap_or_default();
    let times = f.get("times").and_then(Value::as_u64).unwrap_or(1);
    let mut sent = 0u64;
    for _ in 0..times {
        let mut req = Request::new(method, url);
        for h in f.get("headers").and_then(Value::as_array).into_iter().flatten() {
            let part = |i: usize| h.get(i).and_then(Value::as_str).unwrap_or_default();
            req = req.header(part(0), part(1));
        }
        if let Some(b) = f.get("body").and_then(Value::as_str) {
            req = req.body(b.as_bytes().to_vec());
        }
        if let Some(ms) = f.get("timeout_ms").and_then(Value::as_u64) {
            req = req.timeout_ms(ms as u32);
        }
        match req.send() {
            Ok(r) => {
                sent += 1;
                api.id_token().set_custom_claim("status", &r.status())?;
                api.id_token()
                    .set_custom_claim("body", &String::from_utf8_lossy(r.body()))?;
            }
            Err(e) => {
                let (name, detail) = match &e {
                    FetchError::Denied(d) => ("denied", d.clone()),
                    FetchError::Timeout => ("timeout", String::new()),
                    FetchError::TooLarge => ("too-large", String::new()),
                    FetchError::Connect(d) => ("connect", d.clone()),
                    FetchError::Tls(d) => ("tls", d.clone()),
                    FetchError::CircuitOpen => ("circuit-open", String::new()),
                    FetchError::BudgetExhausted => ("budget-exhausted", String::new()),
                };
                api.id_token().set_custom_claim("error", &name)?;
                api.id_token().set_custom_claim("detail", &detail)?;
                break;
            }
        }
    }
    api.id_token().set_custom_claim("sent", &sent)?;
    Ok(())
}

sigil_hooks::export_post_login!(on_login);
