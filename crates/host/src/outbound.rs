//! The host's outgoing HTTP for the component: the only destination it
//! allows is the configured EST server, TLS is the host's (trust anchors
//! from `ca_bundle`, client certificate from `est_client_cert`), and every
//! failure reaches the component as a precise `wasi:http` error code.

use anyhow::{Context, Result, anyhow, bail};
use est_ca_handler::config::{Auth, CaBundle, ClientKey, Config, Scheme};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

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

/// Where the component may send requests, and how.
pub struct Outbound {
    /// `(scheme, authority)` of the EST server, the port made explicit;
    /// `None` when the configuration is unusable (nothing is allowed).
    allowed: Option<(Scheme, String)>,
    client: Client<Connector, WasiBody>,
    verify_tls: bool,
    timeout: Duration,
}

impl Outbound {
    /// Builds the TLS client and the allowed destination from a valid
    /// configuration. Fails when TLS material cannot be loaded.
    pub fn new(config: &Config) -> Result<Self> {
        let timeout = Duration::from_secs(config.request_timeout_secs.into());
        Ok(Self {
            allowed: Some((
                config.url.scheme,
                with_port(config.url.scheme, &config.url.authority),
            )),
            client: pooled_client(tls_client(config)?, timeout),
            verify_tls: config.ca_bundle != CaBundle::Disabled,
            timeout,
        })
    }

    /// An outbound that refuses everything (the configuration is invalid,
    /// so the component reports that before sending anything).
    pub fn deny_all() -> Result<Self> {
        let tls = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth();
        let timeout = Duration::from_secs(20);
        Ok(Self {
            allowed: None,
            client: pooled_client(tls, timeout),
            verify_tls: true,
            timeout,
        })
    }

