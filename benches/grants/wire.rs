//! A PostgreSQL wire-protocol proxy that counts what the server sends the database, so the
//! benchmark can report round trips and write transactions per grant.
//!
//! A round trip is a message the client then waits on `ReadyForQuery` for: a `Sync` closing an
//! extended-protocol exchange (sqlx's prepared statements: Parse/Bind/Execute/Sync) or a simple
//! `Query` (sqlx sends `BEGIN`/`COMMIT` that way). Transactions are counted from the simple
//! queries that open them. Only the frontend's messages are parsed; both directions are copied
//! through unchanged. The text of every statement executed is tallied too (from `Parse`, named
//! by the `Bind` that runs it, and from `Query`), so the benchmark can say which statements a
//! grant runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the statement tally names a liveness check (a `Sync` with nothing before it).
pub const PING: &str = "(liveness check: a Sync alone)";

/// What the proxied connections sent so far.
#[derive(Default)]
pub struct Counts {
    syncs: AtomicU64,
    queries: AtomicU64,
    begins: AtomicU64,
    /// Executions by statement text.
    statements: Mutex<HashMap<String, u64>>,
}

/// A copy of [`Counts`] at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    /// Extended-protocol exchanges (each one round trip).
    pub syncs: u64,
    /// Simple queries (each one round trip), `BEGIN` and `COMMIT` among them.
    pub queries: u64,
    /// Transactions opened (`BEGIN ...`).
    pub begins: u64,
}

impl Snapshot {
    /// Round trips: every message answered by `ReadyForQuery`.
    pub fn round_trips(&self) -> u64 {
        self.syncs + self.queries
    }

    /// What happened between `earlier` and this one.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        Snapshot {
            syncs: self.syncs - earlier.syncs,
            queries: self.queries - earlier.queries,
            begins: self.begins - earlier.begins,
        }
    }
}

impl Counts {
    /// Executions of each statement so far, by its text.
    pub fn statements(&self) -> HashMap<String, u64> {
        self.statements.lock().unwrap().clone()
    }

    fn executed(&self, text: &str) {
        *self
            .statements
            .lock()
            .unwrap()
            .entry(text.to_string())
            .or_default() += 1;
    }

    /// The counts now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            syncs: self.syncs.load(Ordering::Relaxed),
            queries: self.queries.load(Ordering::Relaxed),
            begins: self.begins.load(Ordering::Relaxed),
        }
    }
}

/// Listens on a free loopback port and forwards every connection to `upstream`; returns the
/// port and the counters.
pub async fn proxy(upstream: std::net::SocketAddr) -> (u16, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let c = c.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (mut from_server, to_server) = server.into_split();
                let (from_client, mut to_client) = client.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                });
                let _ = forward_counting(from_client, to_server, &c).await;
            });
        }
    });
    (port, counts)
}

/// Copies the frontend's messages to the server, counting them. The first message has no type
/// byte (the startup message, or an SSL or GSS encryption request followed by one).
async fn forward_counting(
    from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counts: &Counts,
) -> std::io::Result<()> {
    let mut from = tokio::io::BufReader::new(from);
    const SSL_REQUEST: u32 = 80_877_103;
    const GSS_REQUEST: u32 = 80_877_104;
    loop {
        let len = from.read_u32().await?;
        let mut msg = len.to_be_bytes().to_vec();
        msg.resize(len as usize, 0);
        from.read_exact(&mut msg[4..]).await?;
        to.write_all(&msg).await?;
        let body = &msg[4..];
        let code = body
            .get(..4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()));
        if len != 8 || !matches!(code, Some(SSL_REQUEST | GSS_REQUEST)) {
            break;
        }
        // The benchmark's URLs say sslmode=disable, so the server's one-byte refusal follows
        // and the startup message comes next, still untyped.
    }
    // This connection's prepared statements: name to text (the unnamed one under "").
    let mut prepared: HashMap<Vec<u8>, String> = HashMap::new();
    // Whether the exchange a `Sync` closes carried anything: sqlx's liveness check of a pooled
    // connection (on acquire and again on release) is a `Sync` alone.
    let mut exchange = false;
    loop {
        let kind = from.read_u8().await?;
        let len = from.read_u32().await?;
        let mut msg = vec![kind];
        msg.extend_from_slice(&len.to_be_bytes());
        msg.resize(len as usize + 1, 0);
        from.read_exact(&mut msg[5..]).await?;
        let body = &msg[5..];
        match kind {
            b'S' => {
                counts.syncs.fetch_add(1, Ordering::Relaxed);
                if !exchange {
                    counts.executed(PING);
                }
                exchange = false;
            }
            b'B' | b'E' | b'D' | b'C' | b'H' => {
                exchange = true;
                if kind == b'B' {
                    let mut parts = body.splitn(3, |b| *b == 0);
                    let _portal = parts.next();
                    let name = parts.next().unwrap_or_default();
                    if let Some(text) = prepared.get(name) {
                        counts.executed(text);
                    }
                }
            }
            b'P' => {
                exchange = true;
                let mut parts = body.splitn(3, |b| *b == 0);
                let name = parts.next().unwrap_or_default().to_vec();
                let text = String::from_utf8_lossy(parts.next().unwrap_or_default());
                prepared.insert(name, text.into_owned());
            }
            b'Q' => {
                counts.queries.fetch_add(1, Ordering::Relaxed);
                counts.executed(
                    String::from_utf8_lossy(body.strip_suffix(&[0]).unwrap_or(body)).as_ref(),
                );
                if body.len() >= 5 && body[..5].eq_ignore_ascii_case(b"BEGIN") {
                    counts.begins.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {}
        }
        // Whatever the client pipelined after this message is already buffered: send this
        // one now (sqlx waits on the answer to a Sync or a Query before sending more).
        to.write_all(&msg).await?;
    }
}
