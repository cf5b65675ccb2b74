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

use crate::soak::{HttpClient, Load, Served, csrs, enroll_once, phase, random_hex};
use anyhow::{Context, Result, bail};
use est_server::{EstServer, KeyType, ServerConfig};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

/// The wasmtime CLI release the comparison is for (the one that builds
/// with the project's toolchain).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// The concurrency levels of [`compare`].
pub const LEVELS: [usize; 3] = [1, 8, 64];

/// The longest a host may take to start listening (it may compile first).
const STARTUP: Duration = Duration::from_secs(300);

/// The longest one enrollment may take before it counts as failed.
const REQUEST_LIMIT: Duration = Duration::from_secs(60);

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

/// The installed `wasmtime` if it is [`WASMTIME_VERSION`], or why not.
pub fn wasmtime_cli() -> Result<PathBuf, String> {
    let output = Command::new("wasmtime")
        .arg("--version")
        .output()
        .map_err(|e| format!("wasmtime is not installed ({e})"))?;
    let version = String::from_utf8_lossy(&output.stdout);
    if !version.contains(WASMTIME_VERSION) {
        return Err(format!(
            "wasmtime {WASMTIME_VERSION} is needed, found {}",
            version.trim()
        ));
    }
    Ok(PathBuf::from("wasmtime"))
}

/// A free port on 127.0.0.1.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A scratch directory of this process's.
fn scratch(what: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "est-{what}-{}-{}",
        std::process::id(),
        random_hex()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Spawns `command` with its output in `dir/<name>.log`.
fn spawn(mut command: Command, dir: &Path, name: &str) -> Result<Served> {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log)?;
    let child = command
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("cannot run {name}"))?;
    Ok(Served { child, log })
}

