//! A hook's request, checked and made ready to send: the URL parsed and its scheme, host and
//! path checked against the allow-list, the headers checked and their `{{secrets.NAME}}`
//! references replaced with the hook's secrets, the body within its limit. Nothing here
//! touches the network; a request that passes is sent by `client`.

use url::Url;

use super::FetchError;
use super::allow::AllowList;

/// Most bytes of a request body.
pub const MAX_REQUEST_BODY: usize = 64 << 10;
/// Most headers a request may carry, and most bytes of their names and values together.
pub const MAX_HEADERS: usize = 32;
const MAX_HEADER_BYTES: usize = 16 << 10;

/// The request as the hook gave it, whatever contract version it came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRequest {
    /// `GET`, `POST`...
    pub method: &'static str,
    /// The URL, unparsed.
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Option<Vec<u8>>,
    /// The hook's own timeout.
    pub timeout_ms: Option<u32>,
}

/// A request that passed every check, ready to send.
pub struct Outbound {
    /// The method.
    pub method: &'static str,
    /// The parsed URL.
    pub url: Url,
    /// The host name (lowercase) as the URL gives it.
    pub host: String,
    /// The port (the scheme's default when the URL gives none).
    pub port: u16,
    /// Whether the connection is TLS (`https`).
    pub tls: bool,
    /// Headers with secrets substituted. Never logged or traced.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The hook's own timeout.
    pub timeout_ms: Option<u32>,
}

impl std::fmt::Debug for Outbound {
    // The headers may hold secrets: only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("method", &self.method)
            .field("target", &self.traced_target())
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Outbound {
    /// `host:port`, the breaker's key.
    pub fn destination(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// What a trace shows of the target: scheme, host, port and path, and the query's names
    /// without their values (`?id=…`), which may identify the user.
    pub fn traced_target(&self) -> String {
        let mut out = format!("{}://{}", self.url.scheme(), self.host);
        if self.url.port().is_some() {
            out.push_str(&format!(":{}", self.port));
        }
        out.push_str(self.url.path());
        let names: Vec<String> = self
            .url
            .query_pairs()
            .map(|(k, _)| format!("{k}=…"))
            .collect();
        if !names.is_empty() {
            out.push('?');
            out.push_str(&names.join("&"));
        }
        out
    }
}

/// Headers the host sets or that would change how the request is framed or routed.
const HOST_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "proxy-authorization",
    "proxy-connection",
];

/// Checks `req` against the allow-list and the rules, and substitutes secrets. `allow_http`
/// is the operator's permission for plain HTTP (to allow-listed hosts only).
pub fn prepare(
    req: HookRequest,
    allow: &AllowList,
    secrets: &[(String, String)],
    allow_http: bool,
) -> Result<Outbound, FetchError> {
    let denied = |m: String| FetchError::Denied(m);
    let url = Url::parse(&req.url).map_err(|e| denied(format!("the URL is not valid: {e}")))?;
    let tls = match url.scheme() {
        "https" => true,
        "http" if allow_http => false,
        "http" => {
            return Err(denied(
                "plain `http` is not allowed (the operator allows it only for tests)".into(),
            ));
        }
        other => return Err(denied(format!("the scheme `{other}` is not allowed"))),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(denied(
            "credentials in the URL are not allowed; send them in a header".into(),
        ));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(_) => {
            return Err(denied(
                "an IP address is not allowed as the host; use the name on the allow-list".into(),
            ));
        }
        None => return Err(denied("the URL has no host".into())),
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| denied("the URL has no port".into()))?;
    allow.check(req.method, &host, url.path()).map_err(denied)?;

    if req.headers.len() > MAX_HEADERS {
        return Err(denied(format!("at most {MAX_HEADERS} headers")));
    }
    let mut headers = Vec::with_capacity(req.headers.len());
    let mut header_bytes = 0;
    for (name, value) in req.headers {
        let lower = name.to_ascii_lowercase();
        if HOST_HEADERS.contains(&lower.as_str()) {
            return Err(denied(format!("the header `{name}` is set by the host")));
        }
        if lower.is_empty() || !lower.bytes().all(is_token_byte) {
            return Err(denied(format!("`{name}` is not a valid header name")));
        }
        let value = substitute(&value, secrets).map_err(denied)?;
        // Checked after substitution: a secret with a line break must not split the request.
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(denied(format!(
                "the value of `{name}` is not a valid header value"
            )));
        }
        header_bytes += lower.len() + value.len();
        headers.push((lower, value));
    }
    if header_bytes > MAX_HEADER_BYTES {
        return Err(FetchError::TooLarge);
    }
    let body = req.body.unwrap_or_default();
    if body.len() > MAX_REQUEST_BODY {
        return Err(FetchError::TooLarge);
    }
    Ok(Outbound {
        method: req.method,
        url,
        host,
        port,
        tls,
        headers,
        body,
        timeout_ms: req.timeout_ms,
    })
}

