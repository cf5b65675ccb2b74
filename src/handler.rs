//! The CA-handler operations, independent of how they are called: CSR in,
//! EST requests out, PKCS#7 back, PEM out.

use crate::chain::issuer_chain;
use crate::config::{Config, NamesCheck};
use crate::csr::{Csr, same_public_key};
use crate::encoding;
use crate::error::{HandlerError, RevocationError, TransportCause, TransportFailure};
use crate::est::{self, Answer, Operation};
use crate::http::Transport;
use crate::names::{self, Names};
use crate::pkcs7::ReceivedCertificate;
use x509_cert::Certificate;

/// An issued certificate in acme2certifier's shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The certificate, then its issuing chain, as PEM.
    pub cert_bundle: String,
    /// The certificate's DER as base64 on one line.
    pub cert_raw: String,
    /// Things the operator should know about this certificate (names the
    /// CSR asked for that it lacks, under `est_names_check = warn`).
    pub warnings: Vec<String>,
}

/// A request the CA has not decided yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// What `poll` needs back: the CSR's fingerprint.
    pub poll_identifier: String,
    /// Seconds the CA asked to wait.
    pub retry_after_seconds: u32,
}

/// The outcome of `enroll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrollment {
    /// Issued at once.
    Issued(IssuedCertificate),
    /// Deferred by the CA.
    Pending(Pending),
}

/// The outcome of `poll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollResult {
    /// Issued now.
    Issued(IssuedCertificate),
    /// Still deferred.
    Pending(Pending),
    /// Refused by the CA for good, with its reason.
    Rejected(String),
}

/// The CA certificates the server publishes, as PEM, in its order.
pub fn ca_certs(config: &Config, transport: &dyn Transport) -> Result<Vec<String>, HandlerError> {
    let certs = fetch_ca_certs(config, transport)?;
    Ok(certs.iter().map(certificate_pem).collect())
}

/// Requests a certificate for `csr_text` (base64url, base64 or PEM).
pub fn enroll(
    config: &Config,
    transport: &dyn Transport,
    csr_text: &str,
) -> Result<Enrollment, HandlerError> {
    let csr = Csr::parse(csr_text)?;
    submit(config, transport, &csr)
}

/// Asks again for a certificate `enroll` left pending, by repeating the
/// enrollment request (RFC 7030 §4.2.3). `poll_identifier` must be the one
/// `enroll` returned for this CSR.
pub fn poll(
    config: &Config,
    transport: &dyn Transport,
    poll_identifier: &str,
    csr_text: &str,
) -> Result<PollResult, HandlerError> {
    let csr = Csr::parse(csr_text)?;
    if poll_identifier.trim() != csr.fingerprint() {
        return Err(HandlerError::BadCsr(format!(
            "the poll identifier \"{}\" does not belong to this CSR (its identifier is {})",
            crate::config::sanitize(poll_identifier, 80),
            csr.fingerprint()
        )));
    }
    match submit(config, transport, &csr) {
        Ok(Enrollment::Issued(cert)) => Ok(PollResult::Issued(cert)),
        Ok(Enrollment::Pending(pending)) => Ok(PollResult::Pending(pending)),
        Err(HandlerError::Rejected(failure)) => Ok(PollResult::Rejected(format!(
            "HTTP {}: {}",
            failure.status, failure.detail
        ))),
        Err(other) => Err(other),
    }
}

/// Revocation is not part of EST's simple API.
pub fn revoke() -> Result<(), RevocationError> {
    Err(RevocationError {
        code: 500,
        message: "urn:ietf:params:acme:error:serverInternal".into(),
        detail: "Revocation is not supported.".into(),
    })
}

/// EST servers push nothing to the ACME server.
pub fn trigger() -> Result<IssuedCertificate, HandlerError> {
    Err(HandlerError::NotSupported("Method not implemented.".into()))
}

