//! The handler's typed errors, mirroring the WIT `handler-error` variant.

use core::fmt;

/// An answer from the CA that carried an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, with the CA's own (sanitised, shortened) text.
    pub detail: String,
}

/// Why a handler call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// Missing, invalid or conflicting configuration.
    Config(String),
    /// The CSR is not a well-formed PKCS#10 request.
    BadCsr(String),
    /// The CA refused the credentials (HTTP 401 or 403).
    Unauthorized(HttpFailure),
    /// The CA rejected the request (other HTTP 4xx).
    Rejected(HttpFailure),
    /// The CA failed (HTTP 5xx) or answered with an unexpected status.
    ServerError(HttpFailure),
    /// No answer: DNS, connection, TLS, or a destination the host refused.
    Transport(String),
    /// No answer within the configured time.
    Timeout(String),
    /// An answer that could not be understood.
    MalformedAnswer(String),
    /// An issued certificate that does not match the request.
    CertificateMismatch(String),
    /// An operation this handler does not offer.
    NotSupported(String),
}

impl HandlerError {
    /// The same error with `note` appended to its detail.
    pub fn with_note(self, note: &str) -> Self {
        let add = |detail: String| detail + note;
        let add_http = |failure: HttpFailure| HttpFailure {
            detail: failure.detail + note,
            ..failure
        };
        match self {
            Self::Config(d) => Self::Config(add(d)),
            Self::BadCsr(d) => Self::BadCsr(add(d)),
            Self::Unauthorized(f) => Self::Unauthorized(add_http(f)),
            Self::Rejected(f) => Self::Rejected(add_http(f)),
            Self::ServerError(f) => Self::ServerError(add_http(f)),
            Self::Transport(d) => Self::Transport(add(d)),
            Self::Timeout(d) => Self::Timeout(add(d)),
            Self::MalformedAnswer(d) => Self::MalformedAnswer(add(d)),
            Self::CertificateMismatch(d) => Self::CertificateMismatch(add(d)),
            Self::NotSupported(d) => Self::NotSupported(add(d)),
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
            Self::Timeout(_) => "timeout",
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
            Self::BadCsr(d) => write!(f, "bad CSR: {d}"),
            Self::Unauthorized(h) => write!(f, "unauthorized (HTTP {}): {}", h.status, h.detail),
            Self::Rejected(h) => write!(f, "rejected by the CA (HTTP {}): {}", h.status, h.detail),
            Self::ServerError(h) => write!(f, "CA server error (HTTP {}): {}", h.status, h.detail),
            Self::Transport(d) => write!(f, "transport error: {d}"),
            Self::Timeout(d) => write!(f, "timeout: {d}"),
            Self::MalformedAnswer(d) => write!(f, "malformed answer from the CA: {d}"),
            Self::CertificateMismatch(d) => {
                write!(f, "issued certificate does not match the request: {d}")
            }
            Self::NotSupported(d) => write!(f, "not supported: {d}"),
        }
    }
}

impl std::error::Error for HandlerError {}

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
