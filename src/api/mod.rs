//! The HTTP API the component serves as a serverless function
//! (`wasi:http/incoming-handler`), over the same handler operations:
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /enroll` | `200` `{cert_bundle, cert_raw, poll_identifier, warnings}`, or `202` `{poll_identifier, retry_after}` |
//! | `POST /poll` | `200` / `202` as above, `403` when the CA rejected the request |
//! | `GET /cacerts` | `200` `application/pem-certificate-chain` |
//! | `GET /health[?live=true]` | `200`, or `503` saying what is wrong |
//! | `POST /revoke` | the handler's "not supported" answer |
//! | `POST /trigger` | the handler's "not supported" answer (EST pushes nothing) |
//!
//! Every route but `/health` requires `Authorization: Bearer <api_token>`.
//! [`admit`] decides that from the request's head, before a host reads
//! the body; methods are case-sensitive (RFC 9110 §9.1: `post` is not
//! `POST`, and is answered `405` with `Allow`).
//! Without an `api_token` nothing is issued unless `api_auth = none` says
//! so explicitly. Errors are RFC 9457 problem documents.

mod auth;
mod body;
mod health;
pub mod kind;
mod message;
mod problem;
pub mod route;

pub use kind::ProblemKind;
pub use message::{ApiRequest, ApiResponse, MAX_REQUEST_BODY, RequestId};
pub use problem::{problem, too_large};
pub use route::Route;

use crate::config::{Config, SettingsSource};
use crate::error::HandlerError;
use crate::handler::{self, Enrollment, PollResult};
use crate::transport::Transport;
use body::{EnrollBody, PollBody, is_json, issued, parse_json, pending};
use problem::{Problem, handler_problem};

/// What a request's head let through: its route, and whether the caller
/// showed the API token (only `/health` lets callers without it in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    route: Route,
    /// `Err` with the refusal when the caller has no (right) token.
    authorized: Result<(), ApiResponse>,
}

impl Admission {
    /// The route.
    pub fn route(&self) -> Route {
        self.route
    }

    /// Whether the route reads the request body (`POST /enroll` and
    /// `/poll`); the others answer without reading it.
    pub fn reads_body(&self) -> bool {
        matches!(self.route, Route::Enroll | Route::Poll)
    }
}

/// Decides from a request's head alone (`method`, exactly as sent:
/// methods are case-sensitive; `path`, without the query; the
/// `Authorization` header) whether it is let in: the route, or the answer
/// that refuses it (`404`, `405` with `Allow`, `401`, `503` when no token
/// is configured, `500` when `api_auth` is invalid, or for `/health` `503`
/// naming the bad `api_auth`). A host calls this before it reads any of
/// the body, so that a caller without the token holds nothing while it
/// sends one.
pub fn admit(
    method: &str,
    path: &str,
    authorization: Option<&str>,
    source: &dyn SettingsSource,
) -> Result<Admission, ApiResponse> {
    let route = Route::resolve(method, path)?;
    let authorized = match auth::authorize(authorization, source) {
        Ok(()) => Ok(()),
        // A broken api_auth locks every caller out: /health says so.
        Err(auth::Denied::Misconfigured(why)) if route == Route::Health => {
            return Err(auth::misconfigured(503, why));
        }
        Err(denied) if route.needs_token() => return Err(denied.into_answer()),
        Err(denied) => Err(denied.into_answer()),
    };
    Ok(Admission { route, authorized })
}

/// Whether the API's own settings (`api_auth`, the token) are usable: the
/// reason, naming the setting, when they are not (the API then refuses
/// every caller). A missing token is no error here: the API answers `503`
/// saying so, and the handler interface needs none.
pub fn check_settings(source: &dyn SettingsSource) -> Result<(), String> {
    match auth::authorize(None, source) {
        Err(auth::Denied::Misconfigured(why)) => Err(why),
        _ => Ok(()),
    }
}

/// Answers one API request: [`admit`], then [`respond`].
pub fn handle(
    request: &ApiRequest<'_>,
    source: &dyn SettingsSource,
    config: Result<&Config, &HandlerError>,
    transport: &dyn Transport,
) -> ApiResponse {
    match admit(request.method, request.path, request.authorization, source) {
        Ok(admission) => respond(&admission, request, config, transport),
        Err(refusal) => refusal,
    }
}

/// Answers a request that [`admit`] let in. `config` is the handler
/// configuration as loaded from the settings, which also hold the API's
/// own. `request.body` is read only when [`Admission::reads_body`].
pub fn respond(
    admission: &Admission,
    request: &ApiRequest<'_>,
    config: Result<&Config, &HandlerError>,
    transport: &dyn Transport,
) -> ApiResponse {
    let configured = |answer: &dyn Fn(&Config) -> ApiResponse| match config {
        Ok(config) => answer(config),
        Err(e) => handler_problem(e),
    };
    match admission.route {
        Route::Health => health::health(request, admission.authorized.clone(), config, transport),
        Route::Revoke => revoke(),
        Route::Trigger => match handler::trigger() {
            Ok(cert) => issued(&cert),
            Err(e) => handler_problem(&e),
        },
        Route::Enroll => configured(&|config| enroll(request, config, transport)),
        Route::Poll => configured(&|config| poll(request, config, transport)),
        Route::CaCerts => configured(&|config| ca_certs(config, transport)),
    }
}

/// `POST /enroll`: the CSR as the body, or as `{"csr": ...}`.
fn enroll(request: &ApiRequest<'_>, config: &Config, transport: &dyn Transport) -> ApiResponse {
    let csr = if is_json(request) {
        match parse_json::<EnrollBody>(request.body) {
            Ok(body) => body.csr,
            Err(response) => return response,
        }
    } else {
        String::from_utf8_lossy(request.body).into_owned()
    };
    match handler::enroll(config, transport, &csr) {
        Ok(Enrollment::Issued(cert)) => issued(&cert),
        Ok(Enrollment::Pending(p)) => pending(&p),
        Err(e) => handler_problem(&e),
    }
}

/// `POST /poll`: `{"poll_identifier", "csr"}`.
fn poll(request: &ApiRequest<'_>, config: &Config, transport: &dyn Transport) -> ApiResponse {
    let body = match parse_json::<PollBody>(request.body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    match handler::poll(config, transport, &body.poll_identifier, &body.csr) {
        Ok(PollResult::Issued(cert)) => issued(&cert),
        Ok(PollResult::Pending(p)) => pending(&p),
        Ok(PollResult::Rejected(reason)) => problem(
            403,
            ProblemKind::Rejected,
            "The CA rejected the request",
            reason,
        ),
        Err(e) => handler_problem(&e),
    }
}

/// `GET /cacerts`: the CA certificates as one PEM chain.
fn ca_certs(config: &Config, transport: &dyn Transport) -> ApiResponse {
    match handler::ca_certs(config, transport) {
        Ok(pems) => ApiResponse {
            status: 200,
            headers: vec![("content-type", "application/pem-certificate-chain".into())],
            body: pems.concat().into_bytes(),
            log: Vec::new(),
        },
        Err(e) => handler_problem(&e),
    }
}

/// `POST /revoke`: the handler's answer, as a problem document typed with
/// the ACME error URN it gives.
fn revoke() -> ApiResponse {
    match handler::revoke() {
        Ok(()) => ApiResponse {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
            log: Vec::new(),
        },
        Err(e) => {
            let document = Problem {
                kind: e.message,
                title: "Revocation failed",
                status: e.code,
                detail: e.detail,
                est_status: None,
                cause: None,
                tls_alert: None,
            };
            ApiResponse::json_as(e.code, &document, "application/problem+json")
        }
    }
}

#[cfg(test)]
mod tests;
