//! Contract 0.2.0's fetch over TLS, the way production hooks reach their APIs: a local HTTPS
//! server whose certificate a private CA signed, trusted through the operator's extra roots
//! (`--hook-fetch-ca-file`), and refused when the CA is not trusted or the name does not match.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use sigil_hooks::Limits;
use sigil_hooks::fetch::FetchSettings;
use sigil_hooks::fetch::address::AllowedRanges;
use sigil_hooks::fetch::allow::{AllowList, AllowRule};
use sigil_hooks::outcome::{FailurePolicy, FlowStatus};
use sigil_hooks::runtime::{FlowStep, HookRuntime, RuntimeSettings};

use crate::helpers::hook;
use crate::sandbox::prepare;

/// A CA and a server certificate it signed for `names`: (CA certificate, server chain, key).
fn pki(
    names: &[&str],
) -> (
    CertificateDer<'static>,
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap()
            .signed_by(&key, &ca_cert, &ca_key)
            .unwrap();
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (ca_cert.der().clone(), vec![leaf.der().clone()], der)
}

/// An HTTPS server on 127.0.0.1 with `chain` and `key`, answering `/v1/accounts/{id}`; its port.
async fn https(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> u16 {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let app = Router::new().route(
        "/v1/accounts/{id}",
        get(|| async { axum::Json(json!({"plan": "pro"})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                // A handshake the client refuses ends here, as it should.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    port
}

/// A runtime that resolves `crm.test` and `other.test` to loopback (allowed), trusting `roots`,
/// HTTPS only.
fn runtime(roots: Vec<CertificateDer<'static>>) -> Arc<HookRuntime> {
    let lo = "127.0.0.1".parse::<IpAddr>().unwrap();
    let mut fetch = FetchSettings::new();
    fetch.ranges = AllowedRanges::new(vec!["127.0.0.0/8".parse().unwrap()]);
    fetch.resolve = HashMap::from([
        ("crm.test".to_string(), vec![lo]),
        ("other.test".to_string(), vec![lo]),
    ]);
    fetch.extra_roots = roots;
    HookRuntime::with_fetch(
        RuntimeSettings {
            threads: 2,
            per_tenant: 1,
            ..Default::default()
        },
        fetch,
    )
    .unwrap()
}

async fn fetch(rt: &Arc<HookRuntime>, url: String) -> serde_json::Map<String, serde_json::Value> {
    let step = FlowStep {
        hook_id: "hook_fetcher".into(),
        hook_name: "fetcher".into(),
        version: 1,
        hook: prepare(rt, &hook("fetcher")),
        policy: FailurePolicy::FailClosed,
        secrets: vec![],
        limits: Limits {
            deadline_ms: 5_000,
            flow_deadline_ms: 5_000,
            ..Limits::default()
        },
        allow: Arc::new(
            AllowList::new(vec![
                AllowRule {
                    host: "crm.test".into(),
                    paths: vec![],
                    methods: vec![],
                },
                AllowRule {
                    host: "other.test".into(),
                    paths: vec![],
                    methods: vec![],
                },
            ])
            .unwrap(),
        ),
        fuel_seen: Default::default(),
    };
    let out = crate::fetch::run_on(rt.clone(), vec![step], json!({"fetch": {"url": url}})).await;
    assert_eq!(out.status, FlowStatus::Success, "{out:?}");
    out.id_token_claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_server_the_operator_s_ca_signed_works_and_nothing_else_does() {
    let (ca, chain, key) = pki(&["crm.test"]);
    let port = https(chain, key).await;

    let trusting = runtime(vec![ca]);
    let got = fetch(&trusting, format!("https://crm.test:{port}/v1/accounts/7")).await;
    assert_eq!(got["status"], json!(200), "{got:?}");
    assert_eq!(got["body"], json!(r#"{"plan":"pro"}"#));

    // The certificate is for crm.test, not other.test (the same server).
    let got = fetch(
        &trusting,
        format!("https://other.test:{port}/v1/accounts/7"),
    )
    .await;
    assert_eq!(got["error"], json!("tls"), "{got:?}");

    // Without the operator's CA, only the public roots: the private CA is unknown.
    let public_only = runtime(vec![]);
    let got = fetch(
        &public_only,
        format!("https://crm.test:{port}/v1/accounts/7"),
    )
    .await;
    assert_eq!(got["error"], json!("tls"), "{got:?}");
    assert!(
        got["detail"].as_str().unwrap().contains("certificate"),
        "{got:?}"
    );

    // And plain HTTP is refused when the operator did not allow it.
    let got = fetch(&trusting, format!("http://crm.test:{port}/v1/accounts/7")).await;
    assert_eq!(got["error"], json!("denied"), "{got:?}");
}