/// Waits until `served` accepts connections on `port`.
async fn listening(served: &mut Served, port: u16, name: &str) -> Result<()> {
    let deadline = Instant::now() + STARTUP;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if let Some(status) = served.child.try_wait()? {
            bail!(
                "{name} exited ({status}) before listening:\n{}",
                served.log_tail()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{name} did not listen within {STARTUP:?}:\n{}",
                served.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn client(concurrency: usize) -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .pool_idle_timeout(Duration::from_secs(60))
        .build_http()
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

/// One way `serve` can start, and its times.
#[derive(Debug, Clone)]
pub struct ColdStart {
    /// How the component was loaded.
    pub way: &'static str,
    /// Spawn to first `200`, one per start.
    pub runs: Vec<Duration>,
}

impl ColdStart {
    /// The median start.
    pub fn median(&self) -> Duration {
        let mut runs = self.runs.clone();
        runs.sort();
        runs.get(runs.len() / 2).copied().unwrap_or_default()
    }

    /// The fastest start.
    pub fn min(&self) -> Duration {
        self.runs.iter().min().copied().unwrap_or_default()
    }
}

/// The ways of [`cold_start`], with the `ca-handler` arguments of each
/// (`ARTIFACT` stands for the compiled artifact's path).
const WAYS: [(&str, &[&str]); 3] = [
    (
        "precompiled artifact (--component FILE.cwasm)",
        &["--component", "ARTIFACT"],
    ),
    ("wasmtime's on-disk cache (the default)", &[]),
    ("compiling afresh (--no-cache)", &["--no-cache"]),
];

/// Spawn of `ca-handler serve` to its first `200` from `POST /enroll`,
/// `runs` times for each way (see the module's documentation). The
/// component is the one embedded in `ca_handler`.
pub async fn cold_start(ca_handler: &Path, runs: usize) -> Result<Vec<ColdStart>> {
    let dir = scratch("cold")?;
    let password = format!("ColdPw-{}", random_hex());
    let token = format!("ColdTok-{}", random_hex());
    let server = EstServer::start(ServerConfig {
        key_type: KeyType::EcdsaP256,
        password: password.clone(),
        ..ServerConfig::default()
    })
    .await?;
    let outcome = async {
        let anchor = dir.join("est-root.pem");
        std::fs::write(&anchor, server.trust_anchor_pem())?;
        let artifact = dir.join("est-ca-handler.cwasm");
        let compiled = Command::new(ca_handler)
            .arg("compile")
            .arg("--out")
            .arg(&artifact)
            .stdout(Stdio::null())
            .status()
            .context("ca-handler compile")?;
        if !compiled.success() {
            bail!("ca-handler compile failed ({compiled})");
        }
        let csrs = tokio::task::spawn_blocking(move || csrs(runs * WAYS.len() + 1)).await??;
        let mut next_csr = csrs.into_iter();
        let mut start_once = async |extra: &[&str]| -> Result<Duration> {
            let port = free_port()?;
            let mut command = Command::new(ca_handler);
            for arg in extra {
                if *arg == "ARTIFACT" {
                    command.arg(&artifact);
                } else {
                    command.arg(arg);
                }
            }
            command
                .arg("serve")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--set")
                .arg(format!("est_host={}", server.https_url()))
                .arg("--set")
                .arg("est_user=estuser")
                .arg("--set")
                .arg(format!("ca_bundle={}", anchor.display()))
                .env("CAHANDLER_EST_PASSWORD", &password)
                .env("CAHANDLER_API_TOKEN", &token);
            let csr = next_csr.next().context("a CSR for each start")?;
            let url = format!("http://127.0.0.1:{port}/enroll");
            let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
            let begin = Instant::now();
            let mut served = spawn(command, &dir, "cold-serve")?;
            loop {
                if let Some(status) = served.child.try_wait()? {
                    bail!(
                        "ca-handler serve exited ({status}) before answering:\n{}",
                        served.log_tail()
                    );
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    break;
                }
                if begin.elapsed() > STARTUP {
                    bail!("ca-handler serve did not listen:\n{}", served.log_tail());
                }
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            enroll_once(&client, &url, &token, csr, REQUEST_LIMIT)
                .await
                .map_err(|kind| anyhow::anyhow!("the first enrollment failed: {kind}"))?;
            Ok(begin.elapsed())
        };
        // Prime wasmtime's cache with the embedded component.
        start_once(&[]).await?;
        let mut results: Vec<ColdStart> = WAYS
            .iter()
            .map(|(way, _)| ColdStart {
                way,
                runs: Vec::new(),
            })
            .collect();
        for _ in 0..runs {
            for (i, (_, args)) in WAYS.iter().enumerate() {
                results[i].runs.push(start_once(args).await?);
            }
        }
        Ok(results)
    };
    let outcome = outcome.await;
    server.shutdown().await;
    if outcome.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

/// A `ca-handler serve` child process, killed when dropped.
pub struct ServeProcess {
    served: Served,
    /// Its API's base URL (`http://127.0.0.1:PORT`).
    pub base: String,
}

/// Starts `ca_handler serve` with the embedded component for the EST server
/// at `est_url` (trusting `anchor`), the password and the API token passed
/// in its environment, and waits until it listens.
pub async fn serve_process(
    ca_handler: &Path,
    est_url: &str,
    anchor: &Path,
    password: &str,
    token: &str,
) -> Result<ServeProcess> {
    let dir = scratch("serve")?;
    let port = free_port()?;
    let mut command = Command::new(ca_handler);
    command
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--set")
        .arg(format!("est_host={est_url}"))
        .arg("--set")
        .arg("est_user=estuser")
        .arg("--set")
        .arg(format!("ca_bundle={}", anchor.display()))
        .env("CAHANDLER_EST_PASSWORD", password)
        .env("CAHANDLER_API_TOKEN", token);
    let mut served = spawn(command, &dir, "ca-handler-serve")?;
    listening(&mut served, port, "ca-handler serve").await?;
    Ok(ServeProcess {
        served,
        base: format!("http://127.0.0.1:{port}"),
    })
}

impl ServeProcess {
    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        self.served.log_tail()
    }
}
