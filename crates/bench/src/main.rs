//! `est-bench`: the est-ca-handler component against the native floor and
//! against acme2certifier's Python EST handler, side by side in one run,
//! all enrolling against the local EST server (ECDSA P-256 CA, HTTP Basic,
//! TLS) on 127.0.0.1.
//!
//! The modes, one module each: [`run`] (the side-by-side run, in phases:
//! [`fixture`], [`cold`], [`rounds`] over the [`contenders`], [`python`],
//! [`serve_rows`], [`table`]), [`ab`] (`--ab`, `--ab-pooling`),
//! [`only_a2c`] (`--only-a2c`), [`soak_mode`] (`--soak`) and [`sizes`]
//! (`--sizes`); [`args`] is the command line.

mod ab;
mod args;
mod cold;
mod contenders;
mod fixture;
mod measure;
mod native;
mod only_a2c;
mod overhead;
mod python;
mod release;
mod rounds;
mod run;
mod sections;
mod serve_rows;
mod sizes;
mod soak_mode;
mod table;

use anyhow::Result;
use clap::Parser;

fn main() -> Result<()> {
    let args = args::Args::parse();
    if let Some(path) = &args.sizes {
        return sizes::print(path, args.top);
    }
    if args.soak {
        return soak_mode::run(&args);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(128)
        .build()?;
    runtime.block_on(run::run(args, runtime.handle().clone()))
}
