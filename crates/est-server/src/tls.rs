//! The server's TLS: its certificate for `localhost` and `127.0.0.1` from
//! the CA, the protocol versions, and client certificates when the
//! [`AuthMode`] asks for them.

use crate::ca::Ca;
use crate::config::AuthMode;
use anyhow::Result;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

/// The TLS configuration of a server with `ca`'s identity.
pub(crate) fn tls_config(
    ca: &Ca,
    auth: AuthMode,
    tls12_only: bool,
) -> Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (chain, key) = ca.server_identity(&["localhost".into(), "127.0.0.1".into()])?;
    let chain: Vec<CertificateDer<'static>> = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)?;
    let builder = match auth {
        AuthMode::ClientCert | AuthMode::Both => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(CertificateDer::from(ca.root_der()))?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()?;
            builder.with_client_cert_verifier(verifier)
        }
        AuthMode::None | AuthMode::Basic => builder.with_no_client_auth(),
    };
    Ok(builder.with_single_cert(chain, key)?)
}
