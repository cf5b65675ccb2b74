//! The operations over the scripted EST server: what enroll, poll,
//! ca-certs, revoke and trigger send and return.

use super::*;
use crate::config::{MapSource, keys};
use crate::testutil::{
    ScriptedTransport, TestCa, b64, b64url, enroll_answers, enrolled_csr, is_enroll, issuing,
    issuing_with, make_csr, make_csr_with, pkcs7_answer, response,
};
use crate::text::SafeText;
use crate::transport::{Method, Request, Response, TransportError};
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
    Config::load(&MapSource::new(pairs)).unwrap()
}

fn basic_config() -> Config {
    config_with(&[])
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
    let transport = issuing(&ca);
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

/// A transport that hands the answers over as they complete, here in the
/// reverse of the order they were sent (the CA certificates back before
/// the enrollment), or leaves out the answer at `lose`.
struct Arriving<T> {
    inner: T,
    lose: Option<usize>,
}

impl<T: Transport> Transport for Arriving<T> {
    fn send_all(
        &self,
        requests: Vec<Request>,
        limits: crate::transport::Limits,
    ) -> Vec<Result<Response, TransportError>> {
        self.inner.send_all(requests, limits)
    }

    fn exchange(
        &self,
        requests: Vec<Request>,
        limits: crate::transport::Limits,
        arrived: &mut dyn FnMut(usize, Result<Response, TransportError>),
    ) {
        let outcomes = self.inner.send_all(requests, limits);
        for (index, outcome) in outcomes.into_iter().enumerate().rev() {
            if Some(index) != self.lose {
                arrived(index, outcome);
            }
        }
    }
}

#[test]
fn answers_are_matched_to_their_requests_in_whatever_order_they_arrive() {
    let ca = Rc::new(TestCa::new("Arrival"));
    let csr = b64url(&make_csr("arrival.example.test"));
    let in_order = issued(enroll(&basic_config(), &issuing(&ca), &csr));
    let reversed = Arriving {
        inner: issuing(&ca),
        lose: None,
    };
    let cert = issued(enroll(&basic_config(), &reversed, &csr));
    assert_eq!(
        cert.cert_bundle.matches("BEGIN CERTIFICATE").count(),
        3,
        "{}",
        cert.cert_bundle
    );
    // The leaf differs (a new serial), the chain after it does not.
    let chain = |bundle: &str| {
        bundle
            .split_once("-----END CERTIFICATE-----")
            .map(|(_, rest)| rest.to_owned())
    };
    assert_eq!(chain(&cert.cert_bundle), chain(&in_order.cert_bundle));
    assert_eq!(reversed.inner.requests().len(), 2);
}

#[test]
fn an_answer_the_transport_never_hands_over_is_a_transport_error() {
    let ca = Rc::new(TestCa::new("Lost"));
    let csr = b64url(&make_csr("lost.example.test"));
    let transport = Arriving {
        inner: issuing(&ca),
        lose: Some(0),
    };
    match enroll(&basic_config(), &transport, &csr) {
        Err(HandlerError::Transport(failure)) => {
            assert!(failure.detail.contains("lost a request"), "{failure:?}")
        }
        other => panic!("losing the enrollment's answer: {other:?}"),
    }
    // A lost /cacerts after issuance is asked for again.
    let transport = Arriving {
        inner: issuing(&ca),
        lose: Some(1),
    };
    let cert = issued(enroll(&basic_config(), &transport, &csr));
    assert_eq!(cert.cert_bundle.matches("BEGIN CERTIFICATE").count(), 3);
    assert!(cert.warnings.is_empty(), "{:?}", cert.warnings);
}

#[test]
fn both_requests_go_out_together_and_follow_rfc_7030() {
    let ca = Rc::new(TestCa::new("Wire"));
    let transport = issuing(&ca);
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
    let config = Config::load(&MapSource::new([
        (keys::EST_HOST, "https://est.test"),
        (keys::EST_LABEL, "tenant1"),
        (keys::EST_CLIENT_CERT, "/client.pem"),
        (keys::EST_CLIENT_KEY, "/client.key"),
    ]))
    .unwrap();
    let ca = Rc::new(TestCa::new("Client"));
    let transport = issuing(&ca);
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
    let transport = issuing(&ca);
    let refuse = |text: &str| match enroll(&basic_config(), &transport, text).unwrap_err() {
        HandlerError::BadCsr(e) => *e,
        other => panic!("{text:?}: {other:?}"),
    };
    assert_eq!(refuse(""), CsrError::Empty);
    assert!(matches!(refuse("garbage!"), CsrError::NotBase64(_)));
    assert!(matches!(
        refuse(&b64url(b"not a request")),
        CsrError::NotPkcs10(_)
    ));
    assert!(transport.requests().is_empty());
}

fn enroll_error(answer: impl Fn() -> Result<Response, TransportError> + 'static) -> HandlerError {
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
fn no_error_carries_the_password() {
    for status in [400, 401, 403, 404, 500, 503, 302, 204] {
        let err = enroll_error(move || response(status, &[("content-type", "text/plain")], "no"));
        assert!(!err.to_string().contains("estpwd-secret"), "{err}");
        assert!(!format!("{err:?}").contains("estpwd-secret"), "{err:?}");
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
    issuing_with(ca, TestCa::issue_without_sans)
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
        let cert = issued(enroll(&names_config(mode), &issuing(&ca), &csr));
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
    let HandlerError::MalformedAnswer(answer) = err else {
        panic!("{err:?}")
    };
    let AnswerError::Unreturned { cause, certificate } = *answer else {
        panic!("{answer:?}")
    };
    assert_eq!(
        *cause,
        AnswerError::NoIssuer {
            ca_certificates: 1,
            issuer: "CN=NoIssuer Issuing CA".into(),
        }
    );
    assert_eq!(certificate.subject, "CN=n.example.test");
    let der = crate::encoding::decode_base64(certificate.base64.as_bytes()).unwrap();
    let issued = x509_cert::Certificate::from_der(&der).unwrap();
    assert_eq!(
        certificate.serial,
        issued.tbs_certificate().serial_number().to_string()
    );
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
    assert!(cert.warnings.is_empty(), "{:?}", cert.warnings);
}

/// A transport whose clock moves on by `takes` with every batch it sends,
/// that answers `/cacerts` with `cacerts` and records each batch's limits.
struct Clocked {
    inner: ScriptedTransport,
    takes: std::time::Duration,
    now: std::cell::Cell<std::time::Instant>,
    limits: std::cell::RefCell<Vec<crate::transport::Limits>>,
}

impl Clocked {
    /// An EST server issuing from `ca` with the PKCS#7 `with_chain` adds
    /// (the issuing CA), whose `/cacerts` answers with `cacerts`, each
    /// batch taking `takes_secs`.
    fn new(
        ca: &Rc<TestCa>,
        with_chain: bool,
        takes_secs: u64,
        cacerts: impl Fn() -> Result<Response, TransportError> + 'static,
    ) -> Self {
        let ca = Rc::clone(ca);
        let inner = ScriptedTransport::new(move |request| {
            if !is_enroll(request) {
                return cacerts();
            }
            let leaf = ca.issue(&enrolled_csr(request));
            if with_chain {
                pkcs7_answer(&[&leaf, &ca.intermediate_der()])
            } else {
                pkcs7_answer(&[&leaf])
            }
        });
        Self {
            inner,
            takes: std::time::Duration::from_secs(takes_secs),
            now: std::cell::Cell::new(std::time::Instant::now()),
            limits: Default::default(),
        }
    }
}

impl Transport for Clocked {
    fn send_all(
        &self,
        requests: Vec<Request>,
        limits: crate::transport::Limits,
    ) -> Vec<Result<Response, TransportError>> {
        self.limits.borrow_mut().push(limits);
        self.now.set(self.now.get() + self.takes);
        self.inner.send_all(requests, limits)
    }

    fn now(&self) -> std::time::Instant {
        self.now.get()
    }
}

fn cacerts_timeout() -> Result<Response, TransportError> {
    Err(TransportError::failed(
        crate::error::TransportCause::Timeout,
        "no answer in time",
    ))
}

#[test]
fn a_certificate_issued_while_cacerts_stalls_is_returned_with_a_warning() {
    let ca = Rc::new(TestCa::new("Stall"));
    for with_chain in [false, true] {
        // request_timeout is 20 s; the exchange used all of it: /cacerts
        // timed out, and no time is left for another try.
        let transport = Clocked::new(&ca, with_chain, 20, cacerts_timeout);
        let cert = issued(enroll(
            &basic_config(),
            &transport,
            &b64url(&make_csr("stall.example.test")),
        ));
        assert_eq!(transport.limits.borrow().len(), 1, "no retry without time");
        let leaf = crate::encoding::decode_base64(cert.cert_raw.as_bytes()).unwrap();
        let (chain, known) = if with_chain {
            (pem(&ca.intermediate_der()), 1)
        } else {
            (String::new(), 0)
        };
        assert_eq!(cert.cert_bundle, format!("{}{chain}", pem(&leaf)));
        assert_eq!(cert.warnings.len(), 1, "{:?}", cert.warnings);
        let warning = &cert.warnings[0];
        assert!(
            warning.contains("/cacerts failed (timeout: /cacerts: no answer in time)")
                && warning.contains(&format!("{known} chain certificate(s)")),
            "{warning}"
        );
        assert!(!warning.contains("/simpleenroll:"), "{warning}");
    }
}

#[test]
fn a_retry_of_cacerts_gets_only_the_time_that_is_left() {
    let ca = Rc::new(TestCa::new("Left"));
    // Each batch takes 7 s of the 20: the retry may take the 13 left.
    let transport = Clocked::new(&ca, false, 7, || response(503, &[], "busy"));
    let cert = issued(enroll(
        &basic_config(),
        &transport,
        &b64url(&make_csr("left.example.test")),
    ));
    let limits: Vec<u32> = transport
        .limits
        .borrow()
        .iter()
        .map(|l| l.timeout_secs)
        .collect();
    assert_eq!(limits, [20, 13]);
    // Failing twice: the certificate comes back, with the server's words.
    assert_eq!(cert.warnings.len(), 1, "{:?}", cert.warnings);
    assert!(
        cert.warnings[0].contains("/cacerts: the server failed: busy"),
        "{:?}",
        cert.warnings
    );
    assert_eq!(cert.cert_bundle.matches("BEGIN CERTIFICATE").count(), 1);

    // Less than a second left: no retry is started.
    let transport = Clocked::new(&ca, false, 20, || response(503, &[], "busy"));
    let cert = issued(enroll(
        &basic_config(),
        &transport,
        &b64url(&make_csr("late.example.test")),
    ));
    assert_eq!(transport.limits.borrow().len(), 1);
    assert!(cert.warnings[0].contains("busy"), "{:?}", cert.warnings);
}

#[test]
fn an_issued_certificate_that_cannot_be_returned_is_in_the_error() {
    let ca = Rc::new(TestCa::new("InError"));
    let other = TestCa::new("Elsewhere");
    let (ca2, other_root) = (Rc::clone(&ca), other.root_der());
    let transport = ScriptedTransport::new(move |request| {
        if is_enroll(request) {
            pkcs7_answer(&[&ca2.issue(&enrolled_csr(request))])
        } else {
            pkcs7_answer(&[&other_root])
        }
    });
    let text = enroll(
        &basic_config(),
        &transport,
        &b64url(&make_csr("e.example.test")),
    )
    .unwrap_err()
    .to_string();
    let pem_start = text.find("-----BEGIN CERTIFICATE-----").expect(&text);
    let pem_end = text.find("-----END CERTIFICATE-----").expect(&text);
    let der = crate::encoding::decode_pem(&text.as_bytes()[pem_start..pem_end + 25])
        .unwrap()
        .unwrap()
        .1;
    let leaf = Certificate::from_der(&der).unwrap();
    assert_eq!(
        leaf.tbs_certificate().issuer().to_string(),
        "CN=InError Issuing CA"
    );
    assert!(
        text.contains(&format!(
            "serial {}",
            leaf.tbs_certificate().serial_number()
        )),
        "{text}"
    );
}

const ECHO_PASSWORD: &str = "estpwd-secret";
/// base64("estuser:estpwd-secret"), the Basic value `basic_config` sends.
const ECHO_BASIC: &str = "ZXN0dXNlcjplc3Rwd2Qtc2VjcmV0";

#[test]
fn the_cas_echo_of_the_credentials_never_reaches_an_error() {
    let page = format!(
        "<h1>Bad request</h1><pre>Authorization: Basic {ECHO_BASIC}\nX-Password: {ECHO_PASSWORD}</pre> the CA's own words"
    );
    for status in [400, 401, 500, 302] {
        let page = page.clone();
        let location = format!("https://elsewhere.test/?auth=Basic%20{ECHO_BASIC}");
        let err = enroll_error(move || {
            response(
                status,
                &[("content-type", "text/html"), ("location", &location)],
                page.as_bytes(),
            )
        });
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(ECHO_BASIC), "{status}: {shown}");
            assert!(!shown.contains(&ECHO_BASIC[..12]), "{status}: {shown}");
            assert!(!shown.contains(ECHO_PASSWORD), "{status}: {shown}");
        }
        let text = err.to_string();
        assert!(text.contains("[redacted]"), "{status}: {text}");
        if status != 302 {
            assert!(text.contains("the CA's own words"), "{status}: {text}");
        }
    }
    // A /cacerts that echoes them, after issuance: the warning is clean.
    let ca = Rc::new(TestCa::new("Echo"));
    let echo = format!("you sent Basic {ECHO_BASIC}; the CA's own words");
    let transport = Clocked::new(&ca, false, 20, move || response(500, &[], echo.clone()));
    let cert = issued(enroll(
        &basic_config(),
        &transport,
        &b64url(&make_csr("echo.example.test")),
    ));
    let warning = &cert.warnings[0];
    assert!(!warning.contains(ECHO_BASIC), "{warning}");
    assert!(warning.contains("the CA's own words"), "{warning}");
}

#[test]
fn every_secret_of_the_configuration_is_taken_out_of_the_cas_words() {
    let config = Config::load(&MapSource::new([
        (keys::EST_HOST, "https://est.test"),
        (keys::EST_CLIENT_CERT, "/client.p12"),
        (keys::CERT_PASSPHRASE, "p12-Pass-phrase"),
        (keys::API_TOKEN, "api-Token-value"),
    ]))
    .unwrap();
    let ca = Rc::new(TestCa::new("Secrets"));
    let transport = enroll_answers(&ca, || {
        response(
            500,
            &[],
            "passphrase p12-Pass-phrase, token Bearer api-Token-value, api-Token-value again",
        )
    });
    let err = enroll(&config, &transport, &b64url(&make_csr("s.example.test"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "CA server error (HTTP 500): /simpleenroll: the server failed: passphrase [redacted], token Bearer [redacted], [redacted] again"
    );
}

#[test]
fn a_certificate_naming_the_password_does_not_show_it() {
    let ca = Rc::new(TestCa::new("Named"));
    // A certificate for another key, whose subject is the password.
    let stranger = ca.issue(&make_csr(ECHO_PASSWORD));
    let transport = enroll_answers(&ca, move || pkcs7_answer(&[&stranger]));
    let err = enroll(
        &basic_config(),
        &transport,
        &b64url(&make_csr("me.example.test")),
    )
    .unwrap_err();
    assert_eq!(err.kind(), "certificate-mismatch");
    let text = err.to_string();
    assert!(!text.contains(ECHO_PASSWORD), "{text}");
    assert!(text.contains("subject \"CN=[redacted]\""), "{text}");
}

#[test]
fn a_202_is_pending_with_the_servers_delay() {
    let ca = Rc::new(TestCa::new("Pending"));
    let csr = make_csr("p.example.test");
    let fingerprint = Csr::from_der(csr.clone()).unwrap().fingerprint();
    let in_an_hour = httpdate::fmt_http_date(
        std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
    );
    let an_hour_ago = httpdate::fmt_http_date(
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
    let cases = [
        (Some("120".to_owned()), 120..=120),
        (Some(in_an_hour), 3590..=3600),
        (None, 60..=60),
        (Some("soon".to_owned()), 60..=60),
        // Clamped: never a tight loop, never longer than a day.
        (Some("0".to_owned()), 1..=1),
        (Some(an_hour_ago), 1..=1),
        (Some("99999999999".to_owned()), 86_400..=86_400),
    ];
    for (header, expected) in cases {
        let headers: Vec<(&str, String)> =
            header.iter().map(|h| ("retry-after", h.clone())).collect();
        let transport = enroll_answers(&ca, move || {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
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

    let transport = issuing(&ca);
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
    let transport = issuing(&ca);
    let csr = b64url(&make_csr("a.example.test"));
    let err = poll(&basic_config(), &transport, "sha256:00", &csr).unwrap_err();
    let expected = Csr::parse(&csr).unwrap().fingerprint();
    assert_eq!(
        err,
        HandlerError::from(CsrError::PollIdentifier {
            given: SafeText::new("sha256:00", 80),
            expected,
        })
    );
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
