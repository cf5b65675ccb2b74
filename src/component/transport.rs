//! The `wasi:http/outgoing-handler` transport: both requests of a batch in
//! flight at once, one deadline for the whole exchange, capped bodies.

use super::bindings::wasi::clocks::monotonic_clock;
use super::bindings::wasi::http::outgoing_handler;
use super::bindings::wasi::http::types as http;
use super::bindings::wasi::io::poll::{Pollable, poll};
use super::bindings::wasi::io::streams::{OutputStream, StreamError};
use crate::config::Scheme;
use crate::error::TransportCause;
use crate::text::SafeText;
use crate::transport::{Limits, Method, Request, Response, Transport, TransportError};

/// Sends requests through the host's `wasi:http/outgoing-handler`.
pub(super) struct WasiTransport;

impl Transport for WasiTransport {
    fn send_all(
        &self,
        requests: Vec<Request>,
        limits: Limits,
    ) -> Vec<Result<Response, TransportError>> {
        let mut outcomes: Vec<_> = requests.iter().map(|_| None).collect();
        self.exchange(requests, limits, &mut |index, outcome| {
            if let Some(slot) = outcomes.get_mut(index) {
                *slot = Some(outcome);
            }
        });
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err(no_response())))
            .collect()
    }

    /// Starts every request, then reads each answer as soon as its head
    /// arrives and hands it over before waiting for the others; one
    /// deadline covers the whole exchange.
    fn exchange(
        &self,
        requests: Vec<Request>,
        limits: Limits,
        arrived: &mut dyn FnMut(usize, Result<Response, TransportError>),
    ) {
        let timeout_ns = u64::from(limits.timeout_secs) * 1_000_000_000;
        let deadline = monotonic_clock::subscribe_duration(timeout_ns);
        let mut waiting: Vec<(usize, http::FutureIncomingResponse)> = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            match start(request, timeout_ns) {
                Ok(future) => waiting.push((index, future)),
                Err(e) => arrived(index, Err(e)),
            }
        }
        while !waiting.is_empty() {
            let pollables: Vec<Pollable> = waiting.iter().map(|(_, f)| f.subscribe()).collect();
            let mut targets: Vec<&Pollable> = pollables.iter().collect();
            targets.push(&deadline);
            let ready = poll(&targets);
            drop(pollables);
            if ready.iter().any(|&i| i as usize == waiting.len()) && deadline.ready() {
                for (index, _) in waiting.drain(..) {
                    arrived(
                        index,
                        Err(TransportError::failed(
                            TransportCause::Timeout,
                            "no answer in time",
                        )),
                    );
                }
                break;
            }
            let mut still = Vec::new();
            for (index, future) in waiting {
                match future.get() {
                    None => still.push((index, future)),
                    Some(Ok(Ok(response))) => {
                        arrived(index, read_response(response, limits.max_body, &deadline))
                    }
                    Some(Ok(Err(code))) => arrived(index, Err(transport_error(code))),
                    Some(Err(())) => arrived(
                        index,
                        Err(TransportError::failed(
                            TransportCause::Other,
                            "the host lost the response",
                        )),
                    ),
                }
            }
            waiting = still;
        }
    }
}

/// The outcome of a request the host never answered.
fn no_response() -> TransportError {
    TransportError::failed(TransportCause::Other, "no response")
}

/// Starts one request and writes its body.
fn start(
    request: &Request,
    timeout_ns: u64,
) -> Result<http::FutureIncomingResponse, TransportError> {
    let refused = |what: &str| {
        TransportError::failed(
            TransportCause::Other,
            format!("the host refused the request's {what}"),
        )
    };
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
    // A request without content (GET /cacerts) takes no body stream at all,
    // so the host knows at once there is no body; a body stream of unknown
    // length can otherwise go out with chunked transfer coding.
    let body = if request.body.is_empty() {
        None
    } else {
        Some(outgoing.body().map_err(|()| refused("body"))?)
    };

    // Hosts may not support every timeout; the deadline in `send_all` holds regardless.
    let options = http::RequestOptions::new();
    let _ = options.set_connect_timeout(Some(timeout_ns));
    let _ = options.set_first_byte_timeout(Some(timeout_ns));
    let _ = options.set_between_bytes_timeout(Some(timeout_ns));

    let future = outgoing_handler::handle(outgoing, Some(options)).map_err(transport_error)?;
    // When the host cannot deliver the request (connection refused, TLS
    // failure, ...) the body stream closes early; the response future then
    // carries the precise reason, so a write failure is not reported itself.
    if let Some(body) = body {
        let written = {
            let stream = body.write().map_err(|()| refused("body stream"))?;
            write_all(&stream, &request.body)
        };
        if written.is_ok() {
            http::OutgoingBody::finish(body, None).map_err(transport_error)?;
        }
    }
    Ok(future)
}

