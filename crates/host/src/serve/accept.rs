//! The accept loop of a listener, with its cap on open connections.

use super::refuse::refuse;
use crate::limits::REFUSALS_AT_ONCE;
use crate::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The pause after a failed `accept` (out of file descriptors, say), so
/// that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A listener's connection cap, and the `refused_total` reason of a
/// connection over it.
pub(super) struct Cap {
    pub(super) connections: usize,
    pub(super) reason: &'static str,
    pub(super) metrics: Metrics,
}

/// Accepts connections on `listener` until `shutdown` completes, each
/// served by `serve` in a task of its own (the set of them is returned, to
/// drain): at most `cap.connections` at once; one more is answered `503`
/// and closed ([`refuse`]).
pub(super) async fn accept<F, Fut>(
    listener: &TcpListener,
    cap: Cap,
    shutdown: impl Future<Output = ()>,
    mut serve: F,
) -> JoinSet<()>
where
    F: FnMut(TcpStream, std::net::SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(cap.connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => return connections,
        };
        // Reap the tasks of connections that have ended.
        while connections.try_join_next().is_some() {}
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(
                "refused a connection from {peer}: {} {} are open",
                cap.connections,
                cap.reason
            );
            cap.metrics.refused(cap.reason);
            refuse(tcp, &refusals);
            continue;
        };
        // Answers go out in several writes: no Nagle delays.
        let _ = tcp.set_nodelay(true);
        let serving = serve(tcp, peer);
        connections.spawn(async move {
            let _slot = slot;
            serving.await;
        });
    }
}