/// Sends `/cacerts` and `/simpleenroll` together and builds the result.
fn submit(
    config: &Config,
    transport: &dyn Transport,
    csr: &Csr,
) -> Result<Enrollment, HandlerError> {
    let requests = vec![
        est::request(config, Operation::SimpleEnroll, Some(csr)),
        est::request(config, Operation::CaCerts, None),
    ];
    let mut outcomes = transport
        .send_all(requests, est::limits(config))
        .into_iter();
    let (Some(enrolled), Some(cacerts)) = (outcomes.next(), outcomes.next()) else {
        return Err(lost_request());
    };
    let enrolled = match est::interpret(Operation::SimpleEnroll, enrolled)? {
        Answer::Pending { retry_after_secs } => {
            return Ok(Enrollment::Pending(Pending {
                poll_identifier: csr.fingerprint(),
                retry_after_seconds: retry_after_secs,
            }));
        }
        Answer::Certificates(certs) => certs,
    };
    let (leaf, extra) = pick_issued(csr, enrolled)?;
    let warnings = check_names(config.names_check, csr, &leaf).map_err(|e| issued_but(&leaf, e))?;
    let cas = match est::interpret(Operation::CaCerts, cacerts) {
        Ok(Answer::Certificates(cas)) => cas,
        // The certificate exists now; one more try keeps it from being lost.
        _ => fetch_ca_certs(config, transport).map_err(|e| issued_but(&leaf, e))?,
    };
    let mut issued = bundle(&leaf, &cas, &extra)?;
    issued.warnings = warnings;
    Ok(Enrollment::Issued(issued))
}

/// Compares the issued certificate's names with the CSR's: an error under
/// `est_names_check = error`, a warning under `warn`, nothing under `off`.
fn check_names(
    mode: NamesCheck,
    csr: &Csr,
    leaf: &Certificate,
) -> Result<Vec<String>, HandlerError> {
    if mode == NamesCheck::Off {
        return Ok(Vec::new());
    }
    let issued = Names::of_certificate(leaf).map_err(|why| {
        HandlerError::MalformedAnswer(format!(
            "/simpleenroll: the issued certificate's names cannot be read: {why}"
        ))
    })?;
    let missing = csr.names().missing_from(&issued);
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let text = format!(
        "the issued certificate lacks {} name(s) the CSR asked for: {}",
        missing.len(),
        names::list(&missing)
    );
    match mode {
        NamesCheck::Error => Err(HandlerError::CertificateMismatch(format!(
            "{text} (est_names_check = error)"
        ))),
        _ => Ok(vec![format!(
            "{text}; returned anyway (est_names_check = warn)"
        )]),
    }
}

fn fetch_ca_certs(
    config: &Config,
    transport: &dyn Transport,
) -> Result<Vec<ReceivedCertificate>, HandlerError> {
    let request = est::request(config, Operation::CaCerts, None);
    let outcome = transport
        .send_all(vec![request], est::limits(config))
        .into_iter()
        .next();
    let outcome = outcome.ok_or_else(lost_request)?;
    match est::interpret(Operation::CaCerts, outcome)? {
        Answer::Certificates(certs) => Ok(certs),
        Answer::Pending { .. } => Err(HandlerError::MalformedAnswer(
            "/cacerts: unexpected pending answer".into(),
        )),
    }
}

/// Finds the certificate for the CSR's key among those the server
/// returned; the others are kept as possible chain certificates.
fn pick_issued(
    csr: &Csr,
    mut certs: Vec<ReceivedCertificate>,
) -> Result<(ReceivedCertificate, Vec<ReceivedCertificate>), HandlerError> {
    let position = certs.iter().position(|cert| {
        same_public_key(
            cert.tbs_certificate().subject_public_key_info(),
            csr.public_key(),
        )
    });
    match position {
        Some(index) => {
            let leaf = certs.remove(index);
            Ok((leaf, certs))
        }
        None => Err(HandlerError::CertificateMismatch(format!(
            "none of the {} certificate(s) returned by /simpleenroll certifies the CSR's public key (CSR subject \"{}\"; first certificate's subject \"{}\")",
            certs.len(),
            csr.subject(),
            certs
                .first()
                .map(|c| crate::dn::to_string(c.tbs_certificate().subject()))
                .unwrap_or_default()
        ))),
    }
}