/// Reads a response's status, headers and body (at most `max_body` bytes).
fn read_response(
    response: http::IncomingResponse,
    max_body: usize,
    deadline: &Pollable,
) -> Result<Response, TransportError> {
    let status = response.status();
    let headers = response.headers().entries();
    let body = response.consume().map_err(|()| {
        TransportError::failed(TransportCause::Other, "the response body was already taken")
    })?;
    let mut data = Vec::new();
    {
        let stream = body.stream().map_err(|()| {
            TransportError::failed(
                TransportCause::Other,
                "the response body stream was already taken",
            )
        })?;
        loop {
            let r = stream.read(64 * 1024);
            match r {
                Ok(chunk) if chunk.is_empty() => {
                    let readable = stream.subscribe();
                    poll(&[&readable, deadline]);
                    drop(readable);
                    if deadline.ready() {
                        return Err(TransportError::failed(
                            TransportCause::Timeout,
                            "the answer's body did not arrive in time",
                        ));
                    }
                }
                Ok(chunk) => {
                    if data.len() + chunk.len() > max_body {
                        return Err(TransportError::BodyTooLarge { limit: max_body });
                    }
                    append(&mut data, chunk);
                }
                Err(StreamError::Closed) => break,
                Err(e) => {
                    let (cause, why) = stream_error(e);
                    return Err(TransportError::failed(
                        cause,
                        format!("reading the answer failed: {why}"),
                    ));
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

/// Writes all of `bytes` to a body stream in as few host calls as the host
/// allows (`check-write`, then `write` up to what it permits), then
/// flushes and waits for the flush.
pub(super) fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), StreamError> {
    while !bytes.is_empty() {
        let permitted = stream.check_write()?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let n = usize::try_from(permitted).map_or(bytes.len(), |p| p.min(bytes.len()));
        let (now, later) = bytes.split_at(n);
        stream.write(now)?;
        bytes = later;
    }
    stream.blocking_flush()
}

/// Adds a chunk read from a body stream to `data`; the first chunk becomes
/// `data` itself, so a body that arrives in one piece is not copied again.
pub(super) fn append(data: &mut Vec<u8>, chunk: Vec<u8>) {
    if data.is_empty() {
        *data = chunk;
    } else {
        data.extend_from_slice(&chunk);
    }
}

/// The cause and words of a failed read from a response body.
fn stream_error(error: StreamError) -> (TransportCause, String) {
    match error {
        StreamError::Closed => (
            TransportCause::ConnectionReset,
            "the stream was closed".into(),
        ),
        StreamError::LastOperationFailed(e) => match http::http_error_code(&e) {
            Some(code) => (cause(&code), describe(&code)),
            // The host's own words: only their first line, cleaned and
            // capped (a host's debug text can carry a whole backtrace).
            None => (TransportCause::Other, host_words(&e.to_debug_string())),
        },
    }
}

fn transport_error(code: http::ErrorCode) -> TransportError {
    TransportError::failed(cause(&code), describe(&code))
}

/// The cause of a `wasi:http` error code.
fn cause(code: &http::ErrorCode) -> TransportCause {
    use http::ErrorCode as E;
    match code {
        E::DnsTimeout | E::DnsError(_) | E::DestinationNotFound => TransportCause::Dns,
        E::ConnectionRefused => TransportCause::ConnectionRefused,
        E::ConnectionTerminated | E::ConnectionLimitReached | E::HttpResponseIncomplete => {
            TransportCause::ConnectionReset
        }
        E::ConnectionTimeout
        | E::ConnectionReadTimeout
        | E::ConnectionWriteTimeout
        | E::HttpResponseTimeout => TransportCause::Timeout,
        E::TlsCertificateError => TransportCause::TlsUntrusted,
        E::TlsAlertReceived(alert) => TransportCause::TlsAlert(alert.alert_id),
        E::TlsProtocolError => TransportCause::TlsProtocol,
        E::HttpRequestDenied | E::DestinationIpProhibited => TransportCause::DestinationDenied,
        _ => TransportCause::Other,
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
        E::TlsProtocolError => {
            "TLS handshake failed (TLS protocol error); hosts report an EST server certificate they do not trust this way too".into()
        }
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
        E::InternalError(None) => "host error".into(),
        other => other_code(other).into(),
    }
}

/// Words for the error codes a client seldom meets (request-side limits,
/// HTTP framing), without their payloads.
fn other_code(code: &http::ErrorCode) -> &'static str {
    use http::ErrorCode as E;
    match code {
        E::ConnectionLimitReached => "the host's connection limit was reached",
        E::HttpRequestLengthRequired => "the request needs a length (HTTP 411)",
        E::HttpRequestBodySize(_) => "the request body is too large for the host",
        E::HttpRequestMethodInvalid => "the request method is invalid",
        E::HttpRequestUriInvalid => "the request URI is invalid",
        E::HttpRequestUriTooLong => "the request URI is too long",
        E::HttpRequestHeaderSectionSize(_) | E::HttpRequestHeaderSize(_) => {
            "the request headers are too large"
        }
        E::HttpRequestTrailerSectionSize(_) | E::HttpRequestTrailerSize(_) => {
            "the request trailers are too large"
        }
        E::HttpResponseHeaderSectionSize(_) | E::HttpResponseHeaderSize(_) => {
            "the answer's headers are too large"
        }
        E::HttpResponseBodySize(_) => "the answer's body is too large",
        E::HttpResponseTrailerSectionSize(_) | E::HttpResponseTrailerSize(_) => {
            "the answer's trailers are too large"
        }
        E::HttpResponseTransferCoding(_) => "the answer's transfer coding is not supported",
        E::HttpResponseContentCoding(_) => "the answer's content coding is not supported",
        E::HttpUpgradeFailed => "the HTTP upgrade failed",
        E::HttpProtocolError => "HTTP protocol error",
        E::LoopDetected => "the host detected a request loop",
        E::ConfigurationError => "the host's HTTP configuration is broken",
        _ => "the host reported an unknown HTTP error",
    }
}

/// The first line of a host's error text, cleaned and capped.
pub(super) fn host_words(debug: &str) -> String {
    let first = debug.lines().next().unwrap_or_default();
    SafeText::new(first, 200).to_string()
}
