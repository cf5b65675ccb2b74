//! The component under the hosts a user would pick, side by side, and the
//! cold start of `ca-handler serve`.
//!
//! [`compare`] serves one component file, the `wasmtime-serve` flavour
//! (which both hosts load), by the release `ca-handler serve` and by the
//! wasmtime CLI's `wasmtime serve`, each a child process, against the same
//! local EST server. They use its plain-HTTP listener (`est_insecure_http`),
//! as the wasmtime CLI trusts only the public web PKI roots and so cannot
//! reach the TLS listener with its private CA. A keep-alive client posts
//! distinct CSRs to `POST /enroll` at concurrency 1, 8 and 64, the two
//! hosts taking turns, two rounds each.
//!
//! [`cold_start`] times `ca-handler serve` from its spawn to the first
//! `200` from `POST /enroll` (the first enrollment included, over TLS to
//! the local EST server): loading an artifact from `ca-handler compile`,
//! loading from wasmtime's on-disk cache (primed by one untimed start), and
//! compiling afresh (`--no-cache`), the three taking turns.
//!
//! The parts: `process` (starting a host as a child process and waiting
//! for it), `compare`, `cold` and `serve` ([`serve_process`], the
//! `ca-handler serve` that the acme2certifier stack talks to).

mod cold;
mod compare;
mod process;
mod serve;

pub use cold::{ColdStart, cold_start};
pub use compare::{LEVELS, Level, Rate, compare};
pub use process::{WASMTIME_VERSION, wasmtime_cli};
pub use serve::{ServeProcess, serve_process};
