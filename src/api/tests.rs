//! The HTTP API over a scripted EST server: routes, token, bodies, problem documents.

use super::*;
use crate::config::MapSource;
use crate::error::TransportCause;
use crate::testutil::{
    ScriptedTransport, TestCa, b64url, est_server, issuing, make_csr, pkcs7_answer, response,
};
use crate::transport::TransportError;
use serde_json::Value;
use std::rc::Rc;

const TOKEN: &str = "api-Token-123";

fn settings(extra: &[(&str, &str)]) -> MapSource {
    let mut pairs = vec![
        ("est_host", "https://est.test"),
        ("est_user", "u"),
        ("est_password", "p"),
        ("api_token", TOKEN),
    ];
    pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    pairs.extend(extra.iter().filter(|(_, v)| !v.is_empty()));
    MapSource::new(pairs)
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

fn call(c: &Call<'_>, settings: &MapSource, transport: &ScriptedTransport) -> ApiResponse {
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
    assert_eq!(response.header("problem-kind"), Some(kind));
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
    let transport = est_server(&ca, |_| response(202, &[("retry-after", "42")], ""));
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
    let rejecting = est_server(&ca, |_| response(400, &[], "denied by policy"));
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
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let mut any_case = post("/enroll", csr.clone());
        any_case.auth = Some(format!("{scheme} {TOKEN}"));
        assert_eq!(
            call(&any_case, &settings(&[]), &transport).status,
            200,
            "{scheme}"
        );
    }
    for not_bearer in [
        format!("Bearer{TOKEN}"),
        format!("Bearerx {TOKEN}"),
        TOKEN.into(),
    ] {
        let mut glued = post("/enroll", csr.clone());
        glued.auth = Some(not_bearer.clone());
        assert_problem(
            &call(&glued, &settings(&[]), &transport),
            401,
            "unauthorized",
        );
    }
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
        .with_env("API_TOKEN_ENV", TOKEN);
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
        "api-auth-invalid",
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
fn health_tells_anyone_whether_the_configuration_loads_and_the_rest_needs_the_token() {
    let ca = Rc::new(TestCa::new("ApiHealth"));
    let mut anonymous = get("/health");
    anonymous.auth = None;
    let ok = call(&anonymous, &settings(&[]), &issuing(&ca));
    assert_eq!((ok.status, json(&ok)["status"].as_str()), (200, Some("ok")));
    assert!(json(&ok).get("warnings").is_none(), "{}", json(&ok));
    // Without the token, a broken configuration is reported without its text.
    let broken = settings(&[("est_host", ""), ("est_password", "hunter2-pw")]);
    let doc = assert_problem(&call(&anonymous, &broken, &issuing(&ca)), 503, "config");
    assert!(
        !doc["detail"].as_str().unwrap().contains("est_host"),
        "{doc}"
    );
    // With it, the reason.
    let with_token = get("/health");
    let doc = assert_problem(&call(&with_token, &broken, &issuing(&ca)), 503, "config");
    assert!(doc["detail"].as_str().unwrap().contains("est_host"));
    assert!(!doc.to_string().contains("hunter2-pw"), "{doc}");
    let ok = call(&with_token, &settings(&[]), &issuing(&ca));
    assert_eq!(json(&ok)["warnings"], serde_json::json!([]));

    // The live probe calls the CA with the handler's credentials: token only.
    anonymous.query = "live=true";
    let transport = issuing(&ca);
    assert_problem(
        &call(&anonymous, &settings(&[]), &transport),
        401,
        "unauthorized",
    );
    assert!(transport.requests().is_empty(), "the CA was called");
    let mut live = get("/health");
    live.query = "live=true";
    let answer = call(&live, &settings(&[]), &issuing(&ca));
    assert_eq!(
        (answer.status, json(&answer)["ca_certificates"].as_u64()),
        (200, Some(2))
    );
    // ...unless the operator turned authentication off.
    let open = settings(&[("api_token", ""), ("api_auth", "none")]);
    assert_eq!(call(&anonymous, &open, &issuing(&ca)).status, 200);
    let down = ScriptedTransport::new(|_| {
        Err(TransportError::failed(
            TransportCause::ConnectionRefused,
            "connection refused",
        ))
    });
    let doc = assert_problem(&call(&live, &settings(&[]), &down), 503, "transport");
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
            est_server(&ca, |_| response(401, &[], "bad est password")),
        ),
        (
            502,
            "rejected",
            est_server(&ca, |_| response(400, &[], "no CN")),
        ),
        (
            502,
            "server-error",
            est_server(&ca, |_| response(503, &[], "maintenance")),
        ),
        (
            504,
            "timeout",
            est_server(&ca, |_| {
                Err(TransportError::failed(
                    TransportCause::Timeout,
                    "no answer in time",
                ))
            }),
        ),
        (
            502,
            "transport",
            est_server(&ca, |_| {
                Err(TransportError::failed(
                    TransportCause::TlsUntrusted,
                    "TLS certificate error",
                ))
            }),
        ),
        (
            502,
            "malformed-answer",
            est_server(&ca, |_| response(200, &[], "junk!")),
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
    let transport = est_server(&ca, move |r| {
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

#[test]
fn a_request_id_names_the_answer_and_its_problem_document() {
    for bad in ["", "has space", "a/b", "quote\"", &"x".repeat(65)] {
        assert_eq!(RequestId::parse(bad), None, "{bad:?}");
    }
    let id = RequestId::parse(" req-1.a:b_C ").unwrap();
    assert_eq!(id.as_str(), "req-1.a:b_C");

    let mut refused = problem(
        401,
        ProblemKind::Unauthorized,
        "Unauthorized",
        "no \"token\"",
    );
    refused.identify(&id);
    assert_eq!(refused.header("x-request-id"), Some("req-1.a:b_C"));
    let doc = json(&refused);
    assert_eq!(doc["instance"], "urn:request:req-1.a:b_C");
    assert_eq!(doc["detail"], "no \"token\"", "the rest is unchanged");

    // Not a problem document: only the header.
    let mut ok = ApiResponse::json(200, &serde_json::json!({"status": "ok"}));
    let body = ok.body.clone();
    ok.identify(&id);
    assert_eq!(ok.body, body);
    assert_eq!(ok.header("x-request-id"), Some("req-1.a:b_C"));
}

#[test]
fn admit_decides_from_the_head_alone_before_any_body() {
    let good = format!("Bearer {TOKEN}");
    let with_token = settings(&[]);
    // No body is involved: a caller without the token is refused from the
    // head, whatever body it would send.
    let refusal = admit("POST", "/enroll", None, &with_token).unwrap_err();
    assert_problem(&refusal, 401, "unauthorized");
    assert_eq!(
        refusal.header("www-authenticate"),
        Some("Bearer realm=\"est-ca-handler\"")
    );
    let wrong = admit("POST", "/poll", Some("Bearer nope"), &with_token).unwrap_err();
    assert_problem(&wrong, 401, "unauthorized");
    let unconfigured = settings(&[("api_token", "")]);
    assert_problem(
        &admit("POST", "/enroll", Some(&good), &unconfigured).unwrap_err(),
        503,
        "api-auth-unconfigured",
    );
    // Admitted: the route, and only enroll and poll read a body.
    for route in Route::ALL {
        let admission = admit(route.method(), route.path(), Some(&good), &with_token).unwrap();
        assert_eq!(admission.route(), route);
        assert_eq!(
            admission.reads_body(),
            matches!(route, Route::Enroll | Route::Poll),
            "{route:?}"
        );
    }
    // /health lets anyone in (and reads no body).
    let anonymous = admit("GET", "/health", None, &with_token).unwrap();
    assert!(!anonymous.reads_body());
    // Unknown paths, and routes with another method.
    assert_problem(
        &admit("POST", "/nowhere", Some(&good), &with_token).unwrap_err(),
        404,
        "not-found",
    );
    let put = admit("PUT", "/enroll", Some(&good), &with_token).unwrap_err();
    assert_problem(&put, 405, "method-not-allowed");
    assert_eq!(put.header("allow"), Some("POST"));
}

#[test]
fn methods_are_case_sensitive() {
    let good = format!("Bearer {TOKEN}");
    for (method, path, allow) in [
        ("post", "/enroll", "POST"),
        ("Post", "/poll", "POST"),
        ("get", "/health", "GET"),
        ("get", "/cacerts", "GET"),
        ("FOO", "/enroll", "POST"),
    ] {
        let refusal = admit(method, path, Some(&good), &settings(&[])).unwrap_err();
        let doc = assert_problem(&refusal, 405, "method-not-allowed");
        assert_eq!(refusal.header("allow"), Some(allow), "{method} {path}");
        if method.eq_ignore_ascii_case(allow) {
            assert!(
                doc["detail"].as_str().unwrap().contains("case-sensitive"),
                "{doc}"
            );
        }
    }
    // Through handle too: nothing is issued for `post`.
    let ca = Rc::new(TestCa::new("ApiCase"));
    let transport = issuing(&ca);
    let mut lower = post("/enroll", make_csr("case.example.test"));
    lower.method = "post";
    assert_problem(
        &call(&lower, &settings(&[]), &transport),
        405,
        "method-not-allowed",
    );
    assert!(transport.requests().is_empty(), "the CA was called");
}

#[test]
fn an_invalid_api_auth_is_named_by_health_and_refuses_every_route() {
    let good = format!("Bearer {TOKEN}");
    let bad = settings(&[("api_auth", "maybe")]);
    for authorization in [None, Some(good.as_str())] {
        let health = admit("GET", "/health", authorization, &bad).unwrap_err();
        let doc = assert_problem(&health, 503, "api-auth-invalid");
        let detail = doc["detail"].as_str().unwrap();
        assert!(
            detail.contains("api_auth") && detail.contains("\"maybe\""),
            "{doc}"
        );
    }
    let ca = Rc::new(TestCa::new("ApiAuthInvalid"));
    let mut health = get("/health");
    health.auth = None;
    assert_problem(&call(&health, &bad, &issuing(&ca)), 503, "api-auth-invalid");
    for route in [Route::Enroll, Route::Poll, Route::CaCerts] {
        let refusal = admit(route.method(), route.path(), Some(&good), &bad).unwrap_err();
        assert_problem(&refusal, 500, "api-auth-invalid");
    }
    // A long value may be a secret set in the wrong place: not shown.
    let secretish = settings(&[("api_auth", "s3cret-Token-in-the-wrong-key")]);
    let doc = assert_problem(
        &admit("GET", "/health", None, &secretish).unwrap_err(),
        503,
        "api-auth-invalid",
    );
    let detail = doc["detail"].as_str().unwrap();
    assert!(!detail.contains("s3cret"), "{doc}");
    assert!(detail.contains("29 characters"), "{doc}");
}
