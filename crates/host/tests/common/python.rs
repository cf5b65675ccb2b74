//! The acme2certifier module and its Python virtualenv, for the tests that
//! run Python (`tests/acme2certifier.rs`, `tests/secrets.rs`).
//!
//! The Python packages (pinned in the module's `requirements-test.txt`) go
//! into a virtualenv under cargo's target directory, made on first use (by
//! one test process at a time; a missing `python3` or `venv` is named at
//! once, see [`super::tools`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// The repository's root.
pub fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `est_component_ca_handler.py` and its tests are.
pub fn module_dir() -> PathBuf {
    project().join("integrations/acme2certifier")
}

/// The virtualenv with acme2certifier, waitress and certbot, made once.
pub async fn venv() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("a2c-venv");
    let python = venv.join("bin/python");
    let requirements = module_dir().join("requirements-test.txt");
    let stamp = venv.join("requirements.installed");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    let installed = || std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str());
    if installed() {
        return venv;
    }
    std::fs::create_dir_all(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let _turn = super::tools::lock(&venv.with_extension("lock")).await;
    if installed() {
        return venv;
    }
    super::tools::make_venv(&venv).await;
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
        900,
    )
    .await;
    std::fs::write(&stamp, wanted).unwrap();
    venv
}

/// Runs `command` to completion within `secs`, and fails the test on a
/// non-zero exit, showing its output.
pub async fn run(command: &mut Command, secs: u64) -> String {
    let (ok, output) = output(command, secs).await;
    assert!(ok, "{command:?} failed:\n{output}");
    output
}

/// Runs `command` within `secs`: (success, stdout + stderr).
pub async fn output(command: &mut Command, secs: u64) -> (bool, String) {
    command.kill_on_drop(true).stdin(Stdio::null());
    let result = tokio::time::timeout(Duration::from_secs(secs), command.output())
        .await
        .unwrap_or_else(|_| panic!("{command:?} did not finish in {secs} s"))
        .unwrap_or_else(|e| panic!("{command:?} could not start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    (result.status.success(), text)
}
