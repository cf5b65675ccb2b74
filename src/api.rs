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
//! Without an `api_token` nothing is issued unless `api_auth = none` says
//! so explicitly. Errors are RFC 9457 problem documents.

use crate::config::{Config, Secret, Settings, parse_bool};
use crate::error::{HandlerError, TransportCause};
use crate::handler::{self, Enrollment, IssuedCertificate, Pending, PollResult};
use crate::http::Transport;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The largest request body accepted, in bytes.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

/// Configuration key of the API's bearer token.
pub const API_TOKEN: &str = "api_token";
/// Environment variable holding the API's bearer token.
pub const API_TOKEN_VARIABLE: &str = "api_token_variable";
/// `none` turns the API's authentication off.
pub const API_AUTH: &str = "api_auth";

/// An HTTP request to the API.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// The method, upper case.
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The query, without `?`.
    pub query: &'a str,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The body, at most [`MAX_REQUEST_BODY`] bytes.
    pub body: &'a [u8],
}

/// The API's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers (the content type among them).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Warnings for the operator's log (the component writes them to
    /// stderr), such as names missing from an issued certificate.
    pub log: Vec<String>,
}

impl ApiResponse {
    fn json(status: u16, value: &impl Serialize) -> Self {
        Self::json_as(status, value, "application/json")
    }

    fn json_as(status: u16, value: &impl Serialize, content_type: &str) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        Self {
            status,
            headers: vec![("content-type", content_type.into())],
            body,
            log: Vec::new(),
        }
    }

    /// The value of header `name`, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An RFC 9457 problem document.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    /// The EST server's own HTTP status, when the problem is its answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    est_status: Option<u16>,
    /// Why the EST server could not be reached (a transport failure's
    /// cause, named as in the WIT contract).
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'static str>,
    /// The TLS alert the EST server sent, when the cause is `tls-alert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_alert: Option<u8>,
}

/// A problem document answer.
pub fn problem(status: u16, kind: &str, title: &str, detail: impl Into<String>) -> ApiResponse {
    problem_with(status, kind, title, detail.into(), None)
}

fn problem_with(
    status: u16,
    kind: &str,
    title: &str,
    detail: String,
    est_status: Option<u16>,
) -> ApiResponse {
    let document = Problem {
        kind: format!("urn:est-ca-handler:problem:{kind}"),
        title,
        status,
        detail,
        est_status,
        cause: None,
        tls_alert: None,
    };
    ApiResponse::json_as(status, &document, "application/problem+json")
}

/// The answer to a body larger than [`MAX_REQUEST_BODY`].
pub fn too_large() -> ApiResponse {
    problem(
        413,
        "too-large",
        "Request body too large",
        format!("the body must be at most {MAX_REQUEST_BODY} bytes"),
    )
}

fn handler_problem(error: &HandlerError) -> ApiResponse {
    handler_problem_as(error, None)
}

