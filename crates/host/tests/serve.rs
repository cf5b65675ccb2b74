//! The HTTP API end to end: the release component served by the host's
//! `serve` (and by the real `wasmtime serve`), called with a real HTTP
//! client, enrolling against the local EST server.

use est_server::{EstServer, Faults, ServerConfig};
use hyper::body::Bytes;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{Answer, Api, PASSWORD, TOKEN, csr_pem, free_port, http};

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: impl Into<Bytes>,
    ) -> Answer {
        http(self.addr, method, path, token, body).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn enroll_in_every_body_form() {
    let api = Api::start(Faults::default(), &[]).await;
    let pem = csr_pem("serve.example.test");
    let json = serde_json::json!({ "csr": pem }).to_string();
    for body in [pem.clone(), json] {
        let answer = api.call("POST", "/enroll", Some(TOKEN), body).await;
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let value = answer.json();
        let bundle = value["cert_bundle"].as_str().unwrap();
        assert_eq!(bundle.matches("-----BEGIN CERTIFICATE-----").count(), 3);
        est_ca_host::report::verify_chain(bundle, &api.est.trust_anchor_pem()).unwrap();
        assert!(value["poll_identifier"].is_null());
    }
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_required_and_checked() {
    let api = Api::start(Faults::default(), &[]).await;
    let pem = csr_pem("t.example.test");
    let missing = api.call("POST", "/enroll", None, pem.clone()).await;
    missing.problem(401, "unauthorized");
    assert!(missing.header("www-authenticate").is_some());
    api.call("POST", "/enroll", Some("not-the-token"), pem.clone())
        .await
        .problem(401, "unauthorized");
    api.call("GET", "/cacerts", None, "")
        .await
        .problem(401, "unauthorized");
    assert!(
        api.est.requests().is_empty(),
        "nothing reached the EST server"
    );
    api.shutdown().await;

    let open = Api::start(Faults::default(), &[("api_token", "")]).await;
    let doc = open
        .call("POST", "/enroll", None, pem.clone())
        .await
        .problem(503, "api-auth-unconfigured");
    assert!(doc["detail"].as_str().unwrap().contains("api_auth = none"));
    open.shutdown().await;

    let explicit = Api::start(
        Faults::default(),
        &[("api_token", ""), ("api_auth", "none")],
    )
    .await;
    assert_eq!(
        explicit.call("POST", "/enroll", None, pem).await.status,
        200
    );
    explicit.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_api_auth_shows_in_health_and_in_check() {
    let api = Api::start(Faults::default(), &[("api_auth", "maybe")]).await;
    for token in [None, Some(TOKEN)] {
        let doc = api
            .call("GET", "/health", token, "")
            .await
            .problem(503, "api-auth-invalid");
        let detail = doc["detail"].as_str().unwrap();
        assert!(
            detail.contains("api_auth") && detail.contains("\"maybe\""),
            "{doc}"
        );
    }
    api.call("POST", "/enroll", Some(TOKEN), csr_pem("m.example.test"))
        .await
        .problem(500, "api-auth-invalid");
    assert!(api.est.requests().is_empty(), "the EST server was asked");
    let est = api.est.https_url();
    api.shutdown().await;

    // `check` says so, and fails, before asking the EST server.
    let output = Command::new(env!("CARGO_BIN_EXE_ca-handler"))
        .args([
            "check",
            "--set",
            &format!("est_host={est}"),
            "--set",
            "est_user=u",
            "--set",
            "est_password=p",
            "--set",
            "api_auth=maybe",
        ])
        .env_remove("RUST_LOG")
        .output()
        .expect("ca-handler runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(
        text.contains("api_auth") && text.contains("\"maybe\""),
        "{text}"
    );
    assert!(!text.contains("configuration: OK"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_then_poll() {
    let api = Api::start(
        Faults {
            pending_times: 1,
            retry_after: Some("9".into()),
            ..Faults::default()
        },
        &[],
    )
    .await;
    let pem = csr_pem("p.example.test");
    let first = api.call("POST", "/enroll", Some(TOKEN), pem.clone()).await;
    assert_eq!(first.status, 202);
    assert_eq!(first.header("retry-after"), Some("9"));
    let value = first.json();
    assert_eq!(value["retry_after"], 9);
    let poll = serde_json::json!({ "cert_name": "c", "poll_identifier": value["poll_identifier"], "csr": pem }).to_string();
    let second = api.call("POST", "/poll", Some(TOKEN), poll).await;
    assert_eq!(
        second.status,
        200,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
    assert!(
        second.json()["cert_raw"]
            .as_str()
            .unwrap()
            .starts_with("MII")
    );
    api.shutdown().await;

    let rejecting = Api::start(
        Faults {
            status: Some((400, "no such profile".into())),
            ..Faults::default()
        },
        &[],
    )
    .await;
    let pem = csr_pem("r.example.test");
    let id = format!("sha256:{}", sha256_hex(&pem_der(&pem)));
    let poll = serde_json::json!({ "poll_identifier": id, "csr": pem }).to_string();
    let doc = rejecting
        .call("POST", "/poll", Some(TOKEN), poll)
        .await
        .problem(403, "rejected");
    assert!(doc["detail"].as_str().unwrap().contains("no such profile"));
    rejecting.shutdown().await;
}

fn pem_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateSigningRequestDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn cacerts_health_revoke_and_unknown_routes() {
    let api = Api::start(Faults::default(), &[]).await;
    let cacerts = api.call("GET", "/cacerts", Some(TOKEN), "").await;
    assert_eq!(
        (cacerts.status, cacerts.header("content-type")),
        (200, Some("application/pem-certificate-chain"))
    );
    assert_eq!(
        String::from_utf8_lossy(&cacerts.body)
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );

    let health = api.call("GET", "/health", None, "").await;
    assert_eq!(
        (health.status, health.json()["status"].as_str()),
        (200, Some("ok"))
    );
    assert!(
        health.json().get("warnings").is_none(),
        "{:?}",
        health.json()
    );
    // The live probe calls the CA with the handler's credentials: token only.
    let requests_before = api.est.requests().len();
    api.call("GET", "/health?live=true", None, "")
        .await
        .problem(401, "unauthorized");
    assert_eq!(
        api.est.requests().len(),
        requests_before,
        "the CA was called"
    );
    let live = api.call("GET", "/health?live=true", Some(TOKEN), "").await;
    assert_eq!(
        (live.status, live.json()["ca_certificates"].as_u64()),
        (200, Some(2))
    );

    let revoke = api.call("POST", "/revoke", Some(TOKEN), "{}").await;
    assert_eq!(revoke.status, 500);
    assert_eq!(
        revoke.json()["type"],
        "urn:ietf:params:acme:error:serverInternal"
    );
    assert_eq!(revoke.json()["detail"], "Revocation is not supported.");

    api.call("GET", "/nowhere", Some(TOKEN), "")
        .await
        .problem(404, "not-found");
    let wrong = api.call("DELETE", "/enroll", Some(TOKEN), "").await;
    wrong.problem(405, "method-not-allowed");
    assert_eq!(wrong.header("allow"), Some("POST"));
    api.call("POST", "/enroll", Some(TOKEN), vec![b'A'; 70 * 1024])
        .await
        .problem(413, "too-large");
    api.call("POST", "/enroll", Some(TOKEN), "garbage")
        .await
        .problem(400, "bad-csr");
    api.call("POST", "/poll", Some(TOKEN), "{\"csr\":")
        .await
        .problem(400, "bad-request");
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn est_failures_become_502_504_and_500() {
    let refused = Api::start(Faults::default(), &[("est_password", "wrong-password")]).await;
    let doc = refused
        .call("POST", "/enroll", Some(TOKEN), csr_pem("x.example.test"))
        .await
        .problem(502, "unauthorized");
    assert_eq!(doc["est_status"], 401);
    assert!(
        doc.get("cause").is_none(),
        "an answer, not a transport failure: {doc}"
    );
    assert!(!doc.to_string().contains("wrong-password"));
    let down = refused
        .call("GET", "/health?live=true", Some(TOKEN), "")
        .await;
    down.problem(503, "unauthorized");
    refused.shutdown().await;

    let slow = Api::start(
        Faults {
            delay: Some(Duration::from_secs(3)),
            ..Faults::default()
        },
        &[("request_timeout", "1")],
    )
    .await;
    let doc = slow
        .call("POST", "/enroll", Some(TOKEN), csr_pem("y.example.test"))
        .await
        .problem(504, "timeout");
    assert_eq!(doc["cause"], "timeout", "{doc}");
    slow.shutdown().await;

    // The host's public roots do not know the local CA.
    let untrusted = Api::start(Faults::default(), &[("ca_bundle", "")]).await;
    let doc = untrusted
        .call("POST", "/enroll", Some(TOKEN), csr_pem("u.example.test"))
        .await
        .problem(502, "transport");
    assert_eq!(doc["cause"], "tls-untrusted", "{doc}");
    assert!(doc.get("tls_alert").is_none(), "{doc}");
    assert!(untrusted.est.requests().is_empty());
    untrusted.shutdown().await;

    let broken = Api::start(Faults::default(), &[("est_host", "")]).await;
    broken
        .call("POST", "/enroll", Some(TOKEN), csr_pem("z.example.test"))
        .await
        .problem(500, "config");
    // Anyone learns that the configuration does not load; only callers
    // with the token learn why.
    let health = broken.call("GET", "/health", None, "").await;
    let doc = health.problem(503, "config");
    assert!(
        !doc["detail"].as_str().unwrap().contains("est_host"),
        "{doc}"
    );
    let health = broken.call("GET", "/health", Some(TOKEN), "").await;
    let doc = health.problem(503, "config");
    assert!(doc["detail"].as_str().unwrap().contains("est_host"));
    broken.shutdown().await;
}

// ---- the real `wasmtime serve` ----

/// The component built with the `wasmtime-serve` feature (by the host's build script).
fn wasmtime_serve_component() -> PathBuf {
    PathBuf::from(env!("EST_CA_HANDLER_WASMTIME_SERVE_WASM"))
}

/// `wasmtime serve` running the component; killed when dropped.
struct WasmtimeServe {
    child: Child,
    addr: SocketAddr,
}

impl Drop for WasmtimeServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wasmtime_serve(
    wasmtime: &Path,
    component: &Path,
    vars: &[(&str, String)],
) -> WasmtimeServe {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut command = Command::new(wasmtime);
    command.args([
        "serve",
        "-S",
        "cli,http,config",
        "--addr",
        &addr.to_string(),
    ]);
    for (key, value) in vars {
        command.args(["-S", &format!("config-var={key}={value}")]);
    }
    let child = command
        .arg(component)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} cannot run: {e}", wasmtime.display()));
    let served = WasmtimeServe { child, addr };
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "wasmtime serve did not start listening"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    served
}

#[tokio::test(flavor = "multi_thread")]
async fn wasmtime_serve_runs_the_wasmtime_flavour() {
    // Fetched into target/tmp on first use (checked to be that release).
    let wasmtime = common::tools::wasmtime_cli().await;
    let component = wasmtime_serve_component();
    // The wasmtime CLI trusts only the public webpki roots: plain HTTP with the opt-in.
    let est = EstServer::start(ServerConfig {
        password: PASSWORD.into(),
        http_port: Some(0),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let vars = [
        ("est_host", est.http_url().unwrap()),
        ("est_insecure_http", "True".to_owned()),
        ("est_user", "estuser".to_owned()),
        ("est_password", PASSWORD.to_owned()),
        ("api_token", TOKEN.to_owned()),
    ];
    let served = wasmtime_serve(&wasmtime, &component, &vars).await;
    let answer = http(
        served.addr,
        "POST",
        "/enroll",
        Some(TOKEN),
        csr_pem("wasmtime.example.test"),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let bundle = answer.json()["cert_bundle"].as_str().unwrap().to_owned();
    est_ca_host::report::verify_chain(&bundle, &est.trust_anchor_pem()).unwrap();
    assert!(
        est.requests()
            .iter()
            .all(|r| r.tls_version.is_none() && r.had_authorization)
    );
    http(served.addr, "POST", "/enroll", None, "x")
        .await
        .problem(401, "unauthorized");
    drop(served);

    // An HTTPS EST server with a private CA: a clear TLS-trust problem, not a trap.
    let mut vars = vars.to_vec();
    vars[0].1 = est.https_url();
    vars.remove(1);
    let served = wasmtime_serve(&wasmtime, &component, &vars).await;
    let answer = http(
        served.addr,
        "POST",
        "/enroll",
        Some(TOKEN),
        csr_pem("wasmtime2.example.test"),
    )
    .await;
    let doc = answer.problem(502, "transport");
    // wasmtime's own HTTP client reports an untrusted certificate as a TLS protocol error.
    assert_eq!(doc["cause"], "tls-protocol", "{doc}");
    let detail = doc["detail"].as_str().unwrap();
    assert!(
        detail.contains("TLS") && detail.contains("do not trust"),
        "{doc}"
    );
}
