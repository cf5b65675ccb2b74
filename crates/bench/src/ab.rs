//! `--ab` and `--ab-pooling`: the component against another `.wasm`, or the
//! pooling instance allocator against the on-demand one, taking turns.

use crate::args::Args;
use crate::fixture::engine_config;
use crate::measure::stats;
use anyhow::{Context, Result, bail};
use est_ca_host::{Host, Settings};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the A/B comparison of `host` (compiled from `wasm`) with what
/// `args` names as B.
pub async fn run(
    args: &Args,
    host: &Arc<Host>,
    wasm: &[u8],
    settings: &Settings,
    csr: &str,
) -> Result<()> {
    let (label_b, host_b) = match &args.ab {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
            (
                path.display().to_string(),
                Host::with_engine_config(&bytes, engine_config(args, !args.on_demand))?,
            )
        }
        None => (
            "the same component, on-demand allocator (wasmtime's default)".to_owned(),
            Host::with_engine_config(wasm, engine_config(args, false))?,
        ),
    };
    let label_a = match &args.component {
        Some(path) => path.display().to_string(),
        None => "the embedded component".to_owned(),
    };
    let label_a = if args.on_demand {
        format!("{label_a}, on-demand allocator")
    } else {
        format!("{label_a}, pooling allocator (the host's default)")
    };
    ab(
        [(label_a, Arc::clone(host)), (label_b, Arc::new(host_b))],
        settings,
        csr,
        args.samples,
    )
    .await
}

/// `--ab`/`--ab-pooling`: `samples` enrollments through each of two hosts,
/// taking turns, after a warm-up; prints each median and the ratio B/A.
async fn ab(
    hosts: [(String, Arc<Host>); 2],
    settings: &Settings,
    csr: &str,
    samples: usize,
) -> Result<()> {
    let mut took: [Vec<Duration>; 2] = Default::default();
    for round in 0..samples + 10 {
        for (i, (label, host)) in hosts.iter().enumerate() {
            let start = Instant::now();
            match host.enroll(settings, csr).await? {
                Ok(est_ca_host::Enrollment::Issued(_)) => {}
                other => bail!("{label}: {other:?}"),
            }
            if round >= 10 {
                took[i].push(start.elapsed());
            }
        }
    }
    let [a, b] = took;
    let (a, b) = (stats(a), stats(b));
    println!(
        "A: {} median {:.3} ms, p99 {:.3} ms",
        hosts[0].0, a.median, a.p99
    );
    println!(
        "B: {} median {:.3} ms, p99 {:.3} ms",
        hosts[1].0, b.median, b.p99
    );
    println!(
        "B/A median: {:.3}x over {samples} enrollments each, taking turns",
        b.median / a.median
    );
    Ok(())
}
