//! Ordering of the CA certificates into the issued certificate's chain.
//!
//! `/cacerts` answers hold the CA certificates in no guaranteed order, and
//! may hold certificates that are not on the chain at all (RFC 7030 §4.1.3
//! root-rollover certificates, other CAs of the same server). The bundle
//! handed back to the ACME server must be the chain from the issuer upward.

use x509_cert::Certificate;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};

/// The certificates from `cas` that form `leaf`'s issuing chain, nearest
/// issuer first, ending at a self-issued certificate or where no issuer is
/// found. Each CA certificate is used at most once.
pub fn issuer_chain<'a>(leaf: &Certificate, cas: &'a [Certificate]) -> Vec<&'a Certificate> {
    let mut chain: Vec<&'a Certificate> = Vec::new();
    let mut used = vec![false; cas.len()];
    let mut current = leaf;
    while !is_self_issued(current) {
        let Some(index) = best_issuer(current, cas, &used) else {
            break;
        };
        used[index] = true;
        chain.push(&cas[index]);
        current = &cas[index];
    }
    chain
}

/// Picks the certificate in `cas` most likely to have issued `child`: its
/// subject must equal the child's issuer; among several, one whose subject
/// key identifier matches the child's authority key identifier wins, then
/// a self-issued one (a root rather than a rollover link certificate).
fn best_issuer(child: &Certificate, cas: &[Certificate], used: &[bool]) -> Option<usize> {
    let wanted_key = authority_key_id(child);
    cas.iter()
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
            // Prefer key matches, then self-issued certificates, then the
            // order the server sent (earlier first).
            (key_match, is_self_issued(ca), core::cmp::Reverse(*i))
        })
        .map(|(i, _)| i)
}

/// True when a certificate's subject and issuer are the same name.
pub fn is_self_issued(cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    same_name(tbs.subject(), tbs.issuer())
}

fn same_name(a: &x509_cert::name::Name, b: &x509_cert::name::Name) -> bool {
    a == b
}

fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    let (_, ski) = cert
        .tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>()
        .ok()??;
    Some(ski.0.as_bytes().to_vec())
}

fn authority_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    let (_, aki) = cert
        .tbs_certificate()
        .get_extension::<AuthorityKeyIdentifier>()
        .ok()??;
    Some(aki.key_identifier?.as_bytes().to_vec())
}
