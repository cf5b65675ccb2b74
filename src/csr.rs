//! The certificate signing request handed to the handler: decoded from any
//! of the encodings ACME servers use, checked for PKCS#10 structure, and
//! re-encoded for the EST `/simpleenroll` body.

use crate::encoding::{self, DecodeError};
use crate::error::HandlerError;
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::request::CertReq;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

/// The largest CSR accepted, in bytes of text.
pub const MAX_CSR_TEXT: usize = 64 * 1024;

/// A PKCS#10 request whose structure has been checked.
#[derive(Debug, Clone)]
pub struct Csr {
    der: Vec<u8>,
    request: CertReq,
}

impl Csr {
    /// Decodes a CSR given as base64url DER (what ACME sends, usually
    /// without padding), standard base64 DER, or PEM
    /// (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`).
    pub fn parse(text: &str) -> Result<Self, HandlerError> {
        let bad = |why: String| HandlerError::BadCsr(why);
        if text.len() > MAX_CSR_TEXT {
            return Err(bad(format!(
                "the CSR is {} bytes long; at most {MAX_CSR_TEXT} are accepted",
                text.len()
            )));
        }
        let der = match encoding::decode_pem(text.as_bytes()) {
            Ok(Some((label, der)))
                if label == "CERTIFICATE REQUEST" || label == "NEW CERTIFICATE REQUEST" =>
            {
                der
            }
            Ok(Some((label, _))) => {
                return Err(bad(format!(
                    "expected a PEM \"CERTIFICATE REQUEST\", found \"{}\"",
                    crate::config::sanitize(&label, 40)
                )));
            }
            Ok(None) => encoding::decode_base64(text.as_bytes()).map_err(|e| match e {
                DecodeError::Empty => bad("the CSR is empty".into()),
                e => bad(format!("the CSR is neither PEM nor base64 DER: {e}")),
            })?,
            Err(e) => return Err(bad(format!("the CSR's PEM armour is broken: {e}"))),
        };
        Self::from_der(der)
    }

    /// Checks DER bytes for PKCS#10 structure.
    pub fn from_der(der: Vec<u8>) -> Result<Self, HandlerError> {
        let request = CertReq::from_der(&der).map_err(|e| {
            HandlerError::BadCsr(format!("not a PKCS#10 certification request: {e}"))
        })?;
        if request
            .info
            .public_key
            .subject_public_key
            .raw_bytes()
            .is_empty()
        {
            return Err(HandlerError::BadCsr(
                "the request carries an empty public key".into(),
            ));
        }
        if request.signature.raw_bytes().is_empty() {
            return Err(HandlerError::BadCsr("the request is not signed".into()));
        }
        Ok(Self { der, request })
    }

    /// The request's DER encoding, as received.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The parsed request.
    pub fn request(&self) -> &CertReq {
        &self.request
    }

    /// The public key the certificate must certify.
    pub fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        &self.request.info.public_key
    }

    /// The `/simpleenroll` body (RFC 7030 §4.2.1): base64 of the DER in
    /// 64-column lines, each ending with a newline.
    pub fn est_body(&self) -> String {
        encoding::base64_lines(&self.der)
    }

    /// A stable identifier of this request: `sha256:` and the hex SHA-256 of its DER.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(&self.der);
        let mut out = String::from("sha256:");
        for byte in digest {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }

    /// The subject as an RFC 4514 string, for messages.
    pub fn subject(&self) -> String {
        self.request.info.subject.to_string()
    }
}

/// True when two public keys are the same key: same algorithm and the same
/// key bits. Algorithm parameters are compared only when both sides state
/// them, since some CAs drop an RSA key's NULL parameters.
pub fn same_public_key(a: &SubjectPublicKeyInfoOwned, b: &SubjectPublicKeyInfoOwned) -> bool {
    let params_agree = match (&a.algorithm.parameters, &b.algorithm.parameters) {
        (Some(pa), Some(pb)) => pa.to_der().ok() == pb.to_der().ok(),
        _ => true,
    };
    a.algorithm.oid == b.algorithm.oid
        && params_agree
        && a.subject_public_key == b.subject_public_key
}
