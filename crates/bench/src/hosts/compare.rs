//! `ca-handler serve` against `wasmtime serve`, serving the same component
//! against the same EST server, at each concurrency level.

use super::process::{REQUEST_LIMIT, client, free_port, listening, scratch, spawn};
use crate::load::{HttpClient, Load, csrs, phase, random_hex};
use anyhow::{Context, Result, bail};
use est_server::{EstServer, KeyType, ServerConfig};
use hyper::body::Bytes;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

/// The concurrency levels of [`compare`].
pub const LEVELS: [usize; 3] = [1, 8, 64];

/// One host's figures at one concurrency level.
#[derive(Debug, Clone)]
pub struct Rate {
    /// Successful enrollments per second of wall time.
    pub per_sec: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Enrollments that did not end in a `200` with a certificate.
    pub failures: usize,
}

/// Both hosts at one concurrency level.
#[derive(Debug, Clone)]
pub struct Level {
    /// Enrollments in flight at once.
    pub concurrency: usize,
    /// `ca-handler serve`.
    pub ours: Rate,
    /// `wasmtime serve`.
    pub wasmtime: Rate,
}

/// `total` enrollments at `concurrency` against `url`: (latencies, failures, wall).
async fn run_load(
    client: &HttpClient,
    url: &str,
    token: &str,
    csrs: &[Bytes],
    concurrency: usize,
    total: usize,
) -> Result<(Vec<Duration>, Vec<String>, Duration)> {
    let load = Arc::new(Load {
        client: client.clone(),
        url: url.to_owned(),
        token: token.to_owned(),
        csrs: csrs.to_vec(),
        next: AtomicUsize::new(0),
        limit: REQUEST_LIMIT,
    });
    let start = Instant::now();
    let results = phase(&load, total, concurrency).await?;
    let wall = start.elapsed();
    let mut latencies = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for (took, outcome) in results {
        latencies.push(took);
        if let Err(kind) = outcome {
            failures.push(kind);
        }
    }
    Ok((latencies, failures, wall))
}

/// Summarises the runs of one host at one level.
fn rate(mut latencies: Vec<Duration>, failures: usize, wall: Duration) -> Rate {
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len().saturating_sub(1)) as f64 * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Rate {
        per_sec: (latencies.len() - failures) as f64 / wall.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
        failures,
    }
}

/// `ca-handler serve` against `wasmtime serve`, both serving `component`
/// (see the module's documentation); `per_level` enrollments for each host
/// at each level in [`LEVELS`].
pub async fn compare(
    ca_handler: &Path,
    wasmtime: &Path,
    component: &Path,
    per_level: usize,
) -> Result<Vec<Level>> {
    let dir = scratch("hosts")?;
    let password = format!("HostsPw-{}", random_hex());
    let token = format!("HostsTok-{}", random_hex());
    let server = EstServer::start(ServerConfig {
        key_type: KeyType::EcdsaP256,
        password: password.clone(),
        http_port: Some(0),
        ..ServerConfig::default()
    })
    .await?;
    let outcome = async {
        let est_url = server
            .http_url()
            .context("the EST server's HTTP listener")?;
        let settings = [
            ("est_host", est_url.as_str()),
            ("est_insecure_http", "True"),
            ("est_user", "estuser"),
            ("request_timeout", "60"),
        ];

        let ours_port = free_port()?;
        let mut command = Command::new(ca_handler);
        command
            .arg("serve")
            .arg("--component")
            .arg(component)
            .arg("--listen")
            .arg(format!("127.0.0.1:{ours_port}"))
            .env("CAHANDLER_EST_PASSWORD", &password)
            .env("CAHANDLER_API_TOKEN", &token);
        for (key, value) in settings {
            command.arg("--set").arg(format!("{key}={value}"));
        }
        let mut ours = spawn(command, &dir, "ca-handler-serve")?;

        let theirs_port = free_port()?;
        let mut command = Command::new(wasmtime);
        command
            .args(["serve", "-S", "cli,http,config", "--addr"])
            .arg(format!("127.0.0.1:{theirs_port}"));
        let secrets = [
            ("est_password", password.as_str()),
            ("api_token", token.as_str()),
        ];
        for (key, value) in settings.iter().chain(&secrets) {
            command.arg("-S").arg(format!("config-var={key}={value}"));
        }
        command.arg(component);
        let mut theirs = spawn(command, &dir, "wasmtime-serve")?;

        listening(&mut ours, ours_port, "ca-handler serve").await?;
        listening(&mut theirs, theirs_port, "wasmtime serve").await?;
        let urls = [
            format!("http://127.0.0.1:{ours_port}/enroll"),
            format!("http://127.0.0.1:{theirs_port}/enroll"),
        ];
        let csrs = tokio::task::spawn_blocking(|| csrs(256)).await??;

        // Warm-up: connections, caches, the EST server's keep-alive.
        for url in &urls {
            let (_, failures, _) = run_load(&client(8), url, &token, &csrs, 8, 64).await?;
            if let Some(first) = failures.first() {
                bail!(
                    "{url}: {} of 64 warm-up enrollments failed, first: {first}",
                    failures.len()
                );
            }
        }

        let mut levels = Vec::new();
        for concurrency in LEVELS {
            let mut figures: [(Vec<Duration>, usize, Duration); 2] = Default::default();
            for _round in 0..2 {
                for (host, url) in urls.iter().enumerate() {
                    let client = client(concurrency);
                    let (latencies, failures, wall) =
                        run_load(&client, url, &token, &csrs, concurrency, per_level / 2).await?;
                    figures[host].0.extend(latencies);
                    figures[host].1 += failures.len();
                    figures[host].2 += wall;
                }
            }
            let [ours_fig, theirs_fig] = figures;
            levels.push(Level {
                concurrency,
                ours: rate(ours_fig.0, ours_fig.1, ours_fig.2),
                wasmtime: rate(theirs_fig.0, theirs_fig.1, theirs_fig.2),
            });
        }
        for (served, name) in [
            (&mut ours, "ca-handler serve"),
            (&mut theirs, "wasmtime serve"),
        ] {
            if let Some(status) = served.child.try_wait()? {
                bail!(
                    "{name} exited during the run ({status}):\n{}",
                    served.log_tail()
                );
            }
        }
        Ok(levels)
    }
    .await;
    server.shutdown().await;
    if outcome.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}
