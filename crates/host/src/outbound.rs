//! The component's outgoing HTTP: the allow-list ([`Outbound`], the one
//! destination the component may reach, the configured `est_host`), the
//! wasmtime hook that sends its requests there ([`OutboundHooks`]), and the
//! mapping of hyper, rustls and I/O failures to precise `wasi:http` error
//! codes, so that the component's errors say what went wrong, also for a
//! failure while it reads an answer's body. The TLS policy is
//! [`crate::tls`]'s; connections come from [`crate::client`].

use crate::client::{Connector, TlsFailures, pooled_client_via, tls_error_in};
use crate::proxy::Proxy;
use crate::tls;
use anyhow::Result;
use est_ca_handler::config::{CaBundle, Config, Scheme};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::p2::bindings::http::types::{
    DnsErrorPayload, ErrorCode, IoError, TlsAlertReceivedPayload,
};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks, WasiHttpView,
};

/// Where the component may send requests: the configured EST server, and
/// nothing else.
pub struct Outbound {
    /// `None` when the configuration is unusable: every request is refused
    /// (the component reports the configuration error before sending any).
    destination: Option<Destination>,
}

/// The one allowed destination and the client that reaches it.
struct Destination {
    /// `https` or `http`, as in `est_host`.
    scheme: Scheme,
    /// `host:port` of `est_host`, the port made explicit.
    authority: String,
    /// Pooled connections with the host's TLS for this configuration.
    client: Client<Connector, WasiBody>,
    /// The latest TLS failure the client's connections met.
    tls_failures: TlsFailures,
    /// `false` under `ca_bundle: False` (warned about on every request).
    verify_tls: bool,
    /// `request_timeout`: the bound on connecting and on each exchange.
    timeout: Duration,
    /// The proxy whose tunnels carry the connections (`proxy_server_list`).
    proxy: Option<Proxy>,
}

impl Outbound {
    /// Allows `est_host` of a valid configuration, with its TLS client
    /// ([`tls::client_config`]). Fails when TLS material cannot be loaded.
    pub fn new(config: &Config) -> Result<Self> {
        Self::with_proxy(config, None)
    }

    /// Like [`Outbound::new`], its connections tunnelled through `proxy`
    /// when given; the component may still reach `est_host` only.
    pub fn with_proxy(config: &Config, proxy: Option<Proxy>) -> Result<Self> {
        let timeout = Duration::from_secs(config.request_timeout_secs.into());
        let tls_failures = TlsFailures::default();
        Ok(Self {
            destination: Some(Destination {
                scheme: config.url.scheme,
                authority: with_port(config.url.scheme, &config.url.authority),
                client: pooled_client_via(
                    tls::client_config(config)?,
                    timeout,
                    tls_failures.clone(),
                    proxy.clone(),
                ),
                tls_failures,
                verify_tls: config.ca_bundle != CaBundle::Disabled,
                timeout,
                proxy,
            }),
        })
    }

    /// The proxy the connections go through, if any.
    pub fn proxy(&self) -> Option<&Proxy> {
        self.destination.as_ref()?.proxy.as_ref()
    }

    /// Allows nothing (for an invalid configuration).
    pub fn deny_all() -> Self {
        Self { destination: None }
    }

