//! The host's own problem documents (`application/problem+json`), for the
//! requests it answers without the component.

use crate::limits::{RETRY_AFTER_SECS, seconds};
use est_ca_handler::api::{ProblemKind, kind};
use est_ca_handler::error::TransportCause;
use http_body_util::BodyExt;
use hyper::body::Bytes;
use std::convert::Infallible;
use std::time::Duration;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// One of the host's problem documents, with its kind kept beside it.
pub(super) struct HostProblem {
    kind: ProblemKind,
    status: hyper::StatusCode,
    document: serde_json::Value,
}

impl HostProblem {
    /// A document of `kind`: its `type`, `title`, `status` and `detail`.
    fn new(kind: ProblemKind, status: hyper::StatusCode, title: &str, detail: &str) -> Self {
        let document = serde_json::json!({
            "type": kind.uri(),
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        });
        Self {
            kind,
            status,
            document,
        }
    }

    /// The same document with `member` set to `value`.
    fn with(mut self, member: &str, value: impl Into<serde_json::Value>) -> Self {
        self.document[member] = value.into();
        self
    }

    /// The same document naming the request `id` as its `instance`.
    fn of_request(self, id: &str) -> Self {
        self.with("instance", format!("urn:request:{id}"))
    }

    /// The document's kind.
    pub(super) fn kind(&self) -> ProblemKind {
        self.kind
    }

    /// The document's JSON text.
    pub(super) fn text(&self) -> String {
        self.document.to_string()
    }

    /// The answer, its kind named in [`kind::HEADER`] as the component
    /// names its own.
    fn answer(self) -> hyper::Response<HyperOutgoingBody> {
        let body = http_body_util::Full::new(Bytes::from(self.text()))
            .map_err(|never: Infallible| match never {})
            .boxed_unsync();
        let mut response = hyper::Response::new(body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(
            kind::HEADER,
            hyper::header::HeaderValue::from_static(self.kind.name()),
        );
        response
    }
}

/// The answer when the component failed.
pub(super) fn internal_error(id: &str) -> hyper::Response<HyperOutgoingBody> {
    HostProblem::new(
        ProblemKind::Host,
        hyper::StatusCode::INTERNAL_SERVER_ERROR,
        "Internal error",
        "the handler component failed; see the host's log",
    )
    .of_request(id)
    .answer()
}

/// The problem document of a request over
/// [`Limits::max_instances`] (or a connection
/// over [`Limits::max_connections`], which has no request id).
///
/// [`Limits::max_instances`]: crate::Limits::max_instances
/// [`Limits::max_connections`]: crate::Limits::max_connections
pub(super) fn overloaded_document(detail: &str, id: Option<&str>) -> HostProblem {
    let document = HostProblem::new(
        ProblemKind::Overloaded,
        hyper::StatusCode::SERVICE_UNAVAILABLE,
        "The server is busy",
        detail,
    )
    .with("retry_after", RETRY_AFTER_SECS);
    match id {
        Some(id) => document.of_request(id),
        None => document,
    }
}

/// The `503` answer of a request over [`Limits::max_instances`].
///
/// [`Limits::max_instances`]: crate::Limits::max_instances
pub(super) fn overloaded(detail: &str, id: Option<&str>) -> hyper::Response<HyperOutgoingBody> {
    let mut response = overloaded_document(detail, id).answer();
    response
        .headers_mut()
        .insert(hyper::header::RETRY_AFTER, RETRY_AFTER_SECS.into());
    response
}

/// The answer when the host-side deadline cut a request off: like the
/// component's own timeout answer, with cause `timeout`.
pub(super) fn timed_out(after: Duration, id: &str) -> hyper::Response<HyperOutgoingBody> {
    let detail = format!(
        "the handler did not finish within {} (request_timeout plus the host's grace) and was stopped",
        seconds(after)
    );
    HostProblem::new(
        ProblemKind::Timeout,
        hyper::StatusCode::GATEWAY_TIMEOUT,
        "The handler did not finish in time",
        &detail,
    )
    .with("cause", TransportCause::Timeout.name())
    .of_request(id)
    .answer()
}

/// The answer when the request's body did not arrive within
/// [`Limits::body_timeout`]; the connection is closed after it.
///
/// [`Limits::body_timeout`]: crate::Limits::body_timeout
pub(super) fn body_timed_out(after: Duration, id: &str) -> hyper::Response<HyperOutgoingBody> {
    let detail = format!(
        "the request body did not arrive within {} of its head",
        seconds(after)
    );
    let mut response = HostProblem::new(
        ProblemKind::BodyTimeout,
        hyper::StatusCode::REQUEST_TIMEOUT,
        "The request body did not arrive in time",
        &detail,
    )
    .of_request(id)
    .answer();
    response.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    response
}

/// The answer to a request whose head the host cannot pass on (no or a
/// bad `Host`).
pub(super) fn bad_request(detail: &str, id: &str) -> hyper::Response<HyperOutgoingBody> {
    HostProblem::new(
        ProblemKind::BadRequest,
        hyper::StatusCode::BAD_REQUEST,
        "Bad request",
        detail,
    )
    .of_request(id)
    .answer()
}
