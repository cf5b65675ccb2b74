//! Ordering of the CA certificates into the issued certificate's chain.
//!
//! `/cacerts` answers hold the CA certificates in no guaranteed order, and
//! may hold certificates that are not on the chain at all (RFC 7030 §4.1.3
//! root-rollover certificates, other CAs of the same server). The bundle
//! handed back to the ACME server must be the chain from the issuer upward.

use crate::x509::tlv::{Fields, context};
use core::borrow::Borrow;
use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode, Tag, Tagged};
use x509_cert::Certificate;

const SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

/// The certificates from `cas` that form `leaf`'s issuing chain, nearest
/// issuer first, ending at a self-issued certificate or where no issuer is
/// found. Each CA certificate is used at most once.
pub fn issuer_chain<'a, C: Borrow<Certificate> + 'a>(
    leaf: &Certificate,
    cas: impl IntoIterator<Item = &'a C>,
) -> Vec<&'a C> {
    let cas: Vec<&'a C> = cas.into_iter().collect();
    let mut chain: Vec<&'a C> = Vec::new();
    let mut used = vec![false; cas.len()];
    let mut current = leaf;
    while !is_self_issued(current) {
        let Some(index) = best_issuer(current, &cas, &used) else {
            break;
        };
        used[index] = true;
        chain.push(cas[index]);
        current = cas[index].borrow();
    }
    chain
}

/// Picks the certificate in `cas` most likely to have issued `child`: its
/// subject must equal the child's issuer; among several, one whose subject
/// key identifier matches the child's authority key identifier wins, then
/// a self-signed one (a root rather than a rollover link certificate, whose
/// key identifiers differ), then the one the server sent first.
fn best_issuer<C: Borrow<Certificate>>(
    child: &Certificate,
    cas: &[&C],
    used: &[bool],
) -> Option<usize> {
    let wanted_key = authority_key_id(child);
    cas.iter()
        .map(|ca| (*ca).borrow())
        .enumerate()
        .filter(|(i, ca)| {
            !used[*i]
                && same_name(
                    ca.tbs_certificate().subject(),
                    child.tbs_certificate().issuer(),
                )
        })
        .max_by_key(|(i, ca)| {
            let key_match = match (&wanted_key, subject_key_id(ca)) {
                (Some(want), Some(have)) => i8::from(*want == have) * 2 - 1,
                _ => 0,
            };
            (key_match, looks_self_signed(ca), core::cmp::Reverse(*i))
        })
        .map(|(i, _)| i)
}

/// True when a certificate's subject and issuer are the same name.
pub fn is_self_issued(cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    same_name(tbs.subject(), tbs.issuer())
}

/// Self-issued, and (where both identifiers exist) signed by its own key.
fn looks_self_signed(cert: &Certificate) -> bool {
    is_self_issued(cert)
        && match (authority_key_id(cert), subject_key_id(cert)) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => true,
        }
}

fn same_name(a: &x509_cert::name::Name, b: &x509_cert::name::Name) -> bool {
    a == b
}

fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    // SubjectKeyIdentifier ::= OCTET STRING
    let value = AnyRef::from_der(only_extension(cert, SUBJECT_KEY_IDENTIFIER)?).ok()?;
    value.tag().assert_eq(Tag::OctetString).ok()?;
    Some(value.value().to_vec())
}

/// The keyIdentifier of the authority key identifier extension:
///
/// ```text
/// AuthorityKeyIdentifier ::= SEQUENCE {
///   keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL,
///   authorityCertIssuer [1] IMPLICIT GeneralNames OPTIONAL,
///   authorityCertSerialNumber [2] IMPLICIT INTEGER OPTIONAL }
/// ```
fn authority_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    let mut fields = Fields::of_der(
        only_extension(cert, AUTHORITY_KEY_IDENTIFIER)?,
        Tag::Sequence,
    )
    .ok()?;
    let key_id = fields.optional(context(0, false)).ok()?;
    fields.optional(context(1, true)).ok()?;
    fields.optional(context(2, false)).ok()?;
    fields.finish().ok()?;
    Some(key_id?.value().to_vec())
}

