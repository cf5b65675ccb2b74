//! Fixtures for the native tests: a real test CA (rcgen), CSRs and
//! certs-only messages in any certificate order (here), and the one
//! scripted EST server ([`est_server`]).

pub mod est_server;

pub use est_server::{
    ScriptedTransport, enroll_answers, enrolled_csr, est_server, is_enroll, issuing, issuing_with,
    pkcs7_answer, response,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, CertifiedIssuer, DnType,
    IsCa, KeyPair,
};

/// A root and an intermediate CA that sign CSRs.
pub struct TestCa {
    pub root: CertifiedIssuer<'static, KeyPair>,
    pub intermediate: CertifiedIssuer<'static, KeyPair>,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let root = CertifiedIssuer::self_signed(
            ca_params(&format!("{name} Root")),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let intermediate = CertifiedIssuer::signed_by(
            ca_params(&format!("{name} Issuing CA")),
            KeyPair::generate().unwrap(),
            &root,
        )
        .unwrap();
        Self { root, intermediate }
    }

    pub fn root_der(&self) -> Vec<u8> {
        self.root.der().to_vec()
    }

    pub fn intermediate_der(&self) -> Vec<u8> {
        self.intermediate.der().to_vec()
    }

    /// Issues a certificate for the CSR's key and subject.
    pub fn issue(&self, csr_der: &[u8]) -> Vec<u8> {
        let params = CertificateSigningRequestParams::from_der(&csr_der.to_vec().into()).unwrap();
        params.signed_by(&self.intermediate).unwrap().der().to_vec()
    }

    /// Issues a certificate for the CSR's key and subject, leaving out its
    /// subject alternative names (as some EST servers do).
    pub fn issue_without_sans(&self, csr_der: &[u8]) -> Vec<u8> {
        let mut params =
            CertificateSigningRequestParams::from_der(&csr_der.to_vec().into()).unwrap();
        params.params.subject_alt_names.clear();
        params.signed_by(&self.intermediate).unwrap().der().to_vec()
    }
}

/// A fresh key and a DER CSR for `cn` with one DNS name.
pub fn make_csr(cn: &str) -> Vec<u8> {
    make_csr_with(cn, &[cn])
}

/// A fresh key and a DER CSR for `cn` with `sans` (IP literals become IP
/// names, the rest DNS names).
pub fn make_csr_with(cn: &str, sans: &[&str]) -> Vec<u8> {
    let key = KeyPair::generate().unwrap();
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.serialize_request(&key).unwrap().der().to_vec()
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A DER-shaped certs-only SignedData holding `certs` in exactly this
/// order (a real encoder would sort them; servers in the field do not all).
pub fn certs_only(certs: &[&[u8]]) -> Vec<u8> {
    const SIGNED_DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ];
    const DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
    ];
    let mut inner = vec![0x02, 0x01, 0x01]; // version 1
    inner.extend(tlv(0x31, &[])); // digestAlgorithms
    inner.extend(tlv(0x30, DATA)); // encapContentInfo
    inner.extend(tlv(0xa0, &certs.concat())); // [0] IMPLICIT certificates
    inner.extend(tlv(0x31, &[])); // signerInfos
    let signed = tlv(0x30, &inner);
    let mut info = SIGNED_DATA.to_vec();
    info.extend(tlv(0xa0, &signed));
    tlv(0x30, &info)
}

/// Standard base64 in 64-column lines, as EST servers send.
pub fn b64(der: &[u8]) -> String {
    crate::encoding::base64_lines(der)
}

/// ACME's encoding of a CSR: base64url without padding.
pub fn b64url(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(der)
}