fn bundle(
    leaf: &ReceivedCertificate,
    cas: &[ReceivedCertificate],
    extra: &[ReceivedCertificate],
) -> Result<IssuedCertificate, HandlerError> {
    let chain = issuer_chain(leaf, cas.iter().chain(extra));
    if chain.is_empty() {
        return Err(issued_but(
            leaf,
            HandlerError::MalformedAnswer(format!(
                "none of the {} CA certificate(s) from /cacerts is the issuer \"{}\"",
                cas.len(),
                crate::dn::to_string(leaf.tbs_certificate().issuer())
            )),
        ));
    }
    let mut cert_bundle = certificate_pem(leaf);
    for ca in chain {
        cert_bundle.push_str(&certificate_pem(ca));
    }
    Ok(IssuedCertificate {
        cert_bundle,
        cert_raw: encoding::base64_line(&leaf.der),
        warnings: Vec::new(),
    })
}

/// Adds to `error` that a certificate was issued, so that an operator can
/// find it at the CA even though the handler could not complete.
fn issued_but(leaf: &Certificate, error: HandlerError) -> HandlerError {
    let tbs = leaf.tbs_certificate();
    error.with_note(&format!(
        " (the CA issued certificate serial {} for \"{}\", which could not be returned)",
        tbs.serial_number(),
        crate::dn::to_string(tbs.subject())
    ))
}

/// A transport that answered fewer requests than it was given.
fn lost_request() -> HandlerError {
    HandlerError::Transport(TransportFailure::new(
        TransportCause::Other,
        "the transport lost a request",
    ))
}

