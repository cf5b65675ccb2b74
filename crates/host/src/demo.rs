//! `ca-handler demo`: a complete enrollment through the component against
//! an in-process local EST server, with no configuration at all.

use crate::report::{Summary, verify_chain};
use crate::{Enrollment, Host, PemBundle, Settings};
use anyhow::{Context, Result, bail};
use base64ct::{Base64UrlUnpadded, Encoding};
use est_server::{EstServer, KeyType, ServerConfig};
use rcgen::{CertificateParams, DnType};
use std::path::{Path, PathBuf};

/// What the demo produced.
pub struct DemoOutcome {
    /// The local server's EST base URL.
    pub est_url: String,
    /// The issued certificate's summary.
    pub summary: Summary,
    /// Certificate and chain, PEM.
    pub cert_bundle: String,
    /// Where the bundle, key and trust anchor were written.
    pub out_dir: PathBuf,
}

/// Runs the demo: local server, fresh key and CSR for `name`, enrollment
/// through `host`, chain verification; files go to `out_dir`.
pub async fn run(
    host: &Host,
    key_type: KeyType,
    name: &str,
    out_dir: &Path,
) -> Result<DemoOutcome> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let trust_anchor = out_dir.join("est-root.pem");
    let password = format!("demo-{:x}", std::process::id() ^ 0x5eed);
    let server = EstServer::start(ServerConfig {
        ca_name: "est-ca-handler demo".into(),
        key_type,
        password: password.clone(),
        trust_anchor_out: Some(trust_anchor.clone()),
        ..ServerConfig::default()
    })
    .await?;
    let settings = Settings::from_pairs([
        ("est_host", server.https_url()),
        ("est_user", "estuser".to_owned()),
        ("est_password", password),
        ("ca_bundle", trust_anchor.display().to_string()),
    ])?;

    let key = key_type.generate()?;
    let mut params = CertificateParams::new(vec![name.to_owned()])?;
    params.distinguished_name.push(DnType::CommonName, name);
    let csr = params.serialize_request(&key)?;
    let enrolled = host
        .enroll(&settings, &Base64UrlUnpadded::encode_string(csr.der()))
        .await?;
    let certificate = match enrolled {
        Ok(Enrollment::Issued(cert)) => cert,
        Ok(Enrollment::Pending(p)) => bail!(
            "the local server deferred the request ({})",
            p.poll_identifier
        ),
        Err(e) => bail!("{}", crate::report::explain(&e)),
    };
    let bundle = PemBundle::parse(&certificate.cert_bundle)?;
    let raw =
        base64ct::Base64::decode_vec(&certificate.cert_raw).context("cert_raw is not base64")?;
    if raw != bundle.leaf {
        bail!("cert_raw is not the bundle's first certificate");
    }
    verify_chain(&certificate.cert_bundle, &server.trust_anchor_pem())?;
    std::fs::write(out_dir.join("cert-bundle.pem"), &certificate.cert_bundle)?;
    std::fs::write(out_dir.join("key.pem"), key.serialize_pem())?;
    let outcome = DemoOutcome {
        est_url: format!("{}/.well-known/est", server.https_url()),
        summary: Summary::of(&bundle.leaf)?,
        cert_bundle: certificate.cert_bundle,
        out_dir: out_dir.to_owned(),
    };
    server.shutdown().await;
    Ok(outcome)
}
