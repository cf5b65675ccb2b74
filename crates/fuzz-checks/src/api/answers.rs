//! The checks on one answer of the HTTP API: its status, headers and
//! problem document, and what a `200` or `202` holds.

use crate::support::{answer_bytes, assert_clean, find};
use der::Decode;
use est_ca_handler::api::{ApiResponse, Route};
use est_ca_handler::encoding;
use est_ca_handler::est::answer::{MAX_RETRY_AFTER_SECS, MIN_RETRY_AFTER_SECS};
use est_ca_handler::transport::Response;
use est_test_kit::ScriptedTransport;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::request::CertReq;

/// The statuses the API may answer with.
const STATUSES: &[u16] = &[
    200, 202, 204, 400, 401, 403, 404, 405, 413, 500, 501, 502, 503, 504,
];
/// The transport causes problem documents may name.
const CAUSES: &[&str] = &[
    "dns",
    "connection-refused",
    "connection-reset",
    "tls-untrusted",
    "tls-alert",
    "tls-protocol",
    "destination-denied",
    "timeout",
    "other",
];

/// `sha256:` and the hex SHA-256 of `der`.
pub(super) fn fingerprint(der: &[u8]) -> String {
    let hex: String = Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

pub(super) fn assert_not_shown(response: &ApiResponse, secret: &str) {
    let body = String::from_utf8_lossy(&response.body);
    assert!(!body.contains(secret), "an answer's body shows a secret");
    for (name, value) in &response.headers {
        assert!(!value.contains(secret), "header {name} shows a secret");
    }
    for line in &response.log {
        assert!(!line.contains(secret), "the log shows a secret");
    }
}

pub(super) fn check_response(response: &ApiResponse) {
    let status = response.status;
    assert!(STATUSES.contains(&status), "status {status}");
    for (name, value) in &response.headers {
        assert!(
            !name.is_empty() && !name.bytes().any(|b| b.is_ascii_uppercase()),
            "header name {name:?}"
        );
        assert_clean(name, value, 1000);
    }
    for line in &response.log {
        assert!(!line.chars().any(char::is_control), "log line {line:?}");
    }
    if status < 400 {
        return;
    }
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json"),
        "HTTP {status} without a problem document"
    );
    let document = json_object(response);
    let string = |field: &str| match document.get(field) {
        Some(Value::String(s)) => s.clone(),
        other => panic!("problem field {field}: {other:?}"),
    };
    assert!(!string("type").is_empty(), "an empty problem type");
    assert!(!string("title").chars().any(char::is_control));
    let detail = string("detail");
    assert!(
        !detail.chars().any(char::is_control),
        "the problem detail holds a control character: {detail:?}"
    );
    assert_eq!(
        document.get("status").and_then(Value::as_u64),
        Some(u64::from(status)),
        "the problem's status is not the answer's"
    );
    if let Some(est_status) = document.get("est_status") {
        assert!(
            est_status
                .as_u64()
                .is_some_and(|s| s <= u64::from(u16::MAX))
        );
    }
    let cause = document
        .get("cause")
        .map(|c| c.as_str().expect("a cause string"));
    if let Some(cause) = cause {
        assert!(CAUSES.contains(&cause), "unknown cause {cause}");
    }
    if document.contains_key("tls_alert") {
        assert_eq!(cause, Some("tls-alert"), "tls_alert without its cause");
    }
    match status {
        401 => assert!(response.header("www-authenticate").is_some()),
        405 => assert!(response.header("allow").is_some()),
        _ => {}
    }
}

pub(super) fn json_object(response: &ApiResponse) -> Map<String, Value> {
    match serde_json::from_slice(&response.body) {
        Ok(Value::Object(map)) => map,
        other => panic!("HTTP {}: not a JSON object: {other:?}", response.status),
    }
}

/// The bytes the EST server's answers decode to.
fn answered(transport: &ScriptedTransport) -> Vec<Vec<u8>> {
    transport
        .answers()
        .iter()
        .filter_map(|a: &Response| answer_bytes(&a.body))
        .collect()
}

/// Asserts that `der` is a certificate the EST server sent, byte for byte.
fn assert_sent(der: &[u8], answered: &[Vec<u8>]) -> Certificate {
    assert!(
        answered.iter().any(|a| find(a, der).is_some()),
        "a certificate that no answer holds"
    );
    Certificate::from_der(der).expect("a certificate that does not decode")
}

