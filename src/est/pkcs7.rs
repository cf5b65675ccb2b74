//! Decoding of EST answers: a PKCS#7 / CMS "certs-only" SignedData
//! (RFC 7030 §4.1.3 and §4.2.3), usually base64 text, sometimes raw DER or
//! a `-----BEGIN PKCS7-----` block.
//!
//! The structure is decoded under BER rules so that the certificates keep
//! the order the server sent them in (DER decoding would re-sort the
//! `SET OF`) and so that indefinite-length encodings, which some CAs emit,
//! are accepted. Of the SignedData only the certificates are read (a
//! certs-only message signs nothing); each keeps the exact DER the server
//! sent, so handing it on never re-encodes it.

use crate::encoding::{self, DecodeError};
use crate::text::SafeText;
use cms::content_info::ContentInfo;
use der::asn1::{AnyRef, ContextSpecific};
use der::oid::ObjectIdentifier;
use der::{
    Decode, DecodeValue, Encode, EncodingRules, FixedTag, Header, Reader, SliceReader, Tag,
    TagNumber, Tagged,
};
use x509_cert::Certificate;

/// `id-signedData` (RFC 5652 §5.1).
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

/// Why an answer is not a usable certs-only message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkcs7Error {
    /// The body is empty.
    Empty,
    /// The text could not be decoded to bytes (bad base64 or PEM armour).
    Encoding(DecodeError),
    /// A PEM block with another label than `PKCS7` or `CMS` (the label as
    /// found, cleaned: it comes from outside).
    PemLabel(SafeText),
    /// Text that starts like PEM but holds no PEM block.
    NoPemBlock,
    /// The bytes are not a CMS ContentInfo / SignedData, or a certificate
    /// in it is not one.
    Der(der::Error),
    /// A ContentInfo of another type than signed-data.
    NotSignedData(ObjectIdentifier),
    /// A well-formed SignedData without any X.509 certificate.
    NoCertificates,
}

impl core::fmt::Display for Pkcs7Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const NOT_ENCODED: &str = "the body is not base64, DER or PEM PKCS#7";
        match self {
            Self::Empty => f.write_str("the body is empty"),
            Self::Encoding(why) => write!(f, "{NOT_ENCODED}: {why}"),
            Self::PemLabel(label) => {
                write!(
                    f,
                    "{NOT_ENCODED}: a PEM block labelled \"{label}\" instead of PKCS7"
                )
            }
            Self::NoPemBlock => write!(f, "{NOT_ENCODED}: no PEM block"),
            Self::Der(why) => write!(f, "the body is not a PKCS#7 SignedData: {why}"),
            Self::NotSignedData(oid) => {
                write!(f, "the PKCS#7 content type is {oid}, not signed-data")
            }
            Self::NoCertificates => f.write_str("the PKCS#7 SignedData holds no certificate"),
        }
    }
}

impl From<der::Error> for Pkcs7Error {
    fn from(error: der::Error) -> Self {
        Self::Der(error)
    }
}

/// A certificate from an EST answer: the DER the server sent and its
/// decoded form. Both are private and set once, from the same bytes, so
/// they cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedCertificate {
    der: Vec<u8>,
    cert: Certificate,
}

impl ReceivedCertificate {
    /// Decodes one certificate from its DER.
    pub fn from_der(der: Vec<u8>) -> Result<Self, der::Error> {
        let cert = Certificate::from_der(&der)?;
        Ok(Self { der, cert })
    }

    /// The certificate's DER exactly as received (a certificate's DER
    /// encoding is unique, so these are the server's bytes).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The decoded certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }
}

impl core::ops::Deref for ReceivedCertificate {
    type Target = Certificate;

    fn deref(&self) -> &Certificate {
        &self.cert
    }
}

impl core::borrow::Borrow<Certificate> for ReceivedCertificate {
    fn borrow(&self) -> &Certificate {
        &self.cert
    }
}

/// Decodes an EST certs-only answer into its certificates, in the order
/// the server encoded them.
pub fn decode_certs_only(body: &[u8]) -> Result<Vec<ReceivedCertificate>, Pkcs7Error> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(Pkcs7Error::Empty);
    }
    let der = if trimmed.starts_with(b"-----BEGIN") {
        match encoding::decode_pem(trimmed) {
            Ok(Some((label, der))) if label == "PKCS7" || label == "CMS" => der,
            Ok(Some((label, _))) => return Err(Pkcs7Error::PemLabel(SafeText::new(&label, 40))),
            Ok(None) => return Err(Pkcs7Error::NoPemBlock),
            Err(e) => return Err(Pkcs7Error::Encoding(e)),
        }
    } else if encoding::is_base64_text(trimmed) {
        encoding::decode_base64(trimmed).map_err(Pkcs7Error::Encoding)?
    } else {
        trimmed.to_vec()
    };
    certificates_from_der(&der)
}

