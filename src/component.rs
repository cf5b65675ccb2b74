//! The WebAssembly glue: exports the `handler` interface and provides the
//! EST logic with a `wasi:http` transport and a `wasi:config` settings
//! source. Nothing here interprets EST; it only moves values across the
//! component boundary.

mod bindings {
    wit_bindgen::generate!({
        world: "ca-handler",
        path: "wit",
        generate_all,
    });
}

use crate::config::{Config, Scheme, Settings};
use crate::error::{HandlerError, HttpFailure};
use crate::handler::{self, Enrollment, IssuedCertificate, Pending, PollResult};
use crate::http::{Limits, Method, Request, Response, Transport, TransportError};
use bindings::exports::acme::ca_handler::handler as wit;
use bindings::exports::acme::ca_handler::handler::Guest;
use bindings::wasi::clocks::monotonic_clock;
use bindings::wasi::config::store;
use bindings::wasi::http::outgoing_handler;
use bindings::wasi::http::types as http;
use bindings::wasi::io::poll::{Pollable, poll};
use bindings::wasi::io::streams::StreamError;
use std::sync::OnceLock;

struct Component;

bindings::export!(Component with_types_in bindings);

impl Guest for Component {
    fn handler_check() -> Result<Vec<String>, wit::HandlerError> {
        config().map(Config::warnings).map_err(Into::into)
    }

    fn ca_certs() -> Result<Vec<String>, wit::HandlerError> {
        let config = checked_config()?;
        handler::ca_certs(config, &WasiTransport).map_err(Into::into)
    }

    fn enroll(csr: String) -> Result<wit::Enrollment, wit::HandlerError> {
        let config = checked_config()?;
        match handler::enroll(config, &WasiTransport, &csr)? {
            Enrollment::Issued(cert) => Ok(wit::Enrollment::Issued(cert.into())),
            Enrollment::Pending(pending) => Ok(wit::Enrollment::Pending(pending.into())),
        }
    }

    fn poll(
        _cert_name: String,
        poll_identifier: String,
        csr: String,
    ) -> Result<wit::PollResult, wit::HandlerError> {
        let config = checked_config()?;
        match handler::poll(config, &WasiTransport, &poll_identifier, &csr)? {
            PollResult::Issued(cert) => Ok(wit::PollResult::Issued(cert.into())),
            PollResult::Pending(pending) => Ok(wit::PollResult::Pending(pending.into())),
            PollResult::Rejected(reason) => Ok(wit::PollResult::Rejected(reason)),
        }
    }

    fn revoke(_cert: String, _reason: String, _date: String) -> Result<(), wit::RevocationError> {
        handler::revoke().map_err(|e| wit::RevocationError {
            code: e.code,
            message: e.message,
            detail: e.detail,
        })
    }

    fn trigger(_payload: String) -> Result<wit::Certificate, wit::HandlerError> {
        handler::trigger().map(Into::into).map_err(Into::into)
    }
}

/// The configuration, read from the host once per instance.
fn config() -> Result<&'static Config, HandlerError> {
    static CONFIG: OnceLock<Result<Config, HandlerError>> = OnceLock::new();
    CONFIG
        .get_or_init(|| Config::load(&WasiSettings))
        .as_ref()
        .map_err(Clone::clone)
}

/// The configuration for an operation; its warnings go to stderr on every call.
fn checked_config() -> Result<&'static Config, HandlerError> {
    let config = config()?;
    for warning in config.warnings() {
        eprintln!("est-ca-handler: warning: {warning}");
    }
    Ok(config)
}

struct WasiSettings;

