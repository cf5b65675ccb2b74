//! est-ca-handler: an EST (RFC 7030) certificate-authority handler for ACME
//! servers, built as a WebAssembly component that exports the
//! `acme:ca-handler` world (see `wit/ca-handler.wit`).
//!
//! The data path reads top to bottom, one layer a folder:
//!
//! 1. [`config`]: the settings, read through a [`config::SettingsSource`]
//!    and validated into one [`config::Config`] (every problem at once).
//! 2. [`x509::csr`]: the CSR in (base64url, base64 or PEM), parsed and
//!    checked before anything is sent.
//! 3. [`est::request`]: the EST requests ([`est::EstRequest`]:
//!    `CaCerts` or `SimpleEnroll(&Csr)`) as plain HTTP values, sent
//!    together over a [`transport::Transport`] (`wasi:http` in the
//!    component, a scripted one in tests).
//! 4. [`est::answer`]: what each HTTP answer means (status, headers,
//!    `Retry-After`), with [`est::pkcs7`] reading the certs-only PKCS#7.
//! 5. [`x509::chain`] and [`x509::names`]: the issued certificate is
//!    matched to the CSR's key and names and put on its chain.
//! 6. [`encoding`]: the PEM bundle out.
//!
//! [`handler`] drives those steps for each operation of the WIT contract;
//! [`api`] serves the same operations as an HTTP API; [`error`] holds the
//! typed failures that cross the component boundary; [`text`] makes outside
//! text safe for errors and logs; `arena` (the crate's own) is the region
//! the component's allocator hands out. Everything but `component` is plain Rust
//! that builds and tests natively; `component` is the thin `wasi:http` /
//! `wasi:config` glue compiled only for WebAssembly.

#![warn(missing_docs)]

pub mod api;
// The component's allocator's, and its tests'.
#[cfg(any(target_arch = "wasm32", test))]
mod arena;
pub mod config;
pub mod encoding;
pub mod error;
pub mod est;
pub mod handler;
pub mod text;
pub mod transport;
pub mod x509;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(test)]
mod testutil;
