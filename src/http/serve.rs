//! Serving the application on its listener, with a bounded drain.
//!
//! axum's own `serve` drains without a bound: a client that keeps a request open (a slow
//! upload, a stalled connection) keeps the process alive, and a deployment's stop times out and
//! kills it mid-write. Here, when the shutdown future resolves:
//!
//! 1. the listener is closed, so new connections are refused (a balancer retries them on
//!    another node);
//! 2. every open connection finishes the request it is serving and closes (idle keep-alive
//!    connections close at once);
//! 3. after `drain`, the connections still open are dropped: their requests' futures are
//!    cancelled (a write transaction rolls back) and their sockets closed.
//!
//! Each connection is a task in one [`JoinSet`], which is what makes step 3 possible.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// How long in-flight requests may take to finish after SIGTERM, by default (`--drain-seconds`).
pub const DEFAULT_DRAIN_SECONDS: u64 = 10;

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Connections open when the drain started.
    pub open: usize,
    /// Of those, still open when the bound passed, and dropped.
    pub dropped: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains for at most `drain` (see
/// the module doc). Handlers see the peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> Drained {
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        // Reap the connections that ended, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        connections.spawn(connection(stream, peer, app.clone(), stopping.clone()));
    }
    drop(listener);
    let open = connections.len();
    // Receivers only wait for the change; a send with none left is fine.
    let _ = stop.send(true);
    let finished = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    let dropped = match finished {
        Ok(()) => 0,
        Err(_) => {
            let dropped = connections.len();
            tracing::warn!(
                connections = dropped,
                drain_seconds = drain.as_secs_f64(),
                "requests still in flight when the drain ended; dropping their connections"
            );
            connections.shutdown().await;
            dropped
        }
    };
    Drained { open, dropped }
}

/// One connection, HTTP/1.1 (as the rest of the server speaks): served until it ends, or,
/// once `stopping` turns true, until its in-flight request is answered.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    mut stopping: watch::Receiver<bool>,
) {
    let service = app.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.map(Body::new)
    });
    let service = TowerToHyperService::new(service);
    let builder = Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            log_end(result);
            return;
        }
        _ = stopping.wait_for(|stop| *stop) => conn.as_mut().graceful_shutdown(),
    }
    log_end(conn.await);
}

fn log_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// A failed `accept`: a connection the peer reset before it was taken is nothing; anything
/// else (out of file descriptors) is logged, and accepting resumes a second later rather than
/// spinning.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
