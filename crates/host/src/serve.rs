//! `ca-handler serve`: the component's HTTP API served by this host, a
//! fresh instance per request (from the pre-instantiated component), with
//! the host's TLS policy and sandbox for the component's outgoing calls.
//!
//! `serve` is bounded by the host's [`Limits`]: at most
//! [`Limits::max_connections`] open connections (one more is answered
//! `503` and closed), a request head within [`Limits::header_timeout`], an
//! idle connection closed after [`Limits::idle_timeout`], at most
//! [`Limits::max_instances`] requests in the component at once (one more
//! is answered `503` with `Retry-After`, never queued), each request's body
//! within [`Limits::body_timeout`] of its head (else `408`, and its instance
//! is freed), and each request's instance dropped at the host-side deadline
//! (`504`). The component decides from the request's head whether a caller
//! may in at all, so a caller without the API token holds an instance only
//! for the moment its `401` takes.
//!
//! The metrics listener ([`Host::serve_metrics`]) has the same watch on its
//! connections, and a cap of its own, [`Limits::max_metrics_connections`];
//! [`Limits::fit_file_descriptors`] checks that both listeners' caps fit in
//! the process's file descriptors with room for the EST connections.

use crate::limits::{LimitExceeded, Limits, REFUSALS_AT_ONCE, RETRY_AFTER_SECS, seconds};
use crate::metrics::{Metrics, outcome_of};
use crate::state::log_stderr;
use crate::{Host, Settings, limits, request_id};
use anyhow::{Context, Result, bail};
use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// How long requests in progress may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// How long answering a connection over the cap may take.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

/// The pause after a failed `accept` (out of file descriptors, say), so
/// that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The accept backlog of [`bind`]'s listeners: room for a burst of
/// connections while the accept loop catches up (the kernel caps it at
/// `net.core.somaxconn`). `tokio`'s own `TcpListener::bind` uses 128, and a
/// burst past that (slowloris) delays honest clients' connections by
/// seconds of SYN retransmissions.
pub const LISTEN_BACKLOG: u32 = 1024;

/// A listener on `addr` for [`Host::serve`], with a backlog of
/// [`LISTEN_BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

impl Host {
    /// Serves the component's HTTP API on `listener` until `shutdown`
    /// completes, then lets requests in progress finish (up to 10 s),
    /// within this host's [`Limits`] (see the module's documentation).
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
        let host = self.clone();
        let mut connections = accept(
            &listener,
            Cap {
                connections: self.limits.max_connections,
                reason: "connections",
                metrics: self.metrics().clone(),
            },
            shutdown,
            move |tcp, peer| {
                let (host, settings, stopping) =
                    (host.clone(), Arc::clone(&settings), stopping.clone());
                async move { host.connection(settings, tcp, peer, stopping).await }
            },
        )
        .await;
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

    /// One connection to the API, until the client closes it, the
    /// [`Watch`] finds it too slow or idle, or `serve` stops.
    async fn connection(
        &self,
        settings: Arc<Settings>,
        tcp: TcpStream,
        peer: std::net::SocketAddr,
        stopping: watch::Receiver<bool>,
    ) {
        // The authority of an HTTP/1.0 request that names none.
        let local = tcp.local_addr().ok();
        let watch = Arc::new(Watch::new(&self.limits));
        let service = {
            let (host, watch) = (self.clone(), Arc::clone(&watch));
            service_fn(move |request| {
                let (host, settings) = (host.clone(), Arc::clone(&settings));
                let in_flight = watch.request_started();
                async move {
                    let response = host.answer(&settings, request, local).await;
                    Ok::<_, Infallible>(response.map(|body| {
                        Guarded {
                            body,
                            _in_flight: in_flight,
                        }
                        .boxed_unsync()
                    }))
                }
            })
        };
        watched(tcp, peer, watch, service, Some(stopping)).await;
    }

