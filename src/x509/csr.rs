//! The certificate signing request handed to the handler: decoded from any
//! of the encodings ACME servers use, checked for PKCS#10 structure, and
//! re-encoded for the EST `/simpleenroll` body.

use crate::encoding::{self, DecodeError};
use crate::text::{Redactions, SafeText};
use crate::x509::names::{EXTENSION_REQUEST, Names, NamesError};
use crate::x509::tlv::{Fields, context};
use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier};
use der::{Encode, Tag};
use sha2::{Digest, Sha256};
use x509_cert::name::Name;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

/// The largest CSR accepted, in bytes of text.
pub const MAX_CSR_TEXT: usize = 64 * 1024;

/// A PKCS#10 request whose structure has been checked.
#[derive(Debug, Clone)]
pub struct Csr {
    der: Vec<u8>,
    subject: Name,
    public_key: SubjectPublicKeyInfoOwned,
    names: Names,
}

/// Why a CSR was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrError {
    /// The text is longer than [`MAX_CSR_TEXT`] bytes (its length).
    TooLong(usize),
    /// A PEM block with another label than `CERTIFICATE REQUEST` (the
    /// label as found, cleaned: it comes from outside).
    PemLabel(SafeText),
    /// The text is empty.
    Empty,
    /// Neither PEM nor base64.
    NotBase64(DecodeError),
    /// A PEM block whose armour or base64 is broken.
    PemArmour(DecodeError),
    /// The DER is not a PKCS#10 `CertificationRequest`.
    NotPkcs10(der::Error),
    /// The public key's bit string is empty.
    EmptyPublicKey,
    /// The signature's bit string is empty.
    Unsigned,
    /// The names the request asks for cannot be read.
    Names(NamesError),
    /// A poll identifier that is not this CSR's.
    PollIdentifier {
        /// The identifier given (cleaned: it comes from outside).
        given: SafeText,
        /// This CSR's identifier ([`Csr::fingerprint`]).
        expected: String,
    },
}

impl CsrError {
    /// Takes the handler's own secrets out of the outside text it holds
    /// (see [`Redactions`]).
    pub fn redact(&mut self, secrets: &Redactions) {
        if let Self::PemLabel(text) | Self::PollIdentifier { given: text, .. } = self {
            text.redact(secrets);
        }
    }
}

impl core::fmt::Display for CsrError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooLong(len) => write!(
                f,
                "the CSR is {len} bytes long; at most {MAX_CSR_TEXT} are accepted"
            ),
            Self::PemLabel(label) => write!(
                f,
                "expected a PEM \"CERTIFICATE REQUEST\", found \"{label}\""
            ),
            Self::Empty => f.write_str("the CSR is empty"),
            Self::NotBase64(e) => write!(f, "the CSR is neither PEM nor base64 DER: {e}"),
            Self::PemArmour(e) => write!(f, "the CSR's PEM armour is broken: {e}"),
            Self::NotPkcs10(e) => write!(f, "not a PKCS#10 certification request: {e}"),
            Self::EmptyPublicKey => f.write_str("the request carries an empty public key"),
            Self::Unsigned => f.write_str("the request is not signed"),
            Self::Names(why) => write!(f, "the request's names: {why}"),
            Self::PollIdentifier { given, expected } => write!(
                f,
                "the poll identifier \"{given}\" does not belong to this CSR (its identifier is {expected})"
            ),
        }
    }
}

impl Csr {
    /// Decodes a CSR given as base64url DER (what ACME sends, usually
    /// without padding), standard base64 DER, or PEM
    /// (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`).
    pub fn parse(text: &str) -> Result<Self, CsrError> {
        if text.len() > MAX_CSR_TEXT {
            return Err(CsrError::TooLong(text.len()));
        }
        let der = match encoding::decode_pem(text.as_bytes()) {
            Ok(Some((label, der)))
                if label == "CERTIFICATE REQUEST" || label == "NEW CERTIFICATE REQUEST" =>
            {
                der
            }
            Ok(Some((label, _))) => return Err(CsrError::PemLabel(SafeText::new(&label, 40))),
            Ok(None) => encoding::decode_base64(text.as_bytes()).map_err(|e| match e {
                DecodeError::Empty => CsrError::Empty,
                e => CsrError::NotBase64(e),
            })?,
            Err(e) => return Err(CsrError::PemArmour(e)),
        };
        Self::from_der(der)
    }

