//! What each EST answer means: statuses, redirects, the server's words,
//! malformed bodies and transport failures, read as `/simpleenroll` answers.

use super::answer::{Answer, AnswerError, MAX_DETAIL, interpret};
use super::pkcs7::Pkcs7Error;
use super::request::Endpoint;
use crate::error::{
    HandlerError, HttpFailure, TransportCause, TransportFailure, UnreturnedCertificate,
};
use crate::testutil::{b64, response};
use crate::text::{Redactions, SafeText};
use crate::transport::{Response, TransportError};
use crate::x509::names::NamesError;

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
    let endpoint = Endpoint::SimpleEnroll;
    let pkcs7 = |error| HandlerError::from(AnswerError::Pkcs7 { endpoint, error });
    let is_der = |err: &HandlerError| {
        matches!(err, HandlerError::MalformedAnswer(e) if matches!(
            **e,
            AnswerError::Pkcs7 {
                endpoint: Endpoint::SimpleEnroll,
                error: Pkcs7Error::Der(_),
            }
        ))
    };
    assert_eq!(
        enroll_error(move || response(200, &[("content-type", p7)], "")),
        pkcs7(Pkcs7Error::Empty)
    );
    for garbage in ["%%%garbage%%%", "MIIBIjAN"] {
        let err = enroll_error(move || response(200, &[("content-type", p7)], garbage));
        assert!(is_der(&err), "{garbage}: {err:?}");
    }
    assert_eq!(
        enroll_error(|| response(200, &[("content-type", "text/html")], "<html>login</html>")),
        HandlerError::from(AnswerError::ContentType {
            endpoint,
            content_type: SafeText::new("text/html", 100),
        })
    );
    assert_eq!(
        enroll_error(|| response(200, &[], b64(&crate::testutil::certs_only(&[])))),
        pkcs7(Pkcs7Error::NoCertificates)
    );
    assert_eq!(
        enroll_error(|| Err(TransportError::BodyTooLarge { limit: 1024 })),
        HandlerError::from(AnswerError::TooLarge {
            endpoint,
            limit: 1024
        })
    );
    // Transport failures: the words are what an operator reads.
    for (cause, words, text) in [
        (
            TransportCause::Timeout,
            "no answer in time",
            "timeout: /simpleenroll: no answer in time",
        ),
        (
            TransportCause::ConnectionRefused,
            "connection refused",
            "transport error (connection-refused): /simpleenroll: connection refused",
        ),
    ] {
        let err = enroll_error(move || Err(TransportError::failed(cause, words)));
        assert_eq!(
            err,
            HandlerError::Transport(TransportFailure::new(
                cause,
                format!("/simpleenroll: {words}")
            ))
        );
        assert_eq!(err.to_string(), text);
    }
}

/// The words of each kind of unusable answer, as operators read them.
#[test]
fn malformed_answer_texts_are_pinned() {
    let p7 = "application/pkcs7-mime";
    type Script = Box<dyn Fn() -> Result<Response, TransportError>>;
    let cases: Vec<(Script, &str)> = vec![
        (
            Box::new(|| Err(TransportError::BodyTooLarge { limit: 1024 })),
            "malformed answer from the CA: /simpleenroll: the answer is larger than 1024 bytes",
        ),
        (
            Box::new(|| response(200, &[("content-type", "text/html;\r\n x")], "<html/>")),
            "malformed answer from the CA: /simpleenroll: HTTP 200 with Content-Type \"text/html;   x\", not application/pkcs7-mime",
        ),
        (
            Box::new(move || response(200, &[("content-type", p7)], " ")),
            "malformed answer from the CA: /simpleenroll: the body is empty",
        ),
        (
            Box::new(move || response(200, &[("content-type", p7)], "MIIBIjAN")),
            "malformed answer from the CA: /simpleenroll: the body is not a PKCS#7 SignedData: ASN.1 DER message is incomplete: expected 7, actual 6 at DER byte 6",
        ),
        (
            Box::new(move || {
                response(
                    200,
                    &[("content-type", p7)],
                    "-----BEGIN X\x07Y-----\nQUJD\n-----END X\x07Y-----\n",
                )
            }),
            "malformed answer from the CA: /simpleenroll: the body is not base64, DER or PEM PKCS#7: a PEM block labelled \"X Y\" instead of PKCS7",
        ),
    ];
    let (got, expected): (Vec<String>, Vec<&str>) = cases
        .into_iter()
        .map(|(answer, words)| (enroll_error(answer).to_string(), words))
        .unzip();
    assert_eq!(got, expected);
}

