//! The server's certificate authority: a root and an issuing CA made at
//! start-up, which sign enrollment requests, the server's own TLS
//! certificate, and TLS client certificates for tests.

use anyhow::{Context, Result, anyhow};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rsa::pkcs8::EncodePrivateKey;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The kind of keys the CA uses for itself and the certificates it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum KeyType {
    /// ECDSA on P-256 with SHA-256.
    #[default]
    EcdsaP256,
    /// RSA 2048 with SHA-256 (PKCS#1 v1.5).
    Rsa2048,
}

impl KeyType {
    /// A fresh key pair of this type.
    pub fn generate(self) -> Result<KeyPair> {
        match self {
            Self::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .context("generating a P-256 key"),
            Self::Rsa2048 => {
                let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                    .context("generating an RSA key")?;
                let der = key.to_pkcs8_der().context("encoding the RSA key")?;
                KeyPair::from_pkcs8_der_and_sign_algo(
                    &der.as_bytes().into(),
                    &rcgen::PKCS_RSA_SHA256,
                )
                .context("loading the RSA key")
            }
        }
    }
}

/// A two-level CA: a self-signed root and an issuing CA under it.
pub struct Ca {
    root: CertifiedIssuer<'static, KeyPair>,
    issuing: CertifiedIssuer<'static, KeyPair>,
    key_type: KeyType,
    serial: AtomicU64,
}

/// Days a certificate issued for a CSR is valid.
pub const LEAF_DAYS: u64 = 90;

impl Ca {
    /// Makes a new CA whose names start with `name`.
    pub fn new(name: &str, key_type: KeyType) -> Result<Self> {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        let serial = AtomicU64::new(seed);
        let root_params = ca_params(&format!("{name} Root CA"), &serial, 3650);
        let root = CertifiedIssuer::self_signed(root_params, key_type.generate()?)
            .context("signing the root")?;
        let issuing_params = ca_params(&format!("{name} Issuing CA"), &serial, 1825);
        let issuing = CertifiedIssuer::signed_by(issuing_params, key_type.generate()?, &root)
            .context("signing the issuing CA")?;
        Ok(Self {
            root,
            issuing,
            key_type,
            serial,
        })
    }

    /// The root certificate (the trust anchor), DER.
    pub fn root_der(&self) -> Vec<u8> {
        self.root.der().to_vec()
    }

    /// The root certificate as PEM.
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// The issuing CA's certificate, DER.
    pub fn issuing_der(&self) -> Vec<u8> {
        self.issuing.der().to_vec()
    }

    /// The key type the CA uses.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// Issues a certificate for a DER PKCS#10 request after checking its
    /// signature: the request's subject, SANs and key, valid for
    /// [`LEAF_DAYS`]. Options alter the result for fault tests.
    pub fn issue(&self, csr_der: &[u8], options: IssueOptions) -> Result<Vec<u8>> {
        let mut request = CertificateSigningRequestParams::from_der(&csr_der.to_vec().into())
            .map_err(|e| anyhow!("the CSR was refused: {e}"))?;
        let params = &mut request.params;
        set_validity(params, LEAF_DAYS);
        params.serial_number = Some(self.next_serial());
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        if options.drop_sans {
            params.subject_alt_names.clear();
        }
        let cert = if options.other_key {
            let stranger = self.key_type.generate()?;
            request.params.signed_by(&stranger, &self.issuing)
        } else {
            request.signed_by(&self.issuing)
        };
        Ok(cert.context("signing the certificate")?.der().to_vec())
    }

    /// A TLS server certificate for `names` (DNS names or IP addresses),
    /// with its chain (leaf, issuing CA) and key.
    pub fn server_identity(&self, names: &[String]) -> Result<(Vec<Vec<u8>>, KeyPair)> {
        let key = self.key_type.generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(n.as_str().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(self.next_serial());
        set_validity(&mut params, 30);
        let cert = params.signed_by(&key, &self.issuing)?;
        Ok((vec![cert.der().to_vec(), self.issuing_der()], key))
    }

    /// A TLS client certificate for `common_name`, signed by the issuing CA:
    /// (certificate chain PEM, PKCS#8 key PEM).
    pub fn client_identity(&self, common_name: &str) -> Result<(String, String)> {
        let key = self.key_type.generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(self.next_serial());
        set_validity(&mut params, 30);
        let cert = params.signed_by(&key, &self.issuing)?;
        Ok((
            format!("{}{}", cert.pem(), self.issuing.pem()),
            key.serialize_pem(),
        ))
    }

    fn next_serial(&self) -> SerialNumber {
        let n = self.serial.fetch_add(1, Ordering::Relaxed);
        // A leading 0x01 keeps the DER INTEGER positive and non-zero.
        let mut bytes = vec![0x01];
        bytes.extend_from_slice(&n.to_be_bytes());
        SerialNumber::from_slice(&bytes)
    }
}

/// Changes to an issued certificate, for fault tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct IssueOptions {
    /// Certify a freshly made key instead of the CSR's.
    pub other_key: bool,
    /// Leave out the CSR's subject alternative names.
    pub drop_sans: bool,
}

fn ca_params(common_name: &str, serial: &AtomicU64, days: u64) -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "est-ca-handler test CA");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = true;
    let n = serial.fetch_add(1, Ordering::Relaxed);
    params.serial_number = Some(SerialNumber::from_slice(
        &[&[0x01][..], &n.to_be_bytes()].concat(),
    ));
    set_validity(&mut params, days);
    params
}

fn set_validity(params: &mut CertificateParams, days: u64) {
    let now = SystemTime::now();
    params.not_before = (now - Duration::from_secs(3600)).into();
    params.not_after = (now + Duration::from_secs(days * 86_400)).into();
}