    /// Checks DER bytes for PKCS#10 structure (RFC 2986 §4): every field
    /// present with its tag, version 0, a subject name, a public key, the
    /// attributes, a signature algorithm and a signature.
    pub fn from_der(der: Vec<u8>) -> Result<Self, CsrError> {
        let request = Request::decode(&der).map_err(CsrError::NotPkcs10)?;
        if request.public_key.subject_public_key.raw_bytes().is_empty() {
            return Err(CsrError::EmptyPublicKey);
        }
        if request.signature_is_empty {
            return Err(CsrError::Unsigned);
        }
        let names = Names::of_request_parts(&request.subject, &request.extension_requests)
            .map_err(CsrError::Names)?;
        Ok(Self {
            subject: request.subject,
            public_key: request.public_key,
            der,
            names,
        })
    }

    /// The request's DER encoding, as received.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The names the request asks for (subject CNs, DNS and IP SANs).
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The public key the certificate must certify.
    pub fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        &self.public_key
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
        crate::x509::dn::to_string(&self.subject)
    }
}

/// What the handler reads of a PKCS#10 request.
struct Request<'a> {
    subject: Name,
    public_key: SubjectPublicKeyInfoOwned,
    /// The values of its extensionRequest attributes.
    extension_requests: Vec<AnyRef<'a>>,
    signature_is_empty: bool,
}