/// RFC 9110 5.6.2 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Replaces every `{{secrets.NAME}}` in `value` with the hook's secret `NAME`.
fn substitute(value: &str, secrets: &[(String, String)]) -> Result<String, String> {
    const OPEN: &str = "{{secrets.";
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(&rest[..at]);
        let after = &rest[at + OPEN.len()..];
        let end = after
            .find("}}")
            .ok_or_else(|| "an unclosed `{{secrets.` reference in a header".to_string())?;
        let name = after[..end].trim();
        let secret = secrets
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| format!("the hook has no secret `{name}`"))?;
        out.push_str(&secret.1);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::allow::AllowRule;
    use super::*;

    fn allow() -> AllowList {
        AllowList::new(vec![AllowRule {
            host: "crm.example.com".into(),
            paths: vec!["/v1".into()],
            methods: vec![],
        }])
        .unwrap()
    }

    fn get(url: &str) -> HookRequest {
        HookRequest {
            method: "GET",
            url: url.into(),
            headers: vec![],
            body: None,
            timeout_ms: None,
        }
    }

    fn denial(r: Result<Outbound, FetchError>) -> String {
        match r {
            Err(FetchError::Denied(m)) => m,
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    #[test]
    fn only_allow_listed_https_targets_pass() {
        let ok = prepare(
            get("https://CRM.example.com/v1/users?id=42"),
            &allow(),
            &[],
            false,
        )
        .unwrap();
        assert_eq!(
            (ok.host.as_str(), ok.port, ok.tls),
            ("crm.example.com", 443, true)
        );
        assert_eq!(ok.traced_target(), "https://crm.example.com/v1/users?id=…");
        for (url, why) in [
            ("http://crm.example.com/v1", "plain `http` is not allowed"),
            (
                "ftp://crm.example.com/v1",
                "the scheme `ftp` is not allowed",
            ),
            (
                "https://127.0.0.1/v1",
                "an IP address is not allowed as the host",
            ),
            (
                "https://[::1]/v1",
                "an IP address is not allowed as the host",
            ),
            ("https://u:p@crm.example.com/v1", "credentials in the URL"),
            (
                "https://evil.example.com/v1",
                "`evil.example.com` is not on the hook's allow-list",
            ),
            // Dot segments are resolved before the check.
            (
                "https://crm.example.com/v1/../admin",
                "GET /admin on `crm.example.com`",
            ),
            (
                "https://crm.example.com/v1/%2e%2e/admin",
                "GET /admin on `crm.example.com`",
            ),
            ("not a url", "the URL is not valid"),
        ] {
            let m = denial(prepare(get(url), &allow(), &[], false));
            assert!(m.starts_with(why), "{url}: {m}");
        }
        let plain = prepare(get("http://crm.example.com:8080/v1"), &allow(), &[], true).unwrap();
        assert_eq!((plain.port, plain.tls), (8080, false));
    }

    #[test]
    fn secrets_are_substituted_and_never_shown() {
        let secrets = vec![("CRM_KEY".to_string(), "s3cr3t".to_string())];
        let mut req = get("https://crm.example.com/v1/x");
        req.headers = vec![("Authorization".into(), "Bearer {{secrets.CRM_KEY}}".into())];
        let out = prepare(req.clone(), &allow(), &secrets, false).unwrap();
        assert_eq!(
            out.headers,
            vec![("authorization".into(), "Bearer s3cr3t".into())]
        );
        assert!(!format!("{out:?}").contains("s3cr3t"));

        req.headers = vec![("Authorization".into(), "{{secrets.OTHER}}".into())];
        assert_eq!(
            denial(prepare(req.clone(), &allow(), &secrets, false)),
            "the hook has no secret `OTHER`"
        );
        let bad = vec![("CRM_KEY".to_string(), "a\r\nX-Injected: 1".to_string())];
        req.headers = vec![("X-Key".into(), "{{secrets.CRM_KEY}}".into())];
        assert_eq!(
            denial(prepare(req, &allow(), &bad, false)),
            "the value of `X-Key` is not a valid header value"
        );
    }

    #[test]
    fn framing_headers_and_large_bodies_are_refused() {
        let mut req = get("https://crm.example.com/v1");
        req.headers = vec![("Host".into(), "internal".into())];
        assert_eq!(
            denial(prepare(req.clone(), &allow(), &[], false)),
            "the header `Host` is set by the host"
        );
        req.headers = vec![("Bad Name".into(), "x".into())];
        assert!(
            denial(prepare(req.clone(), &allow(), &[], false)).contains("not a valid header name")
        );
        req.headers = vec![];
        req.body = Some(vec![0; MAX_REQUEST_BODY + 1]);
        assert!(matches!(
            prepare(req, &allow(), &[], false),
            Err(FetchError::TooLarge)
        ));
    }
}
