//! The cold start of `ca-handler serve`, three ways: from a precompiled
//! artifact, from wasmtime's on-disk cache, and compiling afresh.

use super::process::{REQUEST_LIMIT, STARTUP, free_port, scratch, spawn};
use crate::load::{HttpClient, csrs, enroll_once, random_hex};
use anyhow::{Context, Result, bail};
use est_server::{EstServer, KeyType, ServerConfig};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
