//! One request of the API to its answer: named by its request id, through
//! a fresh instance of the component, or refused by the host with a
//! problem document of its own (`400`, `408`, `503`, `504`, `500`).

use super::problem::{bad_request, body_timed_out, internal_error, overloaded, timed_out};
use crate::limits::LimitExceeded;
use crate::metrics::outcome_of;
use crate::{Host, Settings, request_id};
use est_ca_handler::api::{ProblemKind, kind};
use hyper::body::Incoming;
use tracing::Instrument;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

impl Host {
    /// One HTTP request under its request id ([`request_id`]): through a
    /// fresh instance of the component, or a `503` when
    /// [`Limits::max_instances`] are busy, a `504` when the host-side
    /// deadline passed, a `408` when the body did not arrive within
    /// [`Limits::body_timeout`], a `400` when an HTTP/1.1 request names no
    /// host. Counted in the host's [`Metrics`].
    ///
    /// [`Limits::max_instances`]: crate::Limits::max_instances
    /// [`Limits::body_timeout`]: crate::Limits::body_timeout
    /// [`Metrics`]: crate::metrics::Metrics
    pub(super) async fn answer(
        &self,
        settings: &Settings,
        mut request: hyper::Request<Incoming>,
        local: Option<std::net::SocketAddr>,
    ) -> hyper::Response<HyperOutgoingBody> {
        let id = request_id::of(request.headers());
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        // A usable id is always a valid header value.
        let id_header = hyper::header::HeaderValue::from_str(&id).ok();
        // The component names the id in its problem documents.
        if let Some(value) = &id_header {
            request
                .headers_mut()
                .insert(request_id::HEADER, value.clone());
        }
        let span = tracing::info_span!("request", id = %id);
        let (mut response, reached) = self
            .answer_in_span(settings, request, local, &id, &method, &path)
            .instrument(span)
            .await;
        if let Some(value) = id_header {
            response.headers_mut().insert(request_id::HEADER, value);
        }
        let status = response.status().as_u16();
        self.metrics().request(&path, status);
        let enrollment = method == hyper::Method::POST && (path == "/enroll" || path == "/poll");
        if enrollment && reached {
            // The outcome from the head: the status and the problem's kind.
            let kind = response
                .headers()
                .get(kind::HEADER)
                .and_then(|value| value.to_str().ok())
                .and_then(ProblemKind::from_name);
            if let Some(outcome) = outcome_of(status, kind) {
                self.metrics().enrollment(outcome);
            }
        }
        response
    }

    /// The answer, and whether the request reached the component (not
    /// refused by the host for load, its head or its body's pace).
    async fn answer_in_span(
        &self,
        settings: &Settings,
        mut request: hyper::Request<Incoming>,
        local: Option<std::net::SocketAddr>,
        id: &str,
        method: &hyper::Method,
        path: &str,
    ) -> (hyper::Response<HyperOutgoingBody>, bool) {
        if let Err(why) = fill_authority(&mut request, local) {
            tracing::info!("{method} {path} -> 400: {why}");
            return (bad_request(why, id), false);
        }
        let permit = match self.instance_permit() {
            Ok(permit) => permit,
            Err(busy) => {
                tracing::warn!("{method} {path} -> 503: {busy}");
                return (overloaded(&busy.to_string(), Some(id)), false);
            }
        };
        match self.call_incoming_handler(settings, request, permit).await {
            Ok(response) => {
                tracing::info!("{method} {path} -> {}", response.status());
                (response, true)
            }
            Err(e) => match e.downcast_ref::<LimitExceeded>() {
                Some(LimitExceeded::Timeout { after }) => {
                    tracing::warn!("{method} {path} -> 504: {e}");
                    (timed_out(*after, id), true)
                }
                Some(LimitExceeded::BodyTimeout { after }) => {
                    tracing::warn!("{method} {path} -> 408: {e}");
                    self.metrics().refused("body-timeout");
                    (body_timed_out(*after, id), false)
                }
                _ => {
                    tracing::error!("{method} {path}: the component failed: {e:#}");
                    (internal_error(id), true)
                }
            },
        }
    }
}

/// Makes sure `request` names its authority, as a `wasi:http` request
/// must: a request in absolute form or with one usable `Host` header does;
/// an HTTP/1.0 request without one gets the listener's address `local`;
/// otherwise the reason for a `400` (RFC 9112 §3.2: an HTTP/1.1 request
/// without `Host`, more than one `Host`, or an invalid one).
fn fill_authority(
    request: &mut hyper::Request<Incoming>,
    local: Option<std::net::SocketAddr>,
) -> Result<(), &'static str> {
    if request.uri().authority().is_some() {
        return Ok(());
    }
    let mut hosts = request.headers().get_all(hyper::header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err("the request has more than one Host header"),
        (Some(host), None) if host.to_str().is_ok() => Ok(()),
        (Some(_), None) => Err("the Host header is not visible ASCII"),
        (None, _) if request.version() < hyper::Version::HTTP_11 => {
            let local = local.ok_or("the request names no host")?;
            let value = hyper::header::HeaderValue::from_str(&local.to_string())
                .map_err(|_| "the request names no host")?;
            request.headers_mut().insert(hyper::header::HOST, value);
            Ok(())
        }
        (None, _) => Err("an HTTP/1.1 request must have a Host header (RFC 9112 §3.2)"),
    }
}
