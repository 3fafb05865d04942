//! The trace writer: flow traces are stored in batches, off the login's write transaction.
//!
//! On SQLite every write transaction holds the one database lock, so a trace inserted inside
//! the login's commit lengthened the section every login waits for, and a commit of its own
//! cost an fsync per login. The writer takes traces from a bounded queue and stores each batch
//! (up to [`BATCH`], gathered for up to [`LINGER`]) in one transaction. Reads of traces flush
//! first, so a node always shows its own traces; a full queue drops traces and counts them in
//! `/metrics` rather than slowing logins. Successful logins' traces above the tenant's rate
//! are not queued at all ([`super::trace_rate`]).
//!
//! A batch the database refuses (it is restarting, or unreachable) is retried with backoff for
//! up to [`RETRY_FOR`] before it is dropped and counted, so an outage shorter than that loses
//! no trace. What a node can lose is what it holds in memory when it dies: the traces of the
//! logins it finished within the last [`LINGER`] and the batch being written (at most
//! [`BATCH`]).

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{mpsc, oneshot};

use super::trace_rate::TraceRate;
use crate::store::Store;
use crate::store::hook_traces::{self as store, TraceRow};

/// Most traces stored in one transaction.
pub const BATCH: usize = 256;
/// How long the writer waits for more traces before storing a batch.
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(50);
/// Traces waiting at most; beyond this new ones are dropped (and counted).
pub const QUEUE: usize = 10_000;
/// How long a batch the database refuses is retried before it is dropped (and counted).
pub const RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(10);

enum Msg {
    Trace(Box<TraceRow>),
    Flush(oneshot::Sender<()>),
}

/// Handle to the writer task.
#[derive(Debug, Clone)]
pub struct TraceWriter {
    tx: Option<mpsc::Sender<Msg>>,
    store: Store,
    keep: i64,
    dropped: Counter,
    rate: Arc<TraceRate>,
    skipped: Counter,
}

/// What the writer counts, in `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct TraceCounters {
    /// Traces lost (`sigil_hook_traces_dropped_total`): the queue was full, or the database
    /// refused a batch for longer than [`RETRY_FOR`].
    pub dropped: Counter,
    /// Successful logins' traces not stored above the tenant's rate
    /// (`sigil_hook_traces_skipped_total`).
    pub skipped: Counter,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl TraceWriter {
    /// Starts the writer on the current tokio runtime; without one (offline tools), traces
    /// are written directly. A tenant keeps `keep` traces; successful logins' traces are
    /// stored up to `per_second` per tenant a second (0: all of them).
    pub fn start(store: Store, keep: i64, per_second: u32, counters: TraceCounters) -> Self {
        let TraceCounters { dropped, skipped } = counters;
        let rate = Arc::new(TraceRate::new(per_second));
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return Self {
                tx: None,
                store,
                keep,
                dropped,
                rate,
                skipped,
            };
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        handle.spawn(run(store.clone(), keep, dropped.clone(), rx));
        Self {
            tx: Some(tx),
            store,
            keep,
            dropped,
            rate,
            skipped,
        }
    }

    /// Queues the trace of a login whose hooks succeeded and which was issued, if the tenant's
    /// trace rate stores it, with the runs it stands for; otherwise counts it as skipped.
    pub async fn record_success(&self, mut trace: TraceRow) {
        match self.rate.admit(&trace.tenant_id, trace.at) {
            Some(runs) => {
                trace.runs = i64::try_from(runs).unwrap_or(i64::MAX);
                self.record(trace).await;
            }
            None => {
                self.skipped.inc();
            }
        }
    }

    /// Queues a trace, whatever the tenant's trace rate.
    pub async fn record(&self, trace: TraceRow) {
        match &self.tx {
            Some(tx) => {
                if tx.try_send(Msg::Trace(Box::new(trace))).is_err() {
                    self.dropped.inc();
                }
            }
            None => {
                if let Err(e) = write(&self.store, self.keep, &[trace]).await {
                    tracing::error!(error = %e, "storing a hook trace");
                }
            }
        }
    }

    /// Waits until every trace queued before this call is stored.
    pub async fn flush(&self) {
        if let Some(tx) = &self.tx {
            let (done, wait) = oneshot::channel();
            if tx.send(Msg::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }
}

async fn write(
    store: &Store,
    keep: i64,
    batch: &[TraceRow],
) -> Result<(), crate::store::StoreError> {
    let mut tx = store.begin_write().await?;
    store::insert_traces(&mut tx, batch, keep).await?;
    tx.commit().await?;
    Ok(())
}

/// Stores a batch, retrying with backoff for up to [`RETRY_FOR`] while the database refuses
/// it; then drops it and counts it in `dropped`. Time here is the runtime's timer: how long to
/// keep trying is not business time.
async fn write_retrying(store: &Store, keep: i64, batch: &[TraceRow], dropped: &Counter) {
    let give_up = tokio::time::Instant::now() + RETRY_FOR;
    let mut pause = std::time::Duration::from_millis(50);
    loop {
        match write(store, keep, batch).await {
            Ok(()) => return,
            Err(e) if tokio::time::Instant::now() + pause < give_up => {
                tracing::warn!(error = %e, traces = batch.len(), "storing hook traces; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(1));
            }
            Err(e) => {
                tracing::error!(error = %e, traces = batch.len(), "storing hook traces failed; dropped");
                dropped.inc_by(batch.len() as u64);
                return;
            }
        }
    }
}

async fn run(store: Store, keep: i64, dropped: Counter, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<TraceRow> = Vec::with_capacity(BATCH);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        // Gather for up to LINGER after the first trace, so that under load a batch holds
        // many traces and the writer takes the database's write lock rarely; a flush request
        // cuts the wait short.
        let deadline = tokio::time::Instant::now() + LINGER;
        let mut next = Some(first);
        while let Some(m) = next.take() {
            match m {
                Msg::Trace(t) => batch.push(*t),
                Msg::Flush(w) => waiters.push(w),
            }
            if batch.len() >= BATCH || !waiters.is_empty() {
                break;
            }
            next = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .ok()
                .flatten();
        }
        // Whatever else is already queued joins this batch.
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(Msg::Trace(t)) => batch.push(*t),
                Ok(Msg::Flush(w)) => waiters.push(w),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            write_retrying(&store, keep, &batch, &dropped).await;
            batch.clear();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}
