//! Writes announced ahead of their transaction, for the group commit ([`super::write`]).
//!
//! A grant that will write once its flow has run and its tokens are signed says so when it
//! starts: a group commit then waits a moment for it instead of committing without it. The
//! announcement is a guard; it ends when the write begins or the grant gives up (an error, a
//! denial, a client that hung up), whichever drops it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// The writes announced and not yet begun, and a signal each time one of them ends.
#[derive(Debug, Default)]
pub(super) struct Announcements {
    count: AtomicUsize,
    ended: Notify,
}

impl Announcements {
    /// Writes announced and not yet begun.
    pub(super) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Completes at the next end of an announcement (registered at once, polled or not).
    pub(super) fn arrived(&self) -> Notified<'_> {
        self.ended.notified()
    }
}

/// One announced write: counted until dropped.
#[derive(Debug)]
pub struct Announced(Arc<Announcements>);

impl Announced {
    pub(super) fn new(to: &Arc<Announcements>) -> Self {
        to.count.fetch_add(1, Ordering::AcqRel);
        Announced(to.clone())
    }
}

impl Drop for Announced {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::AcqRel);
        self.0.ended.notify_waiters();
    }
}
