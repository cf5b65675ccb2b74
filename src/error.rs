//! The handler's typed errors, mirroring the WIT `handler-error` variant.

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

/// Why a handler call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// Missing, invalid or conflicting configuration.
    Config(String),
    /// The CSR is not a well-formed PKCS#10 request (or not the one a
    /// poll identifier belongs to).
    BadCsr(CsrError),
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
    MalformedAnswer(String),
    /// An issued certificate that does not match the request.
    CertificateMismatch(String),
    /// An operation this handler does not offer.
    NotSupported(String),
}

impl HandlerError {
    /// The same error with `note` appended to its detail. A CSR error,
    /// which comes before anything is sent to the CA, has no detail to
    /// take one and is returned as it is.
    pub fn with_note(self, note: &str) -> Self {
        self.map_detail(|detail| detail + note)
    }

    /// The same error with the handler's own secrets taken out of its
    /// detail (see [`Redactions`]).
    pub fn redacted(self, secrets: &Redactions) -> Self {
        if secrets.is_empty() {
            return self;
        }
        if let Self::BadCsr(e) = self {
            return Self::BadCsr(e.redacted(secrets));
        }
        self.map_detail(|detail| match secrets.apply(&detail) {
            std::borrow::Cow::Borrowed(_) => detail,
            std::borrow::Cow::Owned(clean) => clean,
        })
    }

    /// The same error with `change` applied to its detail.
    fn map_detail(self, change: impl Fn(String) -> String) -> Self {
        let http = |failure: HttpFailure| HttpFailure {
            detail: change(failure.detail),
            ..failure
        };
        match self {
            Self::Config(d) => Self::Config(change(d)),
            Self::BadCsr(e) => Self::BadCsr(e),
            Self::Unauthorized(f) => Self::Unauthorized(http(f)),
            Self::Rejected(f) => Self::Rejected(http(f)),
            Self::ServerError(f) => Self::ServerError(http(f)),
            Self::Transport(f) => Self::Transport(TransportFailure {
                detail: change(f.detail),
                ..f
            }),
            Self::MalformedAnswer(d) => Self::MalformedAnswer(change(d)),
            Self::CertificateMismatch(d) => Self::CertificateMismatch(change(d)),
            Self::NotSupported(d) => Self::NotSupported(change(d)),
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
