//! `ca-handler serve`: serves the component's HTTP API, and optionally its
//! metrics, within the limits of the command line and of the process's
//! file descriptors.

use super::config::ConfigArgs;
use super::exit;
use super::global::Global;
use anyhow::{Context, Result};
use est_ca_host::limits;
use est_ca_host::report::explain;
use std::process::ExitCode;
use std::time::Duration;

/// `serve`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to listen on (HTTP; put TLS in front for other machines).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    #[command(flatten)]
    limits: LimitArgs,
    /// Also serve Prometheus metrics at GET /metrics on this address
    /// (plain HTTP, no authentication: bind it where only the scraper
    /// reaches).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
}

/// `serve`'s limits (defaults: [`est_ca_host::Limits::default`]).
#[derive(clap::Args)]
struct LimitArgs {
    /// The most connections open at once; one more gets a 503 and is closed
    /// [default: 1024, or what fits in the file-descriptor limit].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// The most requests in the component at once; one more gets a 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = limits::DEFAULT_MAX_INSTANCES as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_instances: u32,
    /// Seconds a client may take to send a request head (from connecting, or
    /// from the head's first byte on a kept-alive connection).
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Seconds a request's body may take to arrive after its head; a body
    /// not complete by then gets a 408 and its instance is freed.
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_BODY_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout: u64,
    /// The most connections open at once to --metrics-listen; one more gets
    /// a 503 and is closed.
    #[arg(long, value_name = "N", default_value_t = limits::DEFAULT_MAX_METRICS_CONNECTIONS as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_metrics_connections: u32,
}

impl LimitArgs {
    /// The limits, fitted into `available` file descriptors (with the
    /// metrics listener's when `metrics`): an explicit --max-connections
    /// that does not fit is an error; the default shrinks to what fits.
    fn limits(&self, metrics: bool, available: u64) -> Result<est_ca_host::Limits, String> {
        let mut limits = est_ca_host::Limits {
            max_connections: self
                .max_connections
                .map_or(limits::DEFAULT_MAX_CONNECTIONS, |n| n as usize),
            max_instances: self.max_instances as usize,
            header_timeout: Duration::from_secs(self.header_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            body_timeout: Duration::from_secs(self.body_timeout),
            max_metrics_connections: self.max_metrics_connections as usize,
            ..est_ca_host::Limits::default()
        };
        if let Err(why) = limits.fit_file_descriptors(metrics, available) {
            let fitted = match self.max_connections {
                None => limits.connections_that_fit(metrics, available),
                Some(_) => None,
            };
            match fitted {
                Some(fit) => {
                    eprintln!(
                        "warning: {why}; serving at most {fit} connections instead of {}",
                        limits.max_connections
                    );
                    limits.max_connections = fit;
                }
                None => return Err(why),
            }
        }
        Ok(limits)
    }
}

/// The soft limit on open files (`RLIMIT_NOFILE`), first raised to the hard
/// limit: `serve`'s caps on connections must fit in it.
fn open_files_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::debug!("cannot raise the open-files limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(u64::MAX, |(soft, _)| soft)
        }
    }
}

/// Runs `serve` until Ctrl-C, then lets requests in progress finish.
pub async fn run(args: Args, global: &Global) -> Result<ExitCode> {
    let Args {
        config,
        listen,
        limits,
        metrics_listen,
    } = args;
    let (host, settings) = match global.host_and_settings(&config, limits.max_instances as usize)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let limits = match limits.limits(metrics_listen.is_some(), open_files_limit()) {
        Ok(limits) => limits,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(ExitCode::from(exit::CONFIG));
        }
    };
    let host = host.with_limits(limits);
    if let Err(e) = host.handler_check(&settings).await? {
        eprintln!(
            "warning: {} (the API answers with this error until it is fixed)",
            explain(&e)
        );
    }
    let listener =
        est_ca_host::serve::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    println!("serving the HTTP API on http://{}", listener.local_addr()?);
    if let Some(addr) = metrics_listen {
        let metrics = est_ca_host::serve::bind(addr)
            .with_context(|| format!("cannot listen on {addr} for metrics"))?;
        println!(
            "serving metrics on http://{}/metrics",
            metrics.local_addr()?
        );
        let host = host.clone();
        tokio::spawn(async move { host.serve_metrics(metrics).await });
    }
    use std::io::Write;
    std::io::stdout().flush()?;
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("shutting down: finishing requests in progress");
    };
    host.serve(std::sync::Arc::new(settings), listener, shutdown)
        .await?;
    Ok(ExitCode::SUCCESS)
}
