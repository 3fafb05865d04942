//! Requests to your own systems (contract 0.2.0): a CRM, a billing API, an entitlement service.
//!
//! The hook can reach only the destinations on its allow-list, which is set with the hook
//! (`sigil hooks allow`, or the management API), never by the hook. The host resolves the name,
//! refuses private and metadata addresses, caps the request (64 KiB) and the response (1 MiB),
//! follows no redirect, and cuts the time to what is left of the hook's deadline.
//!
//! ```no_run
//! use sigil_hooks::http::Request;
//!
//! # fn f(external_id: &str) -> Result<(), String> {
//! let account: serde_json::Value = Request::get(format!("https://crm.example.com/v1/accounts/{external_id}"))
//!     .header("Authorization", "Bearer {{secrets.CRM_KEY}}")
//!     .timeout_ms(300)
//!     .send()
//!     .map_err(|e| e.to_string())?
//!     .json()?;
//! # Ok(()) }
//! ```
//!
//! `{{secrets.NAME}}` in a header value is replaced by the host with the hook's secret `NAME`
//! on the way out: the secret never enters the hook's memory, logs or traces.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::sigil::hooks::http as wit;

pub use wit::Method;

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Refused before any connection: the allow-list, the address rules, the scheme, a header
    /// or a secret reference. The text names the rule.
    Denied(String),
    /// No answer in the time allowed.
    Timeout,
    /// The request or the response is over its size limit.
    TooLarge,
    /// The connection failed (refused, reset, name not resolved).
    Connect(String),
    /// The TLS handshake failed.
    Tls(String),
    /// The destination failed repeatedly; requests to it are paused for a while.
    CircuitOpen,
    /// This invocation made as many requests as it may.
    BudgetExhausted,
}

impl From<wit::FetchError> for FetchError {
    fn from(e: wit::FetchError) -> Self {
        match e {
            wit::FetchError::Denied(why) => FetchError::Denied(why),
            wit::FetchError::Timeout => FetchError::Timeout,
            wit::FetchError::TooLarge => FetchError::TooLarge,
            wit::FetchError::Connect(why) => FetchError::Connect(why),
            wit::FetchError::Tls(why) => FetchError::Tls(why),
            wit::FetchError::CircuitOpen => FetchError::CircuitOpen,
            wit::FetchError::BudgetExhausted => FetchError::BudgetExhausted,
        }
    }
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Denied(why) => write!(f, "request denied: {why}"),
            FetchError::Timeout => f.write_str("request timed out"),
            FetchError::TooLarge => f.write_str("request or response over the size limit"),
            FetchError::Connect(why) => write!(f, "connection failed: {why}"),
            FetchError::Tls(why) => write!(f, "TLS failed: {why}"),
            FetchError::CircuitOpen => {
                f.write_str("the destination is failing; requests to it are paused")
            }
            FetchError::BudgetExhausted => f.write_str("this hook made all the requests it may"),
        }
    }
}

impl std::error::Error for FetchError {}

/// An outbound request, built step by step and sent with [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    inner: wit::Request,
}

impl Request {
    /// A request with `method` to `url` (an absolute `https://` URL).
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            inner: wit::Request {
                method,
                url: url.into(),
                headers: Vec::new(),
                body: None,
                timeout_ms: None,
            },
        }
    }
    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }
    /// `POST url`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }
    /// `PUT url`.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new(Method::Put, url)
    }
    /// `PATCH url`.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new(Method::Patch, url)
    }
    /// `DELETE url`.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::Delete, url)
    }
    /// Adds a header. `{{secrets.NAME}}` in the value is replaced by the host.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.inner.headers.push((name.into(), value.into()));
        self
    }
    /// `Authorization: Bearer <the hook's secret NAME>`, substituted by the host.
    pub fn bearer_secret(self, secret: &str) -> Self {
        self.header("authorization", format!("Bearer {{{{secrets.{secret}}}}}"))
    }
    /// The body, as is.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.inner.body = Some(body.into());
        self
    }
    /// A JSON body, with `content-type: application/json`.
    pub fn json(self, value: &impl Serialize) -> Result<Self, String> {
        let body =
            serde_json::to_vec(value).map_err(|e| format!("body is not serializable: {e}"))?;
        Ok(self.header("content-type", "application/json").body(body))
    }
    /// Gives up after `ms` milliseconds (the hook's remaining deadline is the ceiling).
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.inner.timeout_ms = Some(ms);
        self
    }
    /// Sends the request and waits for the whole response. A status of 4xx or 5xx is a
    /// response, not an error: check [`Response::is_success`].
    pub fn send(self) -> Result<Response, FetchError> {
        wit::fetch(&self.inner)
            .map(|r| Response { inner: r })
            .map_err(FetchError::from)
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    inner: wit::Response,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.inner.status
    }
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.inner.status)
    }
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// All headers, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.inner.headers
    }
    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.inner.body
    }
    /// The body as text.
    pub fn text(&self) -> Result<&str, String> {
        std::str::from_utf8(&self.inner.body).map_err(|e| format!("the body is not UTF-8: {e}"))
    }
    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.inner.body)
            .map_err(|e| format!("the body is not the JSON expected: {e}"))
    }
}
