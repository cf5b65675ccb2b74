//! What an EST answer means (RFC 7030 §4.1.3, §4.2.3): a certs-only
//! PKCS#7, a pending enrollment, or a typed error that keeps the server's
//! own (sanitised) words.

use super::pkcs7::{self, Pkcs7Error, ReceivedCertificate};
use super::request::Endpoint;
use crate::encoding::DecodeError;
use crate::error::{HandlerError, HttpFailure, TransportFailure, UnreturnedCertificate};
use crate::text::{Redactions, SafeText};
use crate::transport::{Response, TransportError};
use crate::x509::names::NamesError;
use core::fmt;

/// The delay assumed when a 202 answer has no usable `Retry-After`.
pub const DEFAULT_RETRY_AFTER_SECS: u32 = 60;
/// The shortest delay passed on from a `Retry-After`, in seconds.
pub const MIN_RETRY_AFTER_SECS: u32 = 1;
/// The longest delay passed on from a `Retry-After`, in seconds (one day).
pub const MAX_RETRY_AFTER_SECS: u32 = 86_400;
/// The longest server text kept in an error message, in characters.
pub const MAX_DETAIL: usize = 512;

/// Why an EST server's answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// The answer's body was larger than the transport's limit.
    TooLarge {
        /// Where the request went.
        endpoint: Endpoint,
        /// The limit, in bytes.
        limit: usize,
    },
    /// HTTP 200 with a Content-Type that is not PKCS#7.
    ContentType {
        /// Where the request went.
        endpoint: Endpoint,
        /// The Content-Type as sent (cleaned and without the handler's
        /// secrets: it comes from the server).
        content_type: SafeText,
    },
    /// HTTP 200 whose body is not a usable certs-only PKCS#7.
    Pkcs7 {
        /// Where the request went.
        endpoint: Endpoint,
        /// What is wrong with the body.
        error: Pkcs7Error,
    },
    /// `/cacerts` answered that its answer is pending.
    PendingCaCerts,
    /// The names of the certificate `/simpleenroll` issued cannot be read.
    IssuedNames(NamesError),
    /// None of the CA certificates from `/cacerts` issued the certificate.
    NoIssuer {
        /// How many CA certificates `/cacerts` returned.
        ca_certificates: usize,
        /// The issued certificate's issuer, as an RFC 4514 string.
        issuer: String,
    },
    /// A certificate was issued, but `cause` kept it from being returned.
    Unreturned {
        /// Why the certificate could not be returned.
        cause: Box<AnswerError>,
        /// The certificate, so that it is not lost.
        certificate: Box<UnreturnedCertificate>,
    },
}

impl AnswerError {
    /// Takes the handler's own secrets out of the outside text it holds
    /// (see [`Redactions`]).
    pub fn redact(&mut self, secrets: &Redactions) {
        match self {
            Self::ContentType { content_type, .. } => content_type.redact(secrets),
            Self::Pkcs7 {
                error:
                    Pkcs7Error::PemLabel(label)
                    | Pkcs7Error::Encoding(DecodeError::UnterminatedPem(label)),
                ..
            } => label.redact(secrets),
            Self::NoIssuer { issuer, .. } => secrets.apply_to(issuer),
            Self::Unreturned { cause, certificate } => {
                cause.redact(secrets);
                certificate.redact(secrets);
            }
            Self::TooLarge { .. }
            | Self::Pkcs7 { .. }
            | Self::PendingCaCerts
            | Self::IssuedNames(_) => {}
        }
    }
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { endpoint, limit } => write!(
                f,
                "/{}: the answer is larger than {limit} bytes",
                endpoint.name()
            ),
            Self::ContentType {
                endpoint,
                content_type,
            } => write!(
                f,
                "/{}: HTTP 200 with Content-Type \"{content_type}\", not application/pkcs7-mime",
                endpoint.name()
            ),
            Self::Pkcs7 { endpoint, error } => write!(f, "/{}: {error}", endpoint.name()),
            Self::PendingCaCerts => f.write_str("/cacerts: unexpected pending answer"),
            Self::IssuedNames(why) => write!(
                f,
                "/simpleenroll: the issued certificate's names cannot be read: {why}"
            ),
            Self::NoIssuer {
                ca_certificates,
                issuer,
            } => write!(
                f,
                "none of the {ca_certificates} CA certificate(s) from /cacerts is the issuer \"{issuer}\""
            ),
            Self::Unreturned { cause, certificate } => write!(f, "{cause} ({certificate})"),
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
        TransportError::BodyTooLarge { limit } => AnswerError::TooLarge { endpoint, limit }.into(),
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
                return Err(AnswerError::ContentType {
                    endpoint,
                    content_type: SafeText::redacted(content_type, 100, secrets),
                }
                .into());
            }
            pkcs7::decode_certs_only(&response.body)
                .map(Answer::Certificates)
                .map_err(|error| AnswerError::Pkcs7 { endpoint, error }.into())
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
