//! RFC 9457 problem documents: every error the API answers, with the
//! handler's typed failures mapped to HTTP statuses.

use super::kind::{self, ProblemKind};
use super::message::{ApiResponse, MAX_REQUEST_BODY};
use crate::error::{HandlerError, TransportCause, words};
use serde::Serialize;

/// An RFC 9457 problem document.
#[derive(Serialize)]
pub(crate) struct Problem<'a> {
    /// The problem type, a URI.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// A short summary of the problem type.
    pub(crate) title: &'a str,
    /// The HTTP status.
    pub(crate) status: u16,
    /// What happened this time.
    pub(crate) detail: String,
    /// The EST server's own HTTP status, when the problem is its answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) est_status: Option<u16>,
    /// Why the EST server could not be reached (a transport failure's
    /// cause, named as in the WIT contract).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cause: Option<&'static str>,
    /// The TLS alert the EST server sent, when the cause is `tls-alert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls_alert: Option<u8>,
}

/// A problem document answer of `kind`.
pub fn problem(
    status: u16,
    kind: ProblemKind,
    title: &str,
    detail: impl Into<String>,
) -> ApiResponse {
    let document = Problem {
        kind: kind.uri(),
        title,
        status,
        detail: detail.into(),
        est_status: None,
        cause: None,
        tls_alert: None,
    };
    answer(kind, &document)
}

/// The answer carrying `document`, its kind named in [`kind::HEADER`].
fn answer(kind: ProblemKind, document: &Problem<'_>) -> ApiResponse {
    let mut response = ApiResponse::json_as(document.status, document, "application/problem+json");
    response.headers.push((kind::HEADER, kind.name().into()));
    response
}

/// The answer to a body larger than [`MAX_REQUEST_BODY`].
pub fn too_large() -> ApiResponse {
    problem(
        413,
        ProblemKind::TooLarge,
        "Request body too large",
        format!("the body must be at most {MAX_REQUEST_BODY} bytes"),
    )
}

pub(crate) fn handler_problem(error: &HandlerError) -> ApiResponse {
    handler_problem_as(error, None)
}

/// The problem document for `error`, with `status` instead of the usual one.
pub(crate) fn handler_problem_as(
    error: &HandlerError,
    override_status: Option<u16>,
) -> ApiResponse {
    let kind = ProblemKind::of(error);
    let mut cause = None;
    let shown;
    let (status, title, est_status, detail) = match error {
        HandlerError::Config(d) => (500, "Handler configuration error", None, d),
        HandlerError::BadCsr(e) => {
            shown = words(e);
            (400, "Bad CSR", None, &shown)
        }
        HandlerError::Unauthorized(f) => (
            502,
            "The EST server refused the handler's credentials",
            Some(f.status),
            &f.detail,
        ),
        HandlerError::Rejected(f) => (
            502,
            "The EST server rejected the request",
            Some(f.status),
            &f.detail,
        ),
        HandlerError::ServerError(f) => (502, "The EST server failed", Some(f.status), &f.detail),
        HandlerError::Transport(f) if f.cause == TransportCause::Timeout => {
            cause = Some(f.cause);
            (
                504,
                "The EST server did not answer in time",
                None,
                &f.detail,
            )
        }
        HandlerError::Transport(f) => {
            cause = Some(f.cause);
            (502, "The EST server could not be reached", None, &f.detail)
        }
        HandlerError::MalformedAnswer(e) => {
            shown = words(e);
            (502, "The EST server's answer is unusable", None, &shown)
        }
        HandlerError::CertificateMismatch(d) => (
            502,
            "The issued certificate does not match the request",
            None,
            d,
        ),
        HandlerError::NotSupported(d) => (501, "Not supported", None, d),
    };
    let status = override_status.unwrap_or(status);
    let document = Problem {
        kind: kind.uri(),
        title,
        status,
        detail: detail.clone(),
        est_status,
        cause: cause.map(TransportCause::name),
        tls_alert: match cause {
            Some(TransportCause::TlsAlert(code)) => code,
            _ => None,
        },
    };
    answer(kind, &document)
}
