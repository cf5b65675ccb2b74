//! Builds the release `.wasm` exactly as a user does (both flavours) and
//! checks that each is a component exporting the `handler` interface and
//! the HTTP API, with no imports beyond its world's own and what Rust's std
//! needs.

use std::path::PathBuf;
use std::process::Command;
use wit_parser::decoding::{DecodedWasm, decode};

/// Runs `cargo build --profile wasm-release --target wasm32-wasip2` (with
/// `features`) into a target directory of its own (the one `cargo test`
/// holds stays free; the host's build script shares the default flavour's)
/// and returns the component's bytes.
fn build_component(features: &[&str], dir: &str) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target_dir = root.join("target").join(dir);
    let mut args = vec![
        "build",
        "--profile",
        "wasm-release",
        "--target",
        "wasm32-wasip2",
        "--lib",
        "-p",
        "est-ca-handler",
    ];
    if !features.is_empty() {
        args.extend(["--features", features[0]]);
    }
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(&args)
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the component failed");
    std::fs::read(target_dir.join("wasm32-wasip2/wasm-release/est_ca_handler.wasm"))
        .expect("the component was written")
}

/// The component's imports and exports, by their full names.
fn world_of(wasm: &[u8]) -> (Vec<String>, Vec<String>) {
    // A component's preamble: magic, then layer 1 (component) encoding.
    assert_eq!(&wasm[..4], b"\0asm");
    assert_eq!(&wasm[6..8], &[0x01, 0x00], "a component, not a core module");
    let DecodedWasm::Component(resolve, world) = decode(wasm).expect("decodes as a component")
    else {
        panic!("not a component");
    };
    let world = &resolve.worlds[world];
    let names =
        |items: &wit_parser::IndexMap<wit_parser::WorldKey, wit_parser::WorldItem>| -> Vec<String> {
            let mut names: Vec<String> = items
                .keys()
                .map(|key| resolve.name_world_key(key))
                .collect();
            names.sort();
            names
        };
    (names(&world.imports), names(&world.exports))
}

fn check(imports: &[String], exports: &[String], config: &str) {
    assert_eq!(
        exports,
        [
            "acme:ca-handler/handler@0.2.0",
            "wasi:http/incoming-handler@0.2.12"
        ]
    );
    for required in [
        "wasi:http/outgoing-handler@0.2.12",
        config,
        "wasi:cli/environment@0.2.12",
    ] {
        assert!(
            imports.iter().any(|i| i == required),
            "{required} missing from {imports:?}"
        );
    }
    // Beyond those: what wasi:http depends on, and what std links in.
    let allowed_prefixes = [
        "wasi:http/types@",
        "wasi:io/",
        "wasi:clocks/",
        "wasi:cli/",
        "wasi:http/outgoing-handler@",
        config,
    ];
    for import in imports {
        assert!(
            allowed_prefixes.iter().any(|p| import.starts_with(p)),
            "unexpected import {import}: hosts such as Spin refuse components with imports they do not know"
        );
    }
}

#[test]
fn the_release_build_is_a_component_for_spin_and_the_project_host() {
    let (imports, exports) = world_of(&build_component(&[], "component"));
    check(
        &imports,
        &exports,
        "wasi:config/store@0.2.0-draft-2024-09-27",
    );
}

#[test]
fn the_wasmtime_serve_flavour_imports_the_wasmtime_cli_config_version() {
    let (imports, exports) = world_of(&build_component(
        &["wasmtime-serve"],
        "component-wasmtime-serve",
    ));
    check(&imports, &exports, "wasi:config/store@0.2.0-rc.1");
    assert!(!imports.iter().any(|i| i.contains("draft")), "{imports:?}");
}
