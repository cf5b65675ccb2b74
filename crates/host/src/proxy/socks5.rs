//! The tunnel through a SOCKS5 proxy (hyper-util's SOCKS5 client over a
//! connection made here).

use super::connect::connect_target;
use super::endpoint::{Credentials, Proxy, Secret};
use super::error::{BoxError, ProxyError, ProxyErrorKind};
use hyper::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// A tunnel to `dst` through the SOCKS5 `proxy`: the TCP connection made
/// here (so that an unreachable proxy keeps its cause), the SOCKS5
/// exchange by hyper-util; with `remote_dns` false the name is resolved
/// here first, as PySocks does for `socks5://`.
pub(super) async fn socks5(
    mut tcp: HttpConnector,
    proxy: Arc<Proxy>,
    remote_dns: bool,
    dst: Uri,
    timeout: Duration,
) -> Result<TokioIo<TcpStream>, BoxError> {
    use hyper_util::client::legacy::connect::proxy::SocksV5;
    use tower_service::Service;
    let target = connect_target(&dst).ok_or("the destination has no host")?;
    let fail = |kind| ProxyError::logged(&proxy, &target, kind);
    let dst = if remote_dns {
        dst
    } else {
        // An IPv4 address first, as PySocks's gethostbyname gives.
        let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host(&target)
            .await
            .map(Iterator::collect)
            .unwrap_or_default();
        let address = found
            .iter()
            .find(|a| a.is_ipv4())
            .or(found.first())
            .copied()
            .ok_or_else(|| {
                fail(ProxyErrorKind::Malformed(format!(
                    "{target} does not resolve here (socks5:// resolves names locally; socks5h:// lets the proxy do it)"
                )))
            })?;
        Uri::builder()
            .scheme("http")
            .authority(address.to_string())
            .path_and_query("/")
            .build()?
    };
    let stream = tcp
        .call(proxy.uri())
        .await
        .map_err(|e| fail(ProxyErrorKind::Unreachable(e.into())))?;
    let mut socks = SocksV5::new(proxy.uri(), Connected(Some(stream))).local_dns(false);
    if let Some(Credentials::UserPass(Secret(user), Secret(password))) = &proxy.authorization {
        socks = socks.with_auth(user.clone(), password.clone());
    }
    let tunnel = tokio::time::timeout(timeout, socks.call(dst))
        .await
        .map_err(|_| fail(ProxyErrorKind::Timeout))?
        .map_err(|e| {
            let words = e.to_string();
            let words = words.strip_prefix("SOCKS error: ").unwrap_or(&words);
            fail(ProxyErrorKind::SocksRefused(
                if words.contains("credentials not accepted") {
                    format!(
                        "{words} (check the proxy's user name and password in proxy_server_list)"
                    )
                } else {
                    words.to_owned()
                },
            ))
        })?;
    tracing::debug!(target: "proxy", "tunnel to {target} through {proxy}");
    Ok(tunnel)
}

/// A connector that hands out one connection made already.
struct Connected(Option<TokioIo<TcpStream>>);

impl tower_service::Service<Uri> for Connected {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _proxy: Uri) -> Self::Future {
        std::future::ready(
            self.0
                .take()
                .ok_or_else(|| std::io::Error::other("the connection was used already")),
        )
    }
}
