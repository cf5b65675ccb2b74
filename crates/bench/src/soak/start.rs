//! Starting the `ca-handler serve` a soak runs against: its configuration
//! (the secrets in environment variables), its log, and the wait for
//! `/health`.

use super::options::SoakOptions;
use crate::load::HttpClient;
use crate::served::Served;
use anyhow::{Context, Result, bail};
use est_server::EstServer;
use http_body_util::Full;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `ca-handler serve` for `server` in `dir`, waits for `/health`.
pub(super) async fn start_serve(
    options: &SoakOptions,
    server: &EstServer,
    dir: &Path,
    password: &str,
    token: &str,
    client: &HttpClient,
) -> Result<(Served, String)> {
    let anchor = dir.join("est-root.pem");
    std::fs::write(&anchor, server.trust_anchor_pem())?;
    let config = dir.join("acme_srv.cfg");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\ndebug: False\n\n[CAhandler]\nest_host: {}\nest_user: estuser\n\
             est_password_variable: SOAK_EST_PASSWORD\napi_token_variable: SOAK_API_TOKEN\n\
             ca_bundle: {}\nrequest_timeout: 60\n",
            server.https_url(),
            anchor.display()
        ),
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.join("serve.log");
    let file = std::fs::File::create(&log)?;
    let child = Command::new(&options.ca_handler)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("RUST_LOG")
        .env("SOAK_EST_PASSWORD", password)
        .env("SOAK_API_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("cannot run {}", options.ca_handler.display()))?;
    let mut served = Served { child, log };
    let deadline = Instant::now() + options.startup_timeout;
    loop {
        if let Some(status) = served.child.try_wait()? {
            bail!(
                "ca-handler serve exited ({status}) before answering:\n{}",
                served.log_tail()
            );
        }
        let health = hyper::Request::get(format!("{base}/health")).body(Full::default())?;
        if let Ok(Ok(answer)) =
            tokio::time::timeout(Duration::from_secs(5), client.request(health)).await
        {
            if answer.status() == 200 {
                break;
            }
            bail!(
                "ca-handler serve's /health answered {}:\n{}",
                answer.status(),
                served.log_tail()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "ca-handler serve did not answer /health in {:?}:\n{}",
                options.startup_timeout,
                served.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((served, base))
}
