//! The native floor: the same handler code and the same EST exchanges as
//! the component (two requests in parallel, the host's TLS settings and
//! its connection pool), sent by plain native Rust without WebAssembly.

use est_ca_handler::config::{Config, Scheme};
use est_ca_handler::error::TransportCause;
use est_ca_handler::transport::{Limits, Method, Request, Response, Transport, TransportError};
use est_ca_host::client::{Connector, pooled_client};
use est_ca_host::tls;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use std::time::Duration;

/// A [`Transport`] over the host's pooled hyper/rustls client.
pub struct NativeTransport {
    client: Client<Connector, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
}

impl NativeTransport {
    /// The transport for `config`, with the same TLS client and connection
    /// policy as the host.
    pub fn new(config: &Config, runtime: tokio::runtime::Handle) -> anyhow::Result<Self> {
        let timeout = Duration::from_secs(config.request_timeout_secs.into());
        let _guard = runtime.enter();
        Ok(Self {
            client: pooled_client(tls::client_config(config)?, timeout, Default::default()),
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
        self.runtime.block_on(async move {
            let tasks: Vec<_> = requests
                .into_iter()
                .map(|r| tokio::spawn(send(self.client.clone(), r, limits)))
                .collect();
            let mut outcomes = Vec::with_capacity(tasks.len());
            for task in tasks {
                outcomes.push(task.await.unwrap_or_else(|e| {
                    Err(TransportError::failed(TransportCause::Other, e.to_string()))
                }));
            }
            outcomes
        })
    }

    /// Hands each answer over as soon as its task completes, as the
    /// component's transport does.
    fn exchange(
        &self,
        requests: Vec<Request>,
        limits: Limits,
        arrived: &mut dyn FnMut(usize, Result<Response, TransportError>),
    ) {
        self.runtime.block_on(async move {
            let (done, mut answers) = tokio::sync::mpsc::unbounded_channel();
            let count = requests.len();
            for (index, request) in requests.into_iter().enumerate() {
                let (client, done) = (self.client.clone(), done.clone());
                tokio::spawn(async move {
                    let _ = done.send((index, send(client, request, limits).await));
                });
            }
            drop(done);
            let mut answered = vec![false; count];
            while let Some((index, outcome)) = answers.recv().await {
                answered[index] = true;
                arrived(index, outcome);
            }
            for (index, _) in answered.iter().enumerate().filter(|(_, a)| !**a) {
                arrived(
                    index,
                    Err(TransportError::failed(
                        TransportCause::Other,
                        "the request's task ended",
                    )),
                );
            }
        })
    }
}

async fn send(
    client: Client<Connector, Full<Bytes>>,
    request: Request,
    limits: Limits,
) -> Result<Response, TransportError> {
    let timeout = Duration::from_secs(limits.timeout_secs.into());
    tokio::time::timeout(timeout, exchange(client, request, limits.max_body))
        .await
        .map_err(|_| TransportError::failed(TransportCause::Timeout, "no answer in time"))?
}

async fn exchange(
    client: Client<Connector, Full<Bytes>>,
    request: Request,
    max_body: usize,
) -> Result<Response, TransportError> {
    let failed =
        |e: &dyn std::fmt::Display| TransportError::failed(TransportCause::Other, e.to_string());
    let scheme = match request.scheme {
        Scheme::Https => "https",
        Scheme::Http => "http",
    };
    let mut builder = hyper::Request::builder()
        .method(match request.method {
            Method::Get => hyper::Method::GET,
            Method::Post => hyper::Method::POST,
        })
        .uri(format!("{scheme}://{}{}", request.authority, request.path));
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let hyper_request = builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|e| failed(&e))?;
    let response = client
        .request(hyper_request)
        .await
        .map_err(|e| failed(&e))?;
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