    /// Sends one request for the component, on a pooled connection when
    /// one is idle; a request for any other destination is refused
    /// (`HTTP-request-denied`) and logged.
    async fn send(
        self: Arc<Self>,
        request: hyper::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<hyper::Response<WasiBody>, HttpError> {
        let uri = request.uri();
        let scheme = match uri.scheme_str() {
            Some("https") => Scheme::Https,
            Some("http") => Scheme::Http,
            _ => return Err(HttpError::HttpRequestUriInvalid),
        };
        let authority = uri
            .authority()
            .map(|a| with_port(scheme, a.as_str()))
            .ok_or(HttpError::HttpRequestUriInvalid)?;
        let destination = match &self.destination {
            Some(d) if d.scheme == scheme && d.authority.eq_ignore_ascii_case(&authority) => d,
            _ => {
                tracing::warn!(target: "sandbox", "refused the component's request to {}://{}: only the configured est_host may be reached", scheme.as_str(), without_userinfo(&authority));
                return Err(HttpError::HttpRequestDenied);
            }
        };
        if scheme == Scheme::Https && !destination.verify_tls {
            tracing::warn!(
                "ca_bundle is False: the EST server's TLS certificate is NOT verified ({authority})"
            );
        }
        // Connecting is bounded by the client; the whole exchange up to the
        // response head by the component's first-byte timeout, capped at
        // request_timeout.
        let deadline = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(destination.timeout)
            .min(destination.timeout);
        tracing::debug!(
            "{} {}://{}{}",
            request.method(),
            scheme.as_str(),
            without_userinfo(&authority),
            request.uri().path()
        );
        let start = std::time::Instant::now();
        let response = tokio::time::timeout(deadline, destination.client.request(request))
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)?
            .map_err(|e| match client_error_code(&e) {
                // The request's new connection closed before the request
                // went out on it (hyper says only that): the TLS failure
                // a connection met meanwhile says why.
                HttpError::HttpProtocolError => destination
                    .tls_failures
                    .since(start)
                    .map_or(HttpError::HttpProtocolError, |tls| tls_error_code(&tls)),
                code => code,
            })?;
        Ok(response.map(|body| body.map_err(|e| hyper_error_code(&e)).boxed_unsync()))
    }
}

/// `authority` without any `user:password@` part, for log lines: a
/// component other than this project's may put credentials there.
fn without_userinfo(authority: &str) -> &str {
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// `authority` with the scheme's default port added when it has none.
fn with_port(scheme: Scheme, authority: &str) -> String {
    let has_port = match authority.rfind(']') {
        Some(end) => authority[end..].contains(':'),
        None => authority.contains(':'),
    };
    if has_port {
        authority.to_owned()
    } else {
        let port = if scheme == Scheme::Https { 443 } else { 80 };
        format!("{authority}:{port}")
    }
}

/// The `wasi:http` error for a failed exchange, from the most precise
/// cause in its chain (TLS, I/O, DNS, HTTP).
fn client_error_code(err: &hyper_util::client::legacy::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(proxy) = current.downcast_ref::<crate::proxy::ProxyError>() {
            return proxy.error_code();
        }
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return tls_error_code(tls);
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return io_error_code(io);
        }
        if let Some(hyper) = current.downcast_ref::<hyper::Error>() {
            return hyper_error_code(hyper);
        }
        if current.to_string().starts_with("dns error") {
            return HttpError::DnsError {
                rcode: current.source().map(|e| e.to_string()),
                info_code: None,
            };
        }
        source = current.source();
    }
    if err.is_connect() {
        HttpError::ConnectionRefused
    } else {
        HttpError::HttpProtocolError
    }
}

/// The `wasi:http` error for an I/O failure, looking inside for TLS errors
/// and for the innermost I/O error: the TLS connector wraps a failed
/// handshake's I/O error (a reset, an early close) in one of kind `Other`.
fn io_error_code(err: &std::io::Error) -> HttpError {
    if let Some(tls) = tls_error_in(err) {
        return tls_error_code(tls);
    }
    let mut innermost = err;
    while let Some(inner) = innermost
        .get_ref()
        .and_then(|e| e.downcast_ref::<std::io::Error>())
    {
        innermost = inner;
    }
    use std::io::ErrorKind as K;
    match innermost.kind() {
        K::ConnectionRefused => HttpError::ConnectionRefused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            HttpError::ConnectionTerminated
        }
        K::TimedOut => HttpError::ConnectionTimeout,
        K::HostUnreachable | K::NetworkUnreachable => HttpError::DestinationUnavailable,
        _ => HttpError::InternalError(Some(err.to_string())),
    }
}

/// The `wasi:http` error for a TLS failure: an untrusted certificate, an
/// alert from the server (with its code), or another protocol failure.
fn tls_error_code(err: &rustls::Error) -> HttpError {
    match err {
        rustls::Error::InvalidCertificate(why) => {
            tracing::debug!("server certificate refused: {why:?}");
            HttpError::TlsCertificateError
        }
        rustls::Error::AlertReceived(alert) => HttpError::TlsAlertReceived {
            alert_id: Some(u8::from(*alert)),
            alert_message: Some(format!("{alert:?}")),
        },
        other => {
            tracing::debug!("TLS failure: {other}");
            HttpError::TlsProtocolError
        }
    }
}

