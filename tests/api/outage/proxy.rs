//! A TCP proxy between a server under test and PostgreSQL, so a test can take the database
//! away from one server without touching the PostgreSQL server the other tests share.
//!
//! - [`Proxy::cut`]: what a stopped or restarting PostgreSQL looks like. Every open connection
//!   is closed and the listening socket too, so a new connection is refused.
//! - [`Proxy::blackhole`]: what a network partition or a frozen host looks like. New
//!   connections are accepted and nothing is forwarded either way, on them or on the open ones.
//! - [`Proxy::restore`]: forwarding again (on the same port), and the open connections resume.
//! - [`Proxy::strand`]: what a firewall or NAT forgetting a connection looks like. The open
//!   connections go silent for good, without being closed; new ones are forwarded.

use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Open,
    Blackhole,
    Cut,
}

pub struct Proxy {
    port: u16,
    upstream: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Bumped by [`Proxy::strand`]: connections accepted before the bump go silent.
    strands: watch::Sender<u64>,
    /// The accept loop, which owns the listening socket; `None` while cut.
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl Proxy {
    /// A proxy on a free loopback port, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            port: listener.local_addr().unwrap().port(),
            upstream,
            mode: watch::channel(Mode::Open).0,
            strands: watch::channel(0).0,
            accept: Mutex::new(None),
        };
        proxy.serve(listener);
        proxy
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, mode, strands) = (
            self.upstream,
            self.mode.subscribe(),
            self.strands.subscribe(),
        );
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, mode.clone(), strands.clone()));
            }
        });
        *self.accept.lock().unwrap() = Some(task);
    }

    /// Closes every connection and refuses new ones.
    pub async fn cut(&self) {
        let task = self.accept.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            // Once the task has ended, its listener is closed: the next connect is refused.
            let _ = task.await;
        }
        self.mode.send_replace(Mode::Cut);
    }

    /// Accepts connections and forwards nothing.
    pub fn blackhole(&self) {
        self.mode.send_replace(Mode::Blackhole);
    }

    /// Silences every open connection for good (they stay open); new ones are forwarded.
    pub fn strand(&self) {
        self.strands.send_modify(|n| *n += 1);
    }

    /// Forwards again.
    pub async fn restore(&self) {
        if self.accept.lock().unwrap().is_none() {
            let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
            self.serve(listener);
        }
        self.mode.send_replace(Mode::Open);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
        }
        // Dropping the sender ends every relay.
    }
}

/// Waits while blackholed: `true` when open, `false` once cut (or the proxy is gone).
async fn open(mode: &mut watch::Receiver<Mode>) -> bool {
    loop {
        match *mode.borrow_and_update() {
            Mode::Open => return true,
            Mode::Cut => return false,
            Mode::Blackhole => {}
        }
        if mode.changed().await.is_err() {
            return false;
        }
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    strands: watch::Receiver<u64>,
) {
    if !open(&mut mode).await {
        return;
    }
    let born = *strands.borrow();
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // When either direction ends, both sockets are dropped: closed. A stranded connection
    // keeps them open and forwards nothing until the proxy is dropped.
    tokio::select! {
        _ = pump(client_read, server_write, mode.clone(), (strands.clone(), born)) => {}
        _ = pump(server_read, client_write, mode, (strands, born)) => {}
    }
}

/// Copies `from` to `to` while the proxy is open; holds both, forwarding nothing, once the
/// connection (made at strand count `born`) is stranded.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    (mut strands, born): (watch::Receiver<u64>, u64),
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !open(&mut mode).await {
            return;
        }
        tokio::select! {
            _ = async { strands.wait_for(|n| *n != born).await.map(|_| ()) } => {
                // Until the proxy is dropped (the sender with it).
                let _ = async { strands.wait_for(|_| false).await.map(|_| ()) }.await;
                return;
            },
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if to.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            },
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