    /// One HTTP request under its request id ([`request_id`]): through a
    /// fresh instance of the component, or a `503` when
    /// [`Limits::max_instances`] are busy, a `504` when the host-side
    /// deadline passed, a `408` when the body did not arrive within
    /// [`Limits::body_timeout`], a `400` when an HTTP/1.1 request names no
    /// host. Counted in the host's [`Metrics`].
    async fn answer(
        &self,
        settings: &Settings,
        mut request: hyper::Request<Incoming>,
        local: Option<std::net::SocketAddr>,
    ) -> hyper::Response<HyperOutgoingBody> {
        let id = request_id::of(request.headers());
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        // A usable id is always a valid header value.
        let id_header = hyper::header::HeaderValue::from_str(&id).ok();
        // The component names the id in its problem documents.
        if let Some(value) = &id_header {
            request
                .headers_mut()
                .insert(request_id::HEADER, value.clone());
        }
        let span = tracing::info_span!("request", id = %id);
        let (mut response, reached) = self
            .answer_in_span(settings, request, local, &id, &method, &path)
            .instrument(span)
            .await;
        if let Some(value) = id_header {
            response.headers_mut().insert(request_id::HEADER, value);
        }
        let status = response.status().as_u16();
        self.metrics().request(&path, status);
        let enrollment = method == hyper::Method::POST && (path == "/enroll" || path == "/poll");
        if enrollment && reached {
            response = response.map(|body| {
                Sniffed {
                    body,
                    status,
                    seen: Vec::new(),
                    metrics: self.metrics().clone(),
                }
                .boxed_unsync()
            });
        }
        response
    }

    /// The answer, and whether the request reached the component (not
    /// refused by the host for load, its head or its body's pace).
    async fn answer_in_span(
        &self,
        settings: &Settings,
        mut request: hyper::Request<Incoming>,
        local: Option<std::net::SocketAddr>,
        id: &str,
        method: &hyper::Method,
        path: &str,
    ) -> (hyper::Response<HyperOutgoingBody>, bool) {
        if let Err(why) = fill_authority(&mut request, local) {
            tracing::info!("{method} {path} -> 400: {why}");
            return (bad_request(why, id), false);
        }
        let permit = match self.instance_permit() {
            Ok(permit) => permit,
            Err(busy) => {
                tracing::warn!("{method} {path} -> 503: {busy}");
                return (overloaded(&busy.to_string(), Some(id)), false);
            }
        };
        match self.call_incoming_handler(settings, request, permit).await {
            Ok(response) => {
                tracing::info!("{method} {path} -> {}", response.status());
                (response, true)
            }
            Err(e) => match e.downcast_ref::<LimitExceeded>() {
                Some(LimitExceeded::Timeout { after }) => {
                    tracing::warn!("{method} {path} -> 504: {e}");
                    (timed_out(*after, id), true)
                }
                Some(LimitExceeded::BodyTimeout { after }) => {
                    tracing::warn!("{method} {path} -> 408: {e}");
                    self.metrics().refused("body-timeout");
                    (body_timed_out(*after, id), false)
                }
                _ => {
                    tracing::error!("{method} {path}: the component failed: {e:#}");
                    (internal_error(id), true)
                }
            },
        }
    }

    /// Serves this host's metrics ([`Metrics`], Prometheus text format) at
    /// `GET /metrics` on `listener`, until the process ends. Anything else
    /// is answered `404`. Bind it where only the scraper reaches: it has no
    /// authentication (the figures hold no secrets, but show the load). At
    /// most [`Limits::max_metrics_connections`] are open at once (one more
    /// gets a `503` and is closed), with the API's header and idle
    /// timeouts ([`Limits::header_timeout`], [`Limits::idle_timeout`]).
    pub async fn serve_metrics(&self, listener: TcpListener) {
        let host = self.clone();
        let cap = Cap {
            connections: self.limits.max_metrics_connections,
            reason: "metrics-connections",
            metrics: self.metrics().clone(),
        };
        accept(&listener, cap, std::future::pending(), move |tcp, peer| {
            let host = host.clone();
            async move { host.metrics_connection(tcp, peer).await }
        })
        .await;
    }

