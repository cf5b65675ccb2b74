//! Builds the release `.wasm` exactly as a user does and checks that it is a
//! component exporting the `ca-handler` world's `handler` interface, with
//! no imports beyond the world's own and what Rust's std needs.

use std::path::PathBuf;
use std::process::Command;
use wit_parser::decoding::{DecodedWasm, decode};

/// Runs `cargo build --release --target wasm32-wasip2` into a target
/// directory of its own (the one `cargo test` holds stays free; the host's
/// build script uses the same one) and returns the component's path.
fn build_component() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target_dir = root.join("target").join("component");
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--lib"])
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the component failed");
    target_dir.join("wasm32-wasip2/release/est_ca_handler.wasm")
}

#[test]
fn release_build_is_a_component_with_the_ca_handler_world() {
    let wasm = std::fs::read(build_component()).expect("the component was written");
    // A component's preamble: magic, then layer 1 (component) encoding.
    assert_eq!(&wasm[..4], b"\0asm");
    assert_eq!(&wasm[6..8], &[0x01, 0x00], "a component, not a core module");

    let DecodedWasm::Component(resolve, world) = decode(&wasm).expect("decodes as a component")
    else {
        panic!("not a component");
    };
    let world = &resolve.worlds[world];
    let names =
        |items: &wit_parser::IndexMap<wit_parser::WorldKey, wit_parser::WorldItem>| -> Vec<String> {
            items
                .keys()
                .map(|key| resolve.name_world_key(key))
                .collect()
        };
    assert_eq!(names(&world.exports), ["acme:ca-handler/handler@0.1.0"]);

    let imports = names(&world.imports);
    for required in [
        "wasi:http/outgoing-handler@0.2.12",
        "wasi:config/store@0.2.0-draft-2024-09-27",
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
        "wasi:config/store@",
    ];
    for import in &imports {
        assert!(
            allowed_prefixes.iter().any(|p| import.starts_with(p)),
            "unexpected import {import}: hosts such as Spin refuse components with imports they do not know"
        );
    }
    assert!(
        !imports
            .iter()
            .any(|i| i.starts_with("wasi:filesystem") || i.starts_with("wasi:sockets"))
    );
}
