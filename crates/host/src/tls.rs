//! The host's TLS policy, in one place: the crypto provider (ring), the
//! rustls client for a handler configuration (TLS 1.3 and 1.2; trust
//! anchors from `ca_bundle`, the public webpki roots when it is unset, no
//! verification when it is `False`; the client identity from
//! `est_client_cert` + `est_client_key` or a PKCS#12 `est_client_cert` with
//! `cert_passphrase`), reading PEM certificate files, and verifying a
//! certificate chain up to given trust anchors. Every file is read with
//! [`crate::files::read_operator_file`]: regular files of bounded size.
//!
//! The component's outgoing requests ([`crate::outbound`]), the chain
//! check of [`crate::report::verify_chain`] and the benchmark's native
//! floor all take their TLS from here.

use crate::files::read_operator_file;
use crate::pem;
use anyhow::{Context, Result, anyhow};
use est_ca_handler::config::{Auth, CaBundle, ClientKey, Config};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// The TLS protocol versions the host speaks, newest first.
pub const PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The crypto provider of every TLS connection and chain check (ring).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS client for `config`: TLS 1.3 and 1.2, the trust anchors that
/// `ca_bundle` selects, and the client certificate when the configuration
/// authenticates with one. Fails, naming the setting and the file, when
/// the TLS material cannot be read or used; never shows a passphrase.
pub fn client_config(config: &Config) -> Result<ClientConfig> {
    let provider = crypto_provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(PROTOCOL_VERSIONS)?;
    let builder = match &config.ca_bundle {
        CaBundle::System => builder.with_root_certificates(webpki_roots()),
        CaBundle::File(path) => builder.with_root_certificates(
            trust_anchors(Path::new(path)).with_context(|| format!("ca_bundle {path}"))?,
        ),
        CaBundle::Disabled => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider))),
    };
    let tls = match &config.auth {
        Auth::Basic { .. } => builder.with_no_client_auth(),
        Auth::ClientCertificate { cert_file, key } => {
            let (chain, key) = client_identity(Path::new(cert_file), key)?;
            builder
                .with_client_auth_cert(chain, key)
                .context("the client certificate does not match its key")?
        }
    };
    Ok(tls)
}

/// The public webpki roots, for `ca_bundle` unset or `True`.
fn webpki_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// The certificates of a PEM file, in order; an error naming the file when
/// it cannot be read (or is not a regular file of at most
/// [`crate::files::MAX_OPERATOR_FILE`] bytes) or holds no certificate.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let data = read_operator_file(path)?;
    let certs = pem::certificates(&data).with_context(|| format!("{}", path.display()))?;
    Ok(certs.into_iter().map(CertificateDer::from).collect())
}

/// The trust anchors of a PEM file (`ca_bundle`).
fn trust_anchors(path: &Path) -> Result<RootCertStore> {
    anchor_store(read_certificates(path)?)
}

/// A root store holding every one of `anchors`; an error when one of them
/// cannot serve as a trust anchor.
fn anchor_store(anchors: Vec<CertificateDer<'static>>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for anchor in anchors {
        roots
            .add(anchor)
            .context("a certificate is not a usable trust anchor")?;
    }
    Ok(roots)
}

/// The client certificate chain and private key: PEM files, or a PKCS#12
/// file opened with its passphrase.
fn client_identity(
    cert_file: &Path,
    key: &ClientKey,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    match key {
        ClientKey::PemFile(key_file) => {
            let chain = read_certificates(cert_file)
                .with_context(|| format!("est_client_cert {}", cert_file.display()))?;
            let pem = read_operator_file(Path::new(key_file))
                .with_context(|| format!("est_client_key {key_file}"))?;
            let key = PrivateKeyDer::from_pem_slice(&pem)
                .map_err(|e| anyhow!("est_client_key {key_file}: no usable private key ({e})"))?;
            Ok((chain, key))
        }
        ClientKey::Pkcs12 { passphrase } => {
            let data = read_operator_file(cert_file)
                .with_context(|| format!("est_client_cert {}", cert_file.display()))?;
            let store = p12_keystore::KeyStore::from_pkcs12(
                &data,
                passphrase.expose(),
                Default::default(),
            )
            .map_err(|e| {
                anyhow!(
                    "est_client_cert {} could not be opened as PKCS#12 with cert_passphrase ({e})",
                    cert_file.display()
                )
            })?;
            let (_, chain) = store.private_key_chain().ok_or_else(|| {
                anyhow!(
                    "est_client_cert {} holds no private key with a certificate",
                    cert_file.display()
                )
            })?;
            let certs = chain
                .certs()
                .iter()
                .map(|c| CertificateDer::from(c.as_der().to_vec()))
                .collect();
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
            Ok((certs, key))
        }
    }
}

/// Accepts any server certificate (`ca_bundle: False`), while still
/// checking the handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Checks certificate chains the way a TLS client checks a server's: the
/// WebPKI path validation of rustls, over given trust anchors.
pub struct ChainVerifier {
    verifier: Arc<WebPkiServerVerifier>,
}

