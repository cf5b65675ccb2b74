//! The EST protocol (RFC 7030 §4.1 and §4.2): the requests the handler
//! sends and what each answer means.

use crate::config::{Auth, Config, sanitize};
use crate::csr::Csr;
use crate::error::{HandlerError, HttpFailure, TransportFailure};
use crate::http::{Limits, MAX_BODY, Method, Request, Response, TransportError};
use crate::pkcs7::{self, ReceivedCertificate};

/// The delay assumed when a 202 answer has no usable `Retry-After`.
pub const DEFAULT_RETRY_AFTER_SECS: u32 = 60;
/// The longest server text kept in an error message, in characters.
pub const MAX_DETAIL: usize = 512;

/// The EST operations the handler uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `GET /cacerts` (§4.1).
    CaCerts,
    /// `POST /simpleenroll` (§4.2.1).
    SimpleEnroll,
}

impl Operation {
    /// The path segment of the operation.
    pub fn name(self) -> &'static str {
        match self {
            Self::CaCerts => "cacerts",
            Self::SimpleEnroll => "simpleenroll",
        }
    }
}

/// What a successful EST answer carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The certificates of a certs-only message.
    Certificates(Vec<ReceivedCertificate>),
    /// HTTP 202: the server will decide later (§4.2.3).
    Pending {
        /// Seconds the server asked to wait.
        retry_after_secs: u32,
    },
}

/// The request for `operation`; `csr` is the body of an enrollment.
pub fn request(config: &Config, operation: Operation, csr: Option<&Csr>) -> Request {
    let mut headers = vec![(
        "user-agent".to_owned(),
        concat!("est-ca-handler/", env!("CARGO_PKG_VERSION")).to_owned(),
    )];
    if let Auth::Basic { user, password } = &config.auth {
        // Sent up front: not every EST server sends a challenge first.
        let credentials =
            crate::encoding::base64_line(format!("{user}:{}", password.expose()).as_bytes());
        headers.push(("authorization".to_owned(), format!("Basic {credentials}")));
    }
    let (method, body) = match (operation, csr) {
        (Operation::SimpleEnroll, Some(csr)) => {
            let body = csr.est_body().into_bytes();
            headers.push(("content-type".to_owned(), "application/pkcs10".to_owned()));
            headers.push(("content-transfer-encoding".to_owned(), "base64".to_owned()));
            headers.push(("content-length".to_owned(), body.len().to_string()));
            (Method::Post, body)
        }
        _ => (Method::Get, Vec::new()),
    };
    Request {
        method,
        scheme: config.url.scheme,
        authority: config.url.authority.clone(),
        path: config.url.path(operation.name()),
        headers,
        body,
    }
}

/// The limits for requests made under `config`.
pub fn limits(config: &Config) -> Limits {
    Limits {
        timeout_secs: config.request_timeout_secs,
        max_body: MAX_BODY,
    }
}

/// Interprets the outcome of `operation`'s request.
pub fn interpret(
    operation: Operation,
    outcome: Result<Response, TransportError>,
) -> Result<Answer, HandlerError> {
    let op = operation.name();
    let response = outcome.map_err(|err| match err {
        TransportError::Failed(failure) => HandlerError::Transport(TransportFailure {
            detail: format!("/{op}: {}", failure.detail),
            ..failure
        }),
        TransportError::BodyTooLarge { limit } => {
            HandlerError::MalformedAnswer(format!("/{op}: the answer is larger than {limit} bytes"))
        }
    })?;
    let status = response.status;
    let failure = |what: &str| HttpFailure {
        status,
        detail: format!("/{op}: {what}{}", server_text(&response)),
    };
    match status {
        200 => {
            if let Some(content_type) = response.header("content-type")
                && !acceptable_content_type(content_type)
            {
                return Err(HandlerError::MalformedAnswer(format!(
                    "/{op}: HTTP 200 with Content-Type \"{}\", not application/pkcs7-mime",
                    sanitize(content_type, 100)
                )));
            }
            pkcs7::decode_certs_only(&response.body)
                .map(Answer::Certificates)
                .map_err(|e| HandlerError::MalformedAnswer(format!("/{op}: {e}")))
        }
        202 if operation == Operation::SimpleEnroll => Ok(Answer::Pending {
            retry_after_secs: retry_after(response.header("retry-after")),
        }),
        401 | 403 => Err(HandlerError::Unauthorized(failure(
            "the server refused the credentials",
        ))),
        400..=499 => Err(HandlerError::Rejected(failure(
            "the server rejected the request",
        ))),
        300..=399 => {
            let to = response
                .header("location")
                .map(|l| sanitize(l, 200))
                .unwrap_or_default();
            Err(HandlerError::ServerError(failure(&format!(
                "redirect to \"{to}\" not followed"
            ))))
        }
        500..=599 => Err(HandlerError::ServerError(failure("the server failed"))),
        _ => Err(HandlerError::ServerError(failure("unexpected HTTP status"))),
    }
}

fn acceptable_content_type(value: &str) -> bool {
    let media = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media.contains("pkcs7") || media == "application/octet-stream"
}

/// The server's own words from an error answer, sanitised and shortened,
/// prefixed with `": "`; empty when it sent none.
fn server_text(response: &Response) -> String {
    let text = String::from_utf8_lossy(&response.body);
    let text = sanitize(&text, MAX_DETAIL);
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP
/// date (RFC 9110 §10.2.3). A missing or unreadable value gives the default.
pub fn retry_after(value: Option<&str>) -> u32 {
    let Some(value) = value else {
        return DEFAULT_RETRY_AFTER_SECS;
    };
    if let Ok(secs) = value.parse::<u64>() {
        return u32::try_from(secs).unwrap_or(u32::MAX);
    }
    match httpdate::parse_http_date(value) {
        Ok(when) => match when.duration_since(std::time::SystemTime::now()) {
            Ok(wait) => u32::try_from(wait.as_secs()).unwrap_or(u32::MAX),
            Err(_) => 0,
        },
        Err(_) => DEFAULT_RETRY_AFTER_SECS,
    }
}
