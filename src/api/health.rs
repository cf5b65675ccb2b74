//! `GET /health`: the configuration's state and, on request, a live probe
//! of the EST server.

use super::kind::ProblemKind;
use super::message::{ApiRequest, ApiResponse};
use super::problem::{handler_problem_as, problem};
use crate::config::Config;
use crate::error::HandlerError;
use crate::handler;
use crate::transport::Transport;
use serde::Serialize;

#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    /// Only for callers with the API token: warnings name settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_certificates: Option<usize>,
}

/// `GET /health`: whether the configuration loads and, with `live=true`,
/// whether the EST server answers `/cacerts`. Anyone may ask whether the
/// configuration loads; what is wrong with it, its warnings and the live
/// probe (a call to the CA with the handler's credentials) are for callers
/// with the API token (`authorized`, or `Err` with the refusal).
pub(crate) fn health(
    request: &ApiRequest<'_>,
    authorized: Result<(), ApiResponse>,
    config: Result<&Config, &HandlerError>,
    transport: &dyn Transport,
) -> ApiResponse {
    let live = request
        .query
        .split('&')
        .any(|pair| pair == "live=true" || pair == "live=1");
    let authorized = match authorized {
        Ok(()) => true,
        Err(refusal) if live => return refusal,
        Err(_) => false,
    };
    let config = match config {
        Ok(config) => config,
        Err(e) if authorized => {
            return problem(
                503,
                ProblemKind::Config,
                "Handler configuration error",
                e.to_string(),
            );
        }
        Err(_) => {
            return problem(
                503,
                ProblemKind::Config,
                "Handler configuration error",
                "the handler's configuration does not load; ask with the API token to see why",
            );
        }
    };
    let mut body = HealthBody {
        status: "ok",
        warnings: authorized.then(|| config.warnings()),
        ca_certificates: None,
    };
    if live {
        match handler::ca_certs(config, transport) {
            Ok(certs) => body.ca_certificates = Some(certs.len()),
            Err(e) => return handler_problem_as(&e, Some(503)),
        }
    }
    ApiResponse::json(200, &body)
}