fn certificates_from_der(der: &[u8]) -> Result<Vec<ReceivedCertificate>, Pkcs7Error> {
    let mut reader = SliceReader::new_with_encoding_rules(der, EncodingRules::Ber)?;
    let info = ContentInfo::decode(&mut reader)?;
    reader.finish()?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(Pkcs7Error::NotSignedData(info.content_type));
    }
    let signed: SignedDataCertificates = info.content.decode_as_encoding(EncodingRules::Ber)?;
    let certs = signed
        .0
        .into_iter()
        .map(ReceivedCertificate::from_der)
        .collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(Pkcs7Error::NoCertificates);
    }
    Ok(certs)
}

/// The X.509 certificates of a SignedData (RFC 5652 §5.1), each as the
/// DER it was sent in; the other fields are checked for their tags and
/// skipped.
///
/// ```text
/// SignedData ::= SEQUENCE {
///   version CMSVersion,                                 -- INTEGER
///   digestAlgorithms DigestAlgorithmIdentifiers,        -- SET
///   encapContentInfo EncapsulatedContentInfo,           -- SEQUENCE
///   certificates [0] IMPLICIT CertificateSet OPTIONAL,
///   crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
///   signerInfos SignerInfos }                           -- SET
/// ```
struct SignedDataCertificates(Vec<Vec<u8>>);

impl<'a> DecodeValue<'a> for SignedDataCertificates {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        for expected in [Tag::Integer, Tag::Set, Tag::Sequence] {
            AnyRef::decode(reader)?.tag().assert_eq(expected)?;
        }
        let certificates =
            ContextSpecific::<CertificateSet>::decode_implicit(reader, TagNumber(0))?
                .map(|set| set.value.0)
                .unwrap_or_default();
        let crls = Tag::ContextSpecific {
            constructed: true,
            number: TagNumber(1),
        };
        if Tag::peek(reader)? == crls {
            AnyRef::decode(reader)?;
        }
        AnyRef::decode(reader)?.tag().assert_eq(Tag::Set)?;
        Ok(Self(certificates))
    }
}

impl FixedTag for SignedDataCertificates {
    const TAG: Tag = Tag::Sequence;
}

/// `CertificateSet ::= SET OF CertificateChoices`: the plain X.509
/// certificates (the `SEQUENCE` choice) as sent; attribute and other
/// certificate formats are left out.
struct CertificateSet(Vec<Vec<u8>>);

impl<'a> DecodeValue<'a> for CertificateSet {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let mut certificates = Vec::new();
        while !reader.is_finished() {
            let choice = AnyRef::decode(reader)?;
            if choice.tag() == Tag::Sequence {
                certificates.push(choice.to_der()?);
            }
        }
        Ok(Self(certificates))
    }
}

