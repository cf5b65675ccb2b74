//! Counting the connections a listener holds, and waiting for them to go.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// The longest [`EstServer::shutdown`] waits for connections to close.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// Counts the connections a listener holds.
#[derive(Debug, Default)]
pub(crate) struct Gauge {
    open: AtomicUsize,
    accepted: AtomicU64,
    idle: Notify,
}

/// One open connection of a [`Gauge`]; dropping it closes the count.
pub(crate) struct GaugeGuard(Arc<Gauge>);

impl Gauge {
    /// Counts a newly accepted connection until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> GaugeGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        self.accepted.fetch_add(1, Ordering::SeqCst);
        GaugeGuard(Arc::clone(self))
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Waits until no connection is open, at most [`SHUTDOWN_WAIT`].
    pub(crate) async fn wait_idle(&self) {
        let idle = async {
            loop {
                let notified = self.idle.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.open() == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, idle).await;
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}
