//! The pooled HTTP/1.1 client that carries requests to the EST server: the
//! component's (through [`crate::outbound`]) and the benchmark's native
//! floor's. TLS comes from [`crate::tls`].

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::ClientConfig;
use std::time::Duration;

/// How long an idle connection to the EST server is kept for reuse.
pub const POOL_IDLE: Duration = Duration::from_secs(30);

/// The most idle connections kept open to the EST server.
pub const POOL_MAX_IDLE: usize = 64;

/// The connector under [`pooled_client`]: TCP (no Nagle) then, for
/// `https`, the host's TLS.
pub type Connector = HttpsConnector<HttpConnector>;

/// An HTTP/1.1 client that keeps connections open for reuse (keep-alive,
/// up to [`POOL_MAX_IDLE`] idle for [`POOL_IDLE`]), with `tls` for
/// `https` and `connect_timeout` for TCP connects. A request is resent
/// on a new connection only when a pooled one closed before the request
/// was written, so a POST is never sent twice.
pub fn pooled_client<B>(tls: ClientConfig, connect_timeout: Duration) -> Client<Connector, B>
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(connect_timeout));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_max_idle_per_host(POOL_MAX_IDLE)
        .pool_timer(TokioTimer::new())
        .build(connector)
}
