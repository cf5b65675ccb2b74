//! A `ca-handler serve` for others to talk to (the acme2certifier stack).

use super::process::{free_port, listening, scratch, spawn};
use crate::served::Served;
use anyhow::Result;
use std::path::Path;
use std::process::Command;

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
