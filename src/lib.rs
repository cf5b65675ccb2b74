//! est-ca-handler: an EST (RFC 7030) certificate-authority handler for ACME
//! servers, built as a WebAssembly component that exports the
//! `acme:ca-handler` world (see `wit/ca-handler.wit`).
//!
//! The data path reads top to bottom:
//! [`csr`] (the request in) → [`est`] (the EST requests, over a
//! [`http::Transport`]) → [`pkcs7`] (the answers back) → [`chain`] and
//! [`encoding`] (the PEM bundle out), driven by [`handler`] under a
//! validated [`config::Config`]. Everything but the `component` module is
//! plain Rust that builds and tests natively; `component` is the thin
//! `wasi:http` / `wasi:config` glue compiled only for WebAssembly.

#![warn(missing_docs)]

pub mod api;
pub mod chain;
pub mod config;
pub mod csr;
pub mod dn;
pub mod encoding;
pub mod error;
pub mod est;
pub mod handler;
pub mod http;
pub mod names;
pub mod pkcs7;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(test)]
mod testutil;
