//! The certs-only PKCS#7 reader ([`decode_certs_only`]), as the EST server's
//! `/cacerts` and `/simpleenroll` answers reach it.

use crate::support::{answer_bytes, assert_certificates_from, assert_clean};
use est_ca_handler::encoding;
use est_ca_handler::est::pkcs7::{Pkcs7Error, ReceivedCertificate, decode_certs_only};

/// The longest error text accepted, in characters.
const MAX_ERROR: usize = 512;

/// Target `pkcs7`: `data` is an answer body as sent (base64, PEM or DER);
/// its bytes are also read as DER sent base64-encoded and PEM-armoured.
///
/// Checks: every certificate returned is a byte range of the decoded body
/// (in order, without overlap) and decodes again to the same certificate;
/// an `Ok` holds at least one certificate; every error's text is free of
/// control characters and at most 512 characters; the same DER gives the
/// same result raw, as base64 and as PEM.
pub fn pkcs7(data: &[u8]) {
    let result = decode_certs_only(data);
    check(&result, answer_bytes(data).as_deref());
    if data.is_empty() {
        assert_eq!(result, Err(Pkcs7Error::Empty));
        return;
    }
    let as_base64 = decode_certs_only(encoding::base64_lines(data).as_bytes());
    check(&as_base64, Some(data));
    let as_pem = decode_certs_only(encoding::pem("PKCS7", data).as_bytes());
    assert_eq!(as_base64, as_pem, "base64 and PEM of the same DER differ");
    let trimmed = data.trim_ascii();
    let read_as_der = trimmed.len() == data.len()
        && !trimmed.starts_with(b"-----BEGIN")
        && !encoding::is_base64_text(trimmed);
    if read_as_der {
        assert_eq!(result, as_base64, "DER and its base64 differ");
    }
}

fn check(result: &Result<Vec<ReceivedCertificate>, Pkcs7Error>, source: Option<&[u8]>) {
    match result {
        Ok(certs) => {
            assert!(!certs.is_empty(), "Ok without a certificate");
            let source = source.expect("certificates from a body that does not decode");
            assert_certificates_from(certs, source);
        }
        Err(e) => assert_clean("the PKCS#7 error", &e.to_string(), MAX_ERROR),
    }
}
