//! The property checks of est-ca-handler's fuzz targets (`fuzz/`,
//! cargo-fuzz), one function a parser that takes outside input, using
//! only the handler's public API. Each function decodes its structured
//! input from raw bytes itself, runs the code under test and panics when
//! a property does not hold, so that a fuzzer reports the input; this
//! crate's tests (`tests/replay.rs`) replay the committed corpora
//! (`fuzz/corpus/<target>/`) through the same functions on stable Rust,
//! for every target `fuzz/Cargo.toml` lists.
//!
//! Inputs that hold several values put fixed selector bytes first and
//! then separate the variable parts with [`DELIMITER`] (see each target
//! for its layout), so that hand-written seeds stay readable and
//! `fuzz/make_seeds.py` can write them.

#![warn(missing_docs)]

mod api;
mod config;
mod csr;
mod est_answer;
mod fixtures;
mod pem;
mod pkcs7;
#[cfg(test)]
mod regressions;
mod script;
mod support;

pub use api::api;
pub use config::config;
pub use csr::csr;
pub use est_answer::est_answer;
pub use pem::pem;
pub use pkcs7::pkcs7;
pub use support::DELIMITER;

/// A target: takes one input, panics when a property does not hold.
pub type Target = fn(&[u8]);

/// The fuzz targets' checks, by name, as in `fuzz/Cargo.toml`'s `[[bin]]`
/// targets, `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("pkcs7", pkcs7),
    ("csr", csr),
    ("pem", pem),
    ("est_answer", est_answer),
    ("api", api),
    ("config", config),
];
