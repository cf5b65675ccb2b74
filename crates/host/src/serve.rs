//! `ca-handler serve`: the component's HTTP API served by this host, a
//! fresh instance per request (from the pre-instantiated component), with
//! the host's TLS policy and sandbox for the component's outgoing calls.

use crate::state::log_stderr;
use crate::{Host, Settings};
use anyhow::{Context, Result, bail};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// How long requests in progress may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

impl Host {
    /// Serves the component's HTTP API on `listener` until `shutdown`
    /// completes, then lets requests in progress finish (up to 10 s).
    pub async fn serve(
        &self,
        settings: Arc<Settings>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        if self.proxy.is_none() {
            bail!(
                "the component does not export wasi:http/incoming-handler, so it has no HTTP API to serve"
            );
        }
        let (stop, stopping) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("accepting a connection failed: {e}");
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Answers go out in several writes: no Nagle delays.
            let _ = tcp.set_nodelay(true);
            let (host, settings, mut stopping) =
                (self.clone(), Arc::clone(&settings), stopping.clone());
            connections.spawn(async move {
                let service = service_fn(move |request| {
                    let (host, settings) = (host.clone(), Arc::clone(&settings));
                    async move { Ok::<_, Infallible>(host.answer(&settings, request).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service);
                tokio::pin!(connection);
                tokio::select! {
                    result = connection.as_mut() => if let Err(e) = result {
                        tracing::debug!("connection from {peer}: {e}");
                    },
                    _ = stopping.changed() => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            });
        }
        let _ = stop.send(true);
        let drained = tokio::time::timeout(DRAIN, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("requests still running after {DRAIN:?} were cut off");
        }
        Ok(())
    }

    /// One HTTP request through a fresh instance of the component.
    async fn answer(
        &self,
        settings: &Settings,
        request: hyper::Request<Incoming>,
    ) -> hyper::Response<HyperOutgoingBody> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        match self.call_incoming_handler(settings, request).await {
            Ok(response) => {
                tracing::info!("{method} {path} -> {}", response.status());
                response
            }
            Err(e) => {
                tracing::error!("{method} {path}: the component failed: {e:#}");
                internal_error()
            }
        }
    }

    async fn call_incoming_handler(
        &self,
        settings: &Settings,
        request: hyper::Request<Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        let proxy = self.proxy.clone().context("no HTTP API")?;
        let (mut store, stderr) = self.store(settings);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(anyhow::Error::from)?;
        let outparam = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(anyhow::Error::from)?;
        // The guest may go on writing the body after it has set the
        // response, so it runs in a task of its own.
        let task = tokio::spawn(async move {
            let proxy = proxy.instantiate_async(&mut store).await?;
            let result = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await;
            log_stderr(&stderr);
            result
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => bail!("the component answered with error {code:?}"),
            Err(_) => match task.await {
                Ok(Ok(())) => bail!("the component never set a response"),
                Ok(Err(e)) => Err(anyhow::Error::from(e)),
                Err(e) => Err(e.into()),
            },
        }
    }
}

fn internal_error() -> hyper::Response<HyperOutgoingBody> {
    use http_body_util::BodyExt;
    let body = r#"{"type":"urn:est-ca-handler:problem:host","title":"Internal error","status":500,"detail":"the handler component failed; see the host's log"}"#;
    let body = http_body_util::Full::new(hyper::body::Bytes::from_static(body.as_bytes()))
        .map_err(|never: Infallible| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/problem+json"),
    );
    response
}
