//! The threads flows with asynchronous hooks run on: a tokio runtime of the hook host's own.
//!
//! A flow whose hooks import something asynchronous (contract 0.2.0's `fetch`, WASI) is a
//! future spawned on this runtime, never on the server's: a guest runs inside a poll, so a
//! spinning guest (until its epoch deadline) occupies one of these threads and never one of the
//! server's async workers, and a guest waiting on a fetch gives its thread back to other flows
//! for as long as it waits. Flows of synchronous hooks only (most) run on [`crate::pool`]'s
//! plain threads instead: handing a job to a tokio runtime from outside wakes a second worker
//! (its work-stealing search), a context switch more per login than a channel that wakes the
//! one thread that takes the job.
//!
//! A job that panics is caught by tokio on its thread: its caller gets
//! [`PoolError::Panicked`] and the thread goes on serving, so the pool never shrinks. A
//! caller that stops waiting (its client hung up) does not stop the job (the job owns its
//! admission permits, see `runtime`), but the job can see it ([`Abandoned::is_set`]) and stop
//! between hooks.

use std::future::Future;

use tokio::runtime::Runtime;
use tokio::sync::oneshot;

pub use crate::pool::PoolError;

/// Tells a running job whether anybody still waits for its result.
#[derive(Debug)]
pub struct Abandoned(oneshot::Sender<()>);

impl Abandoned {
    /// Whether the caller stopped waiting (its future was dropped).
    pub fn is_set(&self) -> bool {
        self.0.is_closed()
    }

    /// A handle and what keeps it unset: the job is abandoned once the receiver is dropped.
    pub fn pair() -> (Self, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (Abandoned(tx), rx)
    }
}

/// A fixed number of named threads running guest jobs (a multi-threaded tokio runtime).
pub struct IoPool {
    // Always `Some` until dropped: `Drop` takes it to shut it down without blocking, since the
    // pool may be dropped from inside the server's own runtime, where blocking is refused.
    rt: Option<Runtime>,
    threads: usize,
}

impl std::fmt::Debug for IoPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoPool")
            .field("threads", &self.threads)
            .finish()
    }
}

impl IoPool {
    /// Starts `threads` threads (at least one) named `{name}-{i}`.
    pub fn new(threads: usize, name: &str) -> std::io::Result<IoPool> {
        let threads = threads.max(1);
        let prefix = name.to_string();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            // Name resolution for fetches (`getaddrinfo`) and WASI's file calls run on blocking
            // threads: a slow resolver must not make 200 waiting logins resolve one by one.
            // Idle ones exit after tokio's keep-alive.
            .max_blocking_threads(64)
            .thread_name_fn(move || {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                format!("{prefix}-{i}")
            })
            .enable_all()
            .build()?;
        Ok(IoPool {
            rt: Some(rt),
            threads,
        })
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    fn rt(&self) -> &Runtime {
        // Only `Drop` takes it.
        self.rt
            .as_ref()
            .expect("the hook pool's runtime lives as long as the pool")
    }

    /// Runs the future `f` makes on the pool and waits for its result, or why there is none.
    /// Dropping the returned future does not stop the job; `f` is given an [`Abandoned`] that
    /// tells the job so, for it to stop early.
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(Abandoned) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let (abandoned, _waiting) = Abandoned::pair();
        let job = self.rt().spawn(f(abandoned));
        // `_waiting` lives in this future: dropping the future (the caller gave up) closes it.
        match job.await {
            Ok(out) => Ok(out),
            Err(e) if e.is_panic() => {
                let p = e.into_panic();
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                Err(PoolError::Panicked(msg))
            }
            Err(_) => Err(PoolError::Stopped),
        }
    }

    /// Runs `fut` to completion on the calling thread, inside this pool's runtime (its timers
    /// and sockets): the local runner's way to run a flow exactly as a login would, from a
    /// plain thread. Panics if called from inside an async task.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt().block_on(fut)
    }
}

impl Drop for IoPool {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
