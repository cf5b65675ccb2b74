//! The release `ca-handler` that the rows with `ca-handler serve` run.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the release `ca-handler` (`cargo build --release -p est-ca-host`)
/// and returns its path in this workspace's target directory.
pub fn release_ca_handler() -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "est-ca-host",
            "--bin",
            "ca-handler",
        ])
        .current_dir(&workspace)
        .status()
        .context("running cargo build for ca-handler")?;
    if !built.success() {
        bail!("cargo build --release -p est-ca-host failed");
    }
    // This binary is target/<profile>/est-bench: ca-handler is in target/release.
    let exe = std::env::current_exe()?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .context("the target directory")?;
    let path = target.join("release").join("ca-handler");
    if !path.exists() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}