    /// One connection to the metrics listener, watched like the API's.
    async fn metrics_connection(&self, tcp: TcpStream, peer: std::net::SocketAddr) {
        let watch = Arc::new(Watch::new(&self.limits));
        let service = {
            let (host, watch) = (self.clone(), Arc::clone(&watch));
            service_fn(move |request: hyper::Request<Incoming>| {
                let host = host.clone();
                let in_flight = watch.request_started();
                async move {
                    let found = request.uri().path() == "/metrics"
                        && request.method() == hyper::Method::GET;
                    let (status, content_type, body) = if found {
                        (200, crate::metrics::CONTENT_TYPE, host.encode_metrics())
                    } else {
                        (404, "text/plain", "GET /metrics\n".to_owned())
                    };
                    hyper::Response::builder()
                        .status(status)
                        .header(hyper::header::CONTENT_TYPE, content_type)
                        .body(Guarded {
                            body: http_body_util::Full::new(Bytes::from(body)),
                            _in_flight: in_flight,
                        })
                }
            })
        };
        watched(tcp, peer, watch, service, None).await;
    }

    async fn call_incoming_handler(
        &self,
        settings: &Settings,
        request: hyper::Request<Incoming>,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        let proxy = self.proxy.clone().context("no HTTP API")?;
        let after = self.call_time_limit(settings);
        let (mut store, stderr) = self.store(settings);
        let (sender, mut receiver) = tokio::sync::oneshot::channel();
        let body_timeout = self.limits.body_timeout;
        let (parts, body) = request.into_parts();
        let arrived = Arc::new(AtomicBool::new(body.is_end_stream()));
        let body = Arriving {
            body,
            arrived: Arc::clone(&arrived),
        };
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, hyper::Request::from_parts(parts, body))
            .map_err(anyhow::Error::from)?;
        let outparam = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(anyhow::Error::from)?;
        // The guest may go on writing the body after it has set the
        // response, so it runs in a task of its own, which keeps its place
        // among the instances, and its deadline, until it ends.
        let counted = self.metrics().instance();
        let task = tokio::spawn(
            async move {
                let _permit = permit;
                let _counted = counted;
                let result = limits::run_with_deadline(&mut store, after, async move |store| {
                    let proxy = proxy.instantiate_async(&mut *store).await?;
                    proxy
                        .wasi_http_incoming_handler()
                        .call_handle(store, incoming, outparam)
                        .await
                })
                .await;
                drop(store);
                log_stderr(&stderr);
                if let Err(e) = &result
                    && e.downcast_ref::<LimitExceeded>().is_some()
                {
                    tracing::warn!("{e}");
                }
                result
            }
            // The component's stderr lines belong to the request.
            .in_current_span(),
        );
        // A body still arriving at the body timeout ends the request, and
        // the instance waiting for it.
        let body_late = async {
            tokio::time::sleep(body_timeout).await;
            if arrived.load(Ordering::Acquire) {
                std::future::pending::<()>().await;
            }
        };
        let answered = tokio::select! {
            answered = &mut receiver => answered,
            () = body_late => {
                task.abort();
                return Err(LimitExceeded::BodyTimeout { after: body_timeout }.into());
            }
        };
        match answered {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => bail!("the component answered with error {code:?}"),
            Err(_) => match task.await {
                Ok(Ok(())) => bail!("the component never set a response"),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(e.into()),
            },
        }
    }
}

/// A listener's connection cap, and the `refused_total` reason of a
/// connection over it.
struct Cap {
    connections: usize,
    reason: &'static str,
    metrics: Metrics,
}

/// Accepts connections on `listener` until `shutdown` completes, each
/// served by `serve` in a task of its own (the set of them is returned, to
/// drain): at most `cap.connections` at once; one more is answered `503`
/// and closed ([`refuse`]).
async fn accept<F, Fut>(
    listener: &TcpListener,
    cap: Cap,
    shutdown: impl Future<Output = ()>,
    mut serve: F,
) -> JoinSet<()>
where
    F: FnMut(TcpStream, std::net::SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(cap.connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => return connections,
        };
        // Reap the tasks of connections that have ended.
        while connections.try_join_next().is_some() {}
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(
                "refused a connection from {peer}: {} {} are open",
                cap.connections,
                cap.reason
            );
            cap.metrics.refused(cap.reason);
            refuse(tcp, &refusals);
            continue;
        };
        // Answers go out in several writes: no Nagle delays.
        let _ = tcp.set_nodelay(true);
        let serving = serve(tcp, peer);
        connections.spawn(async move {
            let _slot = slot;
            serving.await;
        });
    }
}

