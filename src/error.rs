//! The handler's typed errors, mirroring the WIT `handler-error` variant.

use crate::est::answer::AnswerError;
use crate::text::Redactions;
use crate::x509::csr::CsrError;
use core::fmt;

/// An answer from the CA that carried an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, with the CA's own (sanitised, shortened) text.
    pub detail: String,
}

/// Why a request got no answer, as far as the transport can tell. Hosts
/// and tools choose their hints from this, never from the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportCause {
    /// The host name could not be resolved (or the lookup timed out).
    Dns,
    /// Nothing accepted a connection at the address and port.
    ConnectionRefused,
    /// The connection was reset or closed before the answer was complete.
    ConnectionReset,
    /// The server's TLS certificate is not trusted.
    TlsUntrusted,
    /// The server ended the TLS handshake with an alert (its code, when
    /// the host reports it).
    TlsAlert(Option<u8>),
    /// The TLS handshake failed otherwise.
    TlsProtocol,
    /// The host's sandbox refused the destination.
    DestinationDenied,
    /// No answer within the configured time.
    Timeout,
    /// Anything else; the detail says what.
    Other,
}

impl TransportCause {
    /// The cause's name in the WIT contract and in problem documents.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::ConnectionRefused => "connection-refused",
            Self::ConnectionReset => "connection-reset",
            Self::TlsUntrusted => "tls-untrusted",
            Self::TlsAlert(_) => "tls-alert",
            Self::TlsProtocol => "tls-protocol",
            Self::DestinationDenied => "destination-denied",
            Self::Timeout => "timeout",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for TransportCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A request that got no answer: its cause and what happened, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportFailure {
    /// What kind of failure it was.
    pub cause: TransportCause,
    /// The failure in words.
    pub detail: String,
}

impl TransportFailure {
    /// A failure of `cause`, described by `detail`.
    pub fn new(cause: TransportCause, detail: impl Into<String>) -> Self {
        Self {
            cause,
            detail: detail.into(),
        }
    }
}

/// A certificate the CA issued that the handler could not return as a
/// result: the error that kept it from being returned carries it, so that
/// it is not lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreturnedCertificate {
    /// Its serial number, as printed in messages.
    pub serial: String,
    /// Its subject, as an RFC 4514 string.
    pub subject: String,
    /// Its DER, as base64 on one line.
    pub base64: String,
}

impl UnreturnedCertificate {
    /// Takes the handler's own secrets out of its words (a subject can
    /// echo them).
    pub fn redact(&mut self, secrets: &Redactions) {
        for words in [&mut self.serial, &mut self.subject, &mut self.base64] {
            secrets.apply_to(words);
        }
    }
}

/// Its PEM is on one line, as error texts are (a reader that needs its
/// line breaks back gets them with `fold -w 64`).
impl fmt::Display for UnreturnedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the CA issued certificate serial {} for \"{}\", which could not be returned as a result; its PEM: -----BEGIN CERTIFICATE----- {} -----END CERTIFICATE-----",
            self.serial, self.subject, self.base64
        )
    }
}

/// Why a handler call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// Missing, invalid or conflicting configuration.
    Config(String),
    /// The CSR is not a well-formed PKCS#10 request (or not the one a
    /// poll identifier belongs to).
    BadCsr(Box<CsrError>),
    /// The CA refused the credentials (HTTP 401 or 403).
    Unauthorized(HttpFailure),
    /// The CA rejected the request (other HTTP 4xx).
    Rejected(HttpFailure),
    /// The CA failed (HTTP 5xx) or answered with an unexpected status.
    ServerError(HttpFailure),
    /// No answer: DNS, connection, TLS, a destination the host refused, or
    /// no answer within the configured time.
    Transport(TransportFailure),
    /// An answer that could not be understood.
    MalformedAnswer(Box<AnswerError>),
    /// An issued certificate that does not match the request.
    CertificateMismatch(String),
    /// An operation this handler does not offer.
    NotSupported(String),
}

