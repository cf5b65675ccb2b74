//! Decoding of EST answers: a PKCS#7 / CMS "certs-only" SignedData
//! (RFC 7030 §4.1.3 and §4.2.3), usually base64 text, sometimes raw DER or
//! a `-----BEGIN PKCS7-----` block.
//!
//! The structure is decoded under BER rules so that the certificates keep
//! the order the server sent them in (DER decoding would re-sort the
//! `SET OF`) and so that indefinite-length encodings, which some CAs emit,
//! are accepted.

use crate::encoding;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::oid::ObjectIdentifier;
use der::{Decode, EncodingRules, Reader, SliceReader};
use x509_cert::Certificate;

/// `id-signedData` (RFC 5652 §5.1).
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

/// Why an answer is not a usable certs-only message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkcs7Error {
    /// The body is empty.
    Empty,
    /// The text could not be decoded to bytes (bad base64 or PEM armour).
    Encoding(String),
    /// The bytes are not a CMS ContentInfo / SignedData.
    Structure(String),
    /// A ContentInfo of another type than signed-data.
    NotSignedData(String),
    /// A well-formed SignedData without any X.509 certificate.
    NoCertificates,
}

impl core::fmt::Display for Pkcs7Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Empty => f.write_str("the body is empty"),
            Self::Encoding(why) => write!(f, "the body is not base64, DER or PEM PKCS#7: {why}"),
            Self::Structure(why) => write!(f, "the body is not a PKCS#7 SignedData: {why}"),
            Self::NotSignedData(oid) => {
                write!(f, "the PKCS#7 content type is {oid}, not signed-data")
            }
            Self::NoCertificates => f.write_str("the PKCS#7 SignedData holds no certificate"),
        }
    }
}

/// Decodes an EST certs-only answer into its certificates, in the order
/// the server encoded them.
pub fn decode_certs_only(body: &[u8]) -> Result<Vec<Certificate>, Pkcs7Error> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(Pkcs7Error::Empty);
    }
    let der = if trimmed.starts_with(b"-----BEGIN") {
        match encoding::decode_pem(trimmed) {
            Ok(Some((label, der))) if label == "PKCS7" || label == "CMS" => der,
            Ok(Some((label, _))) => {
                return Err(Pkcs7Error::Encoding(format!(
                    "a PEM block labelled \"{}\" instead of PKCS7",
                    crate::config::sanitize(&label, 40)
                )));
            }
            Ok(None) => return Err(Pkcs7Error::Encoding("no PEM block".into())),
            Err(e) => return Err(Pkcs7Error::Encoding(e.to_string())),
        }
    } else if encoding::is_base64_text(trimmed) {
        encoding::decode_base64(trimmed).map_err(|e| Pkcs7Error::Encoding(e.to_string()))?
    } else {
        trimmed.to_vec()
    };
    certificates_from_der(&der)
}

fn certificates_from_der(der: &[u8]) -> Result<Vec<Certificate>, Pkcs7Error> {
    let structure = |e: der::Error| Pkcs7Error::Structure(e.to_string());
    let mut reader =
        SliceReader::new_with_encoding_rules(der, EncodingRules::Ber).map_err(structure)?;
    let info = ContentInfo::decode(&mut reader).map_err(structure)?;
    reader.finish().map_err(structure)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(Pkcs7Error::NotSignedData(info.content_type.to_string()));
    }
    let signed: SignedData = info
        .content
        .decode_as_encoding(EncodingRules::Ber)
        .map_err(structure)?;
    let certs: Vec<Certificate> = signed
        .certificates
        .map(|set| set.0.into_vec())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(cert) => Some(cert),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(Pkcs7Error::NoCertificates);
    }
    Ok(certs)
}
