//! The EST endpoints over HTTPS (and optionally plain HTTP) on 127.0.0.1,
//! with per-instance authentication and fault knobs for tests.

use crate::ca::{Ca, IssueOptions, KeyType};
use crate::fault::{self, AnswerBody, ConnControl, EnrollFault, STALL_LIMIT};
use crate::pkcs7;
use crate::stall::StallingListener;
use anyhow::{Context, Result};
use base64ct::{Base64, Encoding};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// The largest request body the server reads.
const MAX_REQUEST: usize = 256 * 1024;

/// How long a connection whose answer asked for a reset stays up, so that
/// what the answer sent before reaches the client.
const RESET_GRACE: Duration = Duration::from_millis(200);

/// The longest [`EstServer::shutdown`] waits for connections to close.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// The longest a TLS handshake may take.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// How clients must authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuthMode {
    /// Anyone may enroll.
    None,
    /// HTTP Basic with the configured user and password.
    #[default]
    Basic,
    /// A TLS client certificate chained to the server's CA.
    ClientCert,
    /// Both a TLS client certificate and HTTP Basic.
    Both,
}

/// The order of the certificates in `/cacerts` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CacertsOrder {
    /// DER's canonical order (what `cms` encodes).
    #[default]
    Canonical,
    /// Root first, then the issuing CA, in exactly that order.
    RootFirst,
    /// Issuing CA first, then the root, in exactly that order.
    IssuerFirst,
}

/// What to do to an answer's body, for fault tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum BodyFault {
    /// Text that is not base64 PKCS#7.
    Garbage,
    /// The right answer cut in half.
    Truncated,
    /// 2 MiB of base64 filler.
    Oversized,
}

/// Misbehaviour on demand, for tests. The default is a correct server.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer enrollments with 202 this many times per CSR before issuing.
    pub pending_times: u32,
    /// The `Retry-After` value sent with a 202.
    pub retry_after: Option<String>,
    /// Answer enrollments with this status and text body.
    pub status: Option<(u16, String)>,
    /// Spoil the body of successful enrollment answers.
    pub body: Option<BodyFault>,
    /// Send enrollment answers as `text/html`.
    pub wrong_content_type: bool,
    /// Wait this long before answering any request.
    pub delay: Option<Duration>,
    /// Issue certificates for a different key than the CSR's.
    pub other_key: bool,
    /// Leave the CSR's subject alternative names out of certificates.
    pub drop_sans: bool,
    /// Certificate order in `/cacerts`.
    pub cacerts_order: CacertsOrder,
    /// Add an unrelated self-signed certificate to `/cacerts`.
    pub cacerts_extra: bool,
    /// Choose a fault per enrollment by the CSR's name: when the subject CN,
    /// or else the first DNS SAN, starts with `fault-<kind>.` (say
    /// `fault-stall-headers.example.test`), [`EnrollFault`] `<kind>` applies
    /// to that request only, before [`Faults::fault`] and the other knobs;
    /// an unknown kind is answered with 400. Off: names are never looked at.
    pub by_csr: bool,
    /// Apply this fault to every enrollment (one that [`Faults::by_csr`]
    /// chose wins). The kinds that imitate other knobs
    /// ([`EnrollFault::Status`], [`EnrollFault::Body`], ...) override them.
    pub fault: Option<EnrollFault>,
    /// Send error answers (4xx, 5xx) without a `Content-Type` header.
    pub untyped_errors: bool,
    /// Send 202 answers without `Content-Length`, as HTTP/1.0: their body
    /// ends where the server closes the connection.
    pub pending_until_close: bool,
    /// Refuse (400) an enrollment whose base64 body does not end with a
    /// newline.
    pub require_final_newline: bool,
    /// Refuse (400) an enrollment sent without
    /// `Content-Transfer-Encoding: base64`.
    pub require_base64_header: bool,
    /// Refuse (400) a CSR whose subject has no common name (CN).
    pub require_cn: bool,
    /// Answer nothing to `GET /cacerts` (not even the status line) until the
    /// client goes away or [`STALL_LIMIT`] passes (then 503), as a CA whose
    /// publication point hangs while enrollment works.
    pub stall_cacerts: bool,
}

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Prefix of the CA's names.
    pub ca_name: String,
    /// Key type of the CA, the server and issued client certificates.
    pub key_type: KeyType,
    /// Client authentication.
    pub auth: AuthMode,
    /// HTTP Basic user.
    pub user: String,
    /// HTTP Basic password.
    pub password: String,
    /// HTTPS port on 127.0.0.1 (0: any free port).
    pub https_port: u16,
    /// Also listen with plain HTTP on this port (0: any free port).
    pub http_port: Option<u16>,
    /// Write the root certificate (PEM) here.
    pub trust_anchor_out: Option<PathBuf>,
    /// Speak only TLS 1.2 (as many EST servers in the field do).
    pub tls12_only: bool,
    /// Initial faults.
    pub faults: Faults,
    /// Also listen on this port of 127.0.0.1 (0: any free port) with a
    /// [`StallingListener`]: it accepts connections and never completes a
    /// TLS handshake ([`EstServer::tls_stall_url`]).
    pub tls_stall_port: Option<u16>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            ca_name: "EST Test".into(),
            key_type: KeyType::EcdsaP256,
            auth: AuthMode::Basic,
            user: "estuser".into(),
            password: "estpwd".into(),
            https_port: 0,
            http_port: None,
            trust_anchor_out: None,
            tls12_only: false,
            faults: Faults::default(),
            tls_stall_port: None,
        }
    }
}