/// Serves HTTP/1.1 on `tcp` with `service` until the client closes it,
/// `watch` finds it too slow or idle, or `stopping` changes (then it
/// finishes its request in progress). The service keeps `watch` told of
/// its requests ([`Watch::request_started`]).
async fn watched<S>(
    tcp: TcpStream,
    peer: std::net::SocketAddr,
    watch: Arc<Watch>,
    service: S,
    stopping: Option<watch::Receiver<bool>>,
) where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io = TokioIo::new(Watched::new(tcp, Arc::clone(&watch)));
    // The host's own watch bounds the wait for a request head, not
    // hyper's timer (which would also cut off kept-alive connections at
    // the header timeout).
    let connection = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let stopped = async move {
        match stopping {
            Some(mut stopping) => {
                let _ = stopping.changed().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        result = connection.as_mut() => if let Err(e) = result {
            tracing::debug!("connection from {peer}: {e}");
        },
        why = watch.expired() => {
            tracing::debug!("closed the connection from {peer}: {why}");
        }
        () = stopped => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                _ = connection => {}
                _ = watch.expired() => {}
            }
        }
    }
}

/// Makes sure `request` names its authority, as a `wasi:http` request
/// must: a request in absolute form or with one usable `Host` header does;
/// an HTTP/1.0 request without one gets the listener's address `local`;
/// otherwise the reason for a `400` (RFC 9112 §3.2: an HTTP/1.1 request
/// without `Host`, more than one `Host`, or an invalid one).
fn fill_authority(
    request: &mut hyper::Request<Incoming>,
    local: Option<std::net::SocketAddr>,
) -> Result<(), &'static str> {
    if request.uri().authority().is_some() {
        return Ok(());
    }
    let mut hosts = request.headers().get_all(hyper::header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err("the request has more than one Host header"),
        (Some(host), None) if host.to_str().is_ok() => Ok(()),
        (Some(_), None) => Err("the Host header is not visible ASCII"),
        (None, _) if request.version() < hyper::Version::HTTP_11 => {
            let local = local.ok_or("the request names no host")?;
            let value = hyper::header::HeaderValue::from_str(&local.to_string())
                .map_err(|_| "the request names no host")?;
            request.headers_mut().insert(hyper::header::HOST, value);
            Ok(())
        }
        (None, _) => Err("an HTTP/1.1 request must have a Host header (RFC 9112 §3.2)"),
    }
}

