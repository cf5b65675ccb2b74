//! What each EST answer means: statuses, redirects, the server's words,
//! malformed bodies and transport failures, read as `/simpleenroll` answers.

use super::answer::{Answer, MAX_DETAIL, interpret};
use super::request::Endpoint;
use crate::error::{HandlerError, HttpFailure, TransportCause};
use crate::testutil::{b64, response};
use crate::transport::{Response, TransportError};

/// The error an `/simpleenroll` answer gives.
fn enroll_error(answer: impl Fn() -> Result<Response, TransportError>) -> HandlerError {
    match interpret(Endpoint::SimpleEnroll, answer(), &Default::default()) {
        Err(err) => err,
        Ok(Answer::Certificates(certs)) => panic!("{} certificate(s)", certs.len()),
        Ok(pending) => panic!("{pending:?}"),
    }
}

#[test]
fn every_status_gives_its_error_kind_with_the_servers_words() {
    let cases: &[(u16, &str, &str)] = &[
        (401, "unauthorized", "bad password"),
        (403, "unauthorized", "not allowed"),
        (400, "rejected", "CSR lacks CN"),
        (404, "rejected", "no such label"),
        (409, "rejected", "duplicate"),
        (500, "server-error", "database down"),
        (503, "server-error", "try later"),
        (302, "server-error", "moved"),
        (204, "server-error", ""),
    ];
    for &(status, kind, text) in cases {
        let err = enroll_error(move || response(status, &[("content-type", "text/plain")], text));
        assert_eq!(err.kind(), kind, "HTTP {status}: {err}");
        let failure = match &err {
            HandlerError::Unauthorized(f)
            | HandlerError::Rejected(f)
            | HandlerError::ServerError(f) => f,
            other => panic!("{other:?}"),
        };
        assert_eq!(failure.status, status);
        assert!(
            failure.detail.starts_with("/simpleenroll: "),
            "{}",
            failure.detail
        );
        assert!(failure.detail.contains(text), "{}", failure.detail);
        assert!(!failure.detail.contains("estpwd-secret"));
    }
}

#[test]
fn redirects_are_reported_with_their_target() {
    let err = enroll_error(|| response(301, &[("location", "https://elsewhere.test/est")], ""));
    assert!(
        err.to_string()
            .contains("redirect to \"https://elsewhere.test/est\" not followed"),
        "{err}"
    );
}

#[test]
fn server_text_is_sanitised_and_capped() {
    let err = enroll_error(|| {
        response(
            500,
            &[],
            format!("evil\r\n\x1b[31mred{}", "x".repeat(10_000)),
        )
    });
    let HandlerError::ServerError(HttpFailure { detail, .. }) = err else {
        panic!()
    };
    assert!(!detail.chars().any(char::is_control), "{detail:?}");
    assert!(
        detail.chars().count() <= MAX_DETAIL + 40,
        "{}",
        detail.len()
    );
    assert!(detail.ends_with('…'));
}

#[test]
fn malformed_answers_and_transport_failures_are_typed() {
    let p7 = "application/pkcs7-mime";
    type Script = Box<dyn Fn() -> Result<Response, TransportError>>;
    let cases: Vec<(Script, &str, &str)> = vec![
        (
            Box::new(move || response(200, &[("content-type", p7)], "")),
            "malformed-answer",
            "body is empty",
        ),
        (
            Box::new(move || response(200, &[("content-type", p7)], "%%%garbage%%%")),
            "malformed-answer",
            "not a PKCS#7",
        ),
        (
            Box::new(move || response(200, &[("content-type", p7)], "MIIBIjAN")),
            "malformed-answer",
            "not a PKCS#7",
        ),
        (
            Box::new(|| response(200, &[("content-type", "text/html")], "<html>login</html>")),
            "malformed-answer",
            "text/html",
        ),
        (
            Box::new(|| response(200, &[], b64(&crate::testutil::certs_only(&[])))),
            "malformed-answer",
            "holds no certificate",
        ),
        (
            Box::new(|| {
                Err(TransportError::failed(
                    TransportCause::Timeout,
                    "no answer in time",
                ))
            }),
            "transport",
            "timeout: /simpleenroll: no answer in time",
        ),
        (
            Box::new(|| {
                Err(TransportError::failed(
                    TransportCause::ConnectionRefused,
                    "connection refused",
                ))
            }),
            "transport",
            "(connection-refused): /simpleenroll: connection refused",
        ),
        (
            Box::new(|| Err(TransportError::BodyTooLarge { limit: 1024 })),
            "malformed-answer",
            "larger than 1024 bytes",
        ),
    ];
    for (answer, kind, text) in cases {
        let err = enroll_error(answer);
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(text), "{err}");
    }
}