/// One request as the server saw it (never with credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `GET` or `POST`.
    pub method: String,
    /// The request path.
    pub path: String,
    /// Whether an `Authorization` header was present.
    pub had_authorization: bool,
    /// Whether the TLS client presented a certificate.
    pub had_client_cert: bool,
    /// The TLS version (`TLSv1_3`, `TLSv1_2`), or `None` for plain HTTP.
    pub tls_version: Option<String>,
    /// The request's `Transfer-Encoding` header, if any (a request without
    /// content should have none).
    pub transfer_encoding: Option<String>,
    /// Which connection carried the request: accepted connections are
    /// numbered from 1, per listener, in the order the server took them.
    pub connection: u64,
    /// The [`EnrollFault`] applied to this enrollment (chosen by its CSR or
    /// for the whole server), set before the fault begins.
    pub fault: Option<EnrollFault>,
}

/// What the server knows about a connection.
#[derive(Debug, Clone, Default)]
struct Peer {
    had_client_cert: bool,
    tls_version: Option<String>,
    connection: u64,
    control: Arc<ConnControl>,
}

/// Counts the connections a listener holds.
#[derive(Debug, Default)]
pub(crate) struct Gauge {
    open: AtomicUsize,
    accepted: AtomicU64,
    idle: Notify,
}

/// One open connection of a [`Gauge`]; dropping it closes the count.
pub(crate) struct GaugeGuard(Arc<Gauge>);

