//! PEM certificate text, split into DER certificates: a bundle the handler
//! returned (a leaf followed by its chain, as [`PemBundle`]), a text
//! holding exactly one certificate ([`certificate`]), and a plain list such
//! as a trust-anchor file ([`certificates`]). Sections other than
//! `CERTIFICATE` (a private key kept in the same file) are skipped.

use anyhow::{Result, anyhow, bail};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A certificate bundle: the certificate first, then its chain, nearest
/// issuer first (the handler's `cert-bundle`, certbot's `fullchain.pem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBundle {
    /// The certificate itself, DER.
    pub leaf: Vec<u8>,
    /// The CA certificates after it, DER, in the bundle's order.
    pub chain: Vec<Vec<u8>>,
}

impl PemBundle {
    /// Splits a PEM bundle; an error when it holds no certificate or a
    /// `CERTIFICATE` section is not valid base64.
    pub fn parse(bundle: impl AsRef<[u8]>) -> Result<Self> {
        let mut certs = read(bundle.as_ref())
            .map_err(|e| anyhow!("not a PEM certificate bundle: {e}"))?
            .into_iter();
        let Some(leaf) = certs.next() else {
            bail!("the bundle holds no certificate");
        };
        Ok(Self {
            leaf,
            chain: certs.collect(),
        })
    }

    /// How many certificates the bundle holds (the leaf and its chain).
    pub fn len(&self) -> usize {
        1 + self.chain.len()
    }

    /// Always `false`: a bundle holds at least its leaf.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The one certificate of a PEM text (one entry of `ca-certs`, say); an
/// error when it holds none, or more than one.
pub fn certificate(pem: impl AsRef<[u8]>) -> Result<Vec<u8>> {
    let mut certs = certificates(pem)?.into_iter();
    match (certs.next(), certs.next()) {
        (Some(cert), None) => Ok(cert),
        _ => bail!("expected one PEM certificate, found several"),
    }
}

/// Every certificate of a PEM text, in order, for lists with no leaf (trust
/// anchors, a client certificate file); an error when there is none.
pub fn certificates(pem: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>> {
    let certs = read(pem.as_ref()).map_err(|e| anyhow!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        bail!("no PEM certificate in it");
    }
    Ok(certs)
}

/// The DER of each `CERTIFICATE` section, in order (possibly none).
fn read(pem: &[u8]) -> Result<Vec<Vec<u8>>, rustls::pki_types::pem::Error> {
    CertificateDer::pem_slice_iter(pem)
        .map(|cert| cert.map(|c| c.to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
        use base64ct::{Base64, Encoding};
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            Base64::encode_string(der)
        )
    }

    #[test]
    fn a_bundle_splits_into_its_leaf_and_chain() {
        let text = [
            pem("CERTIFICATE", b"leaf"),
            pem("PRIVATE KEY", b"not a certificate"),
            pem("CERTIFICATE", b"issuer"),
            pem("CERTIFICATE", b"root"),
        ]
        .concat();
        let bundle = PemBundle::parse(&text).unwrap();
        assert_eq!(bundle.leaf, b"leaf");
        assert_eq!(bundle.chain, [b"issuer".to_vec(), b"root".to_vec()]);
        assert_eq!(bundle.len(), 3);
        let alone = PemBundle::parse(pem("CERTIFICATE", b"only")).unwrap();
        assert_eq!(
            (alone.leaf.as_slice(), alone.chain.len()),
            (&b"only"[..], 0)
        );
    }

    #[test]
    fn an_empty_or_broken_bundle_is_an_error() {
        for text in ["", "no PEM at all\n", &pem("PRIVATE KEY", b"key")] {
            let err = PemBundle::parse(text).unwrap_err();
            assert_eq!(
                err.to_string(),
                "the bundle holds no certificate",
                "{text:?}"
            );
        }
        let broken = "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
        let err = PemBundle::parse(broken).unwrap_err();
        assert!(
            err.to_string().starts_with("not a PEM certificate bundle"),
            "{err}"
        );
    }

    #[test]
    fn lists_and_single_certificates() {
        let two = [pem("CERTIFICATE", b"a"), pem("CERTIFICATE", b"b")].concat();
        assert_eq!(certificates(&two).unwrap(), [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(
            certificates("").unwrap_err().to_string(),
            "no PEM certificate in it"
        );
        assert_eq!(certificate(pem("CERTIFICATE", b"a")).unwrap(), b"a");
        assert!(
            certificate(&two)
                .unwrap_err()
                .to_string()
                .contains("several")
        );
        assert!(certificate("").is_err());
    }
}
