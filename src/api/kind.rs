//! The kinds of problem the API answers with, in one list. A kind is named
//! in a problem document's `type` (`urn:est-ca-handler:problem:<kind>`)
//! and in its [`HEADER`], which hosts read to count outcomes without
//! parsing the body. The component's documents, the host's own, its
//! metrics, `docs/openapi.yaml` and the Python package all take their
//! names from here.

use crate::error::{HandlerError, TransportCause};
use core::fmt;

/// The response header naming a problem answer's kind (its `type` without
/// [`URN_PREFIX`]), so that a host can tell outcomes apart from the head.
pub const HEADER: &str = "problem-kind";

/// What a problem document's `type` starts with; the kind's name follows.
pub const URN_PREFIX: &str = "urn:est-ca-handler:problem:";

/// A kind of problem answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The handler's configuration does not load (WIT `config`).
    Config,
    /// The CSR, or a poll identifier, is malformed (WIT `bad-csr`).
    BadCsr,
    /// The request itself is malformed: its JSON, its body or its head.
    BadRequest,
    /// The EST server refused the handler's credentials (WIT
    /// `unauthorized`, `502`), or the API refused its caller's (`401`).
    Unauthorized,
    /// The EST server rejected the request (WIT `rejected`).
    Rejected,
    /// The EST server failed (WIT `server-error`).
    ServerError,
    /// The EST server could not be reached (WIT `transport`, any cause but
    /// a timeout).
    Transport,
    /// The EST server did not answer in time (WIT `transport` with cause
    /// `timeout`), or the host's deadline stopped the handler.
    Timeout,
    /// The EST server's answer is unusable (WIT `malformed-answer`).
    MalformedAnswer,
    /// The issued certificate does not match the CSR (WIT
    /// `certificate-mismatch`).
    CertificateMismatch,
    /// The operation is not offered (WIT `not-supported`).
    NotSupported,
    /// The request body is over the API's limit.
    TooLarge,
    /// No such route.
    NotFound,
    /// The route takes another method.
    MethodNotAllowed,
    /// No API token is configured, so the API issues nothing.
    ApiAuthUnconfigured,
    /// The `api_auth` setting is neither `token` nor `none`.
    ApiAuthInvalid,
    /// The host is at its limits of instances or connections.
    Overloaded,
    /// The request body did not arrive within the host's body timeout.
    BodyTimeout,
    /// The handler component failed in the host.
    Host,
}

impl ProblemKind {
    /// Every kind, in the order of [`index`](Self::index).
    pub const ALL: [Self; 19] = [
        Self::Config,
        Self::BadCsr,
        Self::BadRequest,
        Self::Unauthorized,
        Self::Rejected,
        Self::ServerError,
        Self::Transport,
        Self::Timeout,
        Self::MalformedAnswer,
        Self::CertificateMismatch,
        Self::NotSupported,
        Self::TooLarge,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::ApiAuthUnconfigured,
        Self::ApiAuthInvalid,
        Self::Overloaded,
        Self::BodyTimeout,
        Self::Host,
    ];

    /// The kind's place in [`ALL`](Self::ALL). The match is exhaustive, so
    /// a new kind needs a place, and a test checks that `ALL` holds it
    /// there.
    pub const fn index(self) -> usize {
        match self {
            Self::Config => 0,
            Self::BadCsr => 1,
            Self::BadRequest => 2,
            Self::Unauthorized => 3,
            Self::Rejected => 4,
            Self::ServerError => 5,
            Self::Transport => 6,
            Self::Timeout => 7,
            Self::MalformedAnswer => 8,
            Self::CertificateMismatch => 9,
            Self::NotSupported => 10,
            Self::TooLarge => 11,
            Self::NotFound => 12,
            Self::MethodNotAllowed => 13,
            Self::ApiAuthUnconfigured => 14,
            Self::ApiAuthInvalid => 15,
            Self::Overloaded => 16,
            Self::BodyTimeout => 17,
            Self::Host => 18,
        }
    }

    /// The kind's name, as in `type`, [`HEADER`] and the metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::BadCsr => "bad-csr",
            Self::BadRequest => "bad-request",
            Self::Unauthorized => "unauthorized",
            Self::Rejected => "rejected",
            Self::ServerError => "server-error",
            Self::Transport => "transport",
            Self::Timeout => "timeout",
            Self::MalformedAnswer => "malformed-answer",
            Self::CertificateMismatch => "certificate-mismatch",
            Self::NotSupported => "not-supported",
            Self::TooLarge => "too-large",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::ApiAuthUnconfigured => "api-auth-unconfigured",
            Self::ApiAuthInvalid => "api-auth-invalid",
            Self::Overloaded => "overloaded",
            Self::BodyTimeout => "body-timeout",
            Self::Host => "host",
        }
    }

    /// The kind named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The kind a problem document's `type` names, if it is one of these.
    pub fn from_uri(uri: &str) -> Option<Self> {
        uri.strip_prefix(URN_PREFIX).and_then(Self::from_name)
    }

    /// The problem document's `type`.
    pub fn uri(self) -> String {
        format!("{URN_PREFIX}{}", self.name())
    }

    /// The kind of the answer to a handler's failure.
    pub fn of(error: &HandlerError) -> Self {
        match error {
            HandlerError::Config(_) => Self::Config,
            HandlerError::BadCsr(_) => Self::BadCsr,
            HandlerError::Unauthorized(_) => Self::Unauthorized,
            HandlerError::Rejected(_) => Self::Rejected,
            HandlerError::ServerError(_) => Self::ServerError,
            HandlerError::Transport(f) if f.cause == TransportCause::Timeout => Self::Timeout,
            HandlerError::Transport(_) => Self::Transport,
            HandlerError::MalformedAnswer(_) => Self::MalformedAnswer,
            HandlerError::CertificateMismatch(_) => Self::CertificateMismatch,
            HandlerError::NotSupported(_) => Self::NotSupported,
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_in_its_place_with_its_own_name() {
        for (place, kind) in ProblemKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), place, "{kind}");
            assert_eq!(ProblemKind::from_name(kind.name()), Some(kind));
            assert_eq!(ProblemKind::from_uri(&kind.uri()), Some(kind));
        }
        let mut names: Vec<_> = ProblemKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ProblemKind::ALL.len());
        assert_eq!(ProblemKind::from_name("other"), None);
        assert_eq!(
            ProblemKind::from_uri("urn:ietf:params:acme:error:serverInternal"),
            None
        );
        assert_eq!(ProblemKind::from_uri("config"), None);
    }
}