impl Gauge {
    /// Counts a newly accepted connection until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> GaugeGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        self.accepted.fetch_add(1, Ordering::SeqCst);
        GaugeGuard(Arc::clone(self))
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Waits until no connection is open, at most [`SHUTDOWN_WAIT`].
    pub(crate) async fn wait_idle(&self) {
        let idle = async {
            loop {
                let notified = self.idle.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.open() == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, idle).await;
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// An accepted TCP connection. When an answer asked for an abort, dropping
/// it resets the connection (`SO_LINGER` 0) instead of closing it.
struct Tcp {
    stream: TcpStream,
    control: Arc<ConnControl>,
}

impl Drop for Tcp {
    fn drop(&mut self) {
        if self.control.is_aborted() {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for Tcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

struct State {
    ca: Ca,
    /// The canonical `/cacerts` answer (DER), built once: the CA does not change.
    cacerts: Bytes,
    extra_cert: Vec<u8>,
    auth: AuthMode,
    basic: String,
    faults: Mutex<Faults>,
    pending: Mutex<HashMap<Vec<u8>, u32>>,
    log: Mutex<Vec<RequestRecord>>,
}

/// A running server; dropping it (or [`EstServer::shutdown`]) stops it.
pub struct EstServer {
    state: Arc<State>,
    https_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    gauge: Arc<Gauge>,
    stall: Option<StallingListener>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl EstServer {
    /// Makes the CA, binds the listeners on 127.0.0.1 and starts serving.
    pub async fn start(config: ServerConfig) -> Result<Self> {
        let ca = Ca::new(&config.ca_name, config.key_type)?;
        let extra_cert = Ca::new("Unrelated", config.key_type)?.root_der();
        if let Some(path) = &config.trust_anchor_out {
            std::fs::write(path, ca.root_pem())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let tls = Arc::new(tls_config(&ca, config.auth, config.tls12_only)?);
        let cacerts = pkcs7::certs_only(&[ca.issuing_der(), ca.root_der()])
            .context("building the /cacerts answer")?;
        let state = Arc::new(State {
            basic: format!("{}:{}", config.user, config.password),
            cacerts: Bytes::from(base64_lines(&cacerts)),
            ca,
            extra_cert,
            auth: config.auth,
            faults: Mutex::new(config.faults),
            pending: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
        });
        let (stop, stopped) = watch::channel(false);
        let gauge = Arc::new(Gauge::default());
        let https = TcpListener::bind(("127.0.0.1", config.https_port))
            .await
            .context("binding the HTTPS port")?;
        let https_addr = https.local_addr()?;
        let http = match config.http_port {
            Some(port) => Some(
                TcpListener::bind(("127.0.0.1", port))
                    .await
                    .context("binding the HTTP port")?,
            ),
            None => None,
        };
        let http_addr = http.as_ref().map(TcpListener::local_addr).transpose()?;
        let stall = match config.tls_stall_port {
            Some(port) => Some(StallingListener::start(port).await?),
            None => None,
        };
        let mut tasks = vec![tokio::spawn(serve(
            https,
            Some(tls),
            Arc::clone(&state),
            Arc::clone(&gauge),
            stopped.clone(),
        ))];
        if let Some(http) = http {
            tasks.push(tokio::spawn(serve(
                http,
                None,
                Arc::clone(&state),
                Arc::clone(&gauge),
                stopped,
            )));
        }
        Ok(Self {
            state,
            https_addr,
            http_addr,
            gauge,
            stall,
            stop,
            tasks,
        })
    }

    /// `https://localhost:PORT` (the TLS certificate names `localhost` and `127.0.0.1`).
    pub fn https_url(&self) -> String {
        format!("https://localhost:{}", self.https_addr.port())
    }

    /// `http://127.0.0.1:PORT`, if the plain listener runs.
    pub fn http_url(&self) -> Option<String> {
        self.http_addr
            .map(|a| format!("http://127.0.0.1:{}", a.port()))
    }

    /// The HTTPS listener's address.
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// `https://localhost:PORT` of the port where TLS handshakes never
    /// complete, if [`ServerConfig::tls_stall_port`] asked for it.
    pub fn tls_stall_url(&self) -> Option<String> {
        self.stall.as_ref().map(StallingListener::url)
    }

    /// The address of the port where TLS handshakes never complete, if any.
    pub fn tls_stall_addr(&self) -> Option<SocketAddr> {
        self.stall.as_ref().map(StallingListener::addr)
    }

    /// How many connections the TLS-stall port has accepted so far.
    pub fn stalled_handshakes(&self) -> u64 {
        self.stall.as_ref().map_or(0, StallingListener::accepted)
    }

    /// How many connections the server holds now, on every port (those in
    /// a TLS handshake, those serving requests, those stalled, idle
    /// keep-alive ones). A connection is let go of when its client closes
    /// it, whatever fault it met.
    pub fn open_connections(&self) -> usize {
        self.gauge.open()
            + self
                .stall
                .as_ref()
                .map_or(0, StallingListener::open_connections)
    }

    /// The CA's root certificate, PEM: the trust anchor for the TLS
    /// certificate and for issued certificates.
    pub fn trust_anchor_pem(&self) -> String {
        self.state.ca.root_pem()
    }

    /// The CA.
    pub fn ca(&self) -> &Ca {
        &self.state.ca
    }

    /// A TLS client certificate the server trusts: (chain PEM, key PEM).
    pub fn client_identity(&self, common_name: &str) -> Result<(String, String)> {
        self.state.ca.client_identity(common_name)
    }

    /// Replaces the fault knobs.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.state.faults) = faults;
        lock(&self.state.pending).clear();
    }

    /// Every request served so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.state.log).clone()
    }

    /// Stops accepting connections, closes every open one (faulty answers
    /// included) and waits for the listeners to end and, at most a few
    /// seconds, for the connections to be gone.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        self.gauge.wait_idle().await;
        if let Some(stall) = self.stall.take() {
            stall.shutdown().await;
        }
    }
}

impl Drop for EstServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn tls_config(ca: &Ca, auth: AuthMode, tls12_only: bool) -> Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (chain, key) = ca.server_identity(&["localhost".into(), "127.0.0.1".into()])?;
    let chain: Vec<CertificateDer<'static>> = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)?;
    let builder = match auth {
        AuthMode::ClientCert | AuthMode::Both => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(CertificateDer::from(ca.root_der()))?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()?;
            builder.with_client_cert_verifier(verifier)
        }
        AuthMode::None | AuthMode::Basic => builder.with_no_client_auth(),
    };
    Ok(builder.with_single_cert(chain, key)?)
}

async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Arc<State>,
    gauge: Arc<Gauge>,
    mut stopped: watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut accepted_count = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let guard = gauge.enter();
        accepted_count += 1;
        let number = accepted_count;
        // Answers go out in several writes; without this, Nagle's algorithm
        // and the client's delayed ACKs add ~40 ms to every exchange.
        let _ = stream.set_nodelay(true);
        let control = Arc::new(ConnControl::default());
        let tcp = Tcp {
            stream,
            control: Arc::clone(&control),
        };
        let (state, acceptor, mut stopped) =
            (Arc::clone(&state), acceptor.clone(), stopped.clone());
        tokio::spawn(async move {
            let _guard = guard;
            match acceptor {
                Some(acceptor) => {
                    let handshake = tokio::select! {
                        done = tokio::time::timeout(HANDSHAKE_LIMIT, acceptor.accept(tcp)) => done,
                        _ = stopped.changed() => return,
                    };
                    let Ok(Ok(stream)) = handshake else { return };
                    let session = stream.get_ref().1;
                    let peer = Peer {
                        had_client_cert: session.peer_certificates().is_some_and(|c| !c.is_empty()),
                        tls_version: session.protocol_version().map(|v| format!("{v:?}")),
                        connection: number,
                        control,
                    };
                    connection(TokioIo::new(stream), state, peer, stopped).await;
                }
                None => {
                    let peer = Peer {
                        connection: number,
                        control,
                        ..Peer::default()
                    };
                    connection(TokioIo::new(tcp), state, peer, stopped).await
                }
            }
        });
    }
}

async fn connection<I>(io: I, state: Arc<State>, peer: Peer, mut stopped: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let control = Arc::clone(&peer.control);
    let service = service_fn(move |request| {
        let (state, peer) = (Arc::clone(&state), peer.clone());
        async move {
            let faults = lock(&state.faults).clone();
            let answer = handle(request, &state, &peer, &faults).await;
            Ok::<_, std::convert::Infallible>(shaped(answer, &faults))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped.changed() => {}
        _ = control.aborted() => {
            // Let hyper flush what the answer sent so far; then the
            // connection is dropped without a TLS close_notify, and `Tcp`
            // makes the close a RST.
            let _ = tokio::time::timeout(RESET_GRACE, conn.as_mut()).await;
        }
    }
}

type Answer = Response<AnswerBody>;

fn text(status: StatusCode, body: impl Into<String>) -> Answer {
    let mut response = Response::new(AnswerBody::full(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn pkcs7_answer(der: &[u8]) -> Answer {
    pkcs7_body(Bytes::from(base64_lines(der)))
}

/// A certs-only answer with its already base64-encoded `body`.
fn pkcs7_body(body: Bytes) -> Answer {
    let mut response = Response::new(AnswerBody::full(body));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/pkcs7-mime; smime-type=certs-only"),
    );
    headers.insert(
        "content-transfer-encoding",
        HeaderValue::from_static("base64"),
    );
    response
}

/// Base64 in 64-column lines, each ending with a newline (RFC 7030 answers).
fn base64_lines(der: &[u8]) -> String {
    let flat_len = der.len().div_ceil(3) * 4;
    let mut buffer = vec![0u8; flat_len + flat_len / 64 + 1];
    let wrapped =
        base64ct::Encoder::<Base64>::new_wrapped(&mut buffer, 64, base64ct::LineEnding::LF)
            .and_then(|mut encoder| {
                encoder.encode(der)?;
                encoder.finish().map(str::to_owned)
            });
    // The buffer is sized for the output, so encoding cannot fail.
    let mut text = wrapped.unwrap_or_default();
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

/// The EST operation a path names, under `/.well-known/est[/label]/`.
fn operation(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/.well-known/est/")?;
    match rest.split('/').collect::<Vec<_>>()[..] {
        [op] => Some(op),
        [label, op] if !label.is_empty() => Some(op),
        _ => None,
    }
}

/// `answer` as the framing knobs of `faults` want it: errors without a
/// `Content-Type` ([`Faults::untyped_errors`]), a 202 ending at the close of
/// the connection ([`Faults::pending_until_close`]).
fn shaped(mut answer: Answer, faults: &Faults) -> Answer {
    let status = answer.status();
    if faults.untyped_errors && (status.is_client_error() || status.is_server_error()) {
        answer.headers_mut().remove(CONTENT_TYPE);
    }
    if faults.pending_until_close && status == StatusCode::ACCEPTED {
        // An HTTP/1.0 answer whose body has no announced length is
        // delimited by the end of the connection.
        *answer.version_mut() = hyper::Version::HTTP_10;
        return answer.map(AnswerBody::without_length);
    }
    answer
}

/// The answer to one request under `faults` (the faults as they were when
/// it arrived).
async fn handle(
    request: Request<Incoming>,
    state: &Arc<State>,
    peer: &Peer,
    faults: &Faults,
) -> Answer {
    let (request, body) = request.into_parts();
    let path = request.uri.path().to_owned();
    let authorization = request.headers.get(hyper::header::AUTHORIZATION).cloned();
    let transfer_encoding = request
        .headers
        .get("content-transfer-encoding")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let record = {
        let mut log = lock(&state.log);
        log.push(RequestRecord {
            method: request.method.to_string(),
            path: path.clone(),
            had_authorization: authorization.is_some(),
            had_client_cert: peer.had_client_cert,
            tls_version: peer.tls_version.clone(),
            connection: peer.connection,
            transfer_encoding: request
                .headers
                .get(hyper::header::TRANSFER_ENCODING)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            fault: None,
        });
        log.len() - 1
    };
    if let Some(delay) = faults.delay {
        tokio::time::sleep(delay).await;
    }
    let Some(op) = operation(&path) else {
        return text(StatusCode::NOT_FOUND, format!("no EST operation at {path}"));
    };
    if matches!(state.auth, AuthMode::Basic | AuthMode::Both)
        && !basic_ok(authorization.as_ref(), &state.basic)
    {
        let mut answer = text(
            StatusCode::UNAUTHORIZED,
            "The server could not verify that you are authorized to access the URL requested.",
        );
        answer.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"estrealm\""),
        );
        return answer;
    }
    match (&request.method, op) {
        (&Method::GET, "cacerts") if faults.stall_cacerts => {
            // Dropped with the connection when the client goes away.
            tokio::time::sleep(STALL_LIMIT).await;
            text(StatusCode::SERVICE_UNAVAILABLE, "stalled for too long")
        }
        (&Method::GET, "cacerts") => cacerts(state, faults),
        (&Method::GET, "csrattrs") => text(StatusCode::NO_CONTENT, ""),
        (&Method::POST, "simpleenroll" | "simplereenroll") => {
            let body = match Limited::new(body, MAX_REQUEST).collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
            };
            if faults.require_base64_header && transfer_encoding.as_deref() != Some("base64") {
                return text(
                    StatusCode::BAD_REQUEST,
                    "Content-Transfer-Encoding: base64 is required",
                );
            }
            if faults.require_final_newline && !body.ends_with(b"\n") {
                return text(
                    StatusCode::BAD_REQUEST,
                    "the base64 body must end with a newline",
                );
            }
            let fault = match faults.by_csr.then(|| fault::from_csr(&body)).flatten() {
                Some(Ok(fault)) => Some(fault),
                Some(Err(e)) => {
                    return text(
                        StatusCode::BAD_REQUEST,
                        format!("the CSR names no fault: {e}"),
                    );
                }
                None => faults.fault,
            };
            match fault {
                Some(fault) => {
                    lock(&state.log)[record].fault = Some(fault);
                    faulty_enroll(state, faults, &body, fault, peer, &request.headers).await
                }
                // Signing is CPU work: it runs off the async workers, so
                // that other connections' answers (a /cacerts sent at the
                // same time) are not held up behind it.
                None => {
                    let (state, faults) = (Arc::clone(state), faults.clone());
                    tokio::task::spawn_blocking(move || enroll(&state, &faults, &body))
                        .await
                        .unwrap_or_else(|e| {
                            text(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                format!("signing failed: {e}"),
                            )
                        })
                }
            }
        }
        (_, "cacerts" | "csrattrs" | "simpleenroll" | "simplereenroll") => text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} is not allowed on /{op}", request.method),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            format!("unknown EST operation /{op}"),
        ),
    }
}

fn basic_ok(header: Option<&HeaderValue>, expected: &str) -> bool {
    let Some(value) = header.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    Base64::decode_vec(encoded.trim()).is_ok_and(|decoded| decoded == expected.as_bytes())
}

fn cacerts(state: &State, faults: &Faults) -> Answer {
    if faults.cacerts_order == CacertsOrder::Canonical && !faults.cacerts_extra {
        return pkcs7_body(state.cacerts.clone());
    }
    let (root, issuing) = (state.ca.root_der(), state.ca.issuing_der());
    let mut certs = match faults.cacerts_order {
        CacertsOrder::Canonical | CacertsOrder::IssuerFirst => vec![issuing, root],
        CacertsOrder::RootFirst => vec![root, issuing],
    };
    if faults.cacerts_extra {
        certs.insert(1, state.extra_cert.clone());
    }
    let der = match faults.cacerts_order {
        CacertsOrder::Canonical => pkcs7::certs_only(&certs),
        _ => pkcs7::certs_only_in_order(&certs),
    };
    match der {
        Ok(der) => pkcs7_answer(&der),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("building /cacerts failed: {e:#}"),
        ),
    }
}

