//! What `enroll` and `poll` share: reading the CSR, and printing an issued
//! or pending certificate.

use super::exit;
use anyhow::{Context, Result};
use est_ca_host::PemBundle;
use est_ca_host::report::Summary;
use std::path::Path;
use std::process::ExitCode;

/// The CSR at `path`: its text when it is text (PEM or base64), else its
/// bytes (DER) in base64url.
pub fn read_csr(path: &Path) -> Result<String> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the CSR {}", path.display()))?;
    let is_text = bytes
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if is_text {
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    use base64ct::Encoding;
    Ok(base64ct::Base64UrlUnpadded::encode_string(&bytes))
}

/// Prints an issued certificate (its warnings are logged by the host from
/// the component's stderr, and included in the JSON).
pub fn issued(cert: &est_ca_host::Certificate, out: &Path, json: bool) -> Result<ExitCode> {
    let bundle = &cert.cert_bundle;
    if json {
        let value = serde_json::json!({
            "cert_bundle": bundle, "cert_raw": cert.cert_raw, "poll_identifier": null,
            "warnings": cert.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let parsed = PemBundle::parse(bundle).context("the component's cert_bundle")?;
    std::fs::write(out, bundle).with_context(|| format!("cannot write {}", out.display()))?;
    println!("{}", Summary::of(&parsed.leaf)?);
    println!("chain:      {} CA certificate(s)", parsed.chain.len());
    println!("written to: {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Prints a pending answer: when and how to poll again.
pub fn pending(p: &est_ca_host::Pending, json: bool) -> ExitCode {
    if json {
        let value = serde_json::json!({
            "cert_bundle": null, "cert_raw": null,
            "poll_identifier": p.poll_identifier, "retry_after": p.retry_after_seconds,
        });
        println!("{value}");
    } else {
        println!(
            "pending: the CA will decide later; poll again in {} s with --poll-identifier {}",
            p.retry_after_seconds, p.poll_identifier
        );
    }
    ExitCode::from(exit::PENDING)
}