/// PEM of the certificate exactly as the server sent it.
fn certificate_pem(cert: &ReceivedCertificate) -> String {
    encoding::pem("CERTIFICATE", &cert.der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::keys;
    use crate::error::HttpFailure;
    use crate::http::{Method, Request, Response, TransportError};
    use crate::testutil::{
        MapSettings, ScriptedTransport, TestCa, b64, b64url, make_csr, make_csr_with, pkcs7_answer,
        response,
    };
    use der::Decode;
    use std::rc::Rc;

    /// Basic-auth settings for `est.test:8443`, plus `extra`.
    fn config_with(extra: &[(&str, &str)]) -> Config {
        let mut pairs = vec![
            (keys::EST_HOST, "https://est.test:8443"),
            (keys::EST_USER, "estuser"),
            (keys::EST_PASSWORD, "estpwd-secret"),
        ];
        pairs.extend_from_slice(extra);
        Config::load(&MapSettings::with(&pairs)).unwrap()
    }

    fn basic_config() -> Config {
        config_with(&[])
    }

    fn is_enroll(request: &Request) -> bool {
        request.path.ends_with("/simpleenroll")
    }

    fn enrolled_csr(request: &Request) -> Vec<u8> {
        crate::encoding::decode_base64(&request.body).unwrap()
    }

    /// A well-behaved EST server backed by `ca`.
    fn server(ca: &Rc<TestCa>) -> ScriptedTransport {
        issuing_server(ca, TestCa::issue)
    }

    /// An EST server that issues with `issue` and publishes `ca`'s certificates.
    fn issuing_server(ca: &Rc<TestCa>, issue: fn(&TestCa, &[u8]) -> Vec<u8>) -> ScriptedTransport {
        let ca = Rc::clone(ca);
        ScriptedTransport::new(move |request| {
            if is_enroll(request) {
                pkcs7_answer(&[&issue(&ca, &enrolled_csr(request))])
            } else {
                pkcs7_answer(&[&ca.root_der(), &ca.intermediate_der()])
            }
        })
    }

    /// A server that answers `/simpleenroll` with `answer` and `/cacerts` properly.
    fn enroll_answers(
        ca: &Rc<TestCa>,
        answer: impl Fn() -> Result<Response, TransportError> + 'static,
    ) -> ScriptedTransport {
        let ca = Rc::clone(ca);
        ScriptedTransport::new(move |request| {
            if is_enroll(request) {
                answer()
            } else {
                pkcs7_answer(&[&ca.root_der(), &ca.intermediate_der()])
            }
        })
    }

    fn pem(der: &[u8]) -> String {
        crate::encoding::pem("CERTIFICATE", der)
    }

    fn issued(result: Result<Enrollment, HandlerError>) -> IssuedCertificate {
        match result {
            Ok(Enrollment::Issued(cert)) => cert,
            other => panic!("expected an issued certificate, got {other:?}"),
        }
    }

    #[test]
    fn enroll_returns_the_certificate_and_its_chain() {
        let ca = Rc::new(TestCa::new("Enroll"));
        let transport = server(&ca);
        let csr = make_csr("www.example.test");
        let cert = issued(enroll(&basic_config(), &transport, &b64url(&csr)));

        let leaf = crate::encoding::decode_base64(cert.cert_raw.as_bytes()).unwrap();
        assert!(!cert.cert_raw.contains('\n') && !cert.cert_raw.contains('-'));
        assert_eq!(cert.cert_raw, crate::encoding::base64_line(&leaf));
        assert_eq!(
            cert.cert_bundle,
            format!(
                "{}{}{}",
                pem(&leaf),
                pem(&ca.intermediate_der()),
                pem(&ca.root_der())
            )
        );
        let issued_key = Certificate::from_der(&leaf)
            .unwrap()
            .tbs_certificate()
            .subject_public_key_info()
            .clone();
        assert!(same_public_key(
            &issued_key,
            Csr::from_der(csr).unwrap().public_key()
        ));
    }

    #[test]
    fn both_requests_go_out_together_and_follow_rfc_7030() {
        let ca = Rc::new(TestCa::new("Wire"));
        let transport = server(&ca);
        let csr = make_csr("wire.example.test");
        issued(enroll(&basic_config(), &transport, &b64url(&csr)));

        let batches = transport.batches.borrow();
        assert_eq!(
            batches.len(),
            1,
            "one batch: both requests in flight at once"
        );
        let [post, get] = &batches[0][..] else {
            panic!("two requests expected: {:?}", batches[0].len())
        };
        // "estuser:estpwd-secret" in base64, as `printf %s ... | base64` prints it.
        let auth = format!("Basic {}", "ZXN0dXNlcjplc3Rwd2Qtc2VjcmV0");
        let header = |r: &Request, name: &str| {
            r.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(post.method, Method::Post);
        assert_eq!(
            (post.authority.as_str(), post.path.as_str()),
            ("est.test:8443", "/.well-known/est/simpleenroll")
        );
        assert_eq!(
            header(post, "content-type").as_deref(),
            Some("application/pkcs10")
        );
        assert_eq!(
            header(post, "content-transfer-encoding").as_deref(),
            Some("base64")
        );
        assert_eq!(
            header(post, "content-length"),
            Some(post.body.len().to_string())
        );
        assert_eq!(header(post, "authorization"), Some(auth.clone()));
        assert_eq!(String::from_utf8(post.body.clone()).unwrap(), b64(&csr));
        assert_eq!(get.method, Method::Get);
        assert_eq!(get.path, "/.well-known/est/cacerts");
        assert_eq!(header(get, "authorization"), Some(auth));
        assert!(get.body.is_empty());
    }

    #[test]
    fn client_certificate_mode_sends_no_basic_credentials_and_labels_the_path() {
        let config = Config::load(&MapSettings::with(&[
            (keys::EST_HOST, "https://est.test"),
            (keys::EST_LABEL, "tenant1"),
            (keys::EST_CLIENT_CERT, "/client.pem"),
            (keys::EST_CLIENT_KEY, "/client.key"),
        ]))
        .unwrap();
        let ca = Rc::new(TestCa::new("Client"));
        let transport = server(&ca);
        issued(enroll(
            &config,
            &transport,
            &b64url(&make_csr("c.example.test")),
        ));
        for request in transport.requests() {
            assert!(
                request.headers.iter().all(|(n, _)| n != "authorization"),
                "{:?}",
                request.path
            );
            assert!(
                request.path.starts_with("/.well-known/est/tenant1/"),
                "{}",
                request.path
            );
        }
    }

    #[test]
    fn a_bad_csr_makes_no_request() {
        let ca = Rc::new(TestCa::new("BadCsr"));
        let transport = server(&ca);
        for text in ["", "garbage!", &b64url(b"not a request")] {
            let err = enroll(&basic_config(), &transport, text).unwrap_err();
            assert_eq!(err.kind(), "bad-csr", "{err}");
        }
        assert!(transport.requests().is_empty());
    }

    fn enroll_error(
        answer: impl Fn() -> Result<Response, TransportError> + 'static,
    ) -> HandlerError {
        let ca = Rc::new(TestCa::new("Status"));
        let transport = enroll_answers(&ca, answer);
        enroll(
            &basic_config(),
            &transport,
            &b64url(&make_csr("s.example.test")),
        )
        .unwrap_err()
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
            let err =
                enroll_error(move || response(status, &[("content-type", "text/plain")], text));
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
            detail.chars().count() <= crate::est::MAX_DETAIL + 40,
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

    #[test]
    fn a_certificate_for_another_key_is_refused() {
        let ca = Rc::new(TestCa::new("Mismatch"));
        let stranger = ca.issue(&make_csr("stranger.example.test"));
        let transport = enroll_answers(&ca, move || pkcs7_answer(&[&stranger]));
        let err = enroll(
            &basic_config(),
            &transport,
            &b64url(&make_csr("me.example.test")),
        )
        .unwrap_err();
        assert_eq!(err.kind(), "certificate-mismatch", "{err}");
        assert!(err.to_string().contains("CSR's public key"), "{err}");
    }

    /// A server that issues without the CSR's SANs, as some EST servers do.
    fn sans_dropping_server(ca: &Rc<TestCa>) -> ScriptedTransport {
        issuing_server(ca, TestCa::issue_without_sans)
    }

    fn names_config(mode: &str) -> Config {
        config_with(&[(keys::EST_NAMES_CHECK, mode)])
    }

    #[test]
    fn missing_names_are_refused_warned_about_or_ignored_as_configured() {
        let ca = Rc::new(TestCa::new("Names"));
        let csr = b64url(&make_csr_with(
            "shop.example.test",
            &["shop.example.test", "www.shop.example.test", "192.0.2.10"],
        ));
        let lacking = "the issued certificate lacks 2 name(s) the CSR asked for: www.shop.example.test, 192.0.2.10";

        // A server that keeps the SANs: no warning in any mode.
        for mode in ["error", "warn", "off"] {
            let cert = issued(enroll(&names_config(mode), &server(&ca), &csr));
            assert!(cert.warnings.is_empty(), "{mode}: {:?}", cert.warnings);
        }

        let err = enroll(&names_config("error"), &sans_dropping_server(&ca), &csr).unwrap_err();
        assert_eq!(err.kind(), "certificate-mismatch", "{err}");
        let text = err.to_string();
        assert!(text.contains(lacking), "{text}");
        assert!(text.contains("est_names_check = error"), "{text}");
        assert!(text.contains("the CA issued certificate serial"), "{text}");

        // The default is warn.
        let cert = issued(enroll(&basic_config(), &sans_dropping_server(&ca), &csr));
        assert_eq!(cert.warnings.len(), 1, "{:?}", cert.warnings);
        assert!(cert.warnings[0].contains(lacking), "{:?}", cert.warnings);
        assert!(cert.cert_bundle.starts_with("-----BEGIN CERTIFICATE-----"));

        let cert = issued(enroll(
            &names_config("off"),
            &sans_dropping_server(&ca),
            &csr,
        ));
        assert!(cert.warnings.is_empty(), "{:?}", cert.warnings);
    }

    #[test]
    fn an_answer_with_the_chain_included_still_finds_the_leaf() {
        let ca = Rc::new(TestCa::new("Included"));
        let ca2 = Rc::clone(&ca);
        let transport = ScriptedTransport::new(move |request| {
            if is_enroll(request) {
                pkcs7_answer(&[&ca2.intermediate_der(), &ca2.issue(&enrolled_csr(request))])
            } else {
                pkcs7_answer(&[&ca2.root_der()])
            }
        });
        let cert = issued(enroll(
            &basic_config(),
            &transport,
            &b64url(&make_csr("i.example.test")),
        ));
        let leaf = crate::encoding::decode_base64(cert.cert_raw.as_bytes()).unwrap();
        assert_eq!(
            cert.cert_bundle,
            format!(
                "{}{}{}",
                pem(&leaf),
                pem(&ca.intermediate_der()),
                pem(&ca.root_der())
            )
        );
    }

    #[test]
    fn cacerts_without_the_issuer_is_an_error_naming_the_issued_certificate() {
        let ca = Rc::new(TestCa::new("NoIssuer"));
        let other = TestCa::new("Unrelated");
        let (ca2, other_root) = (Rc::clone(&ca), other.root_der());
        let transport = ScriptedTransport::new(move |request| {
            if is_enroll(request) {
                pkcs7_answer(&[&ca2.issue(&enrolled_csr(request))])
            } else {
                pkcs7_answer(&[&other_root])
            }
        });
        let err = enroll(
            &basic_config(),
            &transport,
            &b64url(&make_csr("n.example.test")),
        )
        .unwrap_err();
        assert_eq!(err.kind(), "malformed-answer");
        let text = err.to_string();
        assert!(
            text.contains("is the issuer \"CN=NoIssuer Issuing CA\""),
            "{text}"
        );
        assert!(text.contains("the CA issued certificate serial"), "{text}");
    }

    #[test]
    fn a_failed_cacerts_is_retried_once_after_issuance() {
        let ca = Rc::new(TestCa::new("Retry"));
        let ca2 = Rc::clone(&ca);
        let cacerts_calls = Rc::new(std::cell::Cell::new(0));
        let calls = Rc::clone(&cacerts_calls);
        let transport = ScriptedTransport::new(move |request| {
            if is_enroll(request) {
                return pkcs7_answer(&[&ca2.issue(&enrolled_csr(request))]);
            }
            calls.set(calls.get() + 1);
            if calls.get() == 1 {
                response(503, &[], "busy")
            } else {
                pkcs7_answer(&[&ca2.intermediate_der()])
            }
        });
        let cert = issued(enroll(
            &basic_config(),
            &transport,
            &b64url(&make_csr("r.example.test")),
        ));
        assert_eq!(cacerts_calls.get(), 2);
        assert!(cert.cert_bundle.ends_with(&pem(&ca.intermediate_der())));

        // Failing twice: the error keeps the server's words and names the certificate.
        let ca3 = Rc::clone(&ca);
        let transport = ScriptedTransport::new(move |request| {
            if is_enroll(request) {
                pkcs7_answer(&[&ca3.issue(&enrolled_csr(request))])
            } else {
                response(503, &[], "busy")
            }
        });
        let err = enroll(
            &basic_config(),
            &transport,
            &b64url(&make_csr("r2.example.test")),
        )
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.kind(), "server-error");
        assert!(
            text.contains("/cacerts")
                && text.contains("busy")
                && text.contains("issued certificate serial"),
            "{text}"
        );
    }

    #[test]
    fn a_202_is_pending_with_the_servers_delay() {
        let ca = Rc::new(TestCa::new("Pending"));
        let csr = make_csr("p.example.test");
        let fingerprint = Csr::from_der(csr.clone()).unwrap().fingerprint();
        let in_an_hour = httpdate::fmt_http_date(
            std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
        );
        let cases = [
            (Some("120".to_owned()), 120..=120),
            (Some(in_an_hour), 3590..=3600),
            (None, 60..=60),
            (Some("soon".to_owned()), 60..=60),
        ];
        for (header, expected) in cases {
            let headers: Vec<(&str, String)> =
                header.iter().map(|h| ("retry-after", h.clone())).collect();
            let transport = enroll_answers(&ca, move || {
                let pairs: Vec<(&str, &str)> =
                    headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                response(202, &pairs, "")
            });
            match enroll(&basic_config(), &transport, &b64url(&csr)) {
                Ok(Enrollment::Pending(p)) => {
                    assert!(
                        expected.contains(&p.retry_after_seconds),
                        "{} not in {expected:?}",
                        p.retry_after_seconds
                    );
                    assert_eq!(p.poll_identifier, fingerprint);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn poll_resubmits_and_reports_issued_pending_or_rejected() {
        let ca = Rc::new(TestCa::new("Poll"));
        let csr = b64url(&make_csr("poll.example.test"));
        let id = Csr::parse(&csr).unwrap().fingerprint();
        let config = basic_config();

        let transport = server(&ca);
        assert!(matches!(
            poll(&config, &transport, &id, &csr),
            Ok(PollResult::Issued(_))
        ));
        assert!(
            transport
                .requests()
                .iter()
                .any(|r| r.method == Method::Post && is_enroll(r))
        );

        let transport = enroll_answers(&ca, || response(202, &[("retry-after", "30")], ""));
        match poll(&config, &transport, &id, &csr) {
            Ok(PollResult::Pending(p)) => assert_eq!(
                (p.retry_after_seconds, p.poll_identifier.as_str()),
                (30, id.as_str())
            ),
            other => panic!("{other:?}"),
        }

        let transport = enroll_answers(&ca, || response(400, &[], "request denied by policy"));
        match poll(&config, &transport, &id, &csr) {
            Ok(PollResult::Rejected(reason)) => assert!(
                reason.contains("HTTP 400") && reason.contains("denied by policy"),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }

        let transport = enroll_answers(&ca, || response(401, &[], ""));
        assert_eq!(
            poll(&config, &transport, &id, &csr).unwrap_err().kind(),
            "unauthorized"
        );
    }

    #[test]
    fn poll_refuses_an_identifier_of_another_csr() {
        let ca = Rc::new(TestCa::new("PollId"));
        let transport = server(&ca);
        let csr = b64url(&make_csr("a.example.test"));
        let err = poll(&basic_config(), &transport, "sha256:00", &csr).unwrap_err();
        assert_eq!(err.kind(), "bad-csr");
        assert!(transport.requests().is_empty());
    }

    #[test]
    fn ca_certs_returns_every_certificate_in_server_order() {
        let ca = Rc::new(TestCa::new("CaCerts"));
        let other = TestCa::new("Rollover");
        let (ca2, extra) = (Rc::clone(&ca), other.root_der());
        let transport = ScriptedTransport::new(move |_| {
            pkcs7_answer(&[&ca2.root_der(), &extra, &ca2.intermediate_der()])
        });
        let pems = ca_certs(&basic_config(), &transport).unwrap();
        assert_eq!(
            pems,
            vec![
                pem(&ca.root_der()),
                pem(&other.root_der()),
                pem(&ca.intermediate_der())
            ]
        );
        let requests = transport.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(
            (requests[0].method, requests[0].path.as_str()),
            (Method::Get, "/.well-known/est/cacerts")
        );

        let transport = ScriptedTransport::new(|_| response(202, &[], ""));
        assert_eq!(
            ca_certs(&basic_config(), &transport).unwrap_err().kind(),
            "server-error"
        );
    }

    #[test]
    fn revoke_and_trigger_answer_as_acme2certifier_does() {
        let err = revoke().unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str(), err.detail.as_str()),
            (
                500,
                "urn:ietf:params:acme:error:serverInternal",
                "Revocation is not supported."
            )
        );
        assert_eq!(
            trigger().unwrap_err(),
            HandlerError::NotSupported("Method not implemented.".into())
        );
    }
}
