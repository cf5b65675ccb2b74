//! The host's own problem documents (`application/problem+json`), for the
//! requests it answers without the component.

use crate::limits::{RETRY_AFTER_SECS, seconds};
use http_body_util::BodyExt;
use hyper::body::Bytes;
use std::convert::Infallible;
use std::time::Duration;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// A problem document answer.
fn problem(
    status: hyper::StatusCode,
    document: &serde_json::Value,
) -> hyper::Response<HyperOutgoingBody> {
    let body = http_body_util::Full::new(Bytes::from(document.to_string()))
        .map_err(|never: Infallible| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// A problem document's `instance`: the request's id as a URN.
fn instance(id: &str) -> String {
    format!("urn:request:{id}")
}

/// The answer when the component failed.
pub(super) fn internal_error(id: &str) -> hyper::Response<HyperOutgoingBody> {
    problem(
        hyper::StatusCode::INTERNAL_SERVER_ERROR,
        &serde_json::json!({
            "type": "urn:est-ca-handler:problem:host",
            "title": "Internal error",
            "status": 500,
            "detail": "the handler component failed; see the host's log",
            "instance": instance(id),
        }),
    )
}

/// The problem document of a request over
/// [`Limits::max_instances`] (or a connection
/// over [`Limits::max_connections`], which has no request id).
///
/// [`Limits::max_instances`]: crate::Limits::max_instances
/// [`Limits::max_connections`]: crate::Limits::max_connections
pub(super) fn overloaded_document(detail: &str, id: Option<&str>) -> serde_json::Value {
    let mut document = serde_json::json!({
        "type": "urn:est-ca-handler:problem:overloaded",
        "title": "The server is busy",
        "status": 503,
        "detail": detail,
        "retry_after": RETRY_AFTER_SECS,
    });
    if let Some(id) = id {
        document["instance"] = instance(id).into();
    }
    document
}

/// The `503` answer of a request over [`Limits::max_instances`].
///
/// [`Limits::max_instances`]: crate::Limits::max_instances
pub(super) fn overloaded(detail: &str, id: Option<&str>) -> hyper::Response<HyperOutgoingBody> {
    let mut response = problem(
        hyper::StatusCode::SERVICE_UNAVAILABLE,
        &overloaded_document(detail, id),
    );
    response
        .headers_mut()
        .insert(hyper::header::RETRY_AFTER, RETRY_AFTER_SECS.into());
    response
}

/// The answer when the host-side deadline cut a request off: like the
/// component's own timeout answer, with cause `timeout`.
pub(super) fn timed_out(after: Duration, id: &str) -> hyper::Response<HyperOutgoingBody> {
    problem(
        hyper::StatusCode::GATEWAY_TIMEOUT,
        &serde_json::json!({
            "type": "urn:est-ca-handler:problem:timeout",
            "title": "The handler did not finish in time",
            "status": 504,
            "detail": format!(
                "the handler did not finish within {} (request_timeout plus the host's grace) and was stopped",
                seconds(after)
            ),
            "cause": "timeout",
            "instance": instance(id),
        }),
    )
}

/// The answer when the request's body did not arrive within
/// [`Limits::body_timeout`]; the connection is closed after it.
///
/// [`Limits::body_timeout`]: crate::Limits::body_timeout
pub(super) fn body_timed_out(after: Duration, id: &str) -> hyper::Response<HyperOutgoingBody> {
    let mut response = problem(
        hyper::StatusCode::REQUEST_TIMEOUT,
        &serde_json::json!({
            "type": "urn:est-ca-handler:problem:body-timeout",
            "title": "The request body did not arrive in time",
            "status": 408,
            "detail": format!(
                "the request body did not arrive within {} of its head",
                seconds(after)
            ),
            "instance": instance(id),
        }),
    );
    response.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    response
}

/// The answer to a request whose head the host cannot pass on (no or a
/// bad `Host`).
pub(super) fn bad_request(detail: &str, id: &str) -> hyper::Response<HyperOutgoingBody> {
    problem(
        hyper::StatusCode::BAD_REQUEST,
        &serde_json::json!({
            "type": "urn:est-ca-handler:problem:bad-request",
            "title": "Bad request",
            "status": 400,
            "detail": detail,
            "instance": instance(id),
        }),
    )
}
