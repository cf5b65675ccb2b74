//! The EST answer interpreter ([`interpret`]): status, headers and body of
//! an answer, or a transport failure, as the scripted transport delivers
//! them for a `/cacerts` or `/simpleenroll` request.

use crate::fixtures::{CSR, EST_PASSWORD, Settings};
use crate::script::{Scripted, est_server};
use crate::support::{Input, answer_bytes, assert_certificates_from, assert_clean, assert_hidden};
use est_ca_handler::config::Config;
use est_ca_handler::error::HandlerError;
use est_ca_handler::est::answer::{
    Answer, AnswerError, DEFAULT_RETRY_AFTER_SECS, MAX_RETRY_AFTER_SECS, MIN_RETRY_AFTER_SECS,
    interpret, retry_after,
};
use est_ca_handler::est::pkcs7::decode_certs_only;
use est_ca_handler::est::{Endpoint, EstRequest, limits};
use est_ca_handler::transport::{Response, Transport, TransportError};
use est_ca_handler::x509::csr::Csr;

/// The longest error text accepted, in characters.
const MAX_ERROR: usize = 2048;

/// Target `est_answer`. Layout: one byte (bit 0 set: a `/simpleenroll`
/// request, else `/cacerts`), then two parts: the answer's spec (byte 0
/// the kind: `% 10 == 0` an answer with status bytes 1-2 big-endian,
/// header lines `name: value` from byte 4 on, and the second part as its
/// body; other kinds are fixture answers, `202` with the second part as
/// `Retry-After`, a certs-only `200` with the second part as body, a
/// transport failure whose cause is byte 3 and words the second part, an
/// over-long body, a lost request) and the payload.
///
/// Checks: certificates only from a `200` whose content type is absent or
/// PKCS#7, each a byte range of the decoded body, exactly those
/// [`decode_certs_only`] reads; pending only from a `202` to
/// `/simpleenroll`, with the `Retry-After` delay within
/// `MIN_RETRY_AFTER_SECS..=MAX_RETRY_AFTER_SECS` (the exact clamped
/// number of seconds for a number, the default when absent); every error
/// of the kind its status or failure gives, with the server's status, and
/// a text free of control characters and at most 2048 characters; the
/// request sent shows no password.
pub fn est_answer(data: &[u8]) {
    let mut input = Input::<1>::new(data);
    let enroll = input.byte(0) & 1 == 1;
    let (spec, payload) = (input.part(), input.part());
    let scripted = Scripted::parse(spec, payload);

    let config = Config::load(&Settings::working()).expect("the working configuration");
    let csr = Csr::from_der(CSR.to_vec()).expect("the fixture CSR");
    let (endpoint, request) = if enroll {
        (Endpoint::SimpleEnroll, EstRequest::SimpleEnroll(&csr))
    } else {
        (Endpoint::CaCerts, EstRequest::CaCerts)
    };
    let request = request.to_http(&config);
    assert_hidden("the EST request", &format!("{request:?}"), EST_PASSWORD);
    let transport = est_server(vec![scripted]);
    let Some(outcome) = transport
        .send_all(vec![request], limits(&config))
        .into_iter()
        .next()
    else {
        return;
    };
    let result = interpret(endpoint, outcome.clone(), &config.redactions);
    match (&outcome, result) {
        (Ok(response), Ok(Answer::Certificates(certs))) => {
            assert_eq!(response.status, 200, "certificates from a non-200 answer");
            if let Some(content_type) = response.header("content-type") {
                let media = content_type.split(';').next().unwrap_or_default();
                let media = media.trim().to_ascii_lowercase();
                assert!(
                    media.contains("pkcs7") || media == "application/octet-stream",
                    "certificates from a {content_type:?} answer"
                );
            }
            assert_eq!(decode_certs_only(&response.body).as_ref(), Ok(&certs));
            let source = answer_bytes(&response.body).expect("a body that decodes");
            assert_certificates_from(&certs, &source);
        }
        (Ok(response), Ok(Answer::Pending { retry_after_secs })) => {
            assert_eq!(response.status, 202, "pending from a non-202 answer");
            assert_eq!(endpoint, Endpoint::SimpleEnroll, "pending from /cacerts");
            check_retry_after(response, retry_after_secs);
        }
        (_, Err(error)) => check_error(endpoint, &outcome, &error),
        (Err(_), Ok(answer)) => panic!("{answer:?} from a transport failure"),
    }
}

fn check_retry_after(response: &Response, secs: u32) {
    let value = response.header("retry-after");
    assert_eq!(retry_after(value), secs);
    assert!(
        (MIN_RETRY_AFTER_SECS..=MAX_RETRY_AFTER_SECS).contains(&secs),
        "Retry-After {value:?} gave {secs} s"
    );
    match value {
        None => assert_eq!(secs, DEFAULT_RETRY_AFTER_SECS),
        Some(value) => {
            if let Ok(n) = value.parse::<u64>() {
                let expected = n.clamp(
                    u64::from(MIN_RETRY_AFTER_SECS),
                    u64::from(MAX_RETRY_AFTER_SECS),
                );
                assert_eq!(u64::from(secs), expected, "Retry-After {value:?}");
            }
        }
    }
}

fn check_error(
    endpoint: Endpoint,
    outcome: &Result<Response, TransportError>,
    error: &HandlerError,
) {
    assert_clean("the answer's error", &error.to_string(), MAX_ERROR);
    match (outcome, error) {
        (Err(TransportError::Failed(failure)), HandlerError::Transport(got)) => {
            assert_eq!(got.cause, failure.cause, "the transport cause changed");
        }
        (Err(TransportError::BodyTooLarge { limit }), HandlerError::MalformedAnswer(got)) => {
            let limit = *limit;
            assert_eq!(
                **got,
                AnswerError::TooLarge { endpoint, limit },
                "the limit's error changed"
            );
        }
        (Ok(response), error) => {
            let status = response.status;
            let http = |kind: &str| match error {
                HandlerError::Unauthorized(f)
                | HandlerError::Rejected(f)
                | HandlerError::ServerError(f)
                    if error.kind() == kind =>
                {
                    assert_eq!(f.status, status, "the status changed");
                }
                other => panic!("HTTP {status} gave {other:?}, not {kind}"),
            };
            match status {
                200 => assert!(
                    matches!(
                        error,
                        HandlerError::MalformedAnswer(got) if matches!(
                            **got,
                            AnswerError::ContentType { endpoint: e, .. }
                                | AnswerError::Pkcs7 { endpoint: e, .. } if e == endpoint
                        )
                    ),
                    "HTTP 200 gave {error:?}"
                ),
                202 if endpoint == Endpoint::SimpleEnroll => {
                    panic!("a 202 to /simpleenroll gave {error:?}")
                }
                401 | 403 => http("unauthorized"),
                400..=499 => http("rejected"),
                _ => http("server-error"),
            }
        }
        (outcome, error) => panic!("{outcome:?} gave {error:?}"),
    }
}
