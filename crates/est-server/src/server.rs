//! The EST endpoints over HTTPS (and optionally plain HTTP) on 127.0.0.1:
//! starting and stopping a server ([`EstServer`]), its accept loops and
//! connections. What a request is answered with is the private `route` module's.

use crate::ca::Ca;
use crate::config::{Faults, RequestRecord, ServerConfig};
use crate::conn::{ConnControl, Tcp};
use crate::gauge::Gauge;
use crate::pkcs7;
use crate::route::{handle, shaped};
use crate::stall::StallingListener;
use crate::state::{Peer, State, lock};
use crate::{answer::base64_lines, tls::tls_config};
use anyhow::{Context, Result};
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a connection whose answer asked for a reset stays up, so that
/// what the answer sent before reaches the client.
const RESET_GRACE: Duration = Duration::from_millis(200);

/// The longest a TLS handshake may take.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

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
