//! PKCS#12 files holding a client identity, as operators hand them to
//! `est_client_cert` with `cert_passphrase`.

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A PKCS#12 file protected by `password` holding the private key of
/// `key_pem` (PKCS#8, SEC1 or PKCS#1 PEM) and the certificates of
/// `cert_pem` (leaf first, then its chain), under the alias `client`.
pub fn pkcs12(cert_pem: &str, key_pem: &str, password: &str) -> Vec<u8> {
    let certs: Vec<Certificate> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .map(|der| Certificate::from_der(&der.expect("a PEM certificate")).expect("a certificate"))
        .collect();
    assert!(!certs.is_empty(), "no certificate in the PEM text");
    let key_der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("a PEM private key");
    let key = PrivateKey::from_der(key_der.secret_der()).expect("a private key");
    let mut store = KeyStore::new();
    store.add_entry(
        "client",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(b"client-key".to_vec(), key, certs)),
    );
    store.writer(password).write().expect("the PKCS#12 file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_comes_back_with_the_password_only() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client.test".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let p12 = pkcs12(&cert.pem(), &key.serialize_pem(), "pw-1");
        let store = KeyStore::from_pkcs12(&p12, "pw-1", Default::default()).unwrap();
        let (alias, chain) = store.private_key_chain().unwrap();
        assert_eq!(alias, "client");
        assert_eq!(chain.certs()[0].as_der(), cert.der().as_ref());
        assert!(KeyStore::from_pkcs12(&p12, "wrong", Default::default()).is_err());
    }
}
