//! The in-process rounds of the main table: where the component's time
//! goes, latency at concurrency 1 and throughput at 1, 8 and 64, the two
//! contenders taking turns.

use crate::contenders::Contenders;
use crate::measure::burst;
use anyhow::Result;
use est_ca_handler::handler;
use est_ca_host::{Host, Settings};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The component's time split up: each a list of timings.
#[derive(Default)]
pub struct Breakdown {
    /// A fresh instance alone, made and dropped.
    pub bare: Vec<Duration>,
    /// A fresh instance and `handler-check` (no I/O).
    pub fixed: Vec<Duration>,
    /// One `ca-certs` through the component.
    pub one_c: Vec<Duration>,
    /// One `ca-certs` through the native floor.
    pub one_n: Vec<Duration>,
}

/// Where the component's time goes, `samples` times: a fresh instance
/// alone, a fresh instance and one call that does no I/O (handler-check),
/// and one EST request (ca-certs) against the native floor making the
/// same request.
pub async fn breakdown(
    contenders: &Contenders,
    host: &Host,
    settings: &Settings,
    samples: usize,
) -> Result<Breakdown> {
    // An untimed native enrollment goes before each of the component's
    // figures, as in the latency rows below, where the contenders take
    // turns: each figure then pays for caches that the other path used in
    // between, as an enrollment does (back to back, a fresh instance costs
    // a fifth to a third as much).
    let mut b = Breakdown::default();
    let (config, native) = contenders.native_parts();
    for _ in 0..samples {
        contenders.native().await?;
        let start = Instant::now();
        host.instantiate(settings).await?;
        b.bare.push(start.elapsed());
        contenders.native().await?;
        let start = Instant::now();
        host.handler_check(settings)
            .await?
            .map_err(|e| anyhow::anyhow!("component: {e:?}"))?;
        b.fixed.push(start.elapsed());
        contenders.native().await?;
        let start = Instant::now();
        host.ca_certs(settings)
            .await?
            .map_err(|e| anyhow::anyhow!("component: {e:?}"))?;
        b.one_c.push(start.elapsed());
        let (config, native) = (Arc::clone(&config), Arc::clone(&native));
        let start = Instant::now();
        tokio::task::spawn_blocking(move || handler::ca_certs(&config, native.as_ref()))
            .await?
            .map_err(|e| anyhow::anyhow!("native: {e:?}"))?;
        b.one_n.push(start.elapsed());
    }
    Ok(b)
}

/// Latency at concurrency 1, the contenders interleaved one by one:
/// (component, native floor).
pub async fn latency(
    contenders: &Contenders,
    samples: usize,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let (mut component_lat, mut native_lat) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        let start = Instant::now();
        contenders.component().await?;
        component_lat.push(start.elapsed());
        let start = Instant::now();
        contenders.native().await?;
        native_lat.push(start.elapsed());
    }
    Ok((component_lat, native_lat))
}

/// Throughput at each of `levels` of concurrency, alternating contenders
/// per round (the best of two rounds each): (concurrency, component,
/// native floor) in enrollments per second.
pub async fn throughput(
    contenders: &Contenders,
    levels: &[usize],
    total: usize,
) -> Result<Vec<(usize, f64, f64)>> {
    let mut throughput = Vec::new();
    for &concurrency in levels {
        let (mut c_best, mut n_best) = (0.0f64, 0.0f64);
        for _ in 0..2 {
            let c = contenders.clone();
            c_best = c_best.max(burst(concurrency, total, move || c.component()).await?);
            let n = contenders.clone();
            n_best = n_best.max(burst(concurrency, total, move || n.native()).await?);
        }
        throughput.push((concurrency, c_best, n_best));
    }
    Ok(throughput)
}