/// The certificates of a PEM bundle, which must be only certificates.
fn pem_certificates(bundle: &str) -> Vec<Vec<u8>> {
    let blocks: Vec<&str> = bundle
        .split_inclusive("-----END CERTIFICATE-----\n")
        .collect();
    assert!(!blocks.is_empty(), "an empty bundle");
    blocks
        .iter()
        .map(|block| match encoding::decode_pem(block.as_bytes()) {
            Ok(Some((label, der))) if label == "CERTIFICATE" && block.starts_with("-----BEGIN") => {
                der
            }
            other => panic!("a bundle block that is not a certificate: {other:?}"),
        })
        .collect()
}

/// The CSR the handler sent to `/simpleenroll`.
fn enrolled_csr(transport: &ScriptedTransport) -> Vec<u8> {
    let request = transport
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/simpleenroll"))
        .expect("an enrollment answered without asking the EST server");
    encoding::decode_base64(&request.body).expect("an enrollment body that is not base64")
}

/// Checks a `200`; `/health` shows its warnings only to a caller with the
/// token (`authorized`), and probes the EST server only when also asked to
/// (`probed`).
pub(super) fn check_success(
    route: Option<Route>,
    response: &ApiResponse,
    transport: &ScriptedTransport,
    probed: bool,
    authorized: bool,
) {
    let answered = answered(transport);
    match route.expect("200 without a route") {
        Route::CaCerts => {
            assert_eq!(
                response.header("content-type"),
                Some("application/pem-certificate-chain")
            );
            let bundle = String::from_utf8(response.body.clone()).expect("a UTF-8 bundle");
            for der in pem_certificates(&bundle) {
                assert_sent(&der, &answered);
            }
        }
        Route::Health => {
            let document = json_object(response);
            assert_eq!(document.get("status"), Some(&Value::from("ok")));
            // Warnings name settings: only callers with the token see them.
            assert_eq!(document.contains_key("warnings"), authorized);
            if authorized {
                strings(&document, "warnings");
            }
            assert_eq!(document.contains_key("ca_certificates"), probed);
            if probed {
                let count = document["ca_certificates"].as_u64().expect("a count");
                assert!(count > 0, "a live probe without a CA certificate");
            }
        }
        Route::Enroll | Route::Poll => {
            let document = json_object(response);
            let field = |name: &str| match document.get(name) {
                Some(Value::String(s)) => s.clone(),
                other => panic!("{name}: {other:?}"),
            };
            let raw = encoding::decode_base64(field("cert_raw").as_bytes())
                .expect("cert_raw is not base64");
            let leaf = assert_sent(&raw, &answered);
            let certs = pem_certificates(&field("cert_bundle"));
            assert_eq!(certs[0], raw, "the bundle does not start with cert_raw");
            for der in &certs[1..] {
                assert_sent(der, &answered);
            }
            let csr = CertReq::from_der(&enrolled_csr(transport)).expect("the CSR sent");
            assert_eq!(
                leaf.tbs_certificate().subject_public_key_info(),
                &csr.info.public_key,
                "the leaf does not certify the CSR's key"
            );
            assert_eq!(strings(&document, "warnings"), response.log);
        }
        route => panic!("200 from {route:?}"),
    }
}

/// The strings of array `field`, which must be clean.
fn strings(document: &Map<String, Value>, field: &str) -> Vec<String> {
    let Some(Value::Array(items)) = document.get(field) else {
        panic!("{field} is not an array");
    };
    items
        .iter()
        .map(|item| {
            let text = item.as_str().expect("a string").to_owned();
            assert!(!text.chars().any(char::is_control), "{field}: {text:?}");
            text
        })
        .collect()
}

pub(super) fn check_pending(
    route: Option<Route>,
    response: &ApiResponse,
    transport: &ScriptedTransport,
) {
    assert!(
        matches!(route, Some(Route::Enroll | Route::Poll)),
        "202 from {route:?}"
    );
    let document = json_object(response);
    let retry = document
        .get("retry_after")
        .and_then(Value::as_u64)
        .expect("retry_after");
    assert!(
        (u64::from(MIN_RETRY_AFTER_SECS)..=u64::from(MAX_RETRY_AFTER_SECS)).contains(&retry),
        "retry_after {retry}"
    );
    assert_eq!(
        response.header("retry-after"),
        Some(retry.to_string().as_str())
    );
    assert_eq!(
        document.get("poll_identifier").and_then(Value::as_str),
        Some(fingerprint(&enrolled_csr(transport)).as_str()),
        "the poll identifier is not the CSR's fingerprint"
    );
}