impl FixedTag for CertificateSet {
    const TAG: Tag = Tag::Set;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TestCa, b64, certs_only, tlv};
    use der::Encode;

    const DER: &[u8] = include_bytes!("../../tests/data/acme2certifier/certs_der.p7b");
    const PEM: &[u8] = include_bytes!("../../tests/data/acme2certifier/certs.p7b");
    const OPENSSL_DER: &str =
        include_str!("../../tests/data/acme2certifier/certs_der.p7b.openssl.txt");
    const OPENSSL_PEM: &str = include_str!("../../tests/data/acme2certifier/certs.p7b.openssl.txt");

    /// The PEM blocks of OpenSSL's `-print_certs` output, without its
    /// `subject=`/`issuer=` lines.
    fn openssl_blocks(text: &str) -> Vec<String> {
        text.split_inclusive("-----END CERTIFICATE-----\n")
            .filter_map(|part| part.find("-----BEGIN").map(|i| part[i..].to_owned()))
            .collect()
    }

    fn as_pem(certs: &[ReceivedCertificate]) -> Vec<String> {
        certs
            .iter()
            .map(|c| crate::encoding::pem("CERTIFICATE", c.der()))
            .collect()
    }

    #[test]
    fn vectors_decode_exactly_as_openssl_prints_them() {
        let from_der = decode_certs_only(DER).unwrap();
        let expected = openssl_blocks(OPENSSL_DER);
        assert_eq!(expected.len(), 2);
        assert_eq!(as_pem(&from_der), expected);
        let from_pem = decode_certs_only(PEM).unwrap();
        assert_eq!(as_pem(&from_pem), openssl_blocks(OPENSSL_PEM));
        let from_b64 = decode_certs_only(b64(DER).as_bytes()).unwrap();
        assert_eq!(as_pem(&from_b64), expected);
        let subjects: Vec<String> = from_der
            .iter()
            .map(|c| c.tbs_certificate().subject().to_string())
            .collect();
        assert_eq!(
            subjects,
            [
                "CN=sub-ca,OU=acme2certifier",
                "CN=root-ca,OU=acme2certifier"
            ]
        );
    }

    #[test]
    fn base64_with_crlf_and_odd_wrapping_is_accepted() {
        let flat = b64(DER).replace('\n', "");
        let crlf: String = flat
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\r\n", String::from_utf8_lossy(c)))
            .collect();
        assert_eq!(decode_certs_only(crlf.as_bytes()).unwrap().len(), 2);
        assert_eq!(decode_certs_only(flat.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn order_is_kept_as_sent() {
        let ca = TestCa::new("Order");
        let (root, inter) = (ca.root_der(), ca.intermediate_der());
        for order in [[&root, &inter], [&inter, &root]] {
            let certs = decode_certs_only(&certs_only(&[order[0], order[1]])).unwrap();
            let ders: Vec<Vec<u8>> = certs.iter().map(|c| c.der().to_vec()).collect();
            assert_eq!(ders, vec![order[0].clone(), order[1].clone()]);
            let reencoded: Vec<Vec<u8>> = certs.iter().map(|c| c.to_der().unwrap()).collect();
            assert_eq!(reencoded, ders);
        }
    }

    #[test]
    fn ber_indefinite_lengths_are_accepted() {
        // Re-encode the outer ContentInfo and its [0] wrapper with indefinite lengths.
        let ca = TestCa::new("Ber");
        let der = certs_only(&[&ca.root_der()]);
        let (outer_header, signed_header) = (
            header_len(&der, 0),
            header_len(&der, header_len(&der, 0) + 11),
        );
        let oid = &der[outer_header..outer_header + 11];
        let signed = &der[outer_header + 11 + signed_header..];
        let mut ber = vec![0x30, 0x80];
        ber.extend_from_slice(oid);
        ber.extend_from_slice(&[0xa0, 0x80]);
        ber.extend_from_slice(signed);
        ber.extend_from_slice(&[0, 0, 0, 0]);
        let certs = decode_certs_only(&ber).unwrap();
        assert_eq!(certs[0].to_der().unwrap(), ca.root_der());
    }

    fn header_len(der: &[u8], at: usize) -> usize {
        match der[at + 1] {
            l if l < 0x80 => 2,
            l => 2 + usize::from(l & 0x7f),
        }
    }

    #[test]
    fn broken_answers_are_typed_errors() {
        assert_eq!(decode_certs_only(b""), Err(Pkcs7Error::Empty));
        assert_eq!(decode_certs_only(b" \r\n"), Err(Pkcs7Error::Empty));
        assert!(matches!(
            decode_certs_only(b"<html>Bad gateway</html>"),
            Err(Pkcs7Error::Der(_))
        ));
        assert!(matches!(
            decode_certs_only(b"QUJD"),
            Err(Pkcs7Error::Der(_))
        ));
        assert_eq!(
            decode_certs_only(b"MIIB==x"),
            Err(Pkcs7Error::Encoding(DecodeError::Base64))
        );
        let truncated = b64(&DER[..DER.len() / 2]);
        assert!(matches!(
            decode_certs_only(truncated.as_bytes()),
            Err(Pkcs7Error::Der(_))
        ));
        let mut trailing = DER.to_vec();
        trailing.extend_from_slice(b"junk");
        assert!(matches!(
            decode_certs_only(&trailing),
            Err(Pkcs7Error::Der(e)) if matches!(e.kind(), der::ErrorKind::TrailingData { .. })
        ));
        let wrong_label = crate::encoding::pem("CERTIFICATE", DER);
        assert_eq!(
            decode_certs_only(wrong_label.as_bytes()),
            Err(Pkcs7Error::PemLabel(SafeText::new("CERTIFICATE", 40)))
        );
        assert_eq!(
            decode_certs_only(&certs_only(&[])),
            Err(Pkcs7Error::NoCertificates)
        );
    }

    /// The words of each kind of error, as operators read them (and as
    /// the host's end-to-end tests compare them).
    #[test]
    fn error_texts_are_pinned() {
        let text = |body: &[u8]| decode_certs_only(body).unwrap_err().to_string();
        let mut trailing = DER.to_vec();
        trailing.extend_from_slice(b"junk");
        let mut other_type = certs_only(&[]);
        other_type[2 + 11 - 1] = 0x01;
        let labelled = crate::encoding::pem("CERT\x1bIFICATE", DER);
        let empty = certs_only(&[]);
        let cases: [(&[u8], &str); 10] = [
            (b" \r\n", "the body is empty"),
            (
                b"MIIB==x",
                "the body is not base64, DER or PEM PKCS#7: it is not valid base64",
            ),
            (
                labelled.as_bytes(),
                "the body is not base64, DER or PEM PKCS#7: a PEM block labelled \"CERT IFICATE\" instead of PKCS7",
            ),
            (
                b"-----BEGINPKCS7-----\nQUJD\n",
                "the body is not base64, DER or PEM PKCS#7: no PEM block",
            ),
            (
                b"-----BEGIN PKCS7-----\nQUJD\n",
                "the body is not base64, DER or PEM PKCS#7: its \"-----BEGIN PKCS7-----\" block has no end line",
            ),
            (
                b"QUJD",
                "the body is not a PKCS#7 SignedData: unexpected ASN.1 DER tag: expected SEQUENCE, got APPLICATION [1] (primitive)",
            ),
            (
                b"<html>Bad gateway</html>",
                "the body is not a PKCS#7 SignedData: unknown/unsupported ASN.1 DER tag: 0x3c at DER byte 1",
            ),
            (
                &trailing,
                "the body is not a PKCS#7 SignedData: trailing data at end of DER message: decoded 2808 bytes, 4 bytes remaining at DER byte 2808",
            ),
            (
                &other_type,
                "the PKCS#7 content type is 1.2.840.113549.1.7.1, not signed-data",
            ),
            (&empty, "the PKCS#7 SignedData holds no certificate"),
        ];
        let (got, expected): (Vec<String>, Vec<&str>) = cases
            .into_iter()
            .map(|(body, words)| (text(body), words))
            .unzip();
        assert_eq!(got, expected);
    }

    /// A ContentInfo around a SignedData made of `fields`.
    fn signed_data(fields: &[Vec<u8>]) -> Vec<u8> {
        let oid = ID_SIGNED_DATA.to_der().unwrap();
        tlv(
            0x30,
            &[oid, tlv(0xa0, &tlv(0x30, &fields.concat()))].concat(),
        )
    }

    #[test]
    fn only_x509_certificates_are_taken_byte_for_byte_and_other_fields_skipped() {
        let ca = TestCa::new("Fields");
        let root = ca.root_der();
        let version = tlv(0x02, &[1]);
        let digests = tlv(0x31, &[]);
        let id_data = tlv(
            0x06,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01],
        );
        let encap = tlv(0x30, &id_data);
        // An `other` certificate choice ([3]) beside the X.509 one, and a crls field.
        let other_cert = tlv(
            0xa3,
            &tlv(0x30, &[id_data.clone(), tlv(0x04, b"x")].concat()),
        );
        let certificates = tlv(0xa0, &[root.clone(), other_cert].concat());
        let crls = tlv(0xa1, &tlv(0x30, &[]));
        let signer_infos = tlv(0x31, &[]);
        let message = signed_data(&[
            version.clone(),
            digests.clone(),
            encap.clone(),
            certificates.clone(),
            crls,
            signer_infos.clone(),
        ]);
        let certs = decode_certs_only(&message).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].der(), root);
        assert_eq!(
            certs[0].tbs_certificate().subject(),
            certs[0].tbs_certificate().issuer()
        );

        // Fields out of place are structure errors, not skipped silently.
        let no_version = signed_data(&[
            digests.clone(),
            encap.clone(),
            certificates.clone(),
            signer_infos.clone(),
        ]);
        let no_signer_infos = signed_data(&[version.clone(), digests, encap, certificates]);
        for broken in [no_version, no_signer_infos] {
            assert!(
                matches!(decode_certs_only(&broken), Err(Pkcs7Error::Der(_))),
                "{:?}",
                decode_certs_only(&broken)
            );
        }
        // A certificate that is not one is a structure error too.
        let mut bad_cert = root.clone();
        bad_cert[4] ^= 0xff;
        let broken = signed_data(&[
            version,
            tlv(0x31, &[]),
            tlv(0x30, &id_data),
            tlv(0xa0, &bad_cert),
            tlv(0x31, &[]),
        ]);
        assert!(matches!(
            decode_certs_only(&broken),
            Err(Pkcs7Error::Der(_))
        ));
    }

    #[test]
    fn other_content_types_are_named() {
        let mut data = certs_only(&[]);
        // Turn id-signedData (…07 02) into id-data (…07 01).
        let oid_end = 2 + 11;
        data[oid_end - 1] = 0x01;
        assert_eq!(
            decode_certs_only(&data),
            Err(Pkcs7Error::NotSignedData(ObjectIdentifier::new_unwrap(
                "1.2.840.113549.1.7.1"
            )))
        );
    }
}
