//! The native floor: the same handler code and the same EST exchanges as
//! the component (two requests in parallel, a new TLS connection each, the
//! host's TLS settings), sent by plain native Rust without WebAssembly.

use est_ca_handler::config::{Config, Scheme};
use est_ca_handler::http::{Limits, Method, Request, Response, Transport, TransportError};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// A [`Transport`] over tokio, hyper and rustls.
pub struct NativeTransport {
    tls: Arc<rustls::ClientConfig>,
    runtime: tokio::runtime::Handle,
}

impl NativeTransport {
    /// The transport for `config`, with the same TLS client as the host.
    pub fn new(config: &Config, runtime: tokio::runtime::Handle) -> anyhow::Result<Self> {
        Ok(Self {
            tls: Arc::new(est_ca_host::outbound::tls_client(config)?),
            runtime,
        })
    }
}

impl Transport for NativeTransport {
    fn send_all(
        &self,
        requests: Vec<Request>,
        limits: Limits,
    ) -> Vec<Result<Response, TransportError>> {
        let tls = Arc::clone(&self.tls);
        self.runtime.block_on(async move {
            let tasks: Vec<_> = requests
                .into_iter()
                .map(|r| tokio::spawn(send(Arc::clone(&tls), r, limits)))
                .collect();
            let mut outcomes = Vec::with_capacity(tasks.len());
            for task in tasks {
                outcomes.push(
                    task.await
                        .unwrap_or_else(|e| Err(TransportError::Failed(e.to_string()))),
                );
            }
            outcomes
        })
    }
}

async fn send(
    tls: Arc<rustls::ClientConfig>,
    request: Request,
    limits: Limits,
) -> Result<Response, TransportError> {
    let timeout = Duration::from_secs(limits.timeout_secs.into());
    tokio::time::timeout(timeout, exchange(tls, request, limits.max_body))
        .await
        .map_err(|_| TransportError::Timeout("no answer in time".into()))?
}

async fn exchange(
    tls: Arc<rustls::ClientConfig>,
    request: Request,
    max_body: usize,
) -> Result<Response, TransportError> {
    let failed = |e: &dyn std::fmt::Display| TransportError::Failed(e.to_string());
    let tcp = TcpStream::connect(&request.authority)
        .await
        .map_err(|e| failed(&e))?;
    tcp.set_nodelay(true).map_err(|e| failed(&e))?;
    let mut builder = hyper::Request::builder()
        .method(match request.method {
            Method::Get => hyper::Method::GET,
            Method::Post => hyper::Method::POST,
        })
        .uri(&request.path)
        .header("host", &request.authority);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let hyper_request = builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|e| failed(&e))?;
    let response = if request.scheme == Scheme::Https {
        let host = request
            .authority
            .rsplit_once(':')
            .map_or(request.authority.as_str(), |(h, _)| h);
        let name = ServerName::try_from(host.to_owned()).map_err(|e| failed(&e))?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| failed(&e))?;
        round_trip(TokioIo::new(stream), hyper_request).await?
    } else {
        round_trip(TokioIo::new(tcp), hyper_request).await?
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let body = Limited::new(response.into_body(), max_body)
        .collect()
        .await
        .map_err(|_| TransportError::BodyTooLarge { limit: max_body })?
        .to_bytes()
        .to_vec();
    Ok(Response {
        status,
        headers,
        body,
    })
}

async fn round_trip<I>(
    io: I,
    request: hyper::Request<Full<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, TransportError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| TransportError::Failed(e.to_string()))?;
    tokio::spawn(connection);
    sender
        .send_request(request)
        .await
        .map_err(|e| TransportError::Failed(e.to_string()))
}
