//! The pooled HTTP/1.1 client that carries requests to the EST server: the
//! component's (through [`crate::outbound`]) and the benchmark's native
//! floor's. TLS comes from [`crate::tls`]; the TLS failures its
//! connections meet are kept ([`TlsFailures`]).

use crate::proxy::{Proxy, ProxyConnector};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ClientConfig;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// How long an idle connection to the EST server is kept for reuse.
pub const POOL_IDLE: Duration = Duration::from_secs(30);

/// The most idle connections kept open to the EST server.
pub const POOL_MAX_IDLE: usize = 64;

/// The connector under [`pooled_client`]: TCP (no Nagle), through a
/// proxy's tunnel when there is one ([`crate::proxy`]), then, for `https`,
/// the host's TLS, its connections watched for TLS failures.
pub type Connector = Watching<HttpsConnector<ProxyConnector>>;

/// The latest TLS failure (an alert from the server, a refused
/// certificate) any connection of one client met, and when.
///
/// A TLS 1.3 server judges the client's certificate after the client has
/// finished its handshake: its alert can close a new connection before
/// the request goes out on it. The HTTP client then reports only that the
/// connection was not ready; what the connection met says why.
#[derive(Clone, Default)]
pub struct TlsFailures(Arc<Mutex<Option<(Instant, rustls::Error)>>>);

impl TlsFailures {
    /// The latest failure, if it happened at `since` or later.
    pub fn since(&self, since: Instant) -> Option<rustls::Error> {
        let latest = self.0.lock().unwrap_or_else(|e| e.into_inner());
        latest
            .as_ref()
            .filter(|(at, _)| *at >= since)
            .map(|(_, e)| e.clone())
    }

    /// Keeps the TLS failure inside `err`, if there is one.
    fn record(&self, err: &io::Error) {
        if let Some(tls) = tls_error_in(err) {
            let mut latest = self.0.lock().unwrap_or_else(|e| e.into_inner());
            *latest = Some((Instant::now(), tls.clone()));
        }
    }
}

/// The rustls error inside an I/O error (TLS failures arrive wrapped in
/// one or more).
pub fn tls_error_in(err: &io::Error) -> Option<&rustls::Error> {
    let mut inner: Option<&(dyn std::error::Error + 'static)> = err
        .get_ref()
        .map(|e| e as &(dyn std::error::Error + 'static));
    while let Some(current) = inner {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        inner = match current.downcast_ref::<io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

/// A connector whose connections keep their TLS failures in a
/// [`TlsFailures`].
#[derive(Clone)]
pub struct Watching<C> {
    inner: C,
    failures: TlsFailures,
}

impl<C> tower_service::Service<hyper::Uri> for Watching<C>
where
    C: tower_service::Service<
            hyper::Uri,
            Response = MaybeHttpsStream<TokioIo<TcpStream>>,
            Error = Box<dyn std::error::Error + Send + Sync>,
        >,
    C::Future: Send + 'static,
{
    type Response = Watched;
    type Error = C::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Watched, C::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let failures = self.failures.clone();
        Box::pin(async move {
            Ok(Watched {
                stream: connecting.await?,
                failures,
            })
        })
    }
}

/// A connection of a [`Watching`] connector.
pub struct Watched {
    stream: MaybeHttpsStream<TokioIo<TcpStream>>,
    failures: TlsFailures,
}

impl Watched {
    /// `outcome`, its TLS failure kept first.
    fn watch<T>(&self, outcome: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(err)) = &outcome {
            self.failures.record(err);
        }
        outcome
    }
}

impl Read for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.watch(outcome)
    }
}

impl Write for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch(outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.watch(outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.stream).poll_flush(cx);
        self.watch(outcome)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.watch(outcome)
    }
}

impl Connection for Watched {
    fn connected(&self) -> Connected {
        self.stream.connected()
    }
}

/// An HTTP/1.1 client that keeps connections open for reuse (keep-alive,
/// up to [`POOL_MAX_IDLE`] idle for [`POOL_IDLE`]), with `tls` for
/// `https` and `connect_timeout` for TCP connects; the TLS failures its
/// connections meet go to `failures`. A request is resent on a new
/// connection only when a pooled one closed before the request was
/// written, so a POST is never sent twice.
pub fn pooled_client<B>(
    tls: ClientConfig,
    connect_timeout: Duration,
    failures: TlsFailures,
) -> Client<Connector, B>
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    pooled_client_via(tls, connect_timeout, failures, None)
}

/// Like [`pooled_client`], its connections tunnelled through `proxy` when
/// given (`CONNECT`, answered within `connect_timeout`), TLS running end to
/// end through the tunnel.
pub fn pooled_client_via<B>(
    tls: ClientConfig,
    connect_timeout: Duration,
    failures: TlsFailures,
    proxy: Option<Proxy>,
) -> Client<Connector, B>
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
        .wrap_connector(ProxyConnector::new(tcp, proxy, connect_timeout));
    let connector = Watching {
        inner: connector,
        failures,
    };
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_max_idle_per_host(POOL_MAX_IDLE)
        .pool_timer(TokioTimer::new())
        .build(connector)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> rustls::Error {
        rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA)
    }

    #[test]
    fn tls_failures_are_found_inside_io_errors() {
        // As tokio-rustls reports it: rustls's error inside two I/O errors.
        let wrapped = io::Error::other(io::Error::new(io::ErrorKind::InvalidData, alert()));
        assert_eq!(tls_error_in(&wrapped), Some(&alert()));
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(tls_error_in(&reset), None);
    }

    #[test]
    fn only_tls_failures_are_kept_and_only_recent_ones_given() {
        let failures = TlsFailures::default();
        let before = Instant::now();
        failures.record(&io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(failures.since(before), None);
        failures.record(&io::Error::new(io::ErrorKind::InvalidData, alert()));
        assert_eq!(failures.since(before), Some(alert()));
        let later = Instant::now() + Duration::from_secs(1);
        assert_eq!(failures.since(later), None);
        // Clones share what their connections met.
        assert_eq!(failures.clone().since(before), Some(alert()));
    }
}
