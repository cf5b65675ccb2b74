//! The CSR reader ([`Csr::parse`]) and the names it extracts.

use crate::support::assert_clean;
use base64::Engine;
use der::Decode;
use est_ca_handler::encoding;
use est_ca_handler::x509::csr::{Csr, CsrError, MAX_CSR_TEXT};
use est_ca_handler::x509::names::{self, Names};
use x509_cert::request::CertReq;

/// The longest error text accepted, in characters.
const MAX_ERROR: usize = 1024;

/// Target `csr`: `data` is CSR text as an ACME server or an API caller
/// sends it; its bytes are also read as DER sent in each encoding the
/// handler accepts (base64url, base64 on one line and in lines, PEM with
/// both labels).
///
/// Checks: parsing the same text twice gives the same result; an error is
/// `bad-csr` with text free of control characters and at most 1024
/// characters; a CSR's DER is the decoded input, parses again to the same
/// names and fingerprint, comes back from the EST body, its fingerprint
/// is `sha256:` and 64 lower-case hex digits, and its names and subject
/// print without control characters; every encoding of the same DER gives
/// the same result.
pub fn csr(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let first = Csr::parse(&text);
    let second = Csr::parse(&text);
    assert_eq!(
        summary(&first),
        summary(&second),
        "parsing is not repeatable"
    );
    check(&first, None);

    if data.is_empty() {
        return;
    }
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
    let texts = [
        url,
        encoding::base64_line(data),
        encoding::base64_lines(data),
        encoding::pem("CERTIFICATE REQUEST", data),
        encoding::pem("NEW CERTIFICATE REQUEST", data).replace('\n', "\r\n"),
    ];
    if texts.iter().any(|t| t.len() > MAX_CSR_TEXT) {
        return;
    }
    let results: Vec<_> = texts.iter().map(|t| Csr::parse(t)).collect();
    for result in &results {
        check(result, Some(data));
    }
    let expected = summary(&results[0]);
    for (text, result) in texts.iter().zip(&results) {
        assert_eq!(summary(result), expected, "encodings disagree: {text:?}");
    }
}

/// What must agree between two readings of one CSR.
fn summary(result: &Result<Csr, CsrError>) -> Result<(Vec<u8>, String), CsrError> {
    result
        .as_ref()
        .map(|csr| (csr.der().to_vec(), csr.fingerprint()))
        .map_err(Clone::clone)
}

fn check(result: &Result<Csr, CsrError>, der: Option<&[u8]>) {
    let csr = match result {
        Ok(csr) => csr,
        Err(why) => {
            assert_clean("the bad-csr error", &why.to_string(), MAX_ERROR);
            return;
        }
    };
    if let Some(der) = der {
        assert_eq!(csr.der(), der, "the CSR's DER is not the decoded input");
    }
    let again = Csr::from_der(csr.der().to_vec()).expect("the CSR's DER does not parse again");
    assert_eq!(again.names(), csr.names());
    assert_eq!(again.fingerprint(), csr.fingerprint());
    // x509-cert's decoding of the whole request, as a second reader: it
    // must accept what the handler accepted, and find the same names.
    let request = CertReq::from_der(csr.der()).expect("x509-cert refuses the CSR");
    assert_eq!(
        Names::of_request(&request).as_ref(),
        Ok(csr.names()),
        "names differ when read again"
    );

    let fingerprint = csr.fingerprint();
    let hex = fingerprint
        .strip_prefix("sha256:")
        .expect("the fingerprint does not start with sha256:");
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "bad fingerprint {fingerprint}"
    );
    assert_eq!(
        encoding::decode_base64(csr.est_body().as_bytes()).as_deref(),
        Ok(csr.der())
    );

    let all = csr.names().missing_from(&Names::default());
    for name in &all {
        assert_clean("a requested name", &name.to_string(), 257);
    }
    assert!(!names::list(&all).chars().any(char::is_control));
    assert!(
        !csr.subject().chars().any(char::is_control),
        "the subject shows a control character: {:?}",
        csr.subject()
    );
}
