//! One connection served: HTTP/1.1 over the watched stream until the
//! client closes it, its timeouts close it, or the server stops.

use super::stream::Watched;
use super::timeouts::Watch;
use hyper::body::{Body, Incoming};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Serves HTTP/1.1 on `tcp` with `service` until the client closes it,
/// `watch` finds it too slow or idle, or `stopping` changes (then it
/// finishes its request in progress). The service keeps `watch` told of
/// its requests ([`Watch::request_started`]).
pub(super) async fn watched<S>(
    tcp: TcpStream,
    peer: std::net::SocketAddr,
    watch: Arc<Watch>,
    service: S,
    stopping: Option<watch::Receiver<bool>>,
) where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io = TokioIo::new(Watched::new(tcp, Arc::clone(&watch)));
    // The host's own watch bounds the wait for a request head, not
    // hyper's timer (which would also cut off kept-alive connections at
    // the header timeout).
    let connection = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let stopped = async move {
        match stopping {
            Some(mut stopping) => {
                let _ = stopping.changed().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        result = connection.as_mut() => if let Err(e) = result {
            tracing::debug!("connection from {peer}: {e}");
        },
        why = watch.expired() => {
            tracing::debug!("closed the connection from {peer}: {why}");
        }
        () = stopped => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                _ = connection => {}
                _ = watch.expired() => {}
            }
        }
    }
}
