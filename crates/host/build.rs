//! Builds the est-ca-handler component (profile `wasm-release`,
//! wasm32-wasip2) so that the host can embed it: `cargo run -p est-ca-host`
//! then works on a fresh clone with no separate build step. The `wasmtime
//! serve` flavour is built too, for the tests that run it. Each flavour gets
//! a target directory of its own (the same ones `tests/component.rs` uses),
//! so these nested builds never wait on the outer one.
//!
//! rustup installs `rust-toolchain.toml`'s targets only with the toolchain
//! itself, not into a toolchain that is already there; so when the active
//! toolchain has no wasm32-wasip2 standard library, this script adds it
//! with rustup, or stops with the command that does.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const TARGET: &str = "wasm32-wasip2";

/// The cargo profile of the component (see the workspace's Cargo.toml).
const PROFILE: &str = "wasm-release";

/// (target directory under `target/`, cargo features, variable naming the result)
const FLAVOURS: &[(&str, Option<&str>, &str)] = &[
    ("component", None, "EST_CA_HANDLER_WASM"),
    (
        "component-wasmtime-serve",
        Some("wasmtime-serve"),
        "EST_CA_HANDLER_WASMTIME_SERVE_WASM",
    ),
];

/// Why the build script stopped.
enum Failure {
    /// Said in full by the message: cargo shows it alone.
    Short(String),
    /// Explained by what the script's children wrote to stderr (a nested
    /// build's compiler errors): cargo shows the message and that output.
    WithOutput(String),
}

fn main() -> ExitCode {
    let (message, code) = match run() {
        Ok(()) => return ExitCode::SUCCESS,
        // An error logged by a script that exits successfully still fails
        // the build, and cargo then prints only the error.
        Err(Failure::Short(message)) => (message, ExitCode::SUCCESS),
        Err(Failure::WithOutput(message)) => (message, ExitCode::FAILURE),
    };
    for line in message.lines() {
        println!("cargo::error={line}");
    }
    code
}

fn run() -> Result<(), Failure> {
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR")
            .ok_or_else(|| Failure::Short("cargo did not set CARGO_MANIFEST_DIR".into()))?,
    );
    let root = manifest
        .join("../..")
        .canonicalize()
        .map_err(|e| Failure::Short(format!("the workspace root {}: {e}", manifest.display())))?;
    for watched in [
        "src",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    ensure_target(&root).map_err(Failure::Short)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for (dir, features, variable) in FLAVOURS {
        let target_dir = root.join("target").join(dir);
        let mut command = Command::new(&cargo);
        command
            .current_dir(&root)
            .args([
                "build",
                "--profile",
                PROFILE,
                "--target",
                TARGET,
                "-p",
                "est-ca-handler",
                "--lib",
            ])
            .env("CARGO_TARGET_DIR", &target_dir)
            // The outer build's flags are for the host platform, not for wasm.
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET");
        if let Some(features) = features {
            command.args(["--features", features]);
        }
        let status = command.status().map_err(|e| {
            Failure::Short(format!("cannot run {}: {e}", Path::new(&cargo).display()))
        })?;
        if !status.success() {
            return Err(Failure::WithOutput(format!(
                "building the est-ca-handler component ({dir}) failed; its errors are below"
            )));
        }
        let wasm = target_dir.join(format!("{TARGET}/{PROFILE}/est_ca_handler.wasm"));
        if !wasm.exists() {
            return Err(Failure::Short(format!(
                "{} was not produced",
                wasm.display()
            )));
        }
        println!("cargo:rustc-env={variable}={}", wasm.display());
    }
    Ok(())
}

/// Makes sure the active toolchain has the standard library for [`TARGET`],
/// adding it with rustup when it is missing.
fn ensure_target(root: &Path) -> Result<(), String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&rustc).display()))?;
    if !output.status.success() {
        return Err(format!(
            "`{} --print sysroot` failed: {}",
            Path::new(&rustc).display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if has_std(&sysroot) {
        return Ok(());
    }

    // The toolchain to add it to: the one rustup runs cargo with or, when
    // cargo was started without rustup's proxy, the rustup toolchain
    // directory that holds this rustc.
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").ok().or_else(|| {
        if sysroot.parent()?.file_name()? != "toolchains" {
            return None;
        }
        Some(sysroot.file_name()?.to_str()?.to_owned())
    });
    // The command to print names it as the user would (`1.95.0`, not
    // `1.95.0-x86_64-unknown-linux-gnu`); without rustup, it names the
    // toolchain that rust-toolchain.toml pins.
    let host = std::env::var("HOST").unwrap_or_default();
    let name = toolchain
        .as_deref()
        .map(|t| t.strip_suffix(&format!("-{host}")).unwrap_or(t).to_owned())
        .or_else(|| pinned_channel(root));
    let fix = match &name {
        Some(name) => format!("rustup target add {TARGET} --toolchain {name}"),
        None => format!("rustup target add {TARGET}"),
    };
    let missing = match &name {
        Some(name) => format!("the Rust toolchain {name} has no {TARGET} target"),
        None => format!("the Rust toolchain has no {TARGET} target"),
    };
    let Some(toolchain) = toolchain else {
        return Err(format!("{missing}; run: {fix}"));
    };

    let added = Command::new("rustup")
        .args(["target", "add", TARGET, "--toolchain", &toolchain])
        .output();
    match added {
        // (Another build may have added it meanwhile, making rustup fail.)
        Ok(_) if has_std(&sysroot) => {
            let lacked = missing.replacen(" has no ", " had no ", 1);
            println!("cargo:warning={lacked}; this build script added it: `{fix}`");
            Ok(())
        }
        Ok(out) => {
            // rustup's last words say why (no network, say).
            let stderr = String::from_utf8_lossy(&out.stderr);
            let why = stderr.lines().rev().find(|l| !l.trim().is_empty());
            Err(format!(
                "{missing} and rustup could not add it{}; run: {fix}",
                why.map(|w| format!(" ({})", w.trim())).unwrap_or_default()
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "{missing} and rustup is not installed to add it; run: {fix}"
        )),
        Err(e) => Err(format!(
            "{missing} and rustup could not be run ({e}); run: {fix}"
        )),
    }
}

/// Whether `sysroot` holds the standard library (its `core`) for [`TARGET`].
fn has_std(sysroot: &Path) -> bool {
    let lib = sysroot.join("lib/rustlib").join(TARGET).join("lib");
    std::fs::read_dir(lib).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libcore-") && name.ends_with(".rlib")
        })
    })
}

/// The `channel` that rust-toolchain.toml pins.
fn pinned_channel(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("rust-toolchain.toml")).ok()?;
    text.lines().find_map(|line| {
        let value = line.trim().strip_prefix("channel")?.trim_start();
        let value = value.strip_prefix('=')?.trim();
        Some(value.trim_matches('"').to_owned())
    })
}
