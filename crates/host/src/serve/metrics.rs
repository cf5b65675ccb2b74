//! The metrics listener: `GET /metrics` in the Prometheus text format, with
//! a connection cap of its own and the API's header and idle timeouts.

use super::accept::{Cap, accept};
use super::body::Guarded;
use super::connection::watched;
use super::timeouts::Watch;
use crate::Host;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

impl Host {
    /// Serves this host's metrics ([`Metrics`], Prometheus text format) at
    /// `GET /metrics` on `listener`, until the process ends. Anything else
    /// is answered `404`. Bind it where only the scraper reaches: it has no
    /// authentication (the figures hold no secrets, but show the load). At
    /// most [`Limits::max_metrics_connections`] are open at once (one more
    /// gets a `503` and is closed), with the API's header and idle
    /// timeouts ([`Limits::header_timeout`], [`Limits::idle_timeout`]).
    ///
    /// [`Metrics`]: crate::metrics::Metrics
    /// [`Limits::max_metrics_connections`]: crate::Limits::max_metrics_connections
    /// [`Limits::header_timeout`]: crate::Limits::header_timeout
    /// [`Limits::idle_timeout`]: crate::Limits::idle_timeout
    pub async fn serve_metrics(&self, listener: TcpListener) {
        let host = self.clone();
        let cap = Cap {
            connections: self.limits.max_metrics_connections,
            reason: "metrics-connections",
            metrics: self.metrics().clone(),
        };
        accept(&listener, cap, std::future::pending(), move |tcp, peer| {
            let host = host.clone();
            async move { host.metrics_connection(tcp, peer).await }
        })
        .await;
    }

    /// One connection to the metrics listener, watched like the API's.
    async fn metrics_connection(&self, tcp: TcpStream, peer: std::net::SocketAddr) {
        let watch = Arc::new(Watch::new(&self.limits));
        let service = {
            let (host, watch) = (self.clone(), Arc::clone(&watch));
            service_fn(move |request: hyper::Request<Incoming>| {
                let host = host.clone();
                let in_flight = watch.request_started();
                async move {
                    let found = request.uri().path() == "/metrics"
                        && request.method() == hyper::Method::GET;
                    let (status, content_type, body) = if found {
                        (200, crate::metrics::CONTENT_TYPE, host.encode_metrics())
                    } else {
                        (404, "text/plain", "GET /metrics\n".to_owned())
                    };
                    hyper::Response::builder()
                        .status(status)
                        .header(hyper::header::CONTENT_TYPE, content_type)
                        .body(Guarded {
                            body: http_body_util::Full::new(Bytes::from(body)),
                            _in_flight: in_flight,
                        })
                }
            })
        };
        watched(tcp, peer, watch, service, None).await;
    }
}