/// The problem document for `error`, with `status` instead of the usual one.
fn handler_problem_as(error: &HandlerError, override_status: Option<u16>) -> ApiResponse {
    let mut kind = error.kind();
    let mut cause = None;
    let (status, title, est_status, detail) = match error {
        HandlerError::Config(d) => (500, "Handler configuration error", None, d),
        HandlerError::BadCsr(d) => (400, "Bad CSR", None, d),
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
            kind = "timeout";
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
        HandlerError::MalformedAnswer(d) => (502, "The EST server's answer is unusable", None, d),
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
        kind: format!("urn:est-ca-handler:problem:{kind}"),
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
    ApiResponse::json_as(status, &document, "application/problem+json")
}

/// How callers of the API must authenticate.
enum ApiAuth {
    Token(Secret),
    Disabled,
    Unconfigured,
}

fn api_auth(settings: &dyn Settings) -> Result<ApiAuth, String> {
    let read = |key: &str| {
        settings
            .get(key)
            .map(|v| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
            .map_err(|e| format!("could not read \"{key}\": {e}"))
    };
    match read(API_AUTH)?.map(|v| v.to_ascii_lowercase()) {
        None => {}
        Some(v) if v == "none" => return Ok(ApiAuth::Disabled),
        Some(v) if v == "token" || parse_bool(&v) == Some(true) => {}
        Some(_) => return Err("\"api_auth\" must be \"token\" (the default) or \"none\"".into()),
    }
    let token = match read(API_TOKEN)? {
        Some(token) => Some(token),
        None => match read(API_TOKEN_VARIABLE)? {
            Some(name) => settings.env(&name).filter(|v| !v.trim().is_empty()),
            None => None,
        },
    };
    Ok(token.map_or(ApiAuth::Unconfigured, |t| ApiAuth::Token(Secret::new(t))))
}

/// Compares in constant time (over fixed-size digests, so that the
/// comparison does not reveal the token's length either).
fn token_matches(given: &str, expected: &Secret) -> bool {
    Sha256::digest(given.as_bytes())
        .ct_eq(&Sha256::digest(expected.expose().as_bytes()))
        .into()
}

fn authorize(request: &ApiRequest<'_>, settings: &dyn Settings) -> Result<(), ApiResponse> {
    let expected = match api_auth(settings) {
        Ok(ApiAuth::Disabled) => return Ok(()),
        Ok(ApiAuth::Token(token)) => token,
        Ok(ApiAuth::Unconfigured) => {
            return Err(problem(
                503,
                "api-auth-unconfigured",
                "The API has no token",
                "no api_token is configured, so the API issues nothing; set the secret api_token (or api_auth = none to run without authentication)",
            ));
        }
        Err(why) => return Err(problem(500, "config", "API configuration error", why)),
    };
    let given = request.authorization.and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    });
    match given {
        Some(token) if token_matches(token.trim(), &expected) => Ok(()),
        Some(_) => Err(unauthorized("the bearer token is wrong")),
        None => Err(unauthorized("send Authorization: Bearer <api_token>")),
    }
}

fn unauthorized(detail: &str) -> ApiResponse {
    let mut response = problem(401, "unauthorized", "Unauthorized", detail);
    response
        .headers
        .push(("www-authenticate", "Bearer realm=\"est-ca-handler\"".into()));
    response
}

#[derive(Deserialize)]
struct EnrollBody {
    csr: String,
}