/// An enrollment that meets `fault`.
async fn faulty_enroll(
    state: &State,
    faults: &Faults,
    body: &[u8],
    fault: EnrollFault,
    peer: &Peer,
    headers: &hyper::HeaderMap,
) -> Answer {
    let mut faults = faults.clone();
    match fault {
        EnrollFault::EchoHeaders => return echo_headers(headers),
        EnrollFault::StallHeaders => {
            // Dropped with the connection when the client goes away.
            tokio::time::sleep(STALL_LIMIT).await;
            return text(StatusCode::SERVICE_UNAVAILABLE, "stalled for too long");
        }
        EnrollFault::Huge => return pkcs7_body(fault::huge_body()),
        EnrollFault::Endless => {
            let mut answer = pkcs7_body(Bytes::new());
            *answer.body_mut() = AnswerBody::endless();
            return answer;
        }
        EnrollFault::PendingForever => return pending_answer(&faults),
        EnrollFault::Trickle | EnrollFault::Reset => {}
        EnrollFault::Status(code) => {
            faults.status = Some((code, format!("refused by est-server (fault {fault})")));
        }
        EnrollFault::Body(body) => faults.body = Some(body),
        EnrollFault::WrongContentType => faults.wrong_content_type = true,
        EnrollFault::OtherKey => faults.other_key = true,
        EnrollFault::DropSans => faults.drop_sans = true,
    }
    let answer = enroll(state, &faults, body);
    if answer.status() != StatusCode::OK {
        return answer;
    }
    match fault {
        EnrollFault::Trickle => answer.map(AnswerBody::trickle),
        EnrollFault::Reset => answer.map(|body| body.reset(Arc::clone(&peer.control))),
        _ => answer,
    }
}

