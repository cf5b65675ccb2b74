//! `ca-handler poll`: asks again about an enrollment that was left pending.

use super::certificate::{issued, pending, read_csr};
use super::config::ConfigArgs;
use super::exit::{self, fail};
use super::global::{Global, ONE_SHOT_INSTANCES};
use anyhow::Result;
use est_ca_host::PollResult;
use std::path::PathBuf;
use std::process::ExitCode;

/// `poll`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArgs,
    /// The CSR that was enrolled.
    #[arg(long)]
    csr: PathBuf,
    /// The poll identifier `enroll` printed.
    #[arg(long)]
    poll_identifier: String,
    /// The ACME server's name for the certificate.
    #[arg(long, default_value = "")]
    cert_name: String,
    /// Where to write the certificate bundle (PEM).
    #[arg(long, default_value = "cert-bundle.pem")]
    out: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `poll`.
pub async fn run(args: Args, global: &Global) -> Result<ExitCode> {
    let (host, settings) = match global.host_and_settings(&args.config, ONE_SHOT_INSTANCES)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let csr = read_csr(&args.csr)?;
    match host
        .poll(&settings, &args.cert_name, &args.poll_identifier, &csr)
        .await?
    {
        Ok(PollResult::Issued(cert)) => issued(&cert, &args.out, args.json),
        Ok(PollResult::Pending(p)) => Ok(pending(&p, args.json)),
        Ok(PollResult::Rejected(reason)) => {
            eprintln!("error: the CA rejected the request: {reason}");
            Ok(ExitCode::from(exit::REJECTED))
        }
        Err(e) => Ok(fail(&e)),
    }
}
