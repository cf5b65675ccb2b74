//! Builds the est-ca-handler component (release, wasm32-wasip2) so that the
//! host can embed it: `cargo run -p est-ca-host` then works on a fresh
//! clone with no separate build step. The component gets a target
//! directory of its own, so this nested build never waits on the outer one.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let root = manifest
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists");
    for watched in [
        "src",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = root.join("target").join("component");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "est-ca-handler",
            "--lib",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        // The outer build's flags are for the host platform, not for wasm.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("cargo can be run from the build script");
    assert!(
        status.success(),
        "building the est-ca-handler component failed"
    );
    let wasm = target_dir.join("wasm32-wasip2/release/est_ca_handler.wasm");
    assert!(
        Path::new(&wasm).exists(),
        "{} was not produced",
        wasm.display()
    );
    println!("cargo:rustc-env=EST_CA_HANDLER_WASM={}", wasm.display());
}
