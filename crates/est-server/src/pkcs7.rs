//! Certs-only PKCS#7 messages (RFC 7030 §4.1.3, §4.2.3), built with `cms`.

use anyhow::{Context, Result};
use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerInfos};
use der::asn1::SetOfVec;
use der::oid::ObjectIdentifier;
use der::{Any, Decode, Encode};
use x509_cert::Certificate;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

/// DER of a degenerate SignedData holding `certs` (each DER), in DER's
/// canonical order.
pub fn certs_only(certs: &[Vec<u8>]) -> Result<Vec<u8>> {
    let mut set = SetOfVec::new();
    for der in certs {
        let cert = Certificate::from_der(der).context("parsing a certificate")?;
        set.insert(CertificateChoices::Certificate(cert))
            .context("adding a certificate")?;
    }
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::new(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(set)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::new()),
    };
    let info = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed)?,
    };
    Ok(info.to_der()?)
}

/// Like [`certs_only`], but with the certificates in exactly the order
/// given, as some servers in the field send them. DER sorts a `SET OF`;
/// the sorted certificates sit back to back in the encoding, so they are
/// swapped for the same bytes in the wanted order (lengths do not change).
pub fn certs_only_in_order(certs: &[Vec<u8>]) -> Result<Vec<u8>> {
    let mut der = certs_only(certs)?;
    let mut sorted = certs.to_vec();
    sorted.sort();
    let sorted_run = sorted.concat();
    let wanted_run = certs.concat();
    let at = der
        .windows(sorted_run.len())
        .position(|w| w == sorted_run.as_slice())
        .context("the sorted certificates are not contiguous in the encoding")?;
    der[at..at + wanted_run.len()].copy_from_slice(&wanted_run);
    Ok(der)
}