impl Settings for WasiSettings {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        store::get(key).map_err(|e| match e {
            store::Error::Upstream(why) => format!("upstream: {why}"),
            store::Error::Io(why) => format!("I/O: {why}"),
        })
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Sends requests through the host's `wasi:http/outgoing-handler`.
struct WasiTransport;

impl Transport for WasiTransport {
    fn send_all(
        &self,
        requests: Vec<Request>,
        limits: Limits,
    ) -> Vec<Result<Response, TransportError>> {
        let timeout_ns = u64::from(limits.timeout_secs) * 1_000_000_000;
        let deadline = monotonic_clock::subscribe_duration(timeout_ns);
        let in_flight: Vec<_> = requests.iter().map(|r| start(r, timeout_ns)).collect();
        let heads = await_heads(in_flight, &deadline);
        heads
            .into_iter()
            .map(|head| {
                head.and_then(|response| read_response(response, limits.max_body, &deadline))
            })
            .collect()
    }
}

/// Starts one request and writes its body.
fn start(
    request: &Request,
    timeout_ns: u64,
) -> Result<http::FutureIncomingResponse, TransportError> {
    let refused =
        |what: &str| TransportError::Failed(format!("the host refused the request's {what}"));
    let headers = http::Fields::new();
    for (name, value) in &request.headers {
        headers
            .append(name, value.as_bytes())
            .map_err(|_| refused(&format!("\"{name}\" header")))?;
    }
    let outgoing = http::OutgoingRequest::new(headers);
    let method = match request.method {
        Method::Get => http::Method::Get,
        Method::Post => http::Method::Post,
    };
    outgoing
        .set_method(&method)
        .map_err(|()| refused("method"))?;
    let scheme = match request.scheme {
        Scheme::Https => http::Scheme::Https,
        Scheme::Http => http::Scheme::Http,
    };
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| refused("scheme"))?;
    outgoing
        .set_authority(Some(&request.authority))
        .map_err(|()| refused("authority"))?;
    outgoing
        .set_path_with_query(Some(&request.path))
        .map_err(|()| refused("path"))?;
    let body = outgoing.body().map_err(|()| refused("body"))?;

    // Hosts may not support every timeout; the deadline in `send_all` holds regardless.
    let options = http::RequestOptions::new();
    let _ = options.set_connect_timeout(Some(timeout_ns));
    let _ = options.set_first_byte_timeout(Some(timeout_ns));
    let _ = options.set_between_bytes_timeout(Some(timeout_ns));

    let future = outgoing_handler::handle(outgoing, Some(options)).map_err(transport_error)?;
    // When the host cannot deliver the request (connection refused, TLS
    // failure, ...) the body stream closes early; the response future then
    // carries the precise reason, so a write failure is not reported itself.
    let written = {
        let stream = body.write().map_err(|()| refused("body stream"))?;
        request
            .body
            .chunks(4096)
            .try_for_each(|chunk| stream.blocking_write_and_flush(chunk))
    };
    if written.is_ok() {
        http::OutgoingBody::finish(body, None).map_err(transport_error)?;
    }
    Ok(future)
}

