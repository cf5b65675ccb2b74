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
/// the sorted certificates sit back to back in the encoding, so their run
/// is rewritten with the same bytes in the wanted order (no length changes).
pub fn certs_only_in_order(certs: &[Vec<u8>]) -> Result<Vec<u8>> {
    let mut der = certs_only(certs)?;
    let mut found: Vec<(usize, usize)> = certs
        .iter()
        .map(|cert| {
            der.windows(cert.len())
                .position(|w| w == cert.as_slice())
                .map(|at| (at, cert.len()))
                .context("a certificate is missing from the encoding")
        })
        .collect::<Result<_>>()?;
    found.sort();
    let start = found.first().map_or(0, |(at, _)| *at);
    let mut end = start;
    for (at, len) in &found {
        if *at != end {
            anyhow::bail!("the certificates are not contiguous in the encoding");
        }
        end += len;
    }
    der[start..end].copy_from_slice(&certs.concat());
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ca, KeyType};

    #[test]
    fn certificates_come_out_in_the_order_asked_and_the_encoding_stays_valid() {
        let ca = Ca::new("Order", KeyType::EcdsaP256).unwrap();
        let other = Ca::new("Other", KeyType::EcdsaP256).unwrap();
        let certs = [ca.root_der(), other.root_der(), ca.issuing_der()];
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
            let wanted: Vec<Vec<u8>> = order.iter().map(|&i| certs[i].clone()).collect();
            let der = certs_only_in_order(&wanted).unwrap();
            let run = wanted.concat();
            assert!(
                der.windows(run.len()).any(|w| w == run.as_slice()),
                "order {order:?}"
            );
            let info = ContentInfo::from_der(&der).expect("still decodes");
            assert_eq!(info.content_type, ID_SIGNED_DATA);
            assert_eq!(der.len(), certs_only(&wanted).unwrap().len());
        }
    }
}