/// A problem document answer.
fn problem(
    status: hyper::StatusCode,
    document: &serde_json::Value,
) -> hyper::Response<HyperOutgoingBody> {
    let body = http_body_util::Full::new(Bytes::from(document.to_string()))
        .map_err(|never: Infallible| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// A problem document's `instance`: the request's id as a URN.
fn instance(id: &str) -> String {
    format!("urn:request:{id}")
}

fn internal_error(id: &str) -> hyper::Response<HyperOutgoingBody> {
    problem(
        hyper::StatusCode::INTERNAL_SERVER_ERROR,
        &serde_json::json!({
            "type": "urn:est-ca-handler:problem:host",
            "title": "Internal error",
            "status": 500,
            "detail": "the handler component failed; see the host's log",
            "instance": instance(id),
        }),
    )
}

/// The problem document of a request over [`Limits::max_instances`] (or a
/// connection over [`Limits::max_connections`], which has no request id).
fn overloaded_document(detail: &str, id: Option<&str>) -> serde_json::Value {
    let mut document = serde_json::json!({
        "type": "urn:est-ca-handler:problem:overloaded",
        "title": "The server is busy",
        "status": 503,
        "detail": detail,
        "retry_after": RETRY_AFTER_SECS,
    });
    if let Some(id) = id {
        document["instance"] = instance(id).into();
    }
    document
}

fn overloaded(detail: &str, id: Option<&str>) -> hyper::Response<HyperOutgoingBody> {
    let mut response = problem(
        hyper::StatusCode::SERVICE_UNAVAILABLE,
        &overloaded_document(detail, id),
    );
    response
        .headers_mut()
        .insert(hyper::header::RETRY_AFTER, RETRY_AFTER_SECS.into());
    response
}

/// The answer when the host-side deadline cut a request off: like the
/// component's own timeout answer, with cause `timeout`.
fn timed_out(after: Duration, id: &str) -> hyper::Response<HyperOutgoingBody> {
    problem(
        hyper::StatusCode::GATEWAY_TIMEOUT,
        &serde_json::json!({
            "type": "urn:est-ca-handler:problem:timeout",
            "title": "The handler did not finish in time",
            "status": 504,
            "detail": format!(
                "the handler did not finish within {} (request_timeout plus the host's grace) and was stopped",
                seconds(after)
            ),
            "cause": "timeout",
            "instance": instance(id),
        }),
    )
}

/// The answer when the request's body did not arrive within
/// [`Limits::body_timeout`]; the connection is closed after it.
fn body_timed_out(after: Duration, id: &str) -> hyper::Response<HyperOutgoingBody> {
    let mut response = problem(
        hyper::StatusCode::REQUEST_TIMEOUT,
        &serde_json::json!({
            "type": "urn:est-ca-handler:problem:body-timeout",
            "title": "The request body did not arrive in time",
            "status": 408,
            "detail": format!(
                "the request body did not arrive within {} of its head",
                seconds(after)
            ),
            "instance": instance(id),
        }),
    );
    response.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    response
}

/// The answer to a request whose head the host cannot pass on (no or a
/// bad `Host`).
fn bad_request(detail: &str, id: &str) -> hyper::Response<HyperOutgoingBody> {
    problem(
        hyper::StatusCode::BAD_REQUEST,
        &serde_json::json!({
            "type": "urn:est-ca-handler:problem:bad-request",
            "title": "Bad request",
            "status": 400,
            "detail": detail,
            "instance": instance(id),
        }),
    )
}

/// Answers a connection over [`Limits::max_connections`] with a `503` and
/// closes it, in a task of its own bounded by [`REFUSAL_TIME`]; with
/// [`REFUSALS_AT_ONCE`] such tasks already running, closes it at once.
fn refuse(mut tcp: TcpStream, refusals: &Arc<Semaphore>) {
    let Ok(permit) = Arc::clone(refusals).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let body = overloaded_document("too many connections are open; try again shortly", None)
            .to_string();
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: {RETRY_AFTER_SECS}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(REFUSAL_TIME, async {
            // The request head first (or what fits in the buffer): a client
            // reads an answer only once it has sent its request.
            let mut buffer = [0u8; 8192];
            let mut seen = 0;
            while seen < buffer.len() && !buffer[..seen].windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut buffer[seen..]).await? {
                    0 => break,
                    n => seen += n,
                }
            }
            tcp.write_all(answer.as_bytes()).await?;
            tcp.shutdown().await?;
            // Read what else the client sent until it closes, so that
            // closing with unread data does not reset the connection before
            // the client has read the answer.
            while tcp.read(&mut buffer).await? > 0 {}
            Ok::<_, io::Error>(())
        })
        .await;
    });
}

/// What one connection is doing, for its timeouts: a request in the
/// component (no timeout but the request's own deadline), waiting for a
/// request head ([`Limits::header_timeout`]), or idle
/// ([`Limits::idle_timeout`]).
struct Watch {
    header_timeout: Duration,
    idle_timeout: Duration,
    state: Mutex<WatchState>,
    /// Woken when the deadline may have moved earlier.
    changed: Notify,
}

struct WatchState {
    /// Requests whose answers are not yet wholly handed to hyper.
    in_flight: usize,
    phase: Phase,
    /// When the phase began.
    since: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the connection's first request head (since accepting it).
    FirstHead,
    /// An answer is done and no byte of the next request has come.
    Idle,
    /// Bytes of the next request head have come, not yet all of it.
    Head,
}