/// [`EnrollFault::EchoHeaders`]: a 500 error page that shows every request
/// header as it came, `Authorization` included, as some servers' debug
/// pages do.
fn echo_headers(headers: &hyper::HeaderMap) -> Answer {
    let mut page = String::from(
        "<html><head><title>500 Internal Server Error</title></head><body>\n\
         <h1>Internal Server Error</h1>\n<p>The enrollment failed. The request was:</p>\n<pre>\n",
    );
    for (name, value) in headers {
        page.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    page.push_str("</pre>\n<p>est-server echo-headers fault</p>\n</body></html>\n");
    let mut answer = text(StatusCode::INTERNAL_SERVER_ERROR, page);
    answer.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    answer
}

/// 202 with `Retry-After`.
fn pending_answer(faults: &Faults) -> Answer {
    let mut answer = text(StatusCode::ACCEPTED, "request queued for approval");
    let retry_after = faults.retry_after.clone().unwrap_or_else(|| "1".into());
    if let Ok(value) = HeaderValue::from_str(&retry_after) {
        answer.headers_mut().insert(RETRY_AFTER, value);
    }
    answer
}

fn enroll(state: &State, faults: &Faults, body: &[u8]) -> Answer {
    if let Some((status, body)) = &faults.status {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return text(status, body.clone());
    }
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let Ok(csr) = Base64::decode_vec(&String::from_utf8_lossy(&compact)) else {
        return text(StatusCode::BAD_REQUEST, "the request body is not base64");
    };
    if faults.require_cn && fault::common_name(&csr).is_none() {
        return text(
            StatusCode::BAD_REQUEST,
            "the CSR's subject has no common name (CN)",
        );
    }
    if faults.pending_times > 0 {
        let mut pending = lock(&state.pending);
        let seen = pending.entry(csr.clone()).or_insert(0);
        if *seen < faults.pending_times {
            *seen += 1;
            return pending_answer(faults);
        }
    }
    let options = IssueOptions {
        other_key: faults.other_key,
        drop_sans: faults.drop_sans,
    };
    let cert = match state.ca.issue(&csr, options) {
        Ok(cert) => cert,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e:#}")),
    };
    let der = match pkcs7::certs_only(&[cert]) {
        Ok(der) => der,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    };
    let mut answer = match faults.body {
        None => pkcs7_answer(&der),
        Some(BodyFault::Garbage) => pkcs7_with_body("this is not a PKCS#7 answer!\n".into()),
        Some(BodyFault::Truncated) => {
            let full = base64_lines(&der);
            pkcs7_with_body(full[..full.len() / 2].to_owned())
        }
        Some(BodyFault::Oversized) => pkcs7_with_body("QUFB".repeat(512 * 1024)),
    };
    if faults.wrong_content_type {
        answer
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    }
    answer
}

fn pkcs7_with_body(body: String) -> Answer {
    let mut answer = pkcs7_answer(&[]);
    *answer.body_mut() = AnswerBody::full(body);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_64_column_base64_with_a_final_newline() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let text = base64_lines(&data);
        assert!(text.ends_with('\n'));
        assert!(text.lines().all(|l| l.len() <= 64));
        assert!(text.lines().rev().skip(1).all(|l| l.len() == 64));
        let compact: String = text.lines().collect();
        assert_eq!(Base64::decode_vec(&compact).unwrap(), data);
    }

    #[test]
    fn operations_are_found_with_or_without_a_label() {
        assert_eq!(operation("/.well-known/est/cacerts"), Some("cacerts"));
        assert_eq!(
            operation("/.well-known/est/tenant/simpleenroll"),
            Some("simpleenroll")
        );
        assert_eq!(operation("/.well-known/est/a/b/c"), None);
        assert_eq!(operation("/cacerts"), None);
    }
}