    /// Sends one request for the component, on a pooled connection when
    /// one is idle.
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
        match &self.allowed {
            Some((s, a)) if *s == scheme && a.eq_ignore_ascii_case(&authority) => {}
            _ => {
                tracing::warn!(target: "sandbox", "refused the component's request to {}://{authority}: only the configured est_host may be reached", scheme.as_str());
                return Err(HttpError::HttpRequestDenied);
            }
        }
        if scheme == Scheme::Https && !self.verify_tls {
            tracing::warn!(
                "ca_bundle is False: the EST server's TLS certificate is NOT verified ({authority})"
            );
        }
        // Connecting is bounded by the client; the whole exchange up to the
        // response head by the component's first-byte timeout, capped at
        // request_timeout.
        let deadline = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(self.timeout)
            .min(self.timeout);
        tracing::debug!("{} {}", request.method(), request.uri());
        let response = tokio::time::timeout(deadline, self.client.request(request))
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)?
            .map_err(|e| client_error(&e))?;
        Ok(response.map(|body| body.map_err(|e| hyper_error(&e)).boxed_unsync()))
    }
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
fn client_error(err: &hyper_util::client::legacy::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return tls_error(tls);
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return io_error(io);
        }
        if let Some(hyper) = current.downcast_ref::<hyper::Error>() {
            return hyper_error(hyper);
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

/// The `wasi:http` error for an I/O failure, looking inside for TLS errors.
fn io_error(err: &std::io::Error) -> HttpError {
    // TLS failures arrive wrapped in one or more I/O errors.
    let mut inner: Option<&(dyn std::error::Error + 'static)> = err
        .get_ref()
        .map(|e| e as &(dyn std::error::Error + 'static));
    while let Some(current) = inner {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return tls_error(tls);
        }
        inner = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    use std::io::ErrorKind as K;
    match err.kind() {
        K::ConnectionRefused => HttpError::ConnectionRefused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            HttpError::ConnectionTerminated
        }
        K::TimedOut => HttpError::ConnectionTimeout,
        K::HostUnreachable | K::NetworkUnreachable => HttpError::DestinationUnavailable,
        _ => HttpError::InternalError(Some(err.to_string())),
    }
}

fn tls_error(err: &rustls::Error) -> HttpError {
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

fn hyper_error(err: &hyper::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return tls_error(tls);
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return io_error(io);
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

/// The per-store hooks that route the component's requests through an [`Outbound`].
pub struct Hooks(pub Arc<Outbound>);

impl WasiHttpHooks for Hooks {
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
        let outbound = Arc::clone(&self.0);
        Box::new(async move {
            let response = outbound.send(request, options).await?;
            Ok((
                response,
                Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS client for `config`: TLS 1.3 and 1.2, trust anchors from
/// `ca_bundle`, and the client certificate when configured.
pub fn tls_client(config: &Config) -> Result<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match &config.ca_bundle {
        CaBundle::System => builder.with_root_certificates(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
        CaBundle::File(path) => builder.with_root_certificates(trust_anchors(Path::new(path))?),
        CaBundle::Disabled => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider))),
    };
    let tls = match &config.auth {
        Auth::Basic { .. } => builder.with_no_client_auth(),
        Auth::ClientCertificate { cert_file, key } => {
            let (chain, key) = client_identity(Path::new(cert_file), key)?;
            builder
                .with_client_auth_cert(chain, key)
                .context("the client certificate does not match its key")?
        }
    };
    Ok(tls)
}

fn trust_anchors(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let certs = read_certificates(path).with_context(|| format!("ca_bundle {}", path.display()))?;
    for cert in certs {
        roots.add(cert).with_context(|| {
            format!(
                "ca_bundle {}: a certificate is not a usable trust anchor",
                path.display()
            )
        })?;
    }
    Ok(roots)
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&data).collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

fn client_identity(
    cert_file: &Path,
    key: &ClientKey,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    match key {
        ClientKey::PemFile(key_file) => {
            let chain = read_certificates(cert_file)
                .with_context(|| format!("est_client_cert {}", cert_file.display()))?;
            let key = PrivateKeyDer::from_pem_file(key_file)
                .map_err(|e| anyhow!("est_client_key {}: no usable private key ({e})", key_file))?;
            Ok((chain, key))
        }
        ClientKey::Pkcs12 { passphrase } => {
            let data = std::fs::read(cert_file)
                .with_context(|| format!("cannot read est_client_cert {}", cert_file.display()))?;
            let store = p12_keystore::KeyStore::from_pkcs12(
                &data,
                passphrase.expose(),
                Default::default(),
            )
            .map_err(|e| {
                anyhow!(
                    "est_client_cert {} could not be opened as PKCS#12 with cert_passphrase ({e})",
                    cert_file.display()
                )
            })?;
            let (_, chain) = store.private_key_chain().ok_or_else(|| {
                anyhow!(
                    "est_client_cert {} holds no private key with a certificate",
                    cert_file.display()
                )
            })?;
            let certs = chain
                .certs()
                .iter()
                .map(|c| CertificateDer::from(c.as_der().to_vec()))
                .collect();
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
            Ok((certs, key))
        }
    }
}

/// Accepts any server certificate (`ca_bundle: False`), while still
/// checking the handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_are_made_explicit() {
        assert_eq!(with_port(Scheme::Https, "est.test"), "est.test:443");
        assert_eq!(with_port(Scheme::Http, "est.test"), "est.test:80");
        assert_eq!(with_port(Scheme::Https, "est.test:8443"), "est.test:8443");
        assert_eq!(with_port(Scheme::Https, "[::1]"), "[::1]:443");
        assert_eq!(with_port(Scheme::Https, "[::1]:9443"), "[::1]:9443");
    }

    #[test]
    fn tls_failures_map_to_precise_codes() {
        let alert = tls_error(&rustls::Error::AlertReceived(
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
        let untrusted = tls_error(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert!(matches!(untrusted, HttpError::TlsCertificateError));
        // As the TLS connector reports it: rustls's error inside two I/O errors.
        let wrapped = io_error(&std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        )));
        assert!(
            matches!(wrapped, HttpError::TlsCertificateError),
            "{wrapped:?}"
        );
        let refused = io_error(&std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(refused, HttpError::ConnectionRefused));
    }
}
