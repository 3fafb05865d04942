//! Sending a checked request: the host resolves the name itself, refuses the request if any
//! address it resolves to is refused (`address`), connects to a checked address (never
//! resolving again), speaks TLS with the name it checked, sends one HTTP/1.1 request, and reads
//! the response within the size cap and the deadline. Redirects are not followed: a 3xx is
//! the hook's answer to read.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout_at;

use super::FetchError;
use super::address::{AllowedRanges, refusal};
use super::request::Outbound;

/// Most bytes of a response body.
pub const MAX_RESPONSE_BODY: usize = 1 << 20;
/// Most bytes of a response's status line and headers.
const MAX_RESPONSE_HEAD: usize = 64 << 10;

/// A response as the hook gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookResponse {
    /// The status code.
    pub status: u16,
    /// Headers in order (values that are not UTF-8 are dropped).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// How this node's hooks reach the network (the operator's settings).
#[derive(Clone)]
pub struct Client {
    tls: Arc<rustls::ClientConfig>,
    ranges: AllowedRanges,
    /// Names the operator points at fixed addresses (`--hook-fetch-resolve name=ip`), instead
    /// of the system resolver; the address rules still apply to them.
    resolve: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("ranges", &self.ranges)
            .field("resolve", &self.resolve)
            .finish()
    }
}

impl Client {
    /// A client trusting the web's public roots (Mozilla's, compiled in) and `extra_roots`
    /// (DER certificates: an operator's private CA).
    pub fn new(
        ranges: AllowedRanges,
        resolve: HashMap<String, Vec<IpAddr>>,
        extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    ) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in extra_roots {
            roots
                .add(cert)
                .map_err(|e| format!("a trusted certificate is not valid: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            tls: Arc::new(tls),
            ranges,
            resolve: Arc::new(resolve),
        })
    }

    /// Sends `out`, all of it (resolution, connection, handshake, request, response) before
    /// `deadline`.
    pub async fn send(
        &self,
        out: &Outbound,
        deadline: Instant,
    ) -> Result<HookResponse, FetchError> {
        let deadline = tokio::time::Instant::from_std(deadline);
        let addrs = self.resolve(&out.host, out.port, deadline).await?;
        let stream = connect(&addrs, deadline).await?;
        if out.tls {
            let name = rustls::pki_types::ServerName::try_from(out.host.clone())
                .map_err(|e| FetchError::Tls(e.to_string()))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone());
            let stream = timeout_at(deadline, tls.connect(name, stream))
                .await
                .map_err(|_| FetchError::Timeout)?
                .map_err(|e| FetchError::Tls(e.to_string()))?;
            exchange(stream, out, deadline).await
        } else {
            exchange(stream, out, deadline).await
        }
    }

    async fn resolve(
        &self,
        host: &str,
        port: u16,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<SocketAddr>, FetchError> {
        let addrs: Vec<SocketAddr> = match self.resolve.get(host) {
            Some(ips) => ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect(),
            None => timeout_at(deadline, tokio::net::lookup_host((host, port)))
                .await
                .map_err(|_| FetchError::Timeout)?
                .map_err(|e| FetchError::Connect(format!("`{host}` did not resolve: {e}")))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(FetchError::Connect(format!(
                "`{host}` resolved to no address"
            )));
        }
        // Every address, not only the one connected to: a name that mixes a public address
        // with a private one is a rebinding attempt or a misconfiguration, refused either way.
        for a in &addrs {
            if let Some(why) = refusal(a.ip(), &self.ranges) {
                return Err(FetchError::Denied(format!(
                    "`{host}` resolves to {}, {why}",
                    a.ip()
                )));
            }
        }
        Ok(addrs)
    }
}

/// Connects to the first address that answers.
async fn connect(
    addrs: &[SocketAddr],
    deadline: tokio::time::Instant,
) -> Result<TcpStream, FetchError> {
    let mut last = String::new();
    for a in addrs {
        match timeout_at(deadline, TcpStream::connect(a)).await {
            Err(_) => return Err(FetchError::Timeout),
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last = format!("{a}: {e}"),
        }
    }
    Err(FetchError::Connect(last))
}

/// One HTTP/1.1 request and its response on `io`.
async fn exchange<S>(
    io: S,
    out: &Outbound,
    deadline: tokio::time::Instant,
) -> Result<HookResponse, FetchError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_RESPONSE_HEAD)
        .handshake::<_, Full<Bytes>>(TokioIo::new(io))
        .await
        .map_err(|e| FetchError::Connect(e.to_string()))?;
    // The connection's I/O runs beside the exchange; it ends when the exchange drops its
    // sender, or a moment after the deadline whatever the server does (after, so that the
    // exchange's own timeout, not a closed connection, is what a slow server gets).
    let linger = deadline + std::time::Duration::from_secs(1);
    tokio::spawn(async move {
        let _ = timeout_at(linger, conn).await;
    });
    let mut target = out.url.path().to_string();
    if let Some(q) = out.url.query() {
        target.push('?');
        target.push_str(q);
    }
    let authority = if out.url.port().is_some() {
        format!("{}:{}", out.host, out.port)
    } else {
        out.host.clone()
    };
    let mut req = hyper::Request::builder()
        .method(out.method)
        .uri(target)
        .header(hyper::header::HOST, authority);
    for (name, value) in &out.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(out.body.clone())))
        .map_err(|e| FetchError::Denied(format!("the request is not valid: {e}")))?;
    let exchange = async {
        // A head over its limit is a parse error like any invalid response: `connect`.
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = Limited::new(resp.into_body(), MAX_RESPONSE_BODY)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    FetchError::TooLarge
                } else {
                    FetchError::Connect(e.to_string())
                }
            })?
            .to_bytes()
            .to_vec();
        Ok(HookResponse {
            status,
            headers,
            body,
        })
    };
    timeout_at(deadline, exchange)
        .await
        .map_err(|_| FetchError::Timeout)?
}
