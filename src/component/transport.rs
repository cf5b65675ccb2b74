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
        let mut waiting: Vec<InFlight> = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            match start(request) {
                Ok(future) => waiting.push(InFlight::new(index, future)),
                Err(e) => arrived(index, Err(e)),
            }
        }
        while !waiting.is_empty() {
            let mut targets: Vec<&Pollable> = waiting.iter().map(|w| &w.ready).collect();
            targets.push(&deadline);
            let ready = poll(&targets);
            if ready.iter().any(|&i| i as usize == waiting.len()) && deadline.ready() {
                for in_flight in waiting.drain(..) {
                    arrived(
                        in_flight.index,
                        Err(TransportError::failed(
                            TransportCause::Timeout,
                            "no answer in time",
                        )),
                    );
                }
                break;
            }
            let mut still = Vec::new();
            for in_flight in waiting {
                match in_flight.future.get() {
                    None => still.push(in_flight),
                    Some(outcome) => {
                        let index = in_flight.index;
                        // The pollable is the future's child: it goes first.
                        drop(in_flight);
                        let outcome = match outcome {
                            Ok(Ok(response)) => read_response(response, limits.max_body, &deadline),
                            Ok(Err(code)) => Err(transport_error(code)),
                            Err(()) => Err(TransportError::failed(
                                TransportCause::Other,
                                "the host lost the response",
                            )),
                        };
                        arrived(index, outcome);
                    }
                }
            }
            waiting = still;
        }
    }
}

/// A request whose answer has not arrived: its response future, and the
/// pollable that tells when it is ready (made once, kept until then).
struct InFlight {
    index: usize,
    // Declared before `future`, so dropped first: a pollable must not
    // outlive the resource it was made from.
    ready: Pollable,
    future: http::FutureIncomingResponse,
}

impl InFlight {
    fn new(index: usize, future: http::FutureIncomingResponse) -> Self {
        Self {
            index,
            ready: future.subscribe(),
            future,
        }
    }
}

/// The outcome of a request the host never answered.
fn no_response() -> TransportError {
    TransportError::failed(TransportCause::Other, "no response")
}

/// Starts one request and writes its body.
fn start(request: &Request) -> Result<http::FutureIncomingResponse, TransportError> {
    let refused = |what: &str| {
        TransportError::failed(
            TransportCause::Other,
            format!("the host refused the request's {what}"),
        )
    };
    // All headers in one call; a refusal is narrowed down to the header
    // at fault only then.
    let entries: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.as_bytes().to_vec()))
        .collect();
    let headers = http::Fields::from_list(&entries).map_err(|_| {
        let fields = http::Fields::new();
        let culprit = request
            .headers
            .iter()
            .find(|(name, value)| fields.append(name, value.as_bytes()).is_err());
        refused(&culprit.map_or_else(
            || "headers".to_owned(),
            |(name, _)| format!("\"{name}\" header"),
        ))
    })?;
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

    // No request options: the exchange's own deadline (in `exchange`)
    // bounds connecting, the answer's head and its body alike, whatever
    // timeouts a host supports, and saves four host calls a request.
    // The body goes into the host's buffer before the request is handed
    // over, as far as the host takes it without waiting: the request then
    // leaves complete, head and body in one write, instead of its head
    // racing ahead of a body still being written.
    let mut unfinished = None;
    if let Some(body) = body {
        let stream = body.write().map_err(|()| refused("body stream"))?;
        match write_now(&stream, &request.body) {
            Ok([]) => {
                drop(stream);
                http::OutgoingBody::finish(body, None).map_err(transport_error)?;
            }
            rest => unfinished = Some((body, stream, rest)),
        }
    }
    let future = outgoing_handler::handle(outgoing, None).map_err(transport_error)?;
    // What the host would not buffer beforehand is written now. When the
    // host cannot deliver the request (connection refused, TLS failure, ...)
    // the body stream closes early; the response future then carries the
    // precise reason, so a write failure is not reported itself.
    if let Some((body, stream, rest)) = unfinished {
        let written = rest.and_then(|rest| write_all(&stream, rest));
        drop(stream);
        if written.is_ok() {
            http::OutgoingBody::finish(body, None).map_err(transport_error)?;
        }
    }
    Ok(future)
}

/// Writes what the stream takes of `bytes` without waiting (`check-write`,
/// then `write` within its permit), and returns the rest.
fn write_now<'a>(stream: &OutputStream, mut bytes: &'a [u8]) -> Result<&'a [u8], StreamError> {
    while !bytes.is_empty() {
        let permitted = stream.check_write()?;
        if permitted == 0 {
            break;
        }
        let n = usize::try_from(permitted).map_or(bytes.len(), |p| p.min(bytes.len()));
        let (now, later) = bytes.split_at(n);
        stream.write(now)?;
        bytes = later;
    }
    Ok(bytes)
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

/// The most `blocking-write-and-flush` takes in one call (`wasi:io`).
const ONE_CALL_WRITE: usize = 4096;

/// Writes all of `bytes` to a body stream in as few host calls as the host
/// allows, then flushes and waits for the flush: one
/// `blocking-write-and-flush` for a body that fits it (a CSR does),
/// otherwise `check-write`, then `write` up to what it permits.
pub(super) fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), StreamError> {
    if bytes.len() <= ONE_CALL_WRITE {
        return stream.blocking_write_and_flush(bytes);
    }
    loop {
        bytes = write_now(stream, bytes)?;
        if bytes.is_empty() {
            return stream.blocking_flush();
        }
        stream.subscribe().block();
    }
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