impl<'a> Request<'a> {
    /// ```text
    /// CertificationRequest ::= SEQUENCE {
    ///   certificationRequestInfo SEQUENCE {
    ///     version INTEGER { v1(0) },
    ///     subject Name,
    ///     subjectPKInfo SubjectPublicKeyInfo,
    ///     attributes [0] IMPLICIT SET OF Attribute },
    ///   signatureAlgorithm AlgorithmIdentifier,
    ///   signature BIT STRING }
    /// Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY }
    /// ```
    fn decode(der: &'a [u8]) -> der::Result<Self> {
        let mut request = Fields::of_der(der, Tag::Sequence)?;
        let mut info = Fields::of(request.next(Tag::Sequence)?, Tag::Sequence)?;
        request
            .next(Tag::Sequence)?
            .decode_as::<AlgorithmIdentifierOwned>()?;
        let signature = request
            .next(Tag::BitString)?
            .decode_as::<BitStringRef<'_>>()?;
        request.finish()?;

        let version = info.next(Tag::Integer)?;
        if version.value() != [0] {
            return Err(Tag::Integer.value_error().into());
        }
        let subject = info.next_any()?.decode_as::<Name>()?;
        let public_key = info.next_any()?.decode_as::<SubjectPublicKeyInfoOwned>()?;
        let mut attributes = Fields::of(info.next_any()?, context(0, true))?;
        info.finish()?;
        let mut extension_requests = Vec::new();
        while !attributes.is_empty() {
            let mut attribute = Fields::of(attributes.next_any()?, Tag::Sequence)?;
            let oid = ObjectIdentifier::from_bytes(attribute.next(Tag::ObjectIdentifier)?.value())
                .map_err(|_| Tag::ObjectIdentifier.value_error())?;
            let mut values = Fields::of(attribute.next_any()?, Tag::Set)?;
            attribute.finish()?;
            while !values.is_empty() {
                let value = values.next_any()?;
                if oid == EXTENSION_REQUEST {
                    extension_requests.push(value);
                }
            }
        }
        Ok(Self {
            subject,
            public_key,
            extension_requests,
            signature_is_empty: signature.raw_bytes().is_empty(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HandlerError;
    use crate::testutil::{b64, b64url, make_csr};
    use der::Decode;

    const VECTOR: &[u8] = include_bytes!("../../tests/data/acme2certifier/csr.der");

    fn bad_csr(text: &str) -> CsrError {
        Csr::parse(text).expect_err(text)
    }

    fn not_pkcs10(text: &str) -> bool {
        matches!(bad_csr(text), CsrError::NotPkcs10(_))
    }

    #[test]
    fn all_three_encodings_give_the_same_request() {
        let pem = crate::encoding::pem("CERTIFICATE REQUEST", VECTOR);
        let new_pem = crate::encoding::pem("NEW CERTIFICATE REQUEST", VECTOR).replace('\n', "\r\n");
        let padded = b64(VECTOR);
        for text in [
            b64url(VECTOR),
            padded.clone(),
            padded.replace('\n', ""),
            pem,
            new_pem,
        ] {
            let csr = Csr::parse(&text).unwrap();
            assert_eq!(csr.der(), VECTOR, "{text}");
            assert_eq!(csr.subject(), "CN=acme-sh.acme");
        }
    }

    #[test]
    fn base64url_with_url_only_characters() {
        // Fresh keys give DER whose base64url has '-' or '_' in most runs; try until one does.
        let der = (0..64)
            .map(|i| make_csr(&format!("host{i}.example")))
            .find(|der| b64url(der).contains(['-', '_']))
            .expect("a CSR whose base64url uses '-' or '_'");
        assert_eq!(Csr::parse(&b64url(&der)).unwrap().der(), der);
    }

    /// The words of each kind of refusal, as operators read them.
    #[test]
    fn refusal_texts_are_pinned() {
        use crate::testutil::tlv;
        let text = |csr: &str| HandlerError::from(bad_csr(csr)).to_string();
        let rsa = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
        ];
        let sha256_rsa = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
        ];
        let request = |key: &[u8], signature: &[u8]| {
            let spki = tlv(0x30, &[tlv(0x30, &rsa), tlv(0x03, key)].concat());
            let info = [tlv(0x02, &[0]), tlv(0x30, &[]), spki, tlv(0xa0, &[])].concat();
            let parts = [
                tlv(0x30, &info),
                tlv(0x30, &sha256_rsa),
                tlv(0x03, signature),
            ];
            b64url(&tlv(0x30, &parts.concat()))
        };
        let pem = crate::encoding::pem("CERTIFICATE", VECTOR);
        let cut = crate::encoding::pem("CERTIFICATE REQUEST", VECTOR);
        let cases = [
            (
                "A".repeat(MAX_CSR_TEXT + 1),
                "bad CSR: the CSR is 65537 bytes long; at most 65536 are accepted",
            ),
            (
                pem,
                "bad CSR: expected a PEM \"CERTIFICATE REQUEST\", found \"CERTIFICATE\"",
            ),
            (" \n".into(), "bad CSR: the CSR is empty"),
            (
                "%%% not a csr %%%".into(),
                "bad CSR: the CSR is neither PEM nor base64 DER: it is not valid base64",
            ),
            (
                cut[..cut.len() - 40].to_owned(),
                "bad CSR: the CSR's PEM armour is broken: its \"-----BEGIN CERTIFICATE REQUEST-----\" block has no end line",
            ),
            (
                b64url(b"hello, world"),
                "bad CSR: not a PKCS#10 certification request: ASN.1 DER message is incomplete: expected 103, actual 12 at DER byte 2",
            ),
            (
                request(&[0], &[0, 1]),
                "bad CSR: the request carries an empty public key",
            ),
            (request(&[0, 1], &[0]), "bad CSR: the request is not signed"),
        ];
        let (got, expected): (Vec<String>, Vec<&str>) =
            cases.iter().map(|(csr, words)| (text(csr), *words)).unzip();
        assert_eq!(got, expected);
    }

    /// The words of the refusals that no CSR text above leads to.
    #[test]
    fn other_refusal_texts_are_pinned() {
        let text = |e: CsrError| HandlerError::from(e).to_string();
        let der = der::Error::from(der::ErrorKind::Length { tag: Tag::Sequence });
        let cases = [
            (
                CsrError::PollIdentifier {
                    given: SafeText::new("sha256:\n00", 80),
                    expected: "sha256:ab".into(),
                },
                "bad CSR: the poll identifier \"sha256: 00\" does not belong to this CSR (its identifier is sha256:ab)",
            ),
            (
                CsrError::Names(NamesError::ExtensionRequest(der)),
                "bad CSR: the request's names: its extensionRequest attribute is malformed: incorrect length for SEQUENCE",
            ),
            (
                CsrError::Names(NamesError::SubjectAltName(der)),
                "bad CSR: the request's names: its subjectAltName extension is malformed: incorrect length for SEQUENCE",
            ),
            (
                CsrError::Names(NamesError::IpAddressLength(3)),
                "bad CSR: the request's names: its subjectAltName holds an IP address of 3 bytes",
            ),
        ];
        let (got, expected): (Vec<String>, Vec<&str>) =
            cases.into_iter().map(|(e, words)| (text(e), words)).unzip();
        assert_eq!(got, expected);
    }

    #[test]
    fn outside_text_in_a_refusal_loses_the_secrets() {
        let mut secrets = Redactions::default();
        secrets.add_secret("hunter22");
        let given = CsrError::PollIdentifier {
            given: SafeText::new("sha256:hunter22", 80),
            expected: "sha256:ab".into(),
        };
        assert_eq!(
            HandlerError::from(given).redacted(&secrets),
            HandlerError::from(CsrError::PollIdentifier {
                given: SafeText::new("sha256:[redacted]", 80),
                expected: "sha256:ab".into(),
            })
        );
        let label = crate::encoding::pem("hunter22", VECTOR);
        assert_eq!(
            HandlerError::from(bad_csr(&label)).redacted(&secrets),
            HandlerError::from(CsrError::PemLabel(SafeText::new("[redacted]", 40)))
        );
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert_eq!(bad_csr(""), CsrError::Empty);
        assert_eq!(bad_csr("   \n"), CsrError::Empty);
        assert_eq!(
            bad_csr("%%% not a csr %%%"),
            CsrError::NotBase64(DecodeError::Base64)
        );
        assert!(not_pkcs10(&b64url(b"hello, world")));
        assert!(not_pkcs10(&b64url(&VECTOR[..VECTOR.len() - 10])));
        let cert = crate::encoding::pem("CERTIFICATE", VECTOR);
        assert_eq!(
            bad_csr(&cert),
            CsrError::PemLabel(SafeText::new("CERTIFICATE", 40))
        );
        let cut = crate::encoding::pem("CERTIFICATE REQUEST", VECTOR);
        assert!(matches!(
            bad_csr(&cut[..cut.len() - 40]),
            CsrError::PemArmour(DecodeError::UnterminatedPem(_))
        ));
        let mut trailing = VECTOR.to_vec();
        trailing.push(0);
        assert!(not_pkcs10(&b64url(&trailing)));
        assert_eq!(
            bad_csr(&"A".repeat(MAX_CSR_TEXT + 1)),
            CsrError::TooLong(MAX_CSR_TEXT + 1)
        );
    }

    #[test]
    fn every_field_of_the_request_is_checked() {
        // The version INTEGER opens the request info: 30 len 30 len 02 01 00.
        let version = VECTOR
            .windows(3)
            .position(|w| w == [0x02, 0x01, 0x00])
            .unwrap();
        let mut v2 = VECTOR.to_vec();
        v2[version + 2] = 1;
        assert!(not_pkcs10(&b64url(&v2)));
        // The attributes' [0] tag (the info's last field) turned into [1].
        let request = x509_cert::request::CertReq::from_der(VECTOR).unwrap();
        let info = request.info.to_der().unwrap();
        let info_at = VECTOR.windows(info.len()).position(|w| w == info).unwrap();
        let attributes = info_at + info.len() - request.info.attributes.to_der().unwrap().len();
        assert_eq!(VECTOR[attributes], 0xa0);
        let mut no_attributes = VECTOR.to_vec();
        no_attributes[attributes] = 0xa1;
        assert!(not_pkcs10(&b64url(&no_attributes)));
        // x509-cert reads the same request the same way.
        let csr = Csr::from_der(VECTOR.to_vec()).unwrap();
        assert_eq!(csr.public_key(), &request.info.public_key);
        assert_eq!(
            csr.subject(),
            crate::x509::dn::to_string(&request.info.subject)
        );
        assert_eq!(Names::of_request(&request).as_ref(), Ok(csr.names()));
    }

    #[test]
    fn est_body_is_64_column_base64_with_final_newline() {
        let csr = Csr::parse(&b64url(VECTOR)).unwrap();
        let body = csr.est_body();
        assert!(body.ends_with('\n'));
        let lines: Vec<&str> = body.split_terminator('\n').collect();
        assert!(lines[..lines.len() - 1].iter().all(|l| l.len() == 64));
        assert!(lines.last().unwrap().len() <= 64);
        assert_eq!(
            crate::encoding::decode_base64(body.as_bytes()).unwrap(),
            VECTOR
        );
    }

    #[test]
    fn fingerprint_identifies_the_request() {
        let a = Csr::parse(&b64url(VECTOR)).unwrap();
        let b = Csr::parse(&b64url(&make_csr("other.example"))).unwrap();
        assert!(a.fingerprint().starts_with("sha256:"));
        assert_eq!(a.fingerprint().len(), 7 + 64);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(
            a.fingerprint(),
            Csr::parse(&b64(VECTOR)).unwrap().fingerprint()
        );
    }
}
