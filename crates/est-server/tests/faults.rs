//! Transport faults, per request (by the CSR's name) and per server, met by
//! raw clients: hyper's HTTP/1 client over tokio-rustls, and plain TCP.
//! Every wait is bounded; every test lets its clients go and checks that
//! the server lets go of their connections too.

use base64ct::{Base64, Encoding};
use est_server::fault::{HUGE_BODY_LEN, TRICKLE_INTERVAL};
use est_server::{AuthMode, EnrollFault, EstServer, Faults, ServerConfig, StallingListener};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{CertificateParams, DnType, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::timeout;

const ENROLL: &str = "/.well-known/est/simpleenroll";
/// How long a test waits to see that something does not happen.
const QUIET: Duration = Duration::from_secs(2);
/// How long a test waits for something that should happen at once.
const PROMPT: Duration = Duration::from_secs(3);

async fn start(faults: Faults) -> EstServer {
    EstServer::start(ServerConfig {
        faults,
        http_port: Some(0),
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

fn by_csr() -> Faults {
    Faults {
        by_csr: true,
        ..Faults::default()
    }
}

/// A base64 CSR (with a final newline) for `cn` and DNS SANs `sans`.
fn csr(cn: &str, sans: &[&str]) -> String {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let request = params.serialize_request(&key).unwrap();
    format!("{}\n", Base64::encode_string(request.der()))
}

/// A base64 CSR (with a final newline) whose subject is empty, with the DNS
/// SAN `san`.
fn without_cn(san: &str) -> String {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![san.to_owned()]).unwrap();
    // rcgen names a subject "rcgen self signed cert" unless told otherwise.
    params.distinguished_name = rcgen::DistinguishedName::new();
    let request = params.serialize_request(&key).unwrap();
    format!("{}\n", Base64::encode_string(request.der()))
}

/// A CSR whose CN and only SAN are `name`.
fn named(name: &str) -> String {
    csr(name, &[name])
}

/// An HTTP/1 connection to the server; dropping it closes the connection.
struct Client {
    sender: SendRequest<Full<Bytes>>,
    conn: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

fn client_tls(server: &EstServer) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(server.ca().root_der()))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

impl Client {
    /// Over TLS to the HTTPS port.
    async fn tls(server: &EstServer) -> Self {
        let tcp = TcpStream::connect(server.https_addr()).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = timeout(PROMPT, client_tls(server).connect(name, tcp))
            .await
            .expect("handshake in time")
            .unwrap();
        Self::over(tls).await
    }

    /// Over plain HTTP.
    async fn plain(server: &EstServer) -> Self {
        let url = server.http_url().unwrap();
        let tcp = TcpStream::connect(url.trim_start_matches("http://"))
            .await
            .unwrap();
        Self::over(tcp).await
    }

    async fn over<S>(io: S) -> Self
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .unwrap();
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Self { sender, conn }
    }

    /// Sends an enrollment and waits for its answer's head.
    async fn enroll(&mut self, csr: &str) -> hyper::Result<Response<Incoming>> {
        let request = Request::post(ENROLL)
            .header("host", "localhost")
            .header("content-type", "application/pkcs10")
            .header(
                "authorization",
                format!("Basic {}", Base64::encode_string(b"estuser:estpwd")),
            )
            .body(Full::new(Bytes::from(csr.to_owned())))
            .unwrap();
        self.sender.ready().await?;
        self.sender.send_request(request).await
    }

    /// Whether the connection has ended.
    fn is_closed(&self) -> bool {
        self.conn.is_finished()
    }
}

fn header(answer: &Response<Incoming>, name: &str) -> Option<String> {
    answer
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn content_length(answer: &Response<Incoming>) -> usize {
    header(answer, "content-length")
        .expect("a Content-Length")
        .parse()
        .unwrap()
}

/// Waits until `condition` holds, at most [`PROMPT`].
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < PROMPT, "not in time: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// After the clients are gone, the server holds no connection.
async fn all_let_go(server: &EstServer) {
    eventually("the server lets go of every connection", || {
        server.open_connections() == 0
    })
    .await;
}

fn last_fault(server: &EstServer) -> Option<EnrollFault> {
    server.requests().last().expect("a request").fault
}

/// Reads data frames until `until` bytes came, the body ends or fails, or
/// `within` passes: (bytes, how it stopped).
async fn read_body(
    body: &mut Incoming,
    until: usize,
    within: Duration,
) -> (usize, Result<bool, String>) {
    let deadline = tokio::time::Instant::now() + within;
    let mut got = 0;
    while got < until {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return (got, Ok(false)),
            Ok(None) => return (got, Ok(true)),
            Ok(Some(Err(e))) => return (got, Err(e.to_string())),
            Ok(Some(Ok(frame))) => got += frame.data_ref().map_or(0, Bytes::len),
        }
    }
    (got, Ok(false))
}

#[tokio::test]
async fn stall_headers_sends_nothing_and_lets_go_when_the_client_does() {
    let server = start(by_csr()).await;
    let mut client = Client::tls(&server).await;
    let csr = named("fault-stall-headers.example.test");
    let answer = timeout(QUIET, client.enroll(&csr)).await;
    assert!(answer.is_err(), "no answer head within {QUIET:?}");
    assert_eq!(last_fault(&server), Some(EnrollFault::StallHeaders));
    assert_eq!(server.open_connections(), 1);
    drop(client);
    all_let_go(&server).await;
}

#[tokio::test]
async fn trickle_sends_correct_headers_then_a_byte_at_a_time() {
    let server = start(by_csr()).await;
    let mut client = Client::tls(&server).await;
    let csr = named("fault-trickle.example.test");
    let mut answer = timeout(PROMPT, client.enroll(&csr)).await.unwrap().unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        header(&answer, "content-type")
            .unwrap()
            .starts_with("application/pkcs7-mime")
    );
    let length = content_length(&answer);
    assert!(length > 100, "{length}");
    let (first, _) = read_body(answer.body_mut(), 1, PROMPT).await;
    assert_eq!(first, 1, "the first byte comes at once");
    let (more, ended) = read_body(answer.body_mut(), length, QUIET).await;
    assert_eq!(ended, Ok(false), "the body goes on");
    let most = (QUIET.as_millis() / TRICKLE_INTERVAL.as_millis()) as usize + 1;
    assert!((1..=most).contains(&more), "{more} bytes in {QUIET:?}");
    assert_eq!(last_fault(&server), Some(EnrollFault::Trickle));
    drop(client);
    all_let_go(&server).await;
}

#[tokio::test]
async fn reset_breaks_off_the_body_over_tls() {
    let server = start(by_csr()).await;
    let mut client = Client::tls(&server).await;
    let csr = named("fault-reset.example.test");
    let mut answer = timeout(PROMPT, client.enroll(&csr)).await.unwrap().unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let length = content_length(&answer);
    let (got, ended) = read_body(answer.body_mut(), length, PROMPT).await;
    assert!(ended.is_err(), "the body fails: {ended:?}");
    assert_eq!(got, length / 2);
    assert_eq!(last_fault(&server), Some(EnrollFault::Reset));
    eventually("the client sees the connection end", || client.is_closed()).await;
    all_let_go(&server).await;
}

#[tokio::test]
async fn reset_is_a_tcp_rst() {
    let server = start(by_csr()).await;
    let url = server.http_url().unwrap();
    let mut tcp = TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    let csr = named("fault-reset.example.test");
    tcp.write_all(&raw_enroll(&csr)).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let error = loop {
        match timeout(PROMPT, tcp.read(&mut buffer))
            .await
            .expect("in time")
        {
            Ok(0) => panic!("a clean end of stream after {received:?}"),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    let text = String::from_utf8_lossy(&received);
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole head");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("a Content-Length")
        .parse()
        .unwrap();
    assert_eq!(body.len(), length / 2);
    all_let_go(&server).await;
}

#[tokio::test]
async fn huge_announces_and_sends_ten_mebibytes() {
    let server = start(by_csr()).await;
    let mut client = Client::tls(&server).await;
    let csr = named("fault-huge.example.test");
    let mut answer = timeout(PROMPT, client.enroll(&csr)).await.unwrap().unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        header(&answer, "content-type")
            .unwrap()
            .starts_with("application/pkcs7-mime")
    );
    assert_eq!(content_length(&answer), HUGE_BODY_LEN);
    // What the fault is for: more than the handler reads of one answer.
    let cap = est_ca_handler::transport::MAX_BODY;
    let (got, ended) = read_body(answer.body_mut(), cap + 1, PROMPT).await;
    assert!(got > cap, "{got} bytes, {ended:?}");
    assert_eq!(last_fault(&server), Some(EnrollFault::Huge));
    drop(client);
    all_let_go(&server).await;
}

#[tokio::test]
async fn huge_sends_exactly_what_it_announces() {
    let server = start(by_csr()).await;
    let mut client = Client::plain(&server).await;
    let csr = named("fault-huge.example.test");
    let mut answer = timeout(PROMPT, client.enroll(&csr)).await.unwrap().unwrap();
    let (got, ended) = read_body(answer.body_mut(), usize::MAX, PROMPT).await;
    assert_eq!((got, ended), (HUGE_BODY_LEN, Ok(true)));
}

#[tokio::test]
async fn endless_sends_chunks_until_the_client_goes() {
    let server = start(by_csr()).await;
    let mut client = Client::tls(&server).await;
    let csr = named("fault-endless.example.test");
    let mut answer = timeout(PROMPT, client.enroll(&csr)).await.unwrap().unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(header(&answer, "content-length"), None);
    assert_eq!(
        header(&answer, "transfer-encoding").as_deref(),
        Some("chunked")
    );
    let (got, ended) = read_body(answer.body_mut(), 2 * 1024 * 1024, PROMPT).await;
    assert_eq!(ended, Ok(false));
    assert!(got > 1024 * 1024, "{got}");
    assert!(!answer.body().is_end_stream());
    assert_eq!(last_fault(&server), Some(EnrollFault::Endless));
    drop(answer);
    drop(client);
    all_let_go(&server).await;
}

#[tokio::test]
async fn pending_forever_answers_202_every_time() {
    let server = start(by_csr()).await;
    let mut client = Client::tls(&server).await;
    let csr = named("fault-pending-forever.example.test");
    for _ in 0..3 {
        let answer = timeout(PROMPT, client.enroll(&csr)).await.unwrap().unwrap();
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        assert_eq!(header(&answer, "retry-after").as_deref(), Some("1"));
        answer.into_body().collect().await.unwrap();
    }
    let faults: Vec<_> = server.requests().iter().map(|r| r.fault).collect();
    assert_eq!(faults, vec![Some(EnrollFault::PendingForever); 3]);
    drop(client);
    all_let_go(&server).await;
}

#[tokio::test]
async fn the_kinds_that_imitate_other_knobs_are_reachable_by_name() {
    let server = start(by_csr()).await;
    let mut client = Client::tls(&server).await;
    let answer = client
        .enroll(&named("fault-status-503.example.test"))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    answer.into_body().collect().await.unwrap();
    let answer = client
        .enroll(&named("fault-garbage.example.test"))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"this is not a PKCS#7 answer!\n");
    let faults: Vec<_> = server.requests().iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [
            Some(EnrollFault::Status(503)),
            Some("garbage".parse().unwrap())
        ]
    );
}

