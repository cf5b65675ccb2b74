//! The component's cold start in this process: compiling the `.wasm`, and
//! instantiating it from its `InstancePre`.

use crate::args::Args;
use crate::fixture::engine_config;
use anyhow::{Context, Result};
use est_ca_host::{Host, Settings};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The compiled component and the cold start's timings.
pub struct ColdStart {
    /// The `.wasm` benchmarked (`--component`, or the embedded one).
    pub wasm: Vec<u8>,
    /// The host the last compilation made.
    pub host: Arc<Host>,
    /// Each compilation's time.
    pub compile: Vec<Duration>,
    /// Each instantiation's time.
    pub instantiate: Vec<Duration>,
}

/// Compiles the component three times and instantiates it 200 times.
pub async fn measure(args: &Args, settings: &Settings) -> Result<ColdStart> {
    let wasm = match &args.component {
        Some(path) => std::fs::read(path).with_context(|| format!("{}", path.display()))?,
        None => est_ca_host::COMPONENT.to_vec(),
    };

    let mut compile = Vec::new();
    let mut host = None;
    for _ in 0..3 {
        let start = Instant::now();
        host = Some(Host::with_engine_config(
            &wasm,
            engine_config(args, !args.on_demand),
        )?);
        compile.push(start.elapsed());
    }
    let host = Arc::new(host.context("compiled")?);
    let mut instantiate = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        host.instantiate(settings).await?;
        instantiate.push(start.elapsed());
    }
    Ok(ColdStart {
        wasm,
        host,
        compile,
        instantiate,
    })
}
