//! The commands of `ca-handler`, one module each, dispatched once from
//! [`Command::run`]. What several of them share: [`Global`] (the
//! component to load, and loading it), [`config`] (where the settings come
//! from), [`exit`] (the exit codes) and [`certificate`] (reading a CSR,
//! printing an issued or pending certificate).

mod cacerts;
mod certificate;
mod check;
mod compile;
mod config;
#[cfg(feature = "demo")]
mod demo;
mod enroll;
pub mod exit;
mod global;
mod poll;
mod serve;

pub use global::Global;

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

/// A command of `ca-handler`.
#[derive(Subcommand)]
pub enum Command {
    /// Enroll a CSR and write the certificate bundle.
    Enroll(enroll::Args),
    /// Ask again about an enrollment that was left pending.
    Poll(poll::Args),
    /// Fetch and print the CA certificates.
    Cacerts(cacerts::Args),
    /// Check the configuration, then probe the EST server's /cacerts.
    Check(check::Args),
    /// Serve the component's HTTP API (POST /enroll, /poll, /revoke; GET /cacerts, /health).
    Serve(serve::Args),
    /// Compile the component ahead of time into a precompiled artifact
    /// that `--component` then loads without compiling (a start in
    /// milliseconds); it loads only into this build of ca-handler.
    Compile(compile::Args),
    /// Enroll through the component against a local EST server started in-process.
    #[cfg(feature = "demo")]
    Demo(demo::Args),
}

impl Command {
    /// Runs the command with the global options `global`.
    pub async fn run(self, global: &Global) -> Result<ExitCode> {
        match self {
            Self::Enroll(args) => enroll::run(args, global).await,
            Self::Poll(args) => poll::run(args, global).await,
            Self::Cacerts(args) => cacerts::run(args, global).await,
            Self::Check(args) => check::run(args, global).await,
            Self::Serve(args) => serve::run(args, global).await,
            Self::Compile(args) => compile::run(&args, global),
            #[cfg(feature = "demo")]
            Self::Demo(args) => demo::run(args, global).await,
        }
    }
}
