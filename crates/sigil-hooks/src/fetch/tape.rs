//! Recorded fetches, for `sigil hooks test --record FILE` and `--replay FILE`: a hook author
//! runs a login against the real APIs once, then again offline and deterministically, with the
//! same answers.
//!
//! What is recorded is the method, the URL and the outcome (the response, or the error); never
//! a request header or body, which may carry the hook's secrets. A replay answers each request
//! with the first unused recording of the same method and URL, after the same checks as a live
//! request (allow-list, scheme, secrets); a request that was not recorded fails with `connect`
//! naming it.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::FetchError;
use super::client::HookResponse;

/// The file's format version.
const VERSION: u32 = 1;

/// One recorded exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// `GET`, `POST`...
    pub method: String,
    /// The URL as the hook gave it (after the URL parser's normalization).
    pub url: String,
    /// The status, when there was a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Its headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Its body, when it is UTF-8 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Its body, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<Vec<u8>>,
    /// The error's code (`timeout`, `connect`...), when there was no response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct File {
    version: u32,
    exchanges: Vec<Exchange>,
}

/// Recording or replaying.
#[derive(Debug)]
pub enum Tape {
    /// Every exchange, in order.
    Record(Mutex<Vec<Exchange>>),
    /// The exchanges not yet replayed.
    Replay(Mutex<VecDeque<Exchange>>),
}

impl Tape {
    /// An empty recording.
    pub fn record() -> Self {
        Tape::Record(Mutex::default())
    }

    /// A replay of the file's text.
    pub fn replay(text: &str) -> Result<Self, String> {
        let f: File = serde_json::from_str(text).map_err(|e| format!("not a recording: {e}"))?;
        if f.version != VERSION {
            return Err(format!(
                "a recording of version {}; this Sigil reads version {VERSION}",
                f.version
            ));
        }
        Ok(Tape::Replay(Mutex::new(f.exchanges.into())))
    }

    /// The recording as the file's text (empty for a replay).
    pub fn to_text(&self) -> String {
        let exchanges = match self {
            Tape::Record(r) => r.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            Tape::Replay(_) => Vec::new(),
        };
        serde_json::to_string_pretty(&File {
            version: VERSION,
            exchanges,
        })
        .unwrap_or_default()
    }

    /// The recorded answer to `method url`, when replaying (`None` when recording).
    pub fn answer(&self, method: &str, url: &str) -> Option<Result<HookResponse, FetchError>> {
        let Tape::Replay(q) = self else {
            return None;
        };
        let mut q = q.lock().unwrap_or_else(|p| p.into_inner());
        let Some(at) = q.iter().position(|e| e.method == method && e.url == url) else {
            return Some(Err(FetchError::Connect(format!(
                "no recorded response for {method} {url}"
            ))));
        };
        let e = q.remove(at).expect("found above");
        Some(match (e.status, e.error) {
            (Some(status), _) => Ok(HookResponse {
                status,
                headers: e.headers,
                body: e
                    .body
                    .map(String::into_bytes)
                    .or(e.body_bytes)
                    .unwrap_or_default(),
            }),
            (None, error) => Err(error_of(error.as_deref(), e.detail.unwrap_or_default())),
        })
    }

    /// Keeps what `method url` got, when recording.
    pub fn keep(&self, method: &str, url: &str, got: &Result<HookResponse, FetchError>) {
        let Tape::Record(r) = self else {
            return;
        };
        let mut e = Exchange {
            method: method.to_string(),
            url: url.to_string(),
            status: None,
            headers: Vec::new(),
            body: None,
            body_bytes: None,
            error: None,
            detail: None,
        };
        match got {
            Ok(resp) => {
                e.status = Some(resp.status);
                e.headers = resp.headers.clone();
                match String::from_utf8(resp.body.clone()) {
                    Ok(text) => e.body = Some(text),
                    Err(bytes) => e.body_bytes = Some(bytes.into_bytes()),
                }
            }
            Err(err) => {
                e.error = Some(err.code().to_string());
                e.detail = err.detail().map(str::to_string);
            }
        }
        r.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }
}

/// The error a recording names.
fn error_of(code: Option<&str>, detail: String) -> FetchError {
    match code {
        Some("denied") => FetchError::Denied(detail),
        Some("timeout") => FetchError::Timeout,
        Some("too_large") => FetchError::TooLarge,
        Some("tls") => FetchError::Tls(detail),
        Some("circuit_open") => FetchError::CircuitOpen,
        Some("budget_exhausted") => FetchError::BudgetExhausted,
        _ => FetchError::Connect(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_replays_in_order_and_names_what_it_lacks() {
        let rec = Tape::record();
        let ok = Ok(HookResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"plan":"pro"}"#.to_vec(),
        });
        rec.keep("GET", "https://crm.example.com/v1/a/1", &ok);
        rec.keep(
            "GET",
            "https://crm.example.com/v1/a/2",
            &Err(FetchError::Timeout),
        );
        let text = rec.to_text();
        let replay = Tape::replay(&text).unwrap();
        assert_eq!(
            replay.answer("GET", "https://crm.example.com/v1/a/1"),
            Some(ok)
        );
        assert_eq!(
            replay.answer("GET", "https://crm.example.com/v1/a/2"),
            Some(Err(FetchError::Timeout))
        );
        assert_eq!(
            replay.answer("GET", "https://crm.example.com/v1/a/1"),
            Some(Err(FetchError::Connect(
                "no recorded response for GET https://crm.example.com/v1/a/1".into()
            ))),
            "each recording answers once"
        );
        assert!(Tape::replay(r#"{"version": 9, "exchanges": []}"#).is_err());
    }
}
