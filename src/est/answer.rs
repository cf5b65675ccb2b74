//! What an EST answer means (RFC 7030 §4.1.3, §4.2.3): a certs-only
//! PKCS#7, a pending enrollment, or a typed error that keeps the server's
//! own (sanitised) words.

use super::pkcs7::{self, ReceivedCertificate};
use super::request::Endpoint;
use crate::error::{HandlerError, HttpFailure, TransportFailure};
use crate::text::{Redactions, SafeText};
use crate::transport::{Response, TransportError};

/// The delay assumed when a 202 answer has no usable `Retry-After`.
pub const DEFAULT_RETRY_AFTER_SECS: u32 = 60;
/// The shortest delay passed on from a `Retry-After`, in seconds.
pub const MIN_RETRY_AFTER_SECS: u32 = 1;
/// The longest delay passed on from a `Retry-After`, in seconds (one day).
pub const MAX_RETRY_AFTER_SECS: u32 = 86_400;
/// The longest server text kept in an error message, in characters.
pub const MAX_DETAIL: usize = 512;

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

/// Interprets the outcome of a request to `endpoint`. Every word of the
/// server's (and of the transport's) that the result keeps is taken as
/// possibly echoing what was sent: `secrets` are taken out of it.
pub fn interpret(
    endpoint: Endpoint,
    outcome: Result<Response, TransportError>,
    secrets: &Redactions,
) -> Result<Answer, HandlerError> {
    let op = endpoint.name();
    let response = outcome.map_err(|err| match err {
        TransportError::Failed(failure) => HandlerError::Transport(TransportFailure {
            detail: format!(
                "/{op}: {}",
                SafeText::redacted(&failure.detail, MAX_DETAIL, secrets)
            ),
            ..failure
        }),
        TransportError::BodyTooLarge { limit } => {
            HandlerError::MalformedAnswer(format!("/{op}: the answer is larger than {limit} bytes"))
        }
    })?;
    let status = response.status;
    let failure = |what: &str| HttpFailure {
        status,
        detail: format!("/{op}: {what}{}", server_text(&response, secrets)),
    };
    match status {
        200 => {
            if let Some(content_type) = response.header("content-type")
                && !acceptable_content_type(content_type)
            {
                return Err(HandlerError::MalformedAnswer(format!(
                    "/{op}: HTTP 200 with Content-Type \"{}\", not application/pkcs7-mime",
                    SafeText::redacted(content_type, 100, secrets)
                )));
            }
            pkcs7::decode_certs_only(&response.body)
                .map(Answer::Certificates)
                .map_err(|e| HandlerError::MalformedAnswer(format!("/{op}: {e}")))
        }
        202 if endpoint == Endpoint::SimpleEnroll => Ok(Answer::Pending {
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
                .map(|l| SafeText::redacted(l, 200, secrets))
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
fn server_text(response: &Response, secrets: &Redactions) -> String {
    let text = SafeText::lossy_redacted(&response.body, MAX_DETAIL, secrets);
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP
/// date (RFC 9110 §10.2.3), clamped to [`MIN_RETRY_AFTER_SECS`] ..=
/// [`MAX_RETRY_AFTER_SECS`] (a `0` or a date in the past asks for the
/// minimum, so that a client never polls in a tight loop). A missing or
/// unreadable value gives [`DEFAULT_RETRY_AFTER_SECS`].
pub fn retry_after(value: Option<&str>) -> u32 {
    let Some(value) = value else {
        return DEFAULT_RETRY_AFTER_SECS;
    };
    let secs = if let Ok(secs) = value.parse::<u64>() {
        secs
    } else {
        match httpdate::parse_http_date(value) {
            Ok(when) => when
                .duration_since(std::time::SystemTime::now())
                .map_or(0, |wait| wait.as_secs()),
            Err(_) => return DEFAULT_RETRY_AFTER_SECS,
        }
    };
    let clamped = secs.clamp(
        u64::from(MIN_RETRY_AFTER_SECS),
        u64::from(MAX_RETRY_AFTER_SECS),
    );
    u32::try_from(clamped).unwrap_or(MAX_RETRY_AFTER_SECS)
}