/// The words of the unusable answers the handler finds after decoding.
#[test]
fn other_malformed_answer_texts_are_pinned() {
    let no_issuer = AnswerError::NoIssuer {
        ca_certificates: 2,
        issuer: "CN=Issuing CA".into(),
    };
    let unreturned = HandlerError::from(no_issuer.clone()).with_unreturned(UnreturnedCertificate {
        serial: "01:02".into(),
        subject: "CN=a.example.test".into(),
        base64: "MIIB".into(),
    });
    let cases = [
        (
            HandlerError::from(AnswerError::PendingCaCerts),
            "malformed answer from the CA: /cacerts: unexpected pending answer",
        ),
        (
            HandlerError::from(AnswerError::IssuedNames(NamesError::IpAddressLength(5))),
            "malformed answer from the CA: /simpleenroll: the issued certificate's names cannot be read: its subjectAltName holds an IP address of 5 bytes",
        ),
        (
            HandlerError::from(no_issuer),
            "malformed answer from the CA: none of the 2 CA certificate(s) from /cacerts is the issuer \"CN=Issuing CA\"",
        ),
        (
            unreturned,
            "malformed answer from the CA: none of the 2 CA certificate(s) from /cacerts is the issuer \"CN=Issuing CA\" (the CA issued certificate serial 01:02 for \"CN=a.example.test\", which could not be returned as a result; its PEM: -----BEGIN CERTIFICATE----- MIIB -----END CERTIFICATE-----)",
        ),
        (
            HandlerError::CertificateMismatch("the names differ".into()).with_unreturned(
                UnreturnedCertificate {
                    serial: "03".into(),
                    subject: "CN=b".into(),
                    base64: "MIIC".into(),
                },
            ),
            "issued certificate does not match the request: the names differ (the CA issued certificate serial 03 for \"CN=b\", which could not be returned as a result; its PEM: -----BEGIN CERTIFICATE----- MIIC -----END CERTIFICATE-----)",
        ),
    ];
    let (got, expected): (Vec<String>, Vec<&str>) = cases
        .into_iter()
        .map(|(error, words)| (error.to_string(), words))
        .unzip();
    assert_eq!(got, expected);
}

#[test]
fn outside_text_in_an_unusable_answer_loses_the_secrets() {
    let mut secrets = Redactions::default();
    secrets.add_secret("hunter22");
    let certificate = UnreturnedCertificate {
        serial: "01".into(),
        subject: "CN=hunter22".into(),
        base64: "MIIB".into(),
    };
    let error = HandlerError::from(AnswerError::NoIssuer {
        ca_certificates: 1,
        issuer: "CN=hunter22 CA".into(),
    })
    .with_unreturned(certificate)
    .redacted(&secrets);
    let HandlerError::MalformedAnswer(answer) = error else {
        panic!("{error:?}")
    };
    let AnswerError::Unreturned { cause, certificate } = *answer else {
        panic!("{answer:?}")
    };
    assert_eq!(
        *cause,
        AnswerError::NoIssuer {
            ca_certificates: 1,
            issuer: "CN=[redacted] CA".into(),
        }
    );
    assert_eq!(certificate.subject, "CN=[redacted]");
    let label = enroll_error(|| {
        response(
            200,
            &[],
            "-----BEGIN hunter22-----\nQUJD\n-----END hunter22-----\n",
        )
    });
    assert_eq!(
        label.redacted(&secrets),
        HandlerError::from(AnswerError::Pkcs7 {
            endpoint: Endpoint::SimpleEnroll,
            error: Pkcs7Error::PemLabel(SafeText::new("[redacted]", 40)),
        })
    );
}