#[tokio::test]
async fn the_first_dns_san_selects_when_the_cn_does_not() {
    let server = start(by_csr()).await;
    let mut client = Client::tls(&server).await;
    let csr = csr("device 7", &["fault-status-500.example.test"]);
    let answer = client.enroll(&csr).await.unwrap();
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    answer.into_body().collect().await.unwrap();
    // Only the first DNS SAN counts.
    let csr = self::csr(
        "device 7",
        &["www.example.test", "fault-status-500.example.test"],
    );
    let answer = client.enroll(&csr).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(last_fault(&server), None);
}

#[tokio::test]
async fn an_unknown_kind_is_refused_with_the_known_ones() {
    let server = start(by_csr()).await;
    let mut client = Client::tls(&server).await;
    let answer = client
        .enroll(&named("fault-stall.example.test"))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("stall-headers"), "{body}");
    assert_eq!(last_fault(&server), None);
}

#[tokio::test]
async fn a_normal_csr_on_a_by_csr_server_is_issued() {
    let server = start(by_csr()).await;
    let mut client = Client::tls(&server).await;
    let answer = client.enroll(&named("www.example.test")).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        header(&answer, "content-type")
            .unwrap()
            .starts_with("application/pkcs7-mime")
    );
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    assert!(body.len() > 100 && body.ends_with(b"\n"));
    assert_eq!(last_fault(&server), None);
}

