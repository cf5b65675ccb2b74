//! A real test CA and CSRs, made with rcgen for each test.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, CertifiedIssuer, DnType,
    IsCa, KeyPair,
};

/// A root and an intermediate ("issuing") CA that sign CSRs, with fresh
/// keys.
pub struct TestCa {
    /// The self-signed root, `CN=<name> Root`.
    pub root: CertifiedIssuer<'static, KeyPair>,
    /// The issuing CA, `CN=<name> Issuing CA`, signed by the root.
    pub intermediate: CertifiedIssuer<'static, KeyPair>,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
}

impl TestCa {
    /// A new CA whose certificates are named after `name`.
    pub fn new(name: &str) -> Self {
        let root = CertifiedIssuer::self_signed(
            ca_params(&format!("{name} Root")),
            KeyPair::generate().expect("a root key"),
        )
        .expect("the root certificate");
        let intermediate = CertifiedIssuer::signed_by(
            ca_params(&format!("{name} Issuing CA")),
            KeyPair::generate().expect("an issuing key"),
            &root,
        )
        .expect("the issuing certificate");
        Self { root, intermediate }
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> Vec<u8> {
        self.root.der().to_vec()
    }

    /// The issuing CA's certificate, DER.
    pub fn intermediate_der(&self) -> Vec<u8> {
        self.intermediate.der().to_vec()
    }

    /// Issues a certificate (DER) from the issuing CA for the CSR's key,
    /// subject and alternative names.
    pub fn issue(&self, csr_der: &[u8]) -> Vec<u8> {
        let params = CertificateSigningRequestParams::from_der(&csr_der.to_vec().into())
            .expect("a CSR rcgen reads");
        params
            .signed_by(&self.intermediate)
            .expect("the certificate")
            .der()
            .to_vec()
    }

    /// Issues a certificate for the CSR's key and subject, leaving out its
    /// subject alternative names (as some EST servers do).
    pub fn issue_without_sans(&self, csr_der: &[u8]) -> Vec<u8> {
        let mut params = CertificateSigningRequestParams::from_der(&csr_der.to_vec().into())
            .expect("a CSR rcgen reads");
        params.params.subject_alt_names.clear();
        params
            .signed_by(&self.intermediate)
            .expect("the certificate")
            .der()
            .to_vec()
    }
}

/// A fresh key and a DER CSR for `CN=<cn>` asking for the DNS name `cn`.
pub fn make_csr(cn: &str) -> Vec<u8> {
    make_csr_with(cn, &[cn])
}

/// A fresh key and a DER CSR for `CN=<cn>` asking for `sans` (IP
/// literals become IP names, the rest DNS names).
pub fn make_csr_with(cn: &str, sans: &[&str]) -> Vec<u8> {
    let key = KeyPair::generate().expect("a key");
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans).expect("CSR parameters");
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .serialize_request(&key)
        .expect("the CSR")
        .der()
        .to_vec()
}