/// Waits, all at once, for the response heads of requests in flight.
fn await_heads(
    in_flight: Vec<Result<http::FutureIncomingResponse, TransportError>>,
    deadline: &Pollable,
) -> Vec<Result<http::IncomingResponse, TransportError>> {
    let mut results: Vec<Option<Result<http::IncomingResponse, TransportError>>> = Vec::new();
    let mut waiting: Vec<(usize, http::FutureIncomingResponse)> = Vec::new();
    for (index, started) in in_flight.into_iter().enumerate() {
        match started {
            Ok(future) => {
                results.push(None);
                waiting.push((index, future));
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    while !waiting.is_empty() {
        let pollables: Vec<Pollable> = waiting.iter().map(|(_, f)| f.subscribe()).collect();
        let mut targets: Vec<&Pollable> = pollables.iter().collect();
        targets.push(deadline);
        let ready = poll(&targets);
        drop(pollables);
        if ready.iter().any(|&i| i as usize == waiting.len()) && deadline.ready() {
            for (index, _) in waiting.drain(..) {
                results[index] = Some(Err(TransportError::Timeout("no answer in time".into())));
            }
            break;
        }
        let mut still = Vec::new();
        for (index, future) in waiting {
            match future.get() {
                None => still.push((index, future)),
                Some(Ok(Ok(response))) => results[index] = Some(Ok(response)),
                Some(Ok(Err(code))) => results[index] = Some(Err(transport_error(code))),
                Some(Err(())) => {
                    results[index] = Some(Err(TransportError::Failed(
                        "the host lost the response".into(),
                    )));
                }
            }
        }
        waiting = still;
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(TransportError::Failed("no response".into()))))
        .collect()
}

/// Reads a response's status, headers and body (at most `max_body` bytes).
fn read_response(
    response: http::IncomingResponse,
    max_body: usize,
    deadline: &Pollable,
) -> Result<Response, TransportError> {
    let status = response.status();
    let headers = response.headers().entries();
    let body = response
        .consume()
        .map_err(|()| TransportError::Failed("the response body was already taken".into()))?;
    let mut data = Vec::new();
    {
        let stream = body.stream().map_err(|()| {
            TransportError::Failed("the response body stream was already taken".into())
        })?;
        loop {
            match stream.read(64 * 1024) {
                Ok(chunk) if chunk.is_empty() => {
                    let readable = stream.subscribe();
                    poll(&[&readable, deadline]);
                    drop(readable);
                    if deadline.ready() {
                        return Err(TransportError::Timeout(
                            "the answer's body did not arrive in time".into(),
                        ));
                    }
                }
                Ok(chunk) => {
                    if data.len() + chunk.len() > max_body {
                        return Err(TransportError::BodyTooLarge { limit: max_body });
                    }
                    data.extend_from_slice(&chunk);
                }
                Err(StreamError::Closed) => break,
                Err(e) => {
                    return Err(TransportError::Failed(format!(
                        "reading the answer failed: {}",
                        stream_error(e)
                    )));
                }
            }
        }
    }
    drop(http::IncomingBody::finish(body));
    Ok(Response {
        status,
        headers,
        body: data,
    })
}

fn stream_error(error: StreamError) -> String {
    match error {
        StreamError::Closed => "the stream was closed".into(),
        StreamError::LastOperationFailed(e) => match http::http_error_code(&e) {
            Some(code) => describe(&code),
            None => e.to_debug_string(),
        },
    }
}

fn transport_error(code: http::ErrorCode) -> TransportError {
    use http::ErrorCode as E;
    match code {
        E::ConnectionTimeout
        | E::ConnectionReadTimeout
        | E::ConnectionWriteTimeout
        | E::HttpResponseTimeout => TransportError::Timeout(describe(&code)),
        other => TransportError::Failed(describe(&other)),
    }
}

/// Words for a `wasi:http` error code, naming TLS and DNS failures precisely.
fn describe(code: &http::ErrorCode) -> String {
    use http::ErrorCode as E;
    match code {
        E::DnsTimeout => "DNS lookup timed out".into(),
        E::DnsError(p) => format!(
            "DNS lookup failed ({})",
            p.rcode.clone().unwrap_or_else(|| "no such host".into())
        ),
        E::DestinationNotFound => "the destination was not found".into(),
        E::DestinationUnavailable => "the destination is unavailable".into(),
        E::DestinationIpProhibited => "the destination address is prohibited".into(),
        E::DestinationIpUnroutable => "the destination address is unroutable".into(),
        E::ConnectionRefused => "connection refused".into(),
        E::ConnectionTerminated => "the connection was closed by the server".into(),
        E::ConnectionTimeout => "connecting timed out".into(),
        E::ConnectionReadTimeout => "reading from the server timed out".into(),
        E::ConnectionWriteTimeout => "writing to the server timed out".into(),
        E::HttpResponseTimeout => "the server did not answer in time".into(),
        E::TlsProtocolError => "TLS protocol error".into(),
        E::TlsCertificateError => {
            "TLS certificate error: the server's certificate is not trusted (check ca_bundle)"
                .into()
        }
        E::TlsAlertReceived(p) => format!(
            "the server sent TLS alert {} ({}); a missing or rejected client certificate looks like this",
            p.alert_id
                .map(|a| a.to_string())
                .unwrap_or_else(|| "?".into()),
            p.alert_message.clone().unwrap_or_default()
        ),
        E::HttpRequestDenied => "the host denied the request (destination not allowed)".into(),
        E::HttpResponseIncomplete => "the answer was cut off".into(),
        E::InternalError(Some(why)) => format!("host error: {why}"),
        other => format!("{other:?}"),
    }
}

impl From<HttpFailure> for wit::HttpFailure {
    fn from(f: HttpFailure) -> Self {
        Self {
            status: f.status,
            detail: f.detail,
        }
    }
}

impl From<HandlerError> for wit::HandlerError {
    fn from(e: HandlerError) -> Self {
        match e {
            HandlerError::Config(d) => Self::Config(d),
            HandlerError::BadCsr(d) => Self::BadCsr(d),
            HandlerError::Unauthorized(f) => Self::Unauthorized(f.into()),
            HandlerError::Rejected(f) => Self::Rejected(f.into()),
            HandlerError::ServerError(f) => Self::ServerError(f.into()),
            HandlerError::Transport(d) => Self::Transport(d),
            HandlerError::Timeout(d) => Self::Timeout(d),
            HandlerError::MalformedAnswer(d) => Self::MalformedAnswer(d),
            HandlerError::CertificateMismatch(d) => Self::CertificateMismatch(d),
            HandlerError::NotSupported(d) => Self::NotSupported(d),
        }
    }
}

impl From<IssuedCertificate> for wit::Certificate {
    fn from(c: IssuedCertificate) -> Self {
        Self {
            cert_bundle: c.cert_bundle,
            cert_raw: c.cert_raw,
        }
    }
}

impl From<Pending> for wit::Pending {
    fn from(p: Pending) -> Self {
        Self {
            poll_identifier: p.poll_identifier,
            retry_after_seconds: p.retry_after_seconds,
        }
    }
}
