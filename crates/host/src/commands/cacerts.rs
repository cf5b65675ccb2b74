//! `ca-handler cacerts`: fetches and prints the CA certificates.

use super::config::ConfigArgs;
use super::exit::fail;
use super::global::{Global, ONE_SHOT_INSTANCES};
use anyhow::{Context, Result};
use est_ca_host::pem;
use est_ca_host::report::Summary;
use std::process::ExitCode;

/// `cacerts`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArgs,
}

/// Runs `cacerts`.
pub async fn run(args: Args, global: &Global) -> Result<ExitCode> {
    let (host, settings) = match global.host_and_settings(&args.config, ONE_SHOT_INSTANCES)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    match host.ca_certs(&settings).await? {
        Ok(pems) => {
            for text in &pems {
                eprintln!("# {}", ca_subject(text)?);
                print!("{text}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(&e)),
    }
}

/// The subject of one CA certificate that `ca-certs` returned.
pub fn ca_subject(pem_text: &str) -> Result<String> {
    let der = pem::certificate(pem_text).context("a CA certificate from ca-certs")?;
    Ok(Summary::of(&der)?.subject)
}