#[tokio::test]
async fn without_by_csr_fault_names_are_issued_normally() {
    let server = start(Faults::default()).await;
    let mut client = Client::tls(&server).await;
    let answer = timeout(
        PROMPT,
        client.enroll(&named("fault-stall-headers.example.test")),
    )
    .await
    .expect("an answer in time")
    .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    assert!(body.len() > 100);
    assert_eq!(last_fault(&server), None);
}

#[tokio::test]
async fn a_server_wide_fault_meets_every_enrollment_and_by_csr_wins() {
    let server = start(Faults {
        fault: Some(EnrollFault::PendingForever),
        by_csr: true,
        ..Faults::default()
    })
    .await;
    let mut client = Client::tls(&server).await;
    let answer = client.enroll(&named("www.example.test")).await.unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    answer.into_body().collect().await.unwrap();
    assert_eq!(last_fault(&server), Some(EnrollFault::PendingForever));
    let answer = client
        .enroll(&named("fault-status-502.example.test"))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(last_fault(&server), Some(EnrollFault::Status(502)));
}

#[tokio::test]
async fn the_tls_stall_port_never_completes_a_handshake() {
    let server = EstServer::start(ServerConfig {
        tls_stall_port: Some(0),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let url = server.tls_stall_url().unwrap();
    assert_eq!(
        url,
        format!(
            "https://localhost:{}",
            server.tls_stall_addr().unwrap().port()
        )
    );
    let tcp = TcpStream::connect(server.tls_stall_addr().unwrap())
        .await
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let handshake = timeout(QUIET, client_tls(&server).connect(name, tcp)).await;
    assert!(handshake.is_err(), "no handshake within {QUIET:?}");
    assert_eq!(server.stalled_handshakes(), 1);
    assert_eq!(server.open_connections(), 1);
    drop(handshake);
    all_let_go(&server).await;
    // The HTTPS port still works.
    let mut client = Client::tls(&server).await;
    let answer = client.enroll(&named("www.example.test")).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_dropped_stalling_listener_lets_go_of_its_connections() {
    let listener = StallingListener::start(0).await.unwrap();
    let mut tcp = TcpStream::connect(listener.addr()).await.unwrap();
    tcp.write_all(b"\x16\x03\x01 not quite a ClientHello")
        .await
        .unwrap();
    let mut buffer = [0u8; 64];
    assert!(
        timeout(Duration::from_millis(300), tcp.read(&mut buffer))
            .await
            .is_err()
    );
    eventually("the listener holds the connection", || {
        listener.open_connections() == 1
    })
    .await;
    let addr = listener.addr();
    drop(listener);
    let read = timeout(PROMPT, tcp.read(&mut buffer))
        .await
        .expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
}

/// An HTTP/1.1 enrollment request for `csr`, as bytes.
fn raw_enroll(csr: &str) -> Vec<u8> {
    format!(
        "POST {ENROLL} HTTP/1.1\r\nhost: localhost\r\nauthorization: Basic {}\r\n\
         content-type: application/pkcs10\r\ncontent-length: {}\r\n\r\n{csr}",
        Base64::encode_string(b"estuser:estpwd"),
        csr.len()
    )
    .into_bytes()
}

/// Reads (and drops) everything until the connection ends.
async fn drain<S: tokio::io::AsyncRead + Unpin>(mut stream: S) {
    let mut buffer = vec![0u8; 64 * 1024];
    while let Ok(1..) = stream.read(&mut buffer).await {}
}

#[tokio::test]
async fn shutdown_ends_every_faulty_answer() {
    let server = EstServer::start(ServerConfig {
        faults: by_csr(),
        tls_stall_port: Some(0),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let mut readers = Vec::new();
    for kind in [
        EnrollFault::StallHeaders,
        EnrollFault::Trickle,
        EnrollFault::Endless,
        EnrollFault::PendingForever,
    ] {
        let tcp = TcpStream::connect(server.https_addr()).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = client_tls(&server).connect(name, tcp).await.unwrap();
        let csr = named(&format!("fault-{kind}.example.test"));
        tls.write_all(&raw_enroll(&csr)).await.unwrap();
        readers.push(tokio::spawn(drain(tls)));
    }
    let stalled = TcpStream::connect(server.tls_stall_addr().unwrap())
        .await
        .unwrap();
    readers.push(tokio::spawn(drain(stalled)));
    eventually("every request arrives", || server.requests().len() == 4).await;
    eventually("every connection is held", || {
        server.open_connections() == 5
    })
    .await;
    // shutdown waits for the connections to be gone (or longer than this).
    timeout(PROMPT, server.shutdown())
        .await
        .expect("shutdown in time");
    for reader in readers {
        timeout(PROMPT, reader)
            .await
            .expect("the client sees its connection end")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_enrollments_succeed_beside_every_fault() {
    let server = Arc::new(
        EstServer::start(ServerConfig {
            faults: by_csr(),
            auth: AuthMode::Basic,
            ..ServerConfig::default()
        })
        .await
        .unwrap(),
    );
    let mut faulty = Vec::new();
    for kind in EnrollFault::ALL
        .iter()
        .copied()
        .filter(|fault| fault.breaks_the_exchange())
    {
        let server = Arc::clone(&server);
        faulty.push(tokio::spawn(async move {
            let mut client = Client::tls(&server).await;
            let csr = named(&format!("fault-{kind}.example.test"));
            // Hold the faulty exchange open while the good ones run.
            let _ = timeout(QUIET, async {
                let mut answer = client.enroll(&csr).await?;
                while let Some(frame) = answer.body_mut().frame().await {
                    frame?;
                }
                hyper::Result::Ok(())
            })
            .await;
        }));
    }
    let good: Vec<_> = (0..16)
        .map(|i| {
            let server = Arc::clone(&server);
            tokio::spawn(async move {
                let mut client = Client::tls(&server).await;
                let csr = named(&format!("device-{i}.example.test"));
                let answer = client.enroll(&csr).await.unwrap();
                assert_eq!(answer.status(), StatusCode::OK);
                answer.into_body().collect().await.unwrap().to_bytes()
            })
        })
        .collect();
    let started = Instant::now();
    for task in good {
        let body = timeout(PROMPT, task).await.expect("in time").unwrap();
        assert!(body.len() > 100);
    }
    assert!(started.elapsed() < QUIET, "{:?}", started.elapsed());
    for task in faulty {
        timeout(PROMPT, task).await.expect("in time").unwrap();
    }
    all_let_go(&server).await;
    let records = server.requests();
    let faults = records.iter().filter(|r| r.fault.is_some()).count();
    assert!(faults >= 6, "{records:?}");
}

/// The binary's flags reach the same code.
#[tokio::test]
async fn the_binary_applies_fault_and_faults_by_csr() {
    let dir = std::env::temp_dir().join(format!("est-server-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let anchor = dir.join("root.pem");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_est-server"))
        .args([
            "--port",
            "0",
            "--auth",
            "none",
            "--fault",
            "pending-forever",
        ])
        .args([
            "--faults-by-csr",
            "--tls-stall-port",
            "0",
            "--trust-anchor-out",
        ])
        .arg(&anchor)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Kill(child);
    let stdout = child.0.stdout.take().unwrap();
    // Read stdout to its end (the server's last lines must not meet a
    // closed pipe), and hand over the lines up to the trust anchor's.
    let (send, lines) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok);
        let head: Vec<_> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("trust anchor"))
            .collect();
        let _ = send.send(head);
        lines.for_each(drop);
    });
    let lines = timeout(Duration::from_secs(10), lines)
        .await
        .unwrap()
        .unwrap();
    let port = |prefix: &str| -> u16 {
        let line = lines.iter().find(|l| l.starts_with(prefix)).unwrap();
        let rest = line.split("localhost:").nth(1).unwrap();
        rest.trim_end_matches("/.well-known/est/").parse().unwrap()
    };
    let (https, stall) = (port("EST server:"), port("TLS handshakes stall:"));
    let pem = std::fs::read_to_string(&anchor).unwrap();
    let (_, root) = der::pem::decode_vec(pem.as_bytes()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(root)).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("localhost").unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", https)).await.unwrap();
    let tls = connector.connect(name.clone(), tcp).await.unwrap();
    let mut client = Client::over(tls).await;
    let answer = client.enroll(&named("www.example.test")).await.unwrap();
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    answer.into_body().collect().await.unwrap();
    let answer = client
        .enroll(&named("fault-status-503.example.test"))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    let tcp = TcpStream::connect(("127.0.0.1", stall)).await.unwrap();
    assert!(
        timeout(Duration::from_millis(500), connector.connect(name, tcp))
            .await
            .is_err()
    );
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `request` on a new plain-HTTP connection and reads until the
/// server closes it (at most [`PROMPT`]): the answer's head and body.
async fn raw_exchange(server: &EstServer, request: &[u8]) -> (String, String) {
    let url = server.http_url().unwrap();
    let mut tcp = TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    tcp.write_all(request).await.unwrap();
    let mut received = Vec::new();
    timeout(PROMPT, tcp.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .unwrap();
    let text = String::from_utf8_lossy(&received).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole head");
    (head.to_ascii_lowercase(), body.to_owned())
}

/// `raw_enroll` with `Connection: close` and the given extra header lines.
fn raw_enroll_with(csr: &str, extra: &str) -> Vec<u8> {
    let plain = String::from_utf8(raw_enroll(csr)).unwrap();
    plain
        .replacen(
            "\r\n\r\n",
            &format!("\r\nconnection: close\r\n{extra}\r\n"),
            1,
        )
        .into_bytes()
}

#[tokio::test]
async fn untyped_errors_have_no_content_type_and_answers_keep_theirs() {
    let server = start(Faults {
        untyped_errors: true,
        require_cn: true,
        ..Faults::default()
    })
    .await;
    let (head, body) = raw_exchange(&server, &raw_enroll_with(&without_cn("a.test"), "")).await;
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert!(!head.contains("content-type"), "{head}");
    assert!(body.contains("no common name"), "{body}");
    let (head, _) = raw_exchange(&server, &raw_enroll_with(&named("a.test"), "")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: application/pkcs7-mime"),
        "{head}"
    );
    all_let_go(&server).await;
}

#[tokio::test]
async fn pending_until_close_ends_its_body_with_the_connection() {
    let server = start(Faults {
        pending_times: 1,
        pending_until_close: true,
        ..Faults::default()
    })
    .await;
    let csr = named("later.example.test");
    // Without `Connection: close`: the server itself ends the connection.
    let (head, body) = raw_exchange(&server, &raw_enroll(&csr)).await;
    assert!(head.starts_with("http/1.0 202"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert!(head.contains("retry-after: 1"), "{head}");
    assert_eq!(body, "request queued for approval");
    // The next try is issued as usual, with its length.
    let (head, _) = raw_exchange(&server, &raw_enroll_with(&csr, "")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-length"), "{head}");
    all_let_go(&server).await;
}

#[tokio::test]
async fn strict_servers_refuse_what_they_require_and_issue_the_rest() {
    let server = start(Faults {
        require_final_newline: true,
        require_base64_header: true,
        require_cn: true,
        ..Faults::default()
    })
    .await;
    let cte = "content-transfer-encoding: base64\r\n";
    let good = named("strict.example.test");
    let cases = [
        (good.clone(), cte, "200", ""),
        (
            good.clone(),
            "",
            "400",
            "content-transfer-encoding: base64 is required",
        ),
        (
            good.trim_end().to_owned(),
            cte,
            "400",
            "must end with a newline",
        ),
        (
            without_cn("strict.example.test"),
            cte,
            "400",
            "no common name",
        ),
    ];
    for (body, extra, status, why) in cases {
        let (head, text) = raw_exchange(&server, &raw_enroll_with(&body, extra)).await;
        assert!(
            head.starts_with(&format!("http/1.1 {status}")),
            "{why}: {head}"
        );
        assert!(text.to_ascii_lowercase().contains(why), "{why}: {text}");
    }
    all_let_go(&server).await;
}

#[tokio::test]
async fn the_binary_keeps_serving_when_its_output_is_gone() {
    let dir = std::env::temp_dir().join(format!("est-server-stdout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_est-server"))
        .args(["--port", &port.to_string(), "--trust-anchor-out"])
        .arg(dir.join("root.pem"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Nobody will read what it prints: every line meets a closed pipe.
    drop(child.stdout.take());
    let deadline = Instant::now() + PROMPT;
    let served = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Err(format!("the server exited: {status}"));
        }
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break Ok(());
        }
        if Instant::now() > deadline {
            break Err("the server never listened".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Still up once it has printed everything.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alive = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    served.unwrap();
    assert!(alive, "the server exited after printing to a closed pipe");
}

#[tokio::test]
async fn echo_headers_shows_the_request_headers_in_an_error_page() {
    let server = start(by_csr()).await;
    let csr = named("fault-echo-headers.example.test");
    let (head, body) = raw_exchange(&server, &raw_enroll_with(&csr, "x-probe: 42\r\n")).await;
    assert!(head.starts_with("http/1.1 500"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    let basic = Base64::encode_string(b"estuser:estpwd");
    assert!(
        body.contains(&format!("authorization: Basic {basic}\n")),
        "{body}"
    );
    assert!(
        body.contains("x-probe: 42\n") && body.contains("content-type: application/pkcs10\n"),
        "{body}"
    );
    assert!(body.contains("Internal Server Error"), "{body}");
    assert_eq!(last_fault(&server), Some(EnrollFault::EchoHeaders));
    all_let_go(&server).await;
}

#[tokio::test]
async fn stall_cacerts_holds_cacerts_while_enrollments_are_answered() {
    let server = start(Faults {
        stall_cacerts: true,
        ..Faults::default()
    })
    .await;
    let url = server.http_url().unwrap();
    let mut tcp = TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    let get = format!(
        "GET /.well-known/est/cacerts HTTP/1.1\r\nhost: localhost\r\nauthorization: Basic {}\r\n\r\n",
        Base64::encode_string(b"estuser:estpwd")
    );
    tcp.write_all(get.as_bytes()).await.unwrap();
    let mut buffer = [0u8; 1024];
    let read = timeout(QUIET, tcp.read(&mut buffer)).await;
    assert!(
        read.is_err(),
        "no answer to /cacerts within {QUIET:?}: {read:?}"
    );
    // Meanwhile an enrollment is answered at once.
    let (head, body) = raw_exchange(&server, &raw_enroll_with(&named("a.test"), "")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(body.len() > 100, "{body}");
    assert_eq!(server.open_connections(), 1, "the stalled /cacerts is held");
    drop(tcp);
    all_let_go(&server).await;
}
