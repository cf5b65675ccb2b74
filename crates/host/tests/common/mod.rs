//! Shared by the host's integration tests: the embedded component, loaded
//! once per test binary, and the component's HTTP API served by the host in
//! front of a local EST server.

#![allow(
    dead_code,
    reason = "each test binary uses its own part of this module"
)]

pub mod python;
pub mod tools;

use est_ca_host::{Host, Settings};
use est_server::{EstServer, Faults, ServerConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
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

/// One HTTP answer, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

/// One HTTP/1.1 request to `addr` on a connection of its own, with
/// `Authorization: Bearer <token>` when `token` is given, and `headers`.
pub async fn http_with(
    addr: SocketAddr,
    method: &str,
    target: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(target)
        .header("host", addr.to_string());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(request.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Checks an RFC 9457 problem document and returns it.
    pub fn problem(&self, status: u16, kind: &str) -> serde_json::Value {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let doc = self.json();
        assert_eq!(doc["status"], status);
        assert_eq!(doc["type"], format!("urn:est-ca-handler:problem:{kind}"));
        assert!(
            doc["title"].is_string() && doc["detail"].is_string(),
            "{doc}"
        );
        doc
    }
}

/// [`http_with`] without extra headers.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    token: Option<&str>,
    body: impl Into<Bytes>,
) -> Answer {
    http_with(addr, method, target, token, &[], body).await
}

/// A PEM CSR (fresh ECDSA P-256 key) for `name` as CN and SAN, with `more` SANs.
pub fn csr_pem_with(name: &str, more: &[&str]) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut names = vec![name.to_owned()];
    names.extend(more.iter().map(|n| n.to_string()));
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.serialize_request(&key).unwrap().pem().unwrap()
}

/// A PEM CSR for `name` alone.
pub fn csr_pem(name: &str) -> String {
    csr_pem_with(name, &[])
}
