//! The host's outgoing HTTP for the component: the only destination it
//! allows is the configured EST server, TLS is the host's (trust anchors
//! from `ca_bundle`, client certificate from `est_client_cert`), and every
//! failure reaches the component as a precise `wasi:http` error code.

use anyhow::{Context, Result, anyhow, bail};
use est_ca_handler::config::{Auth, CaBundle, ClientKey, Config, Scheme};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// Where the component may send requests, and how.
pub struct Outbound {
    /// `(scheme, authority)` of the EST server, the port made explicit;
    /// `None` when the configuration is unusable (nothing is allowed).
    allowed: Option<(Scheme, String)>,
    tls: Arc<ClientConfig>,
    verify_tls: bool,
    timeout: Duration,
}

impl Outbound {
    /// Builds the TLS client and the allowed destination from a valid
    /// configuration. Fails when TLS material cannot be loaded.
    pub fn new(config: &Config) -> Result<Self> {
        Ok(Self {
            allowed: Some((
                config.url.scheme,
                with_port(config.url.scheme, &config.url.authority),
            )),
            tls: Arc::new(tls_client(config)?),
            verify_tls: config.ca_bundle != CaBundle::Disabled,
            timeout: Duration::from_secs(config.request_timeout_secs.into()),
        })
    }

    /// An outbound that refuses everything (the configuration is invalid,
    /// so the component reports that before sending anything).
    pub fn deny_all() -> Result<Self> {
        let tls = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth();
        Ok(Self {
            allowed: None,
            tls: Arc::new(tls),
            verify_tls: true,
            timeout: Duration::from_secs(20),
        })
    }

    /// Sends one request for the component.
    async fn send(
        self: Arc<Self>,
        request: hyper::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<hyper::Response<WasiBody>, HttpError> {
        let uri = request.uri().clone();
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
        let connect_timeout = options
            .and_then(|o| o.connect_timeout)
            .unwrap_or(self.timeout)
            .min(self.timeout);
        let first_byte_timeout = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(self.timeout)
            .min(self.timeout);
        tracing::debug!("{} {uri}", request.method());

        let tcp = tokio::time::timeout(connect_timeout, connect(&authority))
            .await
            .map_err(|_| HttpError::ConnectionTimeout)??;
        let path_only = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;
        let (mut parts, body) = request.into_parts();
        parts.uri = path_only;
        let request = hyper::Request::from_parts(parts, body);

        let response = if scheme == Scheme::Https {
            if !self.verify_tls {
                tracing::warn!(
                    "ca_bundle is False: the EST server's TLS certificate is NOT verified ({authority})"
                );
            }
            let host = authority
                .rsplit_once(':')
                .map_or(authority.as_str(), |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(host.to_owned())
                .map_err(|_| HttpError::HttpRequestUriInvalid)?;
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls));
            let tls = tokio::time::timeout(connect_timeout, connector.connect(name, tcp))
                .await
                .map_err(|_| HttpError::ConnectionTimeout)?
                .map_err(|e| io_error(&e))?;
            exchange(TokioIo::new(tls), request, first_byte_timeout).await?
        } else {
            exchange(TokioIo::new(tcp), request, first_byte_timeout).await?
        };
        Ok(response)
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

async fn connect(authority: &str) -> Result<TcpStream, HttpError> {
    let addrs: Vec<_> = tokio::net::lookup_host(authority)
        .await
        .map_err(|e| HttpError::DnsError {
            rcode: Some(e.to_string()),
            info_code: None,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(HttpError::DnsError {
            rcode: Some("no address".into()),
            info_code: None,
        });
    }
    let mut last = HttpError::ConnectionRefused;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = io_error(&e),
        }
    }
    Err(last)
}

async fn exchange<I>(
    io: I,
    request: hyper::Request<WasiBody>,
    first_byte_timeout: Duration,
) -> Result<hyper::Response<WasiBody>, HttpError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| hyper_error(&e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("EST connection ended: {e}");
        }
    });
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)?
        .map_err(|e| hyper_error(&e))?;
    Ok(response.map(|body| body.map_err(|e| hyper_error(&e)).boxed_unsync()))
}

/// The `wasi:http` error for an I/O failure, looking inside for TLS errors.
fn io_error(err: &std::io::Error) -> HttpError {
    if let Some(tls) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return tls_error(tls);
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
    let mut tls = match &config.auth {
        Auth::Basic { .. } => builder.with_no_client_auth(),
        Auth::ClientCertificate { cert_file, key } => {
            let (chain, key) = client_identity(Path::new(cert_file), key)?;
            builder
                .with_client_auth_cert(chain, key)
                .context("the client certificate does not match its key")?
        }
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
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
        let refused = io_error(&std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(refused, HttpError::ConnectionRefused));
    }
}
