//! `ca-handler serve`: the component's HTTP API served by this host, a
//! fresh instance per request (from the pre-instantiated component), with
//! the host's TLS policy and sandbox for the component's outgoing calls.
//!
//! `serve` is bounded by the host's [`Limits`]: at most
//! [`Limits::max_connections`] open connections (one more is answered
//! `503` and closed), a request head within [`Limits::header_timeout`], an
//! idle connection closed after [`Limits::idle_timeout`], at most
//! [`Limits::max_instances`] requests in the component at once (one more
//! is answered `503` with `Retry-After`, never queued), each request's body
//! within [`Limits::body_timeout`] of its head (else `408`, and its instance
//! is freed), and each request's instance dropped at the host-side deadline
//! (`504`). The component decides from the request's head whether a caller
//! may in at all, so a caller without the API token holds an instance only
//! for the moment its `401` takes.
//!
//! The metrics listener ([`Host::serve_metrics`]) has the same watch on its
//! connections, and a cap of its own, [`Limits::max_metrics_connections`];
//! [`Limits::fit_file_descriptors`] checks that both listeners' caps fit in
//! the process's file descriptors with room for the EST connections.
//!
//! The parts, one a file: this module binds the API's listener and serves
//! it ([`Host::serve`]); `accept` is the accept loop with its connection
//! cap, `refuse` the raw `503` for a connection over it, `connection`
//! serves one connection's HTTP/1.1 under its `timeouts` (the per-connection
//! state machine of header and idle timeouts), over the `stream` that tells
//! those timeouts when bytes move; `answer` turns one request into its
//! answer, through the component (`incoming`) or as a `problem` document of
//! the host's, and counts an enrollment's outcome from the answer's head;
//! `body` has the body wrappers that hold a request in flight and see a
//! request's body arrive; `metrics` is the metrics listener.
//!
//! [`Limits`]: crate::Limits
//! [`Limits::max_connections`]: crate::Limits::max_connections
//! [`Limits::header_timeout`]: crate::Limits::header_timeout
//! [`Limits::idle_timeout`]: crate::Limits::idle_timeout
//! [`Limits::max_instances`]: crate::Limits::max_instances
//! [`Limits::body_timeout`]: crate::Limits::body_timeout
//! [`Limits::max_metrics_connections`]: crate::Limits::max_metrics_connections
//! [`Limits::fit_file_descriptors`]: crate::Limits::fit_file_descriptors

mod accept;
mod answer;
mod body;
mod connection;
mod incoming;
mod metrics;
mod problem;
mod refuse;
mod stream;
mod timeouts;

use crate::{Host, Settings};
use accept::{Cap, accept};
use anyhow::{Result, bail};
use body::Guarded;
use connection::watched;
use http_body_util::BodyExt;
use hyper::service::service_fn;
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use timeouts::Watch;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long requests in progress may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// The accept backlog of [`bind`]'s listeners: room for a burst of
/// connections while the accept loop catches up (the kernel caps it at
/// `net.core.somaxconn`). `tokio`'s own `TcpListener::bind` uses 128, and a
/// burst past that (slowloris) delays honest clients' connections by
/// seconds of SYN retransmissions.
pub const LISTEN_BACKLOG: u32 = 1024;

/// A listener on `addr` for [`Host::serve`], with a backlog of
/// [`LISTEN_BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

impl Host {
    /// Serves the component's HTTP API on `listener` until `shutdown`
    /// completes, then lets requests in progress finish (up to 10 s),
    /// within this host's [`Limits`] (see the module's documentation).
    ///
    /// [`Limits`]: crate::Limits
    pub async fn serve(
        &self,
        settings: Arc<Settings>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        if self.proxy.is_none() {
            bail!(
                "the component does not export wasi:http/incoming-handler, so it has no HTTP API to serve"
            );
        }
        let (stop, stopping) = watch::channel(false);
        let host = self.clone();
        let mut connections = accept(
            &listener,
            Cap {
                connections: self.limits.max_connections,
                reason: "connections",
                metrics: self.metrics().clone(),
            },
            shutdown,
            move |tcp, peer| {
                let (host, settings, stopping) =
                    (host.clone(), Arc::clone(&settings), stopping.clone());
                async move { host.connection(settings, tcp, peer, stopping).await }
            },
        )
        .await;
        let _ = stop.send(true);
        let drained = tokio::time::timeout(DRAIN, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("requests still running after {DRAIN:?} were cut off");
        }
        Ok(())
    }

    /// One connection to the API, until the client closes it, the
    /// [`Watch`] finds it too slow or idle, or `serve` stops.
    async fn connection(
        &self,
        settings: Arc<Settings>,
        tcp: TcpStream,
        peer: std::net::SocketAddr,
        stopping: watch::Receiver<bool>,
    ) {
        // The authority of an HTTP/1.0 request that names none.
        let local = tcp.local_addr().ok();
        let watch = Arc::new(Watch::new(&self.limits));
        let service = {
            let (host, watch) = (self.clone(), Arc::clone(&watch));
            service_fn(move |request| {
                let (host, settings) = (host.clone(), Arc::clone(&settings));
                let in_flight = watch.request_started();
                async move {
                    let response = host.answer(&settings, request, local).await;
                    Ok::<_, Infallible>(response.map(|body| {
                        Guarded {
                            body,
                            _in_flight: in_flight,
                        }
                        .boxed_unsync()
                    }))
                }
            })
        };
        watched(tcp, peer, watch, service, Some(stopping)).await;
    }
}
