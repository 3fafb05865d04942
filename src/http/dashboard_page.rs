//! `/t/{tenant}/dashboard/`: the dashboard's single page, compiled into the binary.
//!
//! The page is built from `dashboard/` (TypeScript, Vite) into `dashboard/dist/`, which is
//! committed, so a machine with only Rust serves it; CI rebuilds it from source and fails
//! when the two differ (`scripts/build-dashboard.sh --check`). The page signs an
//! administrator in with the code flow (PKCE) as the tenant's dashboard client and then talks
//! to the public management API only, with the access token held in memory (docs/dashboard.md).
//!
//! Every response carries a strict Content-Security-Policy: scripts from this origin only, no
//! inline script, no `eval`, styles from this origin or carrying the page's nonce, requests to
//! this origin only, framed only by this origin (the silent `prompt=none` renewal loads the
//! callback in a hidden frame).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::Digest as _;

use super::browser::tenant_page;
use super::error::ApiError;
use super::pages;
use crate::crypto::random_secret;
use crate::manage::dashboard;
use crate::services::Services;

/// The page's HTML: the same document for every route of the page (its routes are in the
/// fragment), which loads the assets below by relative URL.
const INDEX: &[u8] = include_bytes!("../../dashboard/dist/index.html");

/// The built assets, by file name under `assets/`: every file the build writes must be here
/// (a unit test compares this list with `dashboard/dist/assets/`).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../dashboard/dist/assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../dashboard/dist/assets/app.css"),
    ),
];

/// The policy of every response here but the page itself, which adds its nonce ([`policy`]).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'self'";

/// What the built page holds for the server to fill with the response's nonce.
const NONCE_SLOT: &str = "<meta name=\"csp-nonce\" content=\"\">";

/// The page's policy: [`POLICY`], and `<style>` elements carrying `nonce` (the code editor
/// mounts its generated styles in one, reading the nonce from the page's `csp-nonce` meta
/// element, as CodeMirror's `EditorView.cspNonce` expects). Still no inline script, and no
/// inline style without the nonce, which is new for every response.
fn policy(nonce: &str) -> String {
    POLICY.replace(
        "style-src 'self'",
        &format!("style-src 'self' 'nonce-{nonce}'"),
    )
}

/// The page's routes; assets are compressed when the browser accepts it.
pub(super) fn router() -> Router<Services> {
    let assets: Vec<Asset> = ASSETS
        .iter()
        .map(|(name, kind, body)| Asset::new(name, kind, body))
        .collect();
    let assets = std::sync::Arc::new(assets);
    Router::new()
        .route("/t/{tenant}/dashboard", get(to_the_page))
        .route("/t/{tenant}/dashboard/", get(index))
        .route("/t/{tenant}/dashboard/callback", get(index))
        .route("/t/{tenant}/dashboard/settings.json", get(settings))
        .route(
            "/t/{tenant}/dashboard/assets/{file}",
            get(
                move |Path((_, file)): Path<(String, String)>, headers: HeaderMap| {
                    let assets = assets.clone();
                    async move { asset(&assets, &file, &headers) }
                },
            ),
        )
        .layer(tower_http::compression::CompressionLayer::new())
}

/// One asset and its validator.
struct Asset {
    name: &'static str,
    kind: &'static str,
    body: &'static [u8],
    etag: String,
}

impl Asset {
    fn new(name: &'static str, kind: &'static str, body: &'static [u8]) -> Self {
        let digest = sha2::Sha256::digest(body);
        let etag = format!("\"{}\"", hex(&digest[..12]));
        Self {
            name,
            kind,
            body,
            etag,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `/t/{tenant}/dashboard` without the slash: the page's relative asset URLs need it.
async fn to_the_page() -> Response {
    let mut res = StatusCode::PERMANENT_REDIRECT.into_response();
    // Relative (RFC 9110 10.2.2): resolves against the request's own path, whatever public
    // URL or proxy prefix the browser used.
    res.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("dashboard/"));
    res
}

async fn index(State(svc): State<Services>, Path(tenant): Path<String>) -> Response {
    if let Err(page) = tenant_page(&svc, &tenant).await {
        return page;
    }
    // URL-safe base64 of 32 random bytes: a CSP nonce (CSP 3, `base64-value`).
    let nonce = random_secret("");
    let html = String::from_utf8_lossy(INDEX).replacen(
        NONCE_SLOT,
        &format!("<meta name=\"csp-nonce\" content=\"{}\">", nonce.expose()),
        1,
    );
    let mut res = html.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The callback's URL carries the authorization code: never cached, never sent on.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(h);
    if let Ok(v) = HeaderValue::from_str(&policy(nonce.expose())) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// The tenant's dashboard settings: issuer, client id, audience and scope, and whether the
/// tenant has an administrator yet.
async fn settings(State(svc): State<Services>, Path(tenant): Path<String>) -> Response {
    let t = match crate::manage::tenants::get(&svc.db, &svc.issuers, &tenant).await {
        Ok(t) => t,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let issuer = svc.issuers.of(&t.name);
    match dashboard::page_settings(&svc.db, &t.id, &t.name, &issuer).await {
        Ok(s) => {
            let mut res = axum::Json(s).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            secure(res.headers_mut());
            res
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn asset(assets: &[Asset], file: &str, headers: &HeaderMap) -> Response {
    let Some(a) = assets.iter().find(|a| a.name == file) else {
        return pages::error(StatusCode::NOT_FOUND, "There is no such file.");
    };
    // Fixed names, so every response is revalidated (`no-cache`) and answered 304 while the
    // binary is the same.
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        a.body.into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&a.etag) {
        h.insert(header::ETAG, v);
    }
    secure(h);
    res
}

fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_a_slot_for_its_nonce() {
        assert!(
            String::from_utf8_lossy(INDEX).contains(NONCE_SLOT),
            "dashboard/index.html lost its csp-nonce meta element"
        );
    }

    #[test]
    fn every_built_asset_is_served() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboard/dist/assets");
        let mut built: Vec<String> = std::fs::read_dir(dir)
            .expect("dashboard/dist/assets")
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        built.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|(n, _, _)| n.to_string()).collect();
        served.sort();
        assert_eq!(built, served, "dashboard/dist/assets and ASSETS differ");
    }
}
