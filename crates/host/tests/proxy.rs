//! `proxy_server_list`: the host tunnels its connections to the EST server
//! through a real HTTP proxy (Debian's tinyproxy, started here on
//! 127.0.0.1 with its own configuration) or SOCKS5 proxy (Debian's
//! microsocks) when the EST server's host
//! matches, and goes direct when it does not; the proxy's refusals and
//! absence are typed errors naming it, and its credentials appear nowhere.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use est_ca_host::{Enrollment, HandlerError, Settings, TransportCause};
use est_server::{EstServer, Faults, ServerConfig};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::{free_port, host};

const PASSWORD: &str = "proxy-Est-Passw0rd";
const PROXY_USER: &str = "proxyuser";
/// The proxy's password (tinyproxy takes letters, digits, `-` and `_`).
const PROXY_PASSWORD: &str = "Pr0xy-Secret";
/// The same, as the tests write it in the proxy URL: partly percent-encoded
/// (`%53` is `S`), which the host decodes as `requests` does.
const PROXY_PASSWORD_IN_URL: &str = "Pr0xy-%53ecret";

/// A tinyproxy of this test's own, on a free port of 127.0.0.1; dropping
/// it stops the process.
struct Tinyproxy {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Tinyproxy {
    /// Starts tinyproxy, with `BasicAuth` when `auth` is true.
    fn start(name: &str, auth: bool) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("proxy-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let log = dir.join("tinyproxy.log");
        let _ = std::fs::remove_file(&log);
        let mut config = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 50\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
            log.display()
        );
        if auth {
            config.push_str(&format!("BasicAuth {PROXY_USER} {PROXY_PASSWORD}\n"));
        }
        let conf = dir.join("tinyproxy.conf");
        std::fs::write(&conf, config).unwrap();
        let output = std::fs::File::create(dir.join("tinyproxy.out")).unwrap();
        let child = match Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "tinyproxy is not installed: install the Debian package (apt-get install -y tinyproxy)"
            ),
            Err(e) => panic!("tinyproxy does not start: {e}"),
        };
        let mut proxy = Self { child, port, dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return proxy;
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("tinyproxy ended ({status}): {}", proxy.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("tinyproxy did not listen on {port}: {}", proxy.output());
    }

    /// `http://127.0.0.1:PORT`, what the host shows for this proxy.
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The proxy URL with `user:password` (as written, percent-encoded).
    fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// What tinyproxy logged and printed.
    fn output(&self) -> String {
        let read = |name| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        read("tinyproxy.log") + &read("tinyproxy.out")
    }

    /// The CONNECT requests tinyproxy logged.
    fn connects(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("tinyproxy.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("Request (file descriptor") && l.contains("CONNECT "))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An EST server and its trust anchor's file.
async fn est_server(name: &str) -> (EstServer, PathBuf) {
    let server = EstServer::start(ServerConfig {
        password: PASSWORD.into(),
        faults: Faults::default(),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("proxy-{}-{name}-est", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let anchor = dir.join("root.pem");
    std::fs::write(&anchor, server.trust_anchor_pem()).unwrap();
    (server, anchor)
}

/// Basic-auth settings for `server`, with `proxy_server_list`.
fn settings(server: &EstServer, anchor: &Path, proxy_server_list: &str) -> Settings {
    Settings::from_pairs([
        ("est_host", server.https_url()),
        ("est_user", "estuser".into()),
        ("est_password", PASSWORD.into()),
        ("ca_bundle", anchor.display().to_string()),
        ("proxy_server_list", proxy_server_list.into()),
    ])
    .unwrap()
}

/// `{"^localhost$": url}`: the local EST server's host (`localhost`) matches.
fn list_for(url: &str) -> String {
    serde_json::json!({ "^localhost$": url }).to_string()
}

fn csr(name: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    Base64UrlUnpadded::encode_string(params.serialize_request(&key).unwrap().der())
}

async fn enroll(settings: &Settings) -> Result<Enrollment, HandlerError> {
    host()
        .enroll(settings, &csr("proxied.example.test"))
        .await
        .expect("the component runs")
}

/// Every form the proxy's password could leak in.
fn leaks(text: &str) -> bool {
    let basic = Base64::encode_string(format!("{PROXY_USER}:{PROXY_PASSWORD}").as_bytes());
    [
        PROXY_PASSWORD,
        PROXY_PASSWORD_IN_URL,
        "wr0ng-Pass",
        basic.as_str(),
    ]
    .iter()
    .any(|secret| text.contains(secret))
}

#[tokio::test(flavor = "multi_thread")]
async fn enrollment_goes_through_the_proxy_and_reuses_its_tunnels() {
    let proxy = Tinyproxy::start("plain", false);
    let (server, anchor) = est_server("plain").await;
    let settings = settings(&server, &anchor, &list_for(&proxy.url()));
    assert_eq!(settings.proxy(), Some(proxy.url()));
    for _ in 0..3 {
        match enroll(&settings).await {
            Ok(Enrollment::Issued(cert)) => {
                assert!(cert.cert_bundle.starts_with("-----BEGIN CERTIFICATE-----"))
            }
            other => panic!("{other:?}\n{}", proxy.output()),
        }
        // Back in the pool once the answer is read (see e2e.rs).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connects = proxy.connects();
    let target = format!("CONNECT localhost:{} HTTP/1.1", server.https_addr().port());
    assert!(
        !connects.is_empty() && connects.iter().all(|l| l.contains(&target)),
        "{}",
        proxy.output()
    );
    // Each enrollment has two requests in flight: at most two tunnels, reused.
    assert!(connects.len() <= 2, "{}", proxy.output());
    let requests = server.requests();
    assert_eq!(requests.len(), 6, "{requests:?}");
    let mut connections: Vec<u64> = requests.iter().map(|r| r.connection).collect();
    connections.sort_unstable();
    connections.dedup();
    assert_eq!(connections.len(), connects.len(), "{requests:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_credentials_work_and_wrong_ones_are_named_errors() {
    let proxy = Tinyproxy::start("auth", true);
    let (server, anchor) = est_server("auth").await;

    let right = settings(
        &server,
        &anchor,
        &list_for(&proxy.url_with(PROXY_USER, PROXY_PASSWORD_IN_URL)),
    );
    assert_eq!(right.proxy(), Some(proxy.url()));
    let issued = enroll(&right).await;
    assert!(
        matches!(issued, Ok(Enrollment::Issued(_))),
        "{issued:?}\n{}",
        proxy.output()
    );
    assert!(!proxy.connects().is_empty(), "{}", proxy.output());
    let served = server.requests().len();

    for (url, status) in [
        (proxy.url_with(PROXY_USER, "wr0ng-Pass"), "401"),
        (proxy.url(), "407"),
    ] {
        let wrong = settings(&server, &anchor, &list_for(&url));
        let result = host().ca_certs(&wrong).await.unwrap();
        let Err(HandlerError::Transport(failure)) = &result else {
            panic!("{result:?}");
        };
        let shown = format!("{result:?}");
        assert!(matches!(failure.cause, TransportCause::Other), "{shown}");
        assert!(
            failure.detail.contains(&format!(
                "the proxy {} refused CONNECT localhost:",
                proxy.url()
            )) && failure.detail.contains(&format!("it answered {status} ")),
            "{shown}"
        );
        assert!(!leaks(&shown), "the proxy's credentials leaked: {shown}");
        let explained = est_ca_host::report::explain(result.as_ref().unwrap_err());
        assert!(!leaks(&explained), "{explained}");
    }
    assert_eq!(
        server.requests().len(),
        served,
        "nothing reached the server"
    );
    assert!(!leaks(&proxy.output()), "tinyproxy logged the password");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_proxy_is_connection_refused_naming_it() {
    let (server, anchor) = est_server("unreachable").await;
    let closed = free_port();
    let url = format!("http://{PROXY_USER}:{PROXY_PASSWORD_IN_URL}@127.0.0.1:{closed}");
    let settings = settings(&server, &anchor, &list_for(&url));
    let result = enroll(&settings).await;
    let shown = format!("{result:?}");
    let Err(HandlerError::Transport(failure)) = &result else {
        panic!("{shown}");
    };
    assert!(
        matches!(failure.cause, TransportCause::ConnectionRefused),
        "{shown}"
    );
    assert!(
        failure
            .detail
            .contains(&format!("through the proxy http://127.0.0.1:{closed}")),
        "{shown}"
    );
    assert!(!leaks(&shown), "{shown}");
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_no_pattern_matches_goes_direct() {
    let proxy = Tinyproxy::start("direct", false);
    let (server, anchor) = est_server("direct").await;
    // "localhost" is not "*.corp.example" (which reads as "corp.example"),
    // and there is no "*" entry.
    let list = serde_json::json!({
        "*.corp.example": proxy.url(),
        "^est\\.": proxy.url(),
        "local$": null,
    })
    .to_string();
    let direct = settings(&server, &anchor, &list);
    assert_eq!(direct.proxy(), None);
    let issued = enroll(&direct).await;
    assert!(matches!(issued, Ok(Enrollment::Issued(_))), "{issued:?}");
    assert_eq!(server.requests().len(), 2);
    assert!(proxy.connects().is_empty(), "{}", proxy.output());
    // With a "*" fallback, the same host goes through the proxy.
    let fallback = serde_json::json!({ "*.corp.example": null, "*": proxy.url() }).to_string();
    let through = settings(&server, &anchor, &fallback);
    assert_eq!(through.proxy(), Some(proxy.url()));
    let issued = enroll(&through).await;
    assert!(matches!(issued, Ok(Enrollment::Issued(_))), "{issued:?}");
    assert!(!proxy.connects().is_empty(), "{}", proxy.output());
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_sends_through_the_proxy_and_shows_no_credentials() {
    let proxy = Tinyproxy::start("serve", true);
    let list = list_for(&proxy.url_with(PROXY_USER, PROXY_PASSWORD_IN_URL));
    let api = common::Api::start(Faults::default(), &[("proxy_server_list", &list)]).await;
    let cacerts =
        common::http_with(api.addr, "GET", "/cacerts", Some(common::TOKEN), &[], "").await;
    assert_eq!(
        cacerts.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&cacerts.body),
        proxy.output()
    );
    assert!(!proxy.connects().is_empty(), "{}", proxy.output());
    let health = common::http_with(api.addr, "GET", "/health", None, &[], "").await;
    let body = String::from_utf8_lossy(&health.body);
    assert!(!leaks(&body), "{body}");
    api.shutdown().await;
}

/// `ca-handler` run as a user runs it.
fn ca_handler(args: &[&str]) -> (bool, Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ca-handler"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("ca-handler runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), output.status.code(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn check_and_enroll_from_acme_srv_cfg_never_print_the_proxy_credentials() {
    let proxy = Tinyproxy::start("cli", true);
    let (server, anchor) = est_server("cli").await;
    let dir = anchor.parent().unwrap().to_owned();
    let write_cfg = |name: &str, url: &str| {
        let cfg = format!(
            "[DEFAULT]\ndebug: False\nproxy_server_list: {}\n\n[CAhandler]\nest_host: {}\nest_user: estuser\nest_password: {PASSWORD}\nca_bundle: {}\nrequest_timeout: 5\n",
            list_for(url),
            server.https_url(),
            anchor.display()
        );
        let path = dir.join(name);
        std::fs::write(&path, cfg).unwrap();
        path.display().to_string()
    };
    let good = write_cfg(
        "good.cfg",
        &proxy.url_with(PROXY_USER, PROXY_PASSWORD_IN_URL),
    );
    let (ok, _, shown) = ca_handler(&["-vv", "check", "--config", &good]);
    assert!(ok, "{shown}\n{}", proxy.output());
    assert!(
        shown.contains(&format!("proxy: {} (from proxy_server_list)", proxy.url()))
            && shown.contains("EST server: OK"),
        "{shown}"
    );
    assert!(!leaks(&shown), "the proxy's credentials leaked: {shown}");
    assert!(!proxy.connects().is_empty(), "{}", proxy.output());

    let wrong = write_cfg("wrong.cfg", &proxy.url_with(PROXY_USER, "wr0ng-Pass"));
    let (ok, code, shown) = ca_handler(&["-vv", "check", "--config", &wrong]);
    assert!(!ok && code == Some(7), "{shown}");
    assert!(
        shown.contains(&format!("the proxy {} refused CONNECT", proxy.url())),
        "{shown}"
    );
    assert!(!leaks(&shown), "the proxy's credentials leaked: {shown}");

    // A proxy this host cannot use is a configuration error, without its URL.
    let socks = write_cfg(
        "socks.cfg",
        &format!("socks4://{PROXY_USER}:{PROXY_PASSWORD_IN_URL}@127.0.0.1:1080"),
    );
    let (ok, code, shown) = ca_handler(&["check", "--config", &socks]);
    assert!(!ok && code == Some(3), "{shown}");
    assert!(
        shown.contains("proxy_server_list") && shown.contains("socks4:// proxy"),
        "{shown}"
    );
    assert!(!leaks(&shown), "{shown}");
}

/// Debian's microsocks (a SOCKS5 server) on a free port of 127.0.0.1,
/// requiring [`PROXY_USER`] and [`PROXY_PASSWORD`]; dropping it stops it.
struct Microsocks {
    child: Child,
    port: u16,
}

impl Microsocks {
    fn start() -> Self {
        let port = free_port();
        let child = match Command::new("microsocks")
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-u", PROXY_USER, "-P", PROXY_PASSWORD])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "microsocks is not installed: install the Debian package (apt-get install -y microsocks)"
            ),
            Err(e) => panic!("microsocks does not start: {e}"),
        };
        let mut proxy = Self { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return proxy;
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("microsocks ended ({status})");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("microsocks did not listen on {port}");
    }
}

impl Drop for Microsocks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn socks5_proxies_carry_enrollments_and_refuse_wrong_credentials() {
    let socks = Microsocks::start();
    let (server, anchor) = est_server("socks").await;
    for scheme in ["socks5", "socks5h"] {
        let url = format!(
            "{scheme}://{PROXY_USER}:{PROXY_PASSWORD_IN_URL}@127.0.0.1:{}",
            socks.port
        );
        let through = settings(&server, &anchor, &list_for(&url));
        assert_eq!(
            through.proxy(),
            Some(format!("{scheme}://127.0.0.1:{}", socks.port))
        );
        let issued = enroll(&through).await;
        assert!(
            matches!(issued, Ok(Enrollment::Issued(_))),
            "{scheme}: {issued:?}"
        );
    }
    let served = server.requests().len();
    assert_eq!(served, 4);

    // Wrong credentials: the SOCKS proxy refuses, so the path went through it.
    let url = format!("socks5h://{PROXY_USER}:wr0ng-Pass@127.0.0.1:{}", socks.port);
    let result = host()
        .ca_certs(&settings(&server, &anchor, &list_for(&url)))
        .await
        .unwrap();
    let shown = format!("{result:?}");
    let Err(HandlerError::Transport(failure)) = &result else {
        panic!("{shown}");
    };
    assert!(matches!(failure.cause, TransportCause::Other), "{shown}");
    assert!(
        failure.detail.contains(&format!(
            "the proxy socks5h://127.0.0.1:{} refused the tunnel to localhost:",
            socks.port
        )) && failure.detail.contains("credentials not accepted"),
        "{shown}"
    );
    assert!(!leaks(&shown), "{shown}");
    assert_eq!(server.requests().len(), served);

    // Once it is gone, its port refuses: connection-refused naming it.
    let port = socks.port;
    drop(socks);
    let url = format!("socks5://{PROXY_USER}:{PROXY_PASSWORD_IN_URL}@127.0.0.1:{port}");
    let result = enroll(&settings(&server, &anchor, &list_for(&url))).await;
    let shown = format!("{result:?}");
    let Err(HandlerError::Transport(failure)) = &result else {
        panic!("{shown}");
    };
    assert!(
        matches!(failure.cause, TransportCause::ConnectionRefused),
        "{shown}"
    );
    assert!(
        failure
            .detail
            .contains(&format!("through the proxy socks5://127.0.0.1:{port}")),
        "{shown}"
    );
    assert!(!leaks(&shown), "{shown}");
}