/// The value of the extension `oid`, when the certificate has it once.
fn only_extension(cert: &Certificate, oid: ObjectIdentifier) -> Option<&[u8]> {
    let mut found = cert
        .tbs_certificate()
        .extensions()?
        .iter()
        .filter(|extension| extension.extn_id == oid);
    let extension = found.next()?;
    match found.next() {
        Some(_) => None,
        None => Some(extension.extn_value.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TestCa;
    use der::{Decode, Encode};
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

    fn cert(der: &[u8]) -> Certificate {
        Certificate::from_der(der).unwrap()
    }

    fn leaf_of(ca: &TestCa) -> Certificate {
        cert(&ca.issue(&crate::testutil::make_csr("leaf.example")))
    }

    fn ders(chain: &[&Certificate]) -> Vec<Vec<u8>> {
        chain.iter().map(|c| c.to_der().unwrap()).collect()
    }

    #[test]
    fn chain_runs_from_issuer_to_root_whatever_the_order_sent() {
        let ca = TestCa::new("Chain");
        let leaf = leaf_of(&ca);
        let expected = vec![ca.intermediate_der(), ca.root_der()];
        for cas in [
            vec![cert(&ca.intermediate_der()), cert(&ca.root_der())],
            vec![cert(&ca.root_der()), cert(&ca.intermediate_der())],
        ] {
            assert_eq!(ders(&issuer_chain(&leaf, &cas)), expected);
        }
    }

    #[test]
    fn unrelated_certificates_are_left_out() {
        let ca = TestCa::new("Mine");
        let other = TestCa::new("Other");
        let leaf = leaf_of(&ca);
        let cas = vec![
            cert(&other.root_der()),
            cert(&ca.root_der()),
            cert(&other.intermediate_der()),
            cert(&ca.intermediate_der()),
        ];
        assert_eq!(
            ders(&issuer_chain(&leaf, &cas)),
            vec![ca.intermediate_der(), ca.root_der()]
        );
        assert!(issuer_chain(&leaf, &[cert(&other.root_der())]).is_empty());
    }

    fn root_params() -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "Rollover Root");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.use_authority_key_identifier_extension = true;
        params
    }

    #[test]
    fn rollover_certificates_do_not_enter_the_chain() {
        // RFC 7030 §4.1.3: OldWithOld, NewWithNew, and the link NewWithOld,
        // all named "Rollover Root"; the issuing CA hangs under the new key.
        let old =
            CertifiedIssuer::self_signed(root_params(), KeyPair::generate().unwrap()).unwrap();
        let new_key = KeyPair::generate().unwrap();
        let new_with_old = root_params().signed_by(&new_key, &old).unwrap();
        let new = CertifiedIssuer::self_signed(root_params(), new_key).unwrap();
        let mut issuing = CertificateParams::new(Vec::<String>::new()).unwrap();
        issuing
            .distinguished_name
            .push(DnType::CommonName, "Rollover Issuing CA");
        issuing.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        issuing.use_authority_key_identifier_extension = true;
        let issuing =
            CertifiedIssuer::signed_by(issuing, KeyPair::generate().unwrap(), &new).unwrap();
        let mut leaf_params = CertificateParams::new(vec!["leaf.example".to_owned()]).unwrap();
        leaf_params.use_authority_key_identifier_extension = true;
        let leaf = cert(
            leaf_params
                .signed_by(&KeyPair::generate().unwrap(), &issuing)
                .unwrap()
                .der(),
        );

        let cas = vec![
            cert(old.der()),
            cert(new_with_old.der()),
            cert(issuing.der()),
            cert(new.der()),
        ];
        assert_eq!(
            ders(&issuer_chain(&leaf, &cas)),
            vec![issuing.der().to_vec(), new.der().to_vec()]
        );
    }

    #[test]
    fn a_chain_never_loops() {
        let ca = TestCa::new("Loop");
        let leaf = leaf_of(&ca);
        // Only the intermediate, twice: each certificate is used once, and
        // the walk ends where no issuer is found.
        let cas = vec![cert(&ca.intermediate_der()), cert(&ca.intermediate_der())];
        assert_eq!(issuer_chain(&leaf, &cas).len(), 1);
    }
}
