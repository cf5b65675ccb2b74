//! The connector the pooled client connects through: straight to the
//! destination, or through the proxy's tunnel.

use super::connect::{connect_target, tunnel};
use super::endpoint::{Proxy, ProxyKind};
use super::error::{BoxError, ProxyError, ProxyErrorKind};
use super::socks5::socks5;
use hyper::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// The connector under the host's TLS: a TCP connection straight to the
/// destination, or, with a proxy, a TCP connection to the proxy turned
/// into a tunnel to the destination by `CONNECT`. Either way it returns a
/// TCP stream to run TLS (or plain HTTP) over, so the client pools
/// tunnelled connections like direct ones.
#[derive(Clone)]
pub struct ProxyConnector {
    tcp: HttpConnector,
    proxy: Option<Arc<Proxy>>,
    /// Bounds the `CONNECT` exchange (the TCP connect has the connector's own).
    timeout: Duration,
}

impl ProxyConnector {
    /// Connects through `proxy` (directly without one) with `tcp`; the
    /// proxy's answer to `CONNECT` must arrive within `timeout`.
    pub fn new(tcp: HttpConnector, proxy: Option<Proxy>, timeout: Duration) -> Self {
        Self {
            tcp,
            proxy: proxy.map(Arc::new),
            timeout,
        }
    }
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        tower_service::Service::<Uri>::poll_ready(&mut self.tcp, cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let Some(proxy) = self.proxy.clone() else {
            let connecting = self.tcp.call(dst);
            return Box::pin(async move { connecting.await.map_err(Into::into) });
        };
        if let ProxyKind::Socks5 { remote_dns } = proxy.kind {
            return Box::pin(socks5(
                self.tcp.clone(),
                proxy,
                remote_dns,
                dst,
                self.timeout,
            ));
        }
        let connecting = self.tcp.call(proxy.uri());
        let timeout = self.timeout;
        Box::pin(async move {
            let target = connect_target(&dst).ok_or("the destination has no host")?;
            let fail = |kind| ProxyError::logged(&proxy, &target, kind);
            let tcp = connecting
                .await
                .map_err(|e| fail(ProxyErrorKind::Unreachable(e.into())))?
                .into_inner();
            let tunnel = tokio::time::timeout(timeout, tunnel(tcp, &proxy, &target))
                .await
                .map_err(|_| fail(ProxyErrorKind::Timeout))?
                .map_err(fail)?;
            tracing::debug!(target: "proxy", "tunnel to {target} through {proxy}");
            Ok(TokioIo::new(tunnel))
        })
    }
}
