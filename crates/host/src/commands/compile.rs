//! `ca-handler compile`: compiles the component ahead of time into a
//! precompiled artifact that `--component` loads without compiling.

use super::global::Global;
use anyhow::{Context, Result};
use est_ca_host::Host;
use std::path::PathBuf;
use std::process::ExitCode;

/// `compile`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Where to write the artifact.
    #[arg(long, default_value = "est-ca-handler.cwasm")]
    out: PathBuf,
}

/// Writes the precompiled artifact of the `--component` `.wasm` (or of the
/// embedded component) to `--out`; no host is loaded.
pub fn run(args: &Args, global: &Global) -> Result<ExitCode> {
    let out = &args.out;
    let (bytes, name) = match global.component.as_deref() {
        Some(path) => {
            if Host::is_precompiled(path)? {
                anyhow::bail!("{} is already a precompiled artifact", path.display());
            }
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            (bytes, path.display().to_string())
        }
        None => (
            est_ca_host::COMPONENT.to_vec(),
            "the embedded est-ca-handler".to_owned(),
        ),
    };
    let start = std::time::Instant::now();
    let artifact = Host::precompile(&bytes).with_context(|| name.clone())?;
    let took = start.elapsed();
    // Written beside its destination, then renamed: a reader never maps a
    // half-written artifact.
    let partial = out.with_extension("cwasm.partial");
    std::fs::write(&partial, &artifact)
        .and_then(|()| std::fs::rename(&partial, out))
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "compiled {name} ({} bytes) in {} ms: {} ({} bytes); load it with --component {}",
        bytes.len(),
        took.as_millis(),
        out.display(),
        artifact.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
