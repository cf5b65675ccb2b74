//! `ca-handler demo` (cargo feature `demo`): one enrollment through the
//! component against a local EST server started in-process.

use super::global::{Global, ONE_SHOT_INSTANCES};
use anyhow::Result;
use est_ca_host::demo;
use est_server::KeyType;
use std::path::PathBuf;
use std::process::ExitCode;

/// `demo`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Key type of the local CA and of the demo's key.
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
    key_type: KeyType,
    /// The name to request a certificate for.
    #[arg(long, default_value = "demo.est-ca-handler.test")]
    name: String,
    /// Where to write the bundle, key and trust anchor.
    #[arg(long, default_value = "est-demo")]
    out: PathBuf,
}

/// Runs `demo` (it configures its own settings).
pub async fn run(args: Args, global: &Global) -> Result<ExitCode> {
    let host = global.load_host(ONE_SHOT_INSTANCES)?;
    println!("Starting a local EST server and enrolling through the component...");
    let outcome = demo::run(&host, args.key_type, &args.name, &args.out).await?;
    println!(
        "EST server: {} (HTTP Basic, TLS with a CA made just now)",
        outcome.est_url
    );
    println!("{}", outcome.summary);
    println!("chain:      verified up to the local CA's root");
    println!(
        "written to: {}/cert-bundle.pem, key.pem, est-root.pem",
        outcome.out_dir.display()
    );
    println!();
    print!("{}", outcome.cert_bundle);
    Ok(ExitCode::SUCCESS)
}