impl Watch {
    fn new(limits: &Limits) -> Self {
        Self {
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            state: Mutex::new(WatchState {
                in_flight: 0,
                phase: Phase::FirstHead,
                since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client sent bytes.
    fn read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.phase == Phase::Idle {
            state.phase = Phase::Head;
            state.since = Instant::now();
            drop(state);
            self.changed.notify_one();
        }
    }

    /// Bytes went out to the client (the end of an answer).
    fn wrote(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.phase == Phase::Idle {
            state.since = Instant::now();
        }
    }

    /// A request head is complete: no timeout until its answer is done.
    fn request_started(self: &Arc<Self>) -> InFlight {
        self.state().in_flight += 1;
        InFlight(Arc::clone(self))
    }

    /// When the connection is to be closed, `None` while a request is in
    /// progress.
    fn deadline(&self) -> Option<(Instant, &'static str)> {
        let state = self.state();
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.phase {
            Phase::FirstHead | Phase::Head => (
                state.since + self.header_timeout,
                "no complete request head within the header timeout",
            ),
            Phase::Idle => (
                state.since + self.idle_timeout,
                "idle past the idle timeout",
            ),
        })
    }

    /// Resolves when the connection has overstayed, with the reason.
    async fn expired(&self) -> &'static str {
        loop {
            let changed = self.changed.notified();
            match self.deadline() {
                Some((at, why)) if Instant::now() >= at => return why,
                Some((at, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// A request in progress on a connection; dropped with its answer's body.
struct InFlight(Arc<Watch>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.phase = Phase::Idle;
            state.since = Instant::now();
        }
        drop(state);
        self.0.changed.notify_one();
    }
}

/// An answer's body that keeps its request [`InFlight`] until hyper has
/// taken all of it (or dropped it).
struct Guarded<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B: Body + Unpin> Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request's body on its way to the component, which says when all of it
/// has arrived (or it failed: nothing more is coming), for
/// [`Limits::body_timeout`].
struct Arriving {
    body: Incoming,
    arrived: Arc<AtomicBool>,
}

impl Body for Arriving {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => self.body.is_end_stream(),
            Poll::Pending => false,
        };
        if ended {
            self.arrived.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The most of an enrollment answer's body kept to read its outcome (a
/// problem document is far smaller; a certificate answer needs only its
/// status).
const SNIFF_LIMIT: usize = 4096;

/// An enrollment answer's body on its way to the client, counted in
/// [`Metrics`] by outcome once it has gone (or been dropped): the status
/// says issued or pending, a problem document's `type` the error kind (and
/// whether it was the API's refusal, which is no enrollment: see
/// [`outcome_of`]).
struct Sniffed {
    body: HyperOutgoingBody,
    status: u16,
    seen: Vec<u8>,
    metrics: Metrics,
}

impl Body for Sniffed {
    type Data = Bytes;
    type Error = <HyperOutgoingBody as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
            && self.status >= 300
        {
            let room = SNIFF_LIMIT.saturating_sub(self.seen.len());
            let take = data.len().min(room);
            self.seen.extend_from_slice(&data[..take]);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Sniffed {
    fn drop(&mut self) {
        if let Some(outcome) = outcome_of(self.status, &self.seen) {
            self.metrics.enrollment(outcome);
        }
    }
}

/// How long a connection closed with a request body unread (an answer
/// given from the head: a refusal, or a route that takes no body) goes on
/// reading and dropping what the client sends, so that closing does not
/// reset the connection before the client has read the answer.
const LINGER: Duration = Duration::from_secs(2);

/// The most bytes dropped that way.
const LINGER_BYTES: usize = 256 * 1024;

/// A connection's TCP stream that tells its [`Watch`] when bytes move,
/// and lingers when closed ([`LINGER`]).
struct Watched {
    tcp: TcpStream,
    watch: Arc<Watch>,
    /// Set once the write side is shut: the end of the linger.
    linger: Option<Pin<Box<tokio::time::Sleep>>>,
    dropped: usize,
}

impl Watched {
    fn new(tcp: TcpStream, watch: Arc<Watch>) -> Self {
        Self {
            tcp,
            watch,
            linger: None,
            dropped: 0,
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    /// Shuts the write side, then reads and drops what the client still
    /// sends until it closes, [`LINGER`] has passed or [`LINGER_BYTES`]
    /// have come.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.linger.is_none() {
            std::task::ready!(Pin::new(&mut this.tcp).poll_shutdown(cx))?;
            this.linger = Some(Box::pin(tokio::time::sleep(LINGER)));
        }
        let mut scratch = [0u8; 4096];
        loop {
            let over = this
                .linger
                .as_mut()
                .is_none_or(|linger| linger.as_mut().poll(cx).is_ready());
            if over || this.dropped >= LINGER_BYTES {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.tcp).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    this.dropped += buf.filled().len();
                }
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
