//! The API's bodies: the JSON it reads (`{"csr"}`, `{"poll_identifier",
//! "csr"}`) and the JSON it answers with, in acme2certifier's names.

use super::kind::ProblemKind;
use super::message::{ApiRequest, ApiResponse};
use super::problem::problem;
use crate::handler::{IssuedCertificate, Pending};
use crate::text::SafeText;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub(crate) struct EnrollBody {
    /// The CSR in any encoding the handler accepts.
    pub(crate) csr: String,
}

/// `cert_name` may be sent too; EST does not need it.
#[derive(Deserialize)]
pub(crate) struct PollBody {
    /// What `/enroll` returned.
    pub(crate) poll_identifier: String,
    /// The CSR that was enrolled.
    pub(crate) csr: String,
}

#[derive(Serialize)]
struct IssuedBody<'a> {
    cert_bundle: &'a str,
    cert_raw: &'a str,
    poll_identifier: Option<&'a str>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct PendingBody<'a> {
    poll_identifier: &'a str,
    retry_after: u32,
}

pub(crate) fn issued(cert: &IssuedCertificate) -> ApiResponse {
    let mut response = ApiResponse::json(
        200,
        &IssuedBody {
            cert_bundle: &cert.cert_bundle,
            cert_raw: &cert.cert_raw,
            poll_identifier: None,
            warnings: &cert.warnings,
        },
    );
    response.log = cert.warnings.clone();
    response
}

pub(crate) fn pending(p: &Pending) -> ApiResponse {
    let mut response = ApiResponse::json(
        202,
        &PendingBody {
            poll_identifier: &p.poll_identifier,
            retry_after: p.retry_after_seconds,
        },
    );
    response
        .headers
        .push(("retry-after", p.retry_after_seconds.to_string()));
    response
}

pub(crate) fn is_json(request: &ApiRequest<'_>) -> bool {
    request
        .content_type
        .is_some_and(|t| t.to_ascii_lowercase().contains("json"))
        || request.body.trim_ascii_start().starts_with(b"{")
}

pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiResponse> {
    serde_json_wasm::from_slice(body).map_err(|e| {
        problem(
            400,
            ProblemKind::BadRequest,
            "Malformed JSON body",
            SafeText::new(&e.to_string(), 200).to_string(),
        )
    })
}
