//! A local EST (RFC 7030) server with a real CA, for the tests and the demo
//! of est-ca-handler, and for operators who want to try the handler
//! without a CA of their own (like libest's `estserver`).
//!
//! It serves `/cacerts`, `/simpleenroll`, `/simplereenroll` and `/csrattrs`
//! under `/.well-known/est/` (with or without a label) over HTTPS on
//! 127.0.0.1, and optionally over plain HTTP. Answers are base64 DER
//! certs-only PKCS#7 built with `cms`. Authentication is HTTP Basic, a TLS
//! client certificate, both, or none; [`Faults`] make it misbehave on
//! demand, for every enrollment or, with [`Faults::by_csr`], for those whose
//! CSR is named `fault-<kind>.…` ([`EnrollFault`]). A [`StallingListener`]
//! (or [`ServerConfig::tls_stall_port`]) accepts connections and never
//! completes a TLS handshake.

#![warn(missing_docs)]

pub mod ca;
pub mod config;
pub mod fault;
pub mod pkcs7;
pub mod server;
pub mod stall;

mod answer;
mod body;
mod cacerts;
mod conn;
mod enroll;
mod gauge;
mod route;
mod state;
mod tls;

pub use ca::{Ca, IssueOptions, KeyType};
pub use config::{AuthMode, CacertsOrder, Faults, RequestRecord, ServerConfig};
pub use fault::{BodyFault, EnrollFault};
pub use server::EstServer;
pub use stall::StallingListener;
