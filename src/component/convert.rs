//! The handler's values as WIT values. Conversions only: nothing here
//! logs or decides.

use super::wit;
use crate::error::{HandlerError, HttpFailure, TransportCause, TransportFailure, words};
use crate::handler::{IssuedCertificate, Pending};

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
            HandlerError::BadCsr(e) => Self::BadCsr(words(&e)),
            HandlerError::Unauthorized(f) => Self::Unauthorized(f.into()),
            HandlerError::Rejected(f) => Self::Rejected(f.into()),
            HandlerError::ServerError(f) => Self::ServerError(f.into()),
            HandlerError::Transport(f) => Self::Transport(f.into()),
            HandlerError::MalformedAnswer(e) => Self::MalformedAnswer(words(&e)),
            HandlerError::CertificateMismatch(d) => Self::CertificateMismatch(d),
            HandlerError::NotSupported(d) => Self::NotSupported(d),
        }
    }
}

impl From<TransportFailure> for wit::TransportFailure {
    fn from(f: TransportFailure) -> Self {
        Self {
            cause: match f.cause {
                TransportCause::Dns => wit::TransportCause::Dns,
                TransportCause::ConnectionRefused => wit::TransportCause::ConnectionRefused,
                TransportCause::ConnectionReset => wit::TransportCause::ConnectionReset,
                TransportCause::TlsUntrusted => wit::TransportCause::TlsUntrusted,
                TransportCause::TlsAlert(code) => wit::TransportCause::TlsAlert(code),
                TransportCause::TlsProtocol => wit::TransportCause::TlsProtocol,
                TransportCause::DestinationDenied => wit::TransportCause::DestinationDenied,
                TransportCause::Timeout => wit::TransportCause::Timeout,
                TransportCause::Other => wit::TransportCause::Other,
            },
            detail: f.detail,
        }
    }
}

impl From<IssuedCertificate> for wit::Certificate {
    fn from(c: IssuedCertificate) -> Self {
        Self {
            cert_bundle: c.cert_bundle,
            cert_raw: c.cert_raw,
            warnings: c.warnings,
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
