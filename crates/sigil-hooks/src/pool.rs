//! The dedicated threads guests run on.
//!
//! A fixed number of threads take jobs from one queue. The queue is a multi-consumer channel
//! (flume), so a job wakes the one thread that takes it: a channel behind a mutex woke two per
//! job (the thread blocked in `recv` holding the lock, then the one waiting on the lock once it
//! was released), and on a small machine each wake-up costs more than a hook. A job that
//! panics is caught on its thread (`catch_unwind`): its caller gets [`PoolError::Panicked`] and
//! the thread goes on serving, so the pool never shrinks. Without that, every panic (a host bug reachable by a
//! guest, say) would cost a thread for good, and a few would leave logins waiting on a pool
//! that no longer runs anything.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use flume::{Receiver, Sender};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Why a job gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The job panicked (the message, when it was a string); its thread survived.
    #[error("a hook-pool job panicked: {0}")]
    Panicked(String),
    /// The pool has stopped (it is being dropped).
    #[error("the hook pool has stopped")]
    Stopped,
}

/// A fixed-size pool of named threads.
pub struct Pool {
    jobs: Sender<Job>,
    threads: usize,
    /// Threads currently in their serving loop (they only leave it when the pool is dropped).
    live: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads)
            .field("live", &self.live())
            .finish()
    }
}

/// Counts a thread out of [`Pool::live`] however it leaves its loop.
struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pool {
    /// Starts `threads` threads (at least one) named `{name}-{i}`.
    pub fn new(threads: usize, name: &str) -> std::io::Result<Pool> {
        let threads = threads.max(1);
        let (tx, rx) = flume::unbounded::<Job>();
        let live = Arc::new(AtomicUsize::new(0));
        for i in 0..threads {
            let rx = rx.clone();
            live.fetch_add(1, Ordering::SeqCst);
            let alive = Alive(live.clone());
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || serve(&rx, alive))?;
        }
        Ok(Pool {
            jobs: tx,
            threads,
            live,
        })
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Threads currently serving; equal to [`Pool::threads`] for the pool's whole life.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Queues `f`; the receiver gets its result, or why there is none. Dropping the receiver
    /// does not stop a running job (nothing can stop a thread from outside); `f` is given a
    /// function that tells whether the receiver is gone, so a long job can stop early.
    pub fn spawn<T, F>(&self, f: F) -> oneshot::Receiver<Result<T, PoolError>>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Fn() -> bool) -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let abandoned = || tx.is_closed();
            let out = catch(|| f(&abandoned));
            let _ = tx.send(out);
        });
        if self.jobs.send(job).is_err() {
            // The threads are gone (only while dropping): answer instead of hanging.
            let (tx, rx) = oneshot::channel();
            let _ = tx.send(Err(PoolError::Stopped));
            return rx;
        }
        rx
    }
}

/// One thread's loop: take a job, run it, repeat, until the pool is dropped. Jobs catch their
/// own panics (see [`Pool::spawn`]); the loop catches again so that nothing a job does can end
/// the thread.
fn serve(rx: &Receiver<Job>, _alive: Alive) {
    // `recv` fails only once every sender is gone: the pool was dropped.
    while let Ok(job) = rx.recv() {
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

/// Runs `f`, catching a panic (a host bug a guest reached) as [`PoolError::Panicked`] so that
/// it costs neither a pool thread nor an async worker's task.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, PoolError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        PoolError::Panicked(msg)
    })
}

/// Polls `fut` once: its output, or `None` if it would wait (a flow of synchronous hooks never
/// does: nothing in it awaits anything that can pend).
pub(crate) fn run_now<F: std::future::Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => None,
    }
}
