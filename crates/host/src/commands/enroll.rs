//! `ca-handler enroll`: enrolls a CSR and writes the certificate bundle.

use super::certificate::{issued, pending, read_csr};
use super::config::ConfigArgs;
use super::exit::fail;
use super::global::{Global, ONE_SHOT_INSTANCES};
use anyhow::Result;
use est_ca_host::Enrollment;
use std::path::PathBuf;
use std::process::ExitCode;

/// `enroll`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArgs,
    /// The CSR: PEM, DER, or base64.
    #[arg(long)]
    csr: PathBuf,
    /// Where to write the certificate bundle (PEM).
    #[arg(long, default_value = "cert-bundle.pem")]
    out: PathBuf,
    /// Print acme2certifier's cert_bundle, cert_raw and poll_identifier as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `enroll`.
pub async fn run(args: Args, global: &Global) -> Result<ExitCode> {
    let (host, settings) = match global.host_and_settings(&args.config, ONE_SHOT_INSTANCES)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    match host.enroll(&settings, &read_csr(&args.csr)?).await? {
        Ok(Enrollment::Issued(cert)) => issued(&cert, &args.out, args.json),
        Ok(Enrollment::Pending(p)) => Ok(pending(&p, args.json)),
        Err(e) => Ok(fail(&e)),
    }
}
