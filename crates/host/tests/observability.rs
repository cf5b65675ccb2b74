//! What an operator sees of `ca-handler serve`, run as a process: its
//! Prometheus metrics after real enrollments, JSON log lines carrying each
//! request's id (the component's own stderr lines too), the id in answers
//! and problem documents, and colour only on a terminal.

use est_server::{EstServer, Faults, ServerConfig};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

mod common;

use common::{Answer, csr_pem, csr_pem_with, http_with};

const PASSWORD: &str = "obs-Est-Passw0rd";
const TOKEN: &str = "obs-Api-Token";

/// One API call with the token, under request id `id` when given.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    id: Option<&str>,
    body: String,
) -> Answer {
    let headers: Vec<(&str, &str)> = id.map(|id| ("x-request-id", id)).into_iter().collect();
    http_with(addr, method, path, Some(TOKEN), &headers, body).await
}

/// `ca-handler serve` with JSON logs into a file and metrics on a port of
/// its own; killed when dropped.
struct Served {
    child: Child,
    api: SocketAddr,
    metrics: SocketAddr,
    log: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(est: &EstServer, dir: &std::path::Path) -> Served {
    let anchor = dir.join("root.pem");
    std::fs::write(&anchor, est.trust_anchor_pem()).unwrap();
    let log = dir.join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ca-handler"))
        .args([
            "-v",
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--body-timeout",
            "1",
            "--set",
            &format!("est_host={}", est.https_url()),
            "--set",
            "est_user=estuser",
            "--set",
            &format!("ca_bundle={}", anchor.display()),
        ])
        .env_remove("RUST_LOG")
        .env("CAHANDLER_EST_PASSWORD", PASSWORD)
        .env("CAHANDLER_API_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("ca-handler runs");
    // serve prints where it listens, the API first.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr_after = |prefix: &str| -> SocketAddr {
        let line = lines.next().expect("serve prints its addresses").unwrap();
        let rest = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line:?} does not start with {prefix:?}"));
        rest.trim_end_matches("/metrics").parse().unwrap()
    };
    let api = addr_after("serving the HTTP API on http://");
    let metrics = addr_after("serving metrics on http://");
    Served {
        child,
        api,
        metrics,
        log,
    }
}