impl HandlerError {
    /// The same error, saying that `certificate` was issued although it
    /// could not be returned. A CSR error comes before anything is sent
    /// to the CA, so no certificate follows it: it is returned as it is.
    pub fn with_unreturned(self, certificate: UnreturnedCertificate) -> Self {
        match self {
            Self::MalformedAnswer(cause) => AnswerError::Unreturned {
                cause,
                certificate: Box::new(certificate),
            }
            .into(),
            mut other => {
                if let Some(detail) = other.detail_mut() {
                    *detail = format!("{detail} ({certificate})");
                }
                other
            }
        }
    }

    /// The same error with the handler's own secrets taken out of the
    /// outside text it holds (see [`Redactions`]).
    pub fn redacted(mut self, secrets: &Redactions) -> Self {
        if secrets.is_empty() {
            return self;
        }
        match &mut self {
            Self::BadCsr(e) => e.redact(secrets),
            Self::MalformedAnswer(e) => e.redact(secrets),
            other => {
                if let Some(detail) = other.detail_mut() {
                    secrets.apply_to(detail);
                }
            }
        }
        self
    }

    /// The detail of a variant that holds it as words.
    fn detail_mut(&mut self) -> Option<&mut String> {
        match self {
            Self::Config(d) | Self::CertificateMismatch(d) | Self::NotSupported(d) => Some(d),
            Self::Unauthorized(f) | Self::Rejected(f) | Self::ServerError(f) => Some(&mut f.detail),
            Self::Transport(f) => Some(&mut f.detail),
            Self::BadCsr(_) | Self::MalformedAnswer(_) => None,
        }
    }

    /// A short, stable name for the kind of error (the WIT case name).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Config(_) => "config",
            Self::BadCsr(_) => "bad-csr",
            Self::Unauthorized(_) => "unauthorized",
            Self::Rejected(_) => "rejected",
            Self::ServerError(_) => "server-error",
            Self::Transport(_) => "transport",
            Self::MalformedAnswer(_) => "malformed-answer",
            Self::CertificateMismatch(_) => "certificate-mismatch",
            Self::NotSupported(_) => "not-supported",
        }
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(d) => write!(f, "configuration error: {d}"),
            Self::BadCsr(e) => write!(f, "bad CSR: {e}"),
            Self::Unauthorized(h) => write!(f, "unauthorized (HTTP {}): {}", h.status, h.detail),
            Self::Rejected(h) => write!(f, "rejected by the CA (HTTP {}): {}", h.status, h.detail),
            Self::ServerError(h) => write!(f, "CA server error (HTTP {}): {}", h.status, h.detail),
            Self::Transport(t) if t.cause == TransportCause::Timeout => {
                write!(f, "timeout: {}", t.detail)
            }
            Self::Transport(t) => write!(f, "transport error ({}): {}", t.cause, t.detail),
            Self::MalformedAnswer(e) => write!(f, "malformed answer from the CA: {e}"),
            Self::CertificateMismatch(d) => {
                write!(f, "issued certificate does not match the request: {d}")
            }
            Self::NotSupported(d) => write!(f, "not supported: {d}"),
        }
    }
}

impl std::error::Error for HandlerError {}

/// `shown`'s words: one copy of the formatting for every typed cause.
#[inline(never)]
pub(crate) fn words(shown: &dyn fmt::Display) -> String {
    shown.to_string()
}

impl From<CsrError> for HandlerError {
    fn from(error: CsrError) -> Self {
        Self::BadCsr(Box::new(error))
    }
}

impl From<AnswerError> for HandlerError {
    fn from(error: AnswerError) -> Self {
        Self::MalformedAnswer(Box::new(error))
    }
}

/// acme2certifier's answer to a revocation request it cannot serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationError {
    /// The HTTP status the ACME server should answer with.
    pub code: u16,
    /// An ACME error type URN.
    pub message: String,
    /// A human-readable explanation.
    pub detail: String,
}
