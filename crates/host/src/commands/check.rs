//! `ca-handler check`: checks the configuration, then probes the EST
//! server's `/cacerts`.

use super::cacerts::ca_subject;
use super::config::ConfigArgs;
use super::exit::fail;
use super::global::{Global, ONE_SHOT_INSTANCES};
use anyhow::Result;
use std::process::ExitCode;

/// `check`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArgs,
}

/// Runs `check`.
pub async fn run(args: Args, global: &Global) -> Result<ExitCode> {
    let (host, settings) = match global.host_and_settings(&args.config, ONE_SHOT_INSTANCES)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    match host.handler_check(&settings).await? {
        Ok(warnings) => {
            println!("configuration: OK");
            if let Some(proxy) = settings.proxy() {
                println!("proxy: {proxy} (from proxy_server_list)");
            }
            for warning in warnings {
                println!("warning: {warning}");
            }
        }
        Err(e) => return Ok(fail(&e)),
    }
    match host.ca_certs(&settings).await? {
        Ok(pems) => {
            println!(
                "EST server: OK, /cacerts returned {} certificate(s)",
                pems.len()
            );
            for text in &pems {
                println!("  {}", ca_subject(text)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(&e)),
    }
}