/// Sends `request` as it is on a new connection and reads the answer until
/// the connection closes or `request` has been answered (for up to 10 s):
/// the status and the whole answer as text.
async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = async {
        loop {
            match tcp.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
            // A whole answer: the head, and as much body as it says.
            let text = String::from_utf8_lossy(&answer);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head.lines().find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                });
                if length.is_some_and(|n| body.len() >= n) {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), read).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// The value of the sample named exactly `series` in a Prometheus text exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_logs_and_request_ids_after_real_enrollments() {
    let est = EstServer::start(ServerConfig {
        password: PASSWORD.into(),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("est-obs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let served = serve(&est, &dir);

    // Three issued, under the caller's ids.
    for i in 0..3 {
        let id = format!("obs-issued-{i}");
        let answer = call(
            served.api,
            "POST",
            "/enroll",
            Some(&id),
            csr_pem("obs.example.test"),
        )
        .await;
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(answer.headers["x-request-id"], id.as_str());
    }
    // No id from the caller: the host makes one and says which.
    let answer = call(
        served.api,
        "POST",
        "/enroll",
        None,
        csr_pem("obs.example.test"),
    )
    .await;
    assert_eq!(answer.status, 200);
    let made_id = answer.headers["x-request-id"].to_str().unwrap().to_owned();
    assert!(!made_id.is_empty());
    // An unusable id is replaced, never echoed.
    let answer = call(
        served.api,
        "GET",
        "/health",
        Some("bad id/../"),
        String::new(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_ne!(answer.headers["x-request-id"], "bad id/../");

    // A bad CSR: a problem document naming the request.
    let answer = call(
        served.api,
        "POST",
        "/enroll",
        Some("obs-bad-csr"),
        "not a CSR".into(),
    )
    .await;
    assert_eq!(answer.status, 400);
    let problem: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(problem["type"], "urn:est-ca-handler:problem:bad-csr");
    assert_eq!(problem["instance"], "urn:request:obs-bad-csr");

    // Issued without the CSR's names: the component warns on its stderr.
    est.set_faults(Faults {
        drop_sans: true,
        ..Faults::default()
    });
    let answer = call(
        served.api,
        "POST",
        "/enroll",
        Some("obs-warned"),
        csr_pem_with("warned.example.test", &["alt.example.test"]),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );

    // Pending.
    est.set_faults(Faults {
        pending_times: 1,
        retry_after: Some("7".into()),
        ..Faults::default()
    });
    let answer = call(
        served.api,
        "POST",
        "/enroll",
        Some("obs-pending"),
        csr_pem("later.example.test"),
    )
    .await;
    assert_eq!(answer.status, 202);

    // Refused: a wrong method.
    let answer = call(served.api, "GET", "/enroll", Some("obs-405"), String::new()).await;
    assert_eq!(answer.status, 405);

    // Methods are case-sensitive: `post` issues nothing, and is counted.
    let csr = csr_pem("lower-case.example.test");
    let lower = format!(
        "post /enroll HTTP/1.1\r\nHost: obs\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n{csr}",
        csr.len()
    );
    let (status, text) = raw(served.api, lower.as_bytes()).await;
    assert_eq!(status, 405, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("\r\nallow: post\r\n"),
        "{text}"
    );
    assert!(text.contains("case-sensitive"), "{text}");
    // A wrong token: a request, not an enrollment.
    let answer = http_with(
        served.api,
        "POST",
        "/enroll",
        Some("not-the-token"),
        &[],
        csr_pem("wrong-token.example.test"),
    )
    .await;
    assert_eq!(answer.status, 401);
    // A body that stops: 408 at the body timeout, not an enrollment either.
    let slow = format!(
        "POST /enroll HTTP/1.1\r\nHost: obs\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n-----BEGIN"
    );
    let (status, text) = raw(served.api, slow.as_bytes()).await;
    assert_eq!(status, 408, "{text}");
    assert!(
        text.contains("urn:est-ca-handler:problem:body-timeout"),
        "{text}"
    );
    // No Host: HTTP/1.0 is served, HTTP/1.1 is a 400 (RFC 9112 §3.2).
    let (status, text) = raw(served.api, b"GET /health HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200, "{text}");
    for request in [
        &b"GET /health HTTP/1.1\r\n\r\n"[..],
        b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ] {
        let (status, text) = raw(served.api, request).await;
        assert_eq!(status, 400, "{text}");
        assert!(
            text.contains("urn:est-ca-handler:problem:bad-request"),
            "{text}"
        );
        assert!(text.contains("Host"), "{text}");
    }

    let scrape = call(served.metrics, "GET", "/metrics", None, String::new()).await;
    assert_eq!(scrape.status, 200);
    assert!(
        scrape.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        scrape.headers
    );
    let text = String::from_utf8(scrape.body).unwrap();
    println!("{text}");
    let count =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    for (series, expected) in [
        (r#"ca_handler_enrollments_total{outcome="issued"}"#, 5.0),
        (r#"ca_handler_enrollments_total{outcome="pending"}"#, 1.0),
        (r#"ca_handler_enrollments_total{outcome="bad-csr"}"#, 1.0),
        (
            r#"ca_handler_http_requests_total{route="/enroll",status="200"}"#,
            5.0,
        ),
        (
            r#"ca_handler_http_requests_total{route="/enroll",status="202"}"#,
            1.0,
        ),
        (
            r#"ca_handler_http_requests_total{route="/enroll",status="400"}"#,
            1.0,
        ),
        (
            r#"ca_handler_http_requests_total{route="/enroll",status="405"}"#,
            2.0,
        ),
        (
            r#"ca_handler_http_requests_total{route="/enroll",status="401"}"#,
            1.0,
        ),
        (
            r#"ca_handler_http_requests_total{route="/enroll",status="408"}"#,
            1.0,
        ),
        (r#"ca_handler_refused_total{reason="body-timeout"}"#, 1.0),
        (
            r#"ca_handler_http_requests_total{route="/health",status="200"}"#,
            2.0,
        ),
        (
            r#"ca_handler_http_requests_total{route="/health",status="400"}"#,
            2.0,
        ),
    ] {
        assert_eq!(count(series), expected, "{series}");
    }
    // Only enrollments that reached the handler are enrollments: not the
    // refused token, the wrong method, the body that never came.
    let outcomes: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ca_handler_enrollments_total{"))
        .collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    // Each enrollment that reached the CA sent both requests.
    assert_eq!(
        count(r#"ca_handler_est_request_duration_seconds_count{endpoint="simpleenroll"}"#),
        6.0
    );
    assert_eq!(
        count(r#"ca_handler_est_request_duration_seconds_count{endpoint="cacerts"}"#),
        6.0
    );
    let simpleenrolls = est
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/simpleenroll"))
        .count();
    assert_eq!(simpleenrolls, 6, "the EST server agrees");
    assert_eq!(count("ca_handler_instances_in_flight"), 0.0);
    assert!(count("ca_handler_instance_memory_peak_bytes") > 0.0);
    assert!(!text.contains(PASSWORD) && !text.contains(TOKEN));
    let missing = call(served.metrics, "GET", "/other", None, String::new()).await;
    assert_eq!(missing.status, 404);

    let log_file = served.log.clone();
    drop(served);
    let log = std::fs::read_to_string(log_file).unwrap();
    assert!(!log.contains('\x1b'), "no colour in a file");
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(r#""level":"ERROR""#))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!log.contains(PASSWORD) && !log.contains(TOKEN));
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    let of_request =
        |id: &str| -> Vec<&Value> { lines.iter().filter(|l| l["span"]["id"] == id).collect() };
    let issued = of_request("obs-issued-0");
    assert!(
        issued
            .iter()
            .any(|l| l["fields"]["message"] == "POST /enroll -> 200 OK"),
        "{issued:?}"
    );
    assert!(
        !of_request(&made_id).is_empty(),
        "a made-up id is logged too"
    );
    let warned = of_request("obs-warned");
    assert!(
        warned.iter().any(|l| l["level"] == "WARN"
            && l["fields"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("lacks")),
        "the component's warning belongs to its request: {warned:?}; lines with \"lacks\": {:?}",
        lines
            .iter()
            .filter(|l| l.to_string().contains("lacks"))
            .collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn log_colour_only_on_a_terminal_and_never_with_no_color() {
    let est = EstServer::start(ServerConfig {
        password: PASSWORD.into(),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("est-colour-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let anchor = dir.join("root.pem");
    std::fs::write(&anchor, est.trust_anchor_pem()).unwrap();
    let args = format!(
        "{} -vv cacerts --set est_host={} --set est_user=estuser --set ca_bundle={}",
        env!("CARGO_BIN_EXE_ca-handler"),
        est.https_url(),
        anchor.display()
    );
    // Into a file: plain.
    let output = Command::new("sh")
        .args(["-c", &format!("{args} 2>&1 >/dev/null")])
        .env("CAHANDLER_EST_PASSWORD", PASSWORD)
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("DEBUG"), "{text}");
    assert!(!text.contains('\x1b'), "{text}");
    // On a terminal (util-linux `script` gives the command one): colour,
    // unless NO_COLOR is set.
    let on_tty = |no_color: Option<&str>| {
        let mut command = Command::new("script");
        command
            .args(["-qec", &format!("{args} >/dev/null"), "/dev/null"])
            .env("CAHANDLER_EST_PASSWORD", PASSWORD)
            .env_remove("NO_COLOR")
            .env_remove("RUST_LOG");
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let output = command.output().expect("script (util-linux) runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let coloured = on_tty(None);
    assert!(
        coloured.contains("DEBUG") && coloured.contains('\x1b'),
        "{coloured:?}"
    );
    let plain = on_tty(Some("1"));
    assert!(
        plain.contains("DEBUG") && !plain.contains('\x1b'),
        "{plain:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