/// `cert_name` may be sent too; EST does not need it.
#[derive(Deserialize)]
struct PollBody {
    poll_identifier: String,
    csr: String,
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

fn issued(cert: &IssuedCertificate) -> ApiResponse {
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

fn pending(p: &Pending) -> ApiResponse {
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

fn is_json(request: &ApiRequest<'_>) -> bool {
    request
        .content_type
        .is_some_and(|t| t.to_ascii_lowercase().contains("json"))
        || request.body.trim_ascii_start().starts_with(b"{")
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiResponse> {
    serde_json::from_slice(body)
        .map_err(|e| problem(400, "bad-request", "Malformed JSON body", e.to_string()))
}

/// Answers one API request. `config` is the handler configuration as
/// loaded from `settings`.
pub fn handle(
    request: &ApiRequest<'_>,
    settings: &dyn Settings,
    config: Result<&Config, &HandlerError>,
    transport: &dyn Transport,
) -> ApiResponse {
    let allowed = match request.path {
        "/enroll" | "/poll" | "/revoke" | "/trigger" => "POST",
        "/cacerts" | "/health" => "GET",
        other => return problem(404, "not-found", "Not found", format!("no route {other}")),
    };
    if request.method != allowed {
        let mut response = problem(
            405,
            "method-not-allowed",
            "Method not allowed",
            format!("{} takes {allowed}", request.path),
        );
        response.headers.push(("allow", allowed.into()));
        return response;
    }
    if request.path == "/health" {
        return health(request, config, transport);
    }
    if let Err(refusal) = authorize(request, settings) {
        return refusal;
    }
    if request.path == "/revoke" {
        return match handler::revoke() {
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
        };
    }
    if request.path == "/trigger" {
        return match handler::trigger() {
            Ok(cert) => issued(&cert),
            Err(e) => handler_problem(&e),
        };
    }
    let config = match config {
        Ok(config) => config,
        Err(e) => return handler_problem(e),
    };
    match request.path {
        "/enroll" => {
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
        "/poll" => {
            let body = match parse_json::<PollBody>(request.body) {
                Ok(body) => body,
                Err(response) => return response,
            };
            match handler::poll(config, transport, &body.poll_identifier, &body.csr) {
                Ok(PollResult::Issued(cert)) => issued(&cert),
                Ok(PollResult::Pending(p)) => pending(&p),
                Ok(PollResult::Rejected(reason)) => {
                    problem(403, "rejected", "The CA rejected the request", reason)
                }
                Err(e) => handler_problem(&e),
            }
        }
        _ => match handler::ca_certs(config, transport) {
            Ok(pems) => ApiResponse {
                status: 200,
                headers: vec![("content-type", "application/pem-certificate-chain".into())],
                body: pems.concat().into_bytes(),
                log: Vec::new(),
            },
            Err(e) => handler_problem(&e),
        },
    }
}

#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_certificates: Option<usize>,
}

fn health(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportCause;
    use crate::http::{Request, Response, TransportError};
    use crate::testutil::{
        MapSettings, ScriptedTransport, TestCa, b64url, make_csr, pkcs7_answer, response,
    };
    use serde_json::Value;
    use std::rc::Rc;

    const TOKEN: &str = "api-Token-123";

    fn settings(extra: &[(&str, &str)]) -> MapSettings {
        let mut pairs = vec![
            ("est_host", "https://est.test"),
            ("est_user", "u"),
            ("est_password", "p"),
            ("api_token", TOKEN),
        ];
        pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        pairs.extend(extra.iter().filter(|(_, v)| !v.is_empty()));
        MapSettings::with(&pairs)
    }

    fn server(
        ca: &Rc<TestCa>,
        enroll: impl Fn(&Request) -> Result<Response, TransportError> + 'static,
    ) -> ScriptedTransport {
        let ca = Rc::clone(ca);
        ScriptedTransport::new(move |r| {
            if r.path.ends_with("/simpleenroll") {
                enroll(r)
            } else {
                pkcs7_answer(&[&ca.intermediate_der(), &ca.root_der()])
            }
        })
    }

    fn issuing(ca: &Rc<TestCa>) -> ScriptedTransport {
        let ca2 = Rc::clone(ca);
        server(ca, move |r| {
            pkcs7_answer(&[&ca2.issue(&crate::encoding::decode_base64(&r.body).unwrap())])
        })
    }

    struct Call<'a> {
        method: &'a str,
        path: &'a str,
        query: &'a str,
        auth: Option<String>,
        content_type: Option<&'a str>,
        body: Vec<u8>,
    }

    fn post(path: &str, body: impl Into<Vec<u8>>) -> Call<'_> {
        Call {
            method: "POST",
            path,
            query: "",
            auth: Some(format!("Bearer {TOKEN}")),
            content_type: None,
            body: body.into(),
        }
    }

    fn get(path: &str) -> Call<'_> {
        Call {
            method: "GET",
            path,
            query: "",
            auth: Some(format!("Bearer {TOKEN}")),
            content_type: None,
            body: Vec::new(),
        }
    }

    fn call(c: &Call<'_>, settings: &MapSettings, transport: &ScriptedTransport) -> ApiResponse {
        let config = Config::load(settings);
        let request = ApiRequest {
            method: c.method,
            path: c.path,
            query: c.query,
            authorization: c.auth.as_deref(),
            content_type: c.content_type,
            body: &c.body,
        };
        handle(&request, settings, config.as_ref(), transport)
    }

    fn json(response: &ApiResponse) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    fn assert_problem(response: &ApiResponse, status: u16, kind: &str) -> Value {
        assert_eq!(
            response.status,
            status,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json")
        );
        let doc = json(response);
        assert_eq!(doc["status"], status);
        assert_eq!(doc["type"], format!("urn:est-ca-handler:problem:{kind}"));
        assert!(doc["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(doc["detail"].as_str().is_some_and(|t| !t.is_empty()));
        doc
    }

    #[test]
    fn enroll_takes_every_csr_form_and_answers_acme2certifiers_names() {
        let ca = Rc::new(TestCa::new("Api"));
        let transport = issuing(&ca);
        let der = make_csr("api.example.test");
        let pem = crate::encoding::pem("CERTIFICATE REQUEST", &der);
        let json_body = format!("{{\"csr\": \"{}\"}}", b64url(&der));
        for body in [
            b64url(&der),
            crate::encoding::base64_line(&der),
            pem,
            json_body,
        ] {
            let response = call(&post("/enroll", body.clone()), &settings(&[]), &transport);
            assert_eq!(
                response.status,
                200,
                "{body}: {}",
                String::from_utf8_lossy(&response.body)
            );
            let value = json(&response);
            assert!(
                value["cert_bundle"]
                    .as_str()
                    .unwrap()
                    .starts_with("-----BEGIN CERTIFICATE-----\n")
            );
            assert!(value["cert_raw"].as_str().unwrap().starts_with("MII"));
            assert!(value["poll_identifier"].is_null());
        }
    }

    #[test]
    fn pending_is_202_with_retry_after_then_poll_issues() {
        let ca = Rc::new(TestCa::new("ApiPending"));
        let der = make_csr("p.example.test");
        let transport = server(&ca, |_| response(202, &[("retry-after", "42")], ""));
        let deferred = call(&post("/enroll", b64url(&der)), &settings(&[]), &transport);
        assert_eq!(deferred.status, 202);
        assert_eq!(deferred.header("retry-after"), Some("42"));
        let value = json(&deferred);
        assert_eq!(value["retry_after"], 42);
        let id = value["poll_identifier"].as_str().unwrap().to_owned();

        let poll = format!(
            "{{\"cert_name\": \"c1\", \"poll_identifier\": \"{id}\", \"csr\": \"{}\"}}",
            b64url(&der)
        );
        assert_eq!(
            call(&post("/poll", poll.clone()), &settings(&[]), &transport).status,
            202
        );
        let polled = call(&post("/poll", poll.clone()), &settings(&[]), &issuing(&ca));
        assert_eq!(polled.status, 200);
        let rejecting = server(&ca, |_| response(400, &[], "denied by policy"));
        let doc = assert_problem(
            &call(&post("/poll", poll), &settings(&[]), &rejecting),
            403,
            "rejected",
        );
        assert!(doc["detail"].as_str().unwrap().contains("denied by policy"));
    }

    #[test]
    fn the_token_is_required_unless_explicitly_turned_off() {
        let ca = Rc::new(TestCa::new("ApiAuth"));
        let transport = issuing(&ca);
        let csr = b64url(&make_csr("a.example.test"));
        let mut missing = post("/enroll", csr.clone());
        missing.auth = None;
        let response = call(&missing, &settings(&[]), &transport);
        assert_problem(&response, 401, "unauthorized");
        assert!(response.header("www-authenticate").is_some());
        let mut wrong = post("/enroll", csr.clone());
        wrong.auth = Some("Bearer api-Token-124".into());
        assert_problem(
            &call(&wrong, &settings(&[]), &transport),
            401,
            "unauthorized",
        );
        let mut basic = post("/enroll", csr.clone());
        basic.auth = Some(format!("Basic {TOKEN}"));
        assert_problem(
            &call(&basic, &settings(&[]), &transport),
            401,
            "unauthorized",
        );

        // No token configured: nothing is issued, whatever is sent.
        let doc = assert_problem(
            &call(
                &post("/enroll", csr.clone()),
                &settings(&[("api_token", "")]),
                &transport,
            ),
            503,
            "api-auth-unconfigured",
        );
        assert!(doc["detail"].as_str().unwrap().contains("api_auth = none"));
        // ...unless the operator says so.
        assert_eq!(
            call(
                &missing,
                &settings(&[("api_token", ""), ("api_auth", "none")]),
                &transport
            )
            .status,
            200
        );
        // The token may come from an environment variable.
        let from_env = settings(&[("api_token", ""), ("api_token_variable", "API_TOKEN_ENV")])
            .env("API_TOKEN_ENV", TOKEN);
        assert_eq!(
            call(&post("/enroll", csr.clone()), &from_env, &transport).status,
            200
        );
        assert_problem(
            &call(
                &post("/enroll", csr),
                &settings(&[("api_auth", "maybe")]),
                &transport,
            ),
            500,
            "config",
        );
        // The token never appears in an answer.
        assert!(
            transport
                .requests()
                .iter()
                .all(|r| !String::from_utf8_lossy(&r.body).contains(TOKEN))
        );
    }

    #[test]
    fn health_needs_no_token_and_says_what_is_wrong() {
        let ca = Rc::new(TestCa::new("ApiHealth"));
        let mut health = get("/health");
        health.auth = None;
        let ok = call(&health, &settings(&[]), &issuing(&ca));
        assert_eq!((ok.status, json(&ok)["status"].as_str()), (200, Some("ok")));
        let doc = assert_problem(
            &call(&health, &settings(&[("est_host", "")]), &issuing(&ca)),
            503,
            "config",
        );
        assert!(doc["detail"].as_str().unwrap().contains("est_host"));

        health.query = "live=true";
        let live = call(&health, &settings(&[]), &issuing(&ca));
        assert_eq!(
            (live.status, json(&live)["ca_certificates"].as_u64()),
            (200, Some(2))
        );
        let down = ScriptedTransport::new(|_| {
            Err(TransportError::failed(
                TransportCause::ConnectionRefused,
                "connection refused",
            ))
        });
        let doc = assert_problem(&call(&health, &settings(&[]), &down), 503, "transport");
        assert!(
            doc["detail"]
                .as_str()
                .unwrap()
                .contains("connection refused")
        );
    }

    #[test]
    fn errors_map_to_statuses_with_the_est_servers_words() {
        let ca = Rc::new(TestCa::new("ApiErrors"));
        let csr = b64url(&make_csr("e.example.test"));
        let cases: Vec<(u16, &str, ScriptedTransport)> = vec![
            (
                502,
                "unauthorized",
                server(&ca, |_| response(401, &[], "bad est password")),
            ),
            (
                502,
                "rejected",
                server(&ca, |_| response(400, &[], "no CN")),
            ),
            (
                502,
                "server-error",
                server(&ca, |_| response(503, &[], "maintenance")),
            ),
            (
                504,
                "timeout",
                server(&ca, |_| {
                    Err(TransportError::failed(
                        TransportCause::Timeout,
                        "no answer in time",
                    ))
                }),
            ),
            (
                502,
                "transport",
                server(&ca, |_| {
                    Err(TransportError::failed(
                        TransportCause::TlsUntrusted,
                        "TLS certificate error",
                    ))
                }),
            ),
            (
                502,
                "malformed-answer",
                server(&ca, |_| response(200, &[], "junk!")),
            ),
        ];
        for (status, kind, transport) in cases {
            let doc = assert_problem(
                &call(&post("/enroll", csr.clone()), &settings(&[]), &transport),
                status,
                kind,
            );
            if kind == "unauthorized" {
                assert_eq!(doc["est_status"], 401);
                assert!(doc["detail"].as_str().unwrap().contains("bad est password"));
            }
            let cause = match kind {
                "timeout" => Some("timeout"),
                "transport" => Some("tls-untrusted"),
                _ => None,
            };
            assert_eq!(doc["cause"].as_str(), cause, "{doc}");
            assert!(doc.get("tls_alert").is_none(), "{doc}");
        }
        let transport = issuing(&ca);
        assert_problem(
            &call(&post("/enroll", "not a csr"), &settings(&[]), &transport),
            400,
            "bad-csr",
        );
        assert_problem(
            &call(&post("/enroll", "{\"csr\": 5}"), &settings(&[]), &transport),
            400,
            "bad-request",
        );
        assert_problem(
            &call(&post("/poll", "{}"), &settings(&[]), &transport),
            400,
            "bad-request",
        );
        assert_problem(
            &call(
                &post("/enroll", csr),
                &settings(&[("est_user", "")]),
                &transport,
            ),
            500,
            "config",
        );
    }

    #[test]
    fn routes_methods_cacerts_and_revoke() {
        let ca = Rc::new(TestCa::new("ApiRoutes"));
        let transport = issuing(&ca);
        assert_problem(
            &call(&get("/nope"), &settings(&[]), &transport),
            404,
            "not-found",
        );
        let response = call(&get("/enroll"), &settings(&[]), &transport);
        assert_problem(&response, 405, "method-not-allowed");
        assert_eq!(response.header("allow"), Some("POST"));
        let cacerts = call(&get("/cacerts"), &settings(&[]), &transport);
        assert_eq!(
            (cacerts.status, cacerts.header("content-type")),
            (200, Some("application/pem-certificate-chain"))
        );
        assert_eq!(
            String::from_utf8_lossy(&cacerts.body)
                .matches("-----BEGIN CERTIFICATE-----")
                .count(),
            2
        );
        let revoke = call(&post("/revoke", "{}"), &settings(&[]), &transport);
        assert_eq!(revoke.status, 500);
        let doc = json(&revoke);
        assert_eq!(doc["type"], "urn:ietf:params:acme:error:serverInternal");
        assert_eq!(doc["detail"], "Revocation is not supported.");
        let trigger = call(&post("/trigger", "{}"), &settings(&[]), &transport);
        let doc = assert_problem(&trigger, 501, "not-supported");
        assert_eq!(doc["detail"], "Method not implemented.");
        assert_eq!(too_large().status, 413);
    }

    #[test]
    fn missing_names_come_back_as_warnings_for_the_caller_and_the_log() {
        let ca = Rc::new(TestCa::new("ApiNames"));
        let ca2 = Rc::clone(&ca);
        let transport = server(&ca, move |r| {
            let csr = crate::encoding::decode_base64(&r.body).unwrap();
            pkcs7_answer(&[&ca2.issue_without_sans(&csr)])
        });
        let csr = b64url(&crate::testutil::make_csr_with(
            "api.example.test",
            &["api.example.test", "alt.example.test"],
        ));
        let response = call(&post("/enroll", csr.clone()), &settings(&[]), &transport);
        assert_eq!(response.status, 200);
        let warnings = json(&response)["warnings"].clone();
        assert!(
            warnings[0]
                .as_str()
                .is_some_and(|w| w.contains("lacks 1 name(s) the CSR asked for: alt.example.test")),
            "{warnings}"
        );
        assert_eq!(response.log, vec![warnings[0].as_str().unwrap().to_owned()]);

        let strict = settings(&[("est_names_check", "error")]);
        let refused = call(&post("/enroll", csr), &strict, &transport);
        let doc = assert_problem(&refused, 502, "certificate-mismatch");
        assert!(
            doc["detail"]
                .as_str()
                .is_some_and(|d| d.contains("alt.example.test")),
            "{doc}"
        );
    }
}
