//! Running a host as a child process: the wasmtime CLI it needs, a free
//! port and a scratch directory, spawning it with its log, waiting for it
//! to listen, and the client that loads it.

use crate::load::{HttpClient, random_hex};
use crate::served::Served;
use anyhow::{Context, Result, bail};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The wasmtime CLI release the comparison is for (the one that builds
/// with the project's toolchain).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// The longest a host may take to start listening (it may compile first).
pub(super) const STARTUP: Duration = Duration::from_secs(300);

/// The longest one enrollment may take before it counts as failed.
pub(super) const REQUEST_LIMIT: Duration = Duration::from_secs(60);

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
pub(super) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A scratch directory of this process's.
pub(super) fn scratch(what: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "est-{what}-{}-{}",
        std::process::id(),
        random_hex()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Spawns `command` with its output in `dir/<name>.log`.
pub(super) fn spawn(mut command: Command, dir: &Path, name: &str) -> Result<Served> {
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
pub(super) async fn listening(served: &mut Served, port: u16, name: &str) -> Result<()> {
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

/// A keep-alive client for `concurrency` connections.
pub(super) fn client(concurrency: usize) -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .pool_idle_timeout(Duration::from_secs(60))
        .build_http()
}
