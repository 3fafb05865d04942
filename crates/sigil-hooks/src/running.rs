//! A flow's admission: what lets it run guest code ([`Running`]: its tenant's permit and the
//! node's, given back while a fetch waits) and the bounded wait for a permit ([`acquire`]).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::HookError;

/// A flow's admission to run guest code: its tenant's running permit and the node's. A flow
/// waiting on a fetch gives both back ([`Running::pause`]) and takes them again before its
/// guest goes on ([`Running::resume`]), so waiting on a customer's API never holds a thread's
/// worth of admission.
pub struct Running {
    tenant: Arc<Semaphore>,
    node: Arc<Semaphore>,
    held: Mutex<Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>>,
}

impl Running {
    pub(crate) async fn admit(
        tenant: Arc<Semaphore>,
        node: Arc<Semaphore>,
        until: Instant,
    ) -> Result<Arc<Running>, HookError> {
        let t = acquire(tenant.clone(), until).await?;
        let n = acquire(node.clone(), until).await?;
        Ok(Arc::new(Running {
            tenant,
            node,
            held: Mutex::new(Some((t, n))),
        }))
    }

    /// Admission for a flow outside the server (the local runner): permits of its own.
    pub(crate) fn unbounded() -> Arc<Running> {
        let own = || Arc::new(Semaphore::new(Semaphore::MAX_PERMITS));
        Arc::new(Running {
            tenant: own(),
            node: own(),
            held: Mutex::new(None),
        })
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives the running permits back while the flow waits.
    pub(crate) fn pause(&self) {
        drop(self.lock().take());
    }

    /// Takes the running permits again, waiting at most until `until`; `false` if they did
    /// not come in time (the flow's time is up).
    pub(crate) async fn resume(&self, until: Instant) -> bool {
        if self.lock().is_some() {
            return true;
        }
        let Ok(t) = acquire(self.tenant.clone(), until).await else {
            return false;
        };
        let Ok(n) = acquire(self.node.clone(), until).await else {
            return false;
        };
        *self.lock() = Some((t, n));
        true
    }
}

/// A permit of `sem`, waiting at most until `until`; past it, `hook_capacity`.
pub(crate) async fn acquire(
    sem: Arc<Semaphore>,
    until: Instant,
) -> Result<OwnedSemaphorePermit, HookError> {
    let until = tokio::time::Instant::from_std(until);
    match tokio::time::timeout_at(until, sem.acquire_owned()).await {
        Ok(Ok(p)) => Ok(p),
        _ => Err(HookError::Capacity),
    }
}
