//! `GET /health`: the configuration's state and, on request, a live probe
//! of the EST server.

use super::problem::{handler_problem_as, problem};
use super::{ApiRequest, ApiResponse};
use crate::config::Config;
use crate::error::HandlerError;
use crate::handler;
use crate::transport::Transport;
use serde::Serialize;

#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_certificates: Option<usize>,
}

/// `GET /health`: whether the configuration loads and, with `live=true`,
/// whether the EST server answers `/cacerts`.
pub(crate) fn health(
    request: &ApiRequest<'_>,
    config: Result<&Config, &HandlerError>,
    transport: &dyn Transport,
) -> ApiResponse {
    let config = match config {
        Ok(config) => config,
        Err(e) => return problem(503, "config", "Handler configuration error", e.to_string()),
    };
    let live = request
        .query
        .split('&')
        .any(|pair| pair == "live=true" || pair == "live=1");
    let mut body = HealthBody {
        status: "ok",
        warnings: config.warnings(),
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
