//! Builds the est-ca-handler component (profile `wasm-release`,
//! wasm32-wasip2) so that the host can embed it: `cargo run -p est-ca-host`
//! then works on a fresh clone with no separate build step. The `wasmtime
//! serve` flavour is built too, for the tests that run it. Each flavour gets
//! a target directory of its own (the same ones `tests/component.rs` uses),
//! so these nested builds never wait on the outer one.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (target directory under `target/`, cargo features, variable naming the result)
const FLAVOURS: &[(&str, Option<&str>, &str)] = &[
    ("component", None, "EST_CA_HANDLER_WASM"),
    (
        "component-wasmtime-serve",
        Some("wasmtime-serve"),
        "EST_CA_HANDLER_WASMTIME_SERVE_WASM",
    ),
];

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
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for (dir, features, variable) in FLAVOURS {
        let target_dir = root.join("target").join(dir);
        let mut command = Command::new(&cargo);
        command
            .current_dir(&root)
            .args([
                "build",
                "--profile",
                "wasm-release",
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
            .env_remove("CARGO_BUILD_TARGET");
        if let Some(features) = features {
            command.args(["--features", features]);
        }
        let status = command
            .status()
            .expect("cargo can be run from the build script");
        assert!(
            status.success(),
            "building the est-ca-handler component ({dir}) failed"
        );
        let wasm = target_dir.join("wasm32-wasip2/wasm-release/est_ca_handler.wasm");
        assert!(
            Path::new(&wasm).exists(),
            "{} was not produced",
            wasm.display()
        );
        println!("cargo:rustc-env={variable}={}", wasm.display());
    }
}