impl ChainVerifier {
    /// A verifier trusting exactly `anchors` (DER certificates); an error
    /// when there are none or one cannot serve as a trust anchor.
    pub fn new(anchors: &[Vec<u8>]) -> Result<Self> {
        let roots = anchor_store(
            anchors
                .iter()
                .map(|der| CertificateDer::from(der.clone()))
                .collect(),
        )?;
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), crypto_provider())
                .build()
                .context("no usable trust anchor")?;
        Ok(Self { verifier })
    }

    /// Verifies that `leaf` chains through `intermediates` to one of the
    /// trust anchors, is valid now and names `name` (a DNS name or an IP
    /// address).
    pub fn verify(&self, leaf: &[u8], intermediates: &[Vec<u8>], name: &str) -> Result<()> {
        let name = ServerName::try_from(name.to_owned())
            .map_err(|e| anyhow!("{name:?} is not a DNS name or IP address: {e}"))?;
        let intermediates: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|der| CertificateDer::from(der.as_slice()))
            .collect();
        self.verifier
            .verify_server_cert(
                &CertificateDer::from(leaf),
                &intermediates,
                &name,
                &[],
                UnixTime::now(),
            )
            .map_err(|e| anyhow!("the chain does not verify: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler configuration from `pairs`.
    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::load(&est_ca_handler::config::MapSource::new(
            pairs.iter().copied(),
        ))
        .unwrap()
    }

    fn scratch(name: &str, contents: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("est-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn basic(ca_bundle: &str) -> Config {
        config(&[
            ("est_host", "https://est.test"),
            ("est_user", "u"),
            ("est_password", "p"),
            ("ca_bundle", ca_bundle),
        ])
    }

    /// A self-signed CA and a server certificate it issued for `name`.
    fn ca_and_server(
        name: &str,
    ) -> (
        rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
        rcgen::Certificate,
    ) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "TLS test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap())
            .unwrap();
        let leaf = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&rcgen::KeyPair::generate().unwrap(), &ca)
            .unwrap();
        (ca, leaf)
    }

    #[test]
    fn a_ca_bundle_without_certificates_is_a_clear_error() {
        let empty = scratch("empty.pem", b"# trust anchors go here\n");
        let err = client_config(&basic(&empty.display().to_string())).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.starts_with("ca_bundle ") && text.contains(&empty.display().to_string()),
            "{text}"
        );
        assert!(text.contains("no PEM certificate"), "{text}");

        let missing = client_config(&basic("/nonexistent/ca.pem")).unwrap_err();
        assert!(
            format!("{missing:#}").contains("cannot read /nonexistent/ca.pem"),
            "{missing:#}"
        );
    }

    /// `client_config(config)`'s error, within 10 s.
    fn refused_within_10_s(config: Config) -> String {
        let outcome = crate::files::tests::within_10_s(move || client_config(&config).map(|_| ()));
        format!("{:#}", outcome.expect_err("the configuration is refused"))
    }

    #[test]
    fn tls_files_that_are_not_regular_files_are_refused_at_once() {
        let dir = crate::files::tests::scratch_dir("tls-special");
        let fifo = crate::files::tests::fifo(&dir, "anchors.pem");
        let huge = dir.join("huge.pem");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(1 << 31)
            .unwrap();
        // The FIFO first: the read that never ends.
        for (path, problem) in [
            (fifo.clone(), "it is a FIFO, not a regular file"),
            (dir.clone(), "it is a directory, not a regular file"),
            (huge, "bytes, more than the 1048576 allowed"),
            ("/dev/zero".into(), "it is a character device"),
        ] {
            let shown = path.display().to_string();
            let text = refused_within_10_s(basic(&shown));
            assert!(
                text.starts_with(&format!("ca_bundle {shown}: cannot read {shown}: "))
                    && text.contains(problem),
                "{text}"
            );
        }

        let (ca, leaf) = ca_and_server("client.test");
        let cert = scratch("special-client.pem", leaf.pem().as_bytes());
        let anchors = scratch("special-anchors.pem", ca.pem().as_bytes());
        let text = refused_within_10_s(config(&[
            ("est_host", "https://est.test"),
            ("est_client_cert", &cert.display().to_string()),
            ("est_client_key", &fifo.display().to_string()),
            ("ca_bundle", &anchors.display().to_string()),
        ]));
        assert!(
            text.starts_with(&format!("est_client_key {}", fifo.display()))
                && text.contains("it is a FIFO"),
            "{text}"
        );
        for (cert_file, problem) in [(&fifo, "a FIFO"), (&dir, "a directory")] {
            let shown = cert_file.display().to_string();
            let text = refused_within_10_s(config(&[
                ("est_host", "https://est.test"),
                ("est_client_cert", &shown),
                ("cert_passphrase", "p12-Secret"),
                ("ca_bundle", &anchors.display().to_string()),
            ]));
            assert!(
                text.starts_with(&format!("est_client_cert {shown}")) && text.contains(problem),
                "{text}"
            );
            assert!(!text.contains("p12-Secret"), "{text}");
        }
        let text = refused_within_10_s(config(&[
            ("est_host", "https://est.test"),
            ("est_client_cert", "/dev/zero"),
            ("cert_passphrase", "p12-Secret"),
            ("ca_bundle", &anchors.display().to_string()),
        ]));
        assert!(
            text.starts_with("est_client_cert /dev/zero") && text.contains("character device"),
            "{text}"
        );
    }

    /// A CA and the server certificate chain and key it issued for `name`.
    fn server_identity(
        name: &str,
    ) -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("CA of {name}"));
        let ca = rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap())
            .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let key = PrivatePkcs8KeyDer::from(key.serialize_der()).into();
        (ca.pem(), vec![leaf.der().clone()], key)
    }

    /// A TLS handshake, in memory, between a client of `tls` that asks for
    /// `name` and a server presenting `chain` and `key`: the client's
    /// error, if any.
    fn handshake(
        tls: ClientConfig,
        name: &str,
        (chain, key): (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    ) -> Result<(), rustls::Error> {
        let server_tls = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(PROTOCOL_VERSIONS)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let mut server = rustls::ServerConnection::new(Arc::new(server_tls)).unwrap();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let mut client = rustls::ClientConnection::new(Arc::new(tls), name).unwrap();
        // A handshake takes two round trips (TLS 1.3) or three (1.2).
        for _ in 0..8 {
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(());
            }
            let mut flight = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut flight).unwrap();
            }
            let mut rest = flight.as_slice();
            while !rest.is_empty() {
                server.read_tls(&mut rest).unwrap();
                // The client's alert, after its own error below.
                if server.process_new_packets().is_err() {
                    return Ok(());
                }
            }
            let mut flight = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut flight).unwrap();
            }
            let mut rest = flight.as_slice();
            while !rest.is_empty() {
                client.read_tls(&mut rest).unwrap();
                client.process_new_packets()?;
            }
        }
        panic!("the handshake did not end");
    }

    #[test]
    fn each_ca_bundle_mode_trusts_what_it_says() {
        use rustls::{CertificateError, Error::InvalidCertificate};
        let (ca_pem, chain, key) = server_identity("est.test");
        let ours = || (chain.clone(), key.clone_key());
        let (_, stranger_chain, stranger_key) = server_identity("elsewhere.test");
        let stranger = || (stranger_chain.clone(), stranger_key.clone_key());
        let anchors = scratch("anchors.pem", ca_pem.as_bytes());
        let client = |ca_bundle: &str| client_config(&basic(ca_bundle)).unwrap();
        let file = anchors.display().to_string();

        // A file: its anchors and no others, for the name asked.
        assert_eq!(handshake(client(&file), "est.test", ours()), Ok(()));
        assert_eq!(
            handshake(client(&file), "est.test", stranger()),
            Err(InvalidCertificate(CertificateError::UnknownIssuer))
        );
        assert!(
            matches!(
                handshake(client(&file), "other.test", ours()),
                Err(InvalidCertificate(
                    CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "a certificate for another name"
        );
        // True: the public roots, which know no private CA.
        assert_eq!(
            handshake(client("True"), "est.test", ours()),
            Err(InvalidCertificate(CertificateError::UnknownIssuer))
        );
        // False: any certificate, for any name.
        assert_eq!(handshake(client("False"), "est.test", ours()), Ok(()));
        assert_eq!(handshake(client("False"), "est.test", stranger()), Ok(()));
    }

    #[test]
    fn a_client_key_that_is_not_a_key_is_named() {
        let (ca, leaf) = ca_and_server("client.test");
        let cert = scratch("client.pem", leaf.pem().as_bytes());
        let not_a_key = scratch("client.key", ca.pem().as_bytes());
        let anchors = scratch("client-anchors.pem", ca.pem().as_bytes());
        let err = client_config(&config(&[
            ("est_host", "https://est.test"),
            ("est_client_cert", &cert.display().to_string()),
            ("est_client_key", &not_a_key.display().to_string()),
            ("ca_bundle", &anchors.display().to_string()),
        ]))
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("est_client_key") && text.contains("no usable private key"),
            "{text}"
        );
    }

    #[test]
    fn chains_verify_up_to_their_anchor_only() {
        let (ca, leaf) = ca_and_server("chain.test");
        let verifier = ChainVerifier::new(&[ca.der().to_vec()]).unwrap();
        verifier.verify(leaf.der(), &[], "chain.test").unwrap();
        let wrong_name = verifier.verify(leaf.der(), &[], "other.test").unwrap_err();
        assert!(
            wrong_name.to_string().contains("does not verify"),
            "{wrong_name}"
        );
        let (stranger, _) = ca_and_server("chain.test");
        let untrusted = ChainVerifier::new(&[stranger.der().to_vec()])
            .unwrap()
            .verify(leaf.der(), &[], "chain.test")
            .unwrap_err();
        assert!(
            untrusted.to_string().contains("does not verify"),
            "{untrusted}"
        );
        assert!(ChainVerifier::new(&[]).is_err(), "no anchor, no verifier");
        assert!(verifier.verify(leaf.der(), &[], "not a name!").is_err());
    }
}
