//! Shared by the host's integration tests: the embedded component, loaded
//! once per test binary, and the component's HTTP API served by the host in
//! front of a local EST server.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

pub mod python;

use est_ca_host::{Host, Settings};
use est_server::{EstServer, Faults, ServerConfig};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

/// The bearer token the served APIs require.
pub const TOKEN: &str = "serve-Api-Token";
/// The local EST servers' Basic password.
pub const PASSWORD: &str = "serve-Est-Passw0rd";

/// The embedded component, compiled once per test binary.
pub fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::embedded().expect("the embedded component loads"))
}

/// A free port on 127.0.0.1 (bound, then released for a child process).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The local EST server and the host's `serve` in front of the component;
/// dropping it stops the API.
pub struct Api {
    pub est: EstServer,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Api {
    /// Starts both, the component configured for the EST server (Basic
    /// auth, its root as `ca_bundle`, [`TOKEN`]) with `extra` settings on
    /// top (an empty value removes a setting).
    pub async fn start(faults: Faults, extra: &[(&str, &str)]) -> Self {
        Self::start_with_limits(faults, extra, est_ca_host::Limits::default()).await
    }

    /// Like [`Api::start`], with the host's `limits`.
    pub async fn start_with_limits(
        faults: Faults,
        extra: &[(&str, &str)],
        limits: est_ca_host::Limits,
    ) -> Self {
        let est = EstServer::start(ServerConfig {
            password: PASSWORD.into(),
            faults,
            ..ServerConfig::default()
        })
        .await
        .unwrap();
        let anchor =
            std::env::temp_dir().join(format!("serve-root-{}.pem", est.https_addr().port()));
        std::fs::write(&anchor, est.trust_anchor_pem()).unwrap();
        let mut pairs: Vec<(String, String)> = vec![
            ("est_host".into(), est.https_url()),
            ("est_user".into(), "estuser".into()),
            ("est_password".into(), PASSWORD.into()),
            ("ca_bundle".into(), anchor.display().to_string()),
            ("api_token".into(), TOKEN.into()),
        ];
        for (k, v) in extra {
            pairs.retain(|(key, _)| key != k);
            if !v.is_empty() {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
        let settings = Arc::new(Settings::from_pairs(pairs).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let host = host().clone().with_limits(limits);
        let task = tokio::spawn(async move {
            host.serve(settings, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        Self {
            est,
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The API's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the API and checks that it ended cleanly.
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
