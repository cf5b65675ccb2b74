//! Load and soak through the real `ca-handler serve`: a keep-alive HTTP
//! client posts distinct CSRs to `POST /enroll` at a fixed concurrency;
//! `serve` runs the component, which enrolls against the local EST server
//! (ECDSA P-256 CA, HTTP Basic, TLS) on 127.0.0.1.
//!
//! [`run`] starts the EST server, writes an `acme_srv.cfg` and the trust
//! anchor into a scratch directory, and spawns the `ca-handler` binary it
//! is given as a child process (the EST password and the API token reach it
//! through environment variables named by `*_variable` keys, never on its
//! command line). It pre-generates every CSR before the clock starts, runs
//! the enrollments in shares ([`SoakOptions::rss_points`]: by default 10%,
//! 25%, 50%, 75% and 100% of them), reads the child's resident set size
//! (`VmRSS` in `/proc/<pid>/status`) after each, and stops the child (which
//! is also killed if the driver fails or panics).
//!
//! A leak shows as a steady rise of the RSS; the warm-up of the allocator,
//! the connection pools and wasmtime's instance memory as a rise that
//! levels off. So the RSS is judged by its trend over the second half of
//! the run ([`SoakReport::rss_trend`], a least-squares slope over the
//! readings from half-way on), not by one reading against another.
//!
//! The parts: [`SoakOptions`] (what to run), `start` (the child `serve`
//! and its configuration), the shared load driver (`crate::load`), the
//! RSS readings and their trend ([`RssSample`], [`rss_trend`]) and the
//! [`SoakReport`].

mod options;
mod report;
mod rss;
mod start;

pub use options::SoakOptions;
pub use report::SoakReport;
pub use rss::{RssSample, RssTrend, rss_kib, rss_trend};

use crate::load::{HttpClient, Load, csrs, phase, random_hex};
use anyhow::{Context, Result, bail};
use est_server::{EstServer, KeyType, ServerConfig};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Runs the soak (see the module's documentation). Call it inside a
/// multi-threaded tokio runtime.
pub async fn run(options: SoakOptions) -> Result<SoakReport> {
    if options.total == 0 || options.concurrency == 0 {
        bail!("the soak needs at least one enrollment and a concurrency of at least 1");
    }
    let dir =
        std::env::temp_dir().join(format!("est-soak-{}-{}", std::process::id(), random_hex()));
    std::fs::create_dir_all(&dir)?;
    let password = format!("SoakPw-{}", random_hex());
    let token = format!("SoakTok-{}", random_hex());
    let server = EstServer::start(ServerConfig {
        key_type: KeyType::EcdsaP256,
        password: password.clone(),
        ..ServerConfig::default()
    })
    .await?;
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(options.concurrency)
        .pool_idle_timeout(Duration::from_secs(60))
        .build_http();
    let outcome = async {
        let (served, base) =
            start::start_serve(&options, &server, &dir, &password, &token, &client).await?;
        let total = options.total;
        let csrs = tokio::task::spawn_blocking(move || csrs(total)).await??;
        let load = Arc::new(Load {
            client: client.clone(),
            url: format!("{base}/enroll"),
            token: token.clone(),
            csrs,
            next: AtomicUsize::new(0),
            limit: options.request_timeout,
        });
        let pid = served.child.id();
        let peak = Arc::new(AtomicU64::new(0));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (peak, sampling) = (Arc::clone(&peak), Arc::clone(&sampling));
            tokio::spawn(async move {
                while sampling.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_kib(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let start = Instant::now();
        let mut results = Vec::with_capacity(options.total);
        let mut rss_samples = Vec::new();
        let mut wall = Duration::ZERO;
        for end in options.rss_ends() {
            results.extend(phase(&load, end, options.concurrency).await?);
            wall = start.elapsed();
            rss_samples.push(RssSample {
                enrollments: end,
                kib: rss_kib(pid).context("reading serve's VmRSS")?,
            });
        }
        let rss_end_kib = rss_samples.last().map_or(0, |s| s.kib);
        sampling.store(false, Ordering::Relaxed);
        let _ = sampler.await;
        let mut served = served;
        if let Some(status) = served.child.try_wait()? {
            bail!(
                "ca-handler serve exited during the soak ({status}):\n{}",
                served.log_tail()
            );
        }
        drop(served);

        let mut failure_kinds = BTreeMap::new();
        let mut latencies = Vec::with_capacity(results.len());
        for (took, outcome) in results {
            latencies.push(took);
            if let Err(kind) = outcome {
                *failure_kinds.entry(kind).or_insert(0) += 1;
            }
        }
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
        let est_enrollments = server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/simpleenroll"))
            .count();
        Ok(SoakReport {
            total: options.total,
            concurrency: options.concurrency,
            failures: failure_kinds.values().sum(),
            failure_kinds,
            est_enrollments,
            p50: at(0.5),
            p99: at(0.99),
            max: at(1.0),
            wall,
            rss_samples,
            rss_peak_kib: peak.load(Ordering::Relaxed).max(rss_end_kib),
        })
    }
    .await;
    server.shutdown().await;
    if outcome.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}