/// The `wasi:http` error for a failure hyper reports (while connecting or
/// reading a body), from the TLS or I/O error inside it when there is one.
fn hyper_error_code(err: &hyper::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return tls_error_code(tls);
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return io_error_code(io);
        }
        source = current.source();
    }
    if err.is_incomplete_message() {
        HttpError::HttpResponseIncomplete
    } else if err.is_timeout() {
        HttpError::HttpResponseTimeout
    } else {
        HttpError::HttpProtocolError
    }
}

/// The `wasi:http` package version whose `types` interface the host links.
const WASI_HTTP_TYPES: &str = "wasi:http/types@0.2.12";

/// Links `wasi:http/types.http-error-code` so that it also answers for a
/// failed read of an answer's body. wasmtime-wasi-http keeps a body's
/// failure as its own [`HttpError`], which its `http-error-code` does not
/// recognise: the component would get no code (so no transport cause), only
/// the error's debug text. This one gives the code for either kind.
pub(crate) fn link_http_error_code<T: WasiHttpView + 'static>(
    linker: &mut Linker<T>,
) -> Result<()> {
    linker.allow_shadowing(true);
    linker.instance(WASI_HTTP_TYPES)?.func_wrap(
        "http-error-code",
        |mut store: StoreContextMut<'_, T>, (err,): (Resource<IoError>,)| {
            let error = store.data_mut().http().table.get(&err)?;
            let code = match error.downcast_ref::<ErrorCode>() {
                Some(code) => Some(code.clone()),
                None => error.downcast_ref::<HttpError>().map(error_code),
            };
            Ok((code,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The `wasi:http` error code of an [`HttpError`] (what the component
/// reads with `http-error-code`).
fn error_code(err: &HttpError) -> ErrorCode {
    match err {
        HttpError::Hyper(e) => error_code(&hyper_error_code(e)),
        HttpError::DnsTimeout => ErrorCode::DnsTimeout,
        HttpError::DnsError { rcode, info_code } => ErrorCode::DnsError(DnsErrorPayload {
            rcode: rcode.clone(),
            info_code: *info_code,
        }),
        HttpError::DestinationNotFound => ErrorCode::DestinationNotFound,
        HttpError::DestinationUnavailable => ErrorCode::DestinationUnavailable,
        HttpError::DestinationIpProhibited => ErrorCode::DestinationIpProhibited,
        HttpError::DestinationIpUnroutable => ErrorCode::DestinationIpUnroutable,
        HttpError::ConnectionRefused => ErrorCode::ConnectionRefused,
        HttpError::ConnectionTerminated => ErrorCode::ConnectionTerminated,
        HttpError::ConnectionTimeout => ErrorCode::ConnectionTimeout,
        HttpError::ConnectionReadTimeout => ErrorCode::ConnectionReadTimeout,
        HttpError::ConnectionWriteTimeout => ErrorCode::ConnectionWriteTimeout,
        HttpError::ConnectionLimitReached => ErrorCode::ConnectionLimitReached,
        HttpError::TlsProtocolError => ErrorCode::TlsProtocolError,
        HttpError::TlsCertificateError => ErrorCode::TlsCertificateError,
        HttpError::TlsAlertReceived {
            alert_id,
            alert_message,
        } => ErrorCode::TlsAlertReceived(TlsAlertReceivedPayload {
            alert_id: *alert_id,
            alert_message: alert_message.clone(),
        }),
        HttpError::HttpRequestDenied => ErrorCode::HttpRequestDenied,
        HttpError::HttpResponseIncomplete => ErrorCode::HttpResponseIncomplete,
        HttpError::HttpResponseBodySize(size) => ErrorCode::HttpResponseBodySize(*size),
        HttpError::HttpResponseTimeout => ErrorCode::HttpResponseTimeout,
        HttpError::HttpProtocolError => ErrorCode::HttpProtocolError,
        HttpError::InternalError(why) => ErrorCode::InternalError(why.clone()),
        other => ErrorCode::InternalError(Some(other.to_string())),
    }
}

/// The per-store `wasi:http` hooks: every request the component sends
/// goes through this [`Outbound`].
pub struct OutboundHooks {
    /// Where the component may send requests, and how.
    pub outbound: Arc<Outbound>,
    /// Where the EST server's answer times are recorded.
    pub metrics: crate::metrics::Metrics,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: hyper::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        hyper::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                    ),
                    HttpError,
                >,
            > + Send,
    > {
        let outbound = Arc::clone(&self.outbound);
        let metrics = self.metrics.clone();
        Box::new(async move {
            let path = request.uri().path().to_owned();
            let start = std::time::Instant::now();
            let response = outbound.send(request, options).await?;
            metrics.est_request(&path, start.elapsed());
            Ok((
                response,
                Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HandlerError, Host, Settings, TransportCause};
    use est_server::{EstServer, ServerConfig};
    use est_test_kit::{b64url, make_csr};
    use std::path::Path;

    async fn settings_for(server: &EstServer, dir: &Path) -> Settings {
        let anchor = dir.join(format!("root-{}.pem", server.https_addr().port()));
        std::fs::write(&anchor, server.trust_anchor_pem()).unwrap();
        Settings::from_pairs([
            ("est_host", server.https_url()),
            ("est_user", "estuser".to_owned()),
            ("est_password", "estpwd".to_owned()),
            ("ca_bundle", anchor.display().to_string()),
        ])
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_sandbox_refuses_every_destination_but_est_host() {
        let dir = std::env::temp_dir().join(format!("est-sandbox-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let asked = EstServer::start(ServerConfig::default()).await.unwrap();
        let allowed = EstServer::start(ServerConfig::default()).await.unwrap();
        // The component is configured for `asked`; the host only lets it reach `allowed`.
        let mut settings = settings_for(&asked, &dir).await;
        settings.outbound = settings_for(&allowed, &dir).await.outbound;

        let csr = b64url(&make_csr("sandbox.test"));
        let result = Host::embedded()
            .unwrap()
            .enroll(&settings, &csr)
            .await
            .unwrap();
        match result {
            Err(HandlerError::Transport(failure)) => {
                assert!(matches!(failure.cause, TransportCause::DestinationDenied));
                assert!(
                    failure.detail.contains("destination not allowed"),
                    "{}",
                    failure.detail
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(asked.requests().is_empty() && allowed.requests().is_empty());
    }

    /// A request for `uri` with no body, as the component sends a GET.
    fn get(uri: &str) -> hyper::Request<WasiBody> {
        let body = http_body_util::Empty::new()
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed_unsync();
        hyper::Request::get(uri).body(body).unwrap()
    }

    #[tokio::test]
    async fn only_the_configured_scheme_host_and_port_are_allowed() {
        let denied = Arc::new(Outbound::deny_all());
        let refused = denied.send(get("https://est.test/.well-known/est/cacerts"), None);
        assert!(matches!(refused.await, Err(HttpError::HttpRequestDenied)));

        let settings = Settings::from_pairs([
            ("est_host", "https://est.test"),
            ("est_user", "u"),
            ("est_password", "p"),
        ])
        .unwrap();
        for elsewhere in [
            "http://est.test/.well-known/est/cacerts",
            "https://est.test:8443/.well-known/est/cacerts",
            "https://other.test/.well-known/est/cacerts",
            "https://est.test.other.test/",
        ] {
            let outbound = Arc::clone(&settings.outbound);
            let refused = outbound.send(get(elsewhere), None).await;
            assert!(
                matches!(refused, Err(HttpError::HttpRequestDenied)),
                "{elsewhere}: {refused:?}"
            );
        }
        let outbound = Arc::clone(&settings.outbound);
        let no_scheme = outbound.send(get("/relative"), None).await;
        assert!(matches!(no_scheme, Err(HttpError::HttpRequestUriInvalid)));
    }

    /// What the log lines written while `f` runs say.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_refused_destination_is_logged_without_its_userinfo() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let settings = Settings::from_pairs([
            ("est_host", "https://est.test"),
            ("est_user", "u"),
            ("est_password", "p"),
        ])
        .unwrap();
        let outbound = Arc::clone(&settings.outbound);
        let refused = outbound
            .send(get("https://user:s3cr3t-pw@other.test/x"), None)
            .await;
        assert!(matches!(refused, Err(HttpError::HttpRequestDenied)));
        let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(logged.contains("to https://other.test"), "{logged}");
        assert!(!logged.contains("s3cr3t-pw"), "{logged}");
    }

    #[test]
    fn default_ports_are_made_explicit() {
        assert_eq!(with_port(Scheme::Https, "est.test"), "est.test:443");
        assert_eq!(with_port(Scheme::Http, "est.test"), "est.test:80");
        assert_eq!(with_port(Scheme::Https, "est.test:8443"), "est.test:8443");
        assert_eq!(with_port(Scheme::Https, "[::1]"), "[::1]:443");
        assert_eq!(with_port(Scheme::Https, "[::1]:9443"), "[::1]:9443");
    }

    #[test]
    fn body_failures_keep_their_code() {
        assert!(matches!(
            error_code(&HttpError::ConnectionTerminated),
            ErrorCode::ConnectionTerminated
        ));
        let alert = error_code(&HttpError::TlsAlertReceived {
            alert_id: Some(48),
            alert_message: Some("UnknownCA".into()),
        });
        assert!(
            matches!(&alert, ErrorCode::TlsAlertReceived(p) if p.alert_id == Some(48)),
            "{alert:?}"
        );
        assert!(matches!(
            error_code(&HttpError::HttpResponseTimeout),
            ErrorCode::HttpResponseTimeout
        ));
        let other = error_code(&HttpError::LoopDetected);
        assert!(
            matches!(other, ErrorCode::InternalError(Some(_))),
            "{other:?}"
        );
    }

    #[test]
    fn tls_failures_map_to_precise_codes() {
        let alert = tls_error_code(&rustls::Error::AlertReceived(
            rustls::AlertDescription::UnknownCA,
        ));
        assert!(
            matches!(
                alert,
                HttpError::TlsAlertReceived {
                    alert_id: Some(48),
                    ..
                }
            ),
            "{alert:?}"
        );
        let untrusted = tls_error_code(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert!(matches!(untrusted, HttpError::TlsCertificateError));
        // As the TLS connector reports it: rustls's error inside two I/O errors.
        let wrapped = io_error_code(&std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        )));
        assert!(
            matches!(wrapped, HttpError::TlsCertificateError),
            "{wrapped:?}"
        );
        let refused = io_error_code(&std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(refused, HttpError::ConnectionRefused));
    }

    #[test]
    fn a_reset_inside_the_tls_connectors_error_is_a_reset() {
        // As the TLS connector reports a failed handshake: the I/O error
        // inside one of kind `Other`.
        for kind in [
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::UnexpectedEof,
        ] {
            let wrapped = std::io::Error::other(std::io::Error::new(kind, "during the handshake"));
            let code = io_error_code(&wrapped);
            assert!(matches!(code, HttpError::ConnectionTerminated), "{code:?}");
        }
        let other = io_error_code(&std::io::Error::other("something else"));
        assert!(matches!(other, HttpError::InternalError(_)), "{other:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_reset_during_the_tls_handshake_is_reported_as_connection_reset() {
        use tokio::io::AsyncReadExt;
        // Reads each connection's ClientHello, then resets it (SO_LINGER 0).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let resets = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let server = tokio::spawn({
            let resets = Arc::clone(&resets);
            async move {
                while let Ok((mut tcp, _)) = listener.accept().await {
                    let mut header = [0u8; 5];
                    if tcp.read_exact(&mut header).await.is_err() || header[0] != 22 {
                        continue; // not a TLS handshake record
                    }
                    let mut hello = vec![0u8; u16::from_be_bytes([header[3], header[4]]).into()];
                    if tcp.read_exact(&mut hello).await.is_ok() {
                        tcp.set_zero_linger().unwrap();
                        resets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            }
        });
        let settings = Settings::from_pairs([
            ("est_host", format!("https://127.0.0.1:{port}")),
            ("est_user", "estuser".to_owned()),
            ("est_password", "estpwd".to_owned()),
            ("ca_bundle", "False".to_owned()),
        ])
        .unwrap();
        let csr = b64url(&make_csr("reset.test"));
        let result = Host::embedded()
            .unwrap()
            .enroll(&settings, &csr)
            .await
            .unwrap();
        server.abort();
        assert!(resets.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        match result {
            Err(HandlerError::Transport(failure)) => {
                assert!(
                    matches!(failure.cause, TransportCause::ConnectionReset),
                    "{failure:?}"
                );
                assert!(
                    failure
                        .detail
                        .contains("the connection was closed by the server"),
                    "{}",
                    failure.detail
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
