//! Secrets audit: every failure the end-to-end tests know (wrong EST
//! password, wrong API token, wrong PKCS#12 passphrase, an untrusted EST
//! server, a client certificate the server refuses, CA error statuses,
//! malformed answers, timeouts, connection refused), each through every
//! output channel: the CLI (`enroll -vv`, `enroll --json`, `check -vv`,
//! `cacerts -vv`: stdout and stderr), `ca-handler -vv serve` (its log, and
//! the status, headers and body of every API answer), and the
//! acme2certifier module (every log record, urllib3's included, and every
//! return value of `handler_check`, `enroll`, `poll`, `revoke`, `trigger`,
//! with the right and with a wrong bearer token). None may show the EST
//! password, the API token, the PKCS#12 passphrase (right or wrong ones),
//! the Basic credentials as sent, or any private key used.
//!
//! Each scenario is also checked to fail the way it should (exit code,
//! problem type), so the audit cannot pass by not failing.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use est_server::{AuthMode, BodyFault, Ca, EstServer, Faults, KeyType, ServerConfig};
use est_test_kit::pkcs12;
use rustls::pki_types::pem::PemObject;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

mod common;

use common::free_port;
use common::python::{module_dir, output, venv};

/// A random suffix, so that every secret is distinctive.
fn random() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// The secrets of one run, and what each looks like on the wire.
struct Secrets {
    est_password: String,
    est_password_wrong: String,
    token: String,
    token_wrong: String,
    p12_pass: String,
    p12_pass_wrong: String,
    /// (name, PEM) of every private key used.
    keys: Vec<(String, String)>,
}

impl Secrets {
    fn new() -> Self {
        Self {
            est_password: format!("EstPw-{}", random()),
            est_password_wrong: format!("EstPwWrong-{}", random()),
            token: format!("ApiTok-{}", random()),
            token_wrong: format!("ApiTokWrong-{}", random()),
            p12_pass: format!("P12Pass-{}", random()),
            p12_pass_wrong: format!("P12PassWrong-{}", random()),
            keys: Vec::new(),
        }
    }

    /// (label, text that must not appear): never the text in messages.
    fn needles(&self) -> Vec<(String, String)> {
        let mut needles = vec![
            ("the EST password".to_owned(), self.est_password.clone()),
            (
                "the wrong EST password".into(),
                self.est_password_wrong.clone(),
            ),
            ("the API token".into(), self.token.clone()),
            ("the wrong API token".into(), self.token_wrong.clone()),
            ("the PKCS#12 passphrase".into(), self.p12_pass.clone()),
            (
                "the wrong PKCS#12 passphrase".into(),
                self.p12_pass_wrong.clone(),
            ),
            ("a PEM private key header".into(), "PRIVATE KEY-----".into()),
        ];
        for (what, password) in [
            ("Basic credentials", &self.est_password),
            ("wrong Basic credentials", &self.est_password_wrong),
        ] {
            let basic = Base64::encode_string(format!("estuser:{password}").as_bytes());
            needles.push((format!("the {what} as sent"), basic));
        }
        for (name, pem) in &self.keys {
            let der = rustls::pki_types::PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap();
            let body = Base64::encode_string(der.secret_der());
            // Any 32 characters of the key's base64, wherever a line breaks it.
            for (i, chunk) in body.as_bytes().chunks(32).enumerate() {
                if chunk.len() == 32 {
                    let text = String::from_utf8(chunk.to_vec()).unwrap();
                    needles.push((format!("{name} (base64 part {i})"), text));
                }
            }
            needles.push((
                format!("{name} (base64url)"),
                Base64UrlUnpadded::encode_string(der.secret_der())[..40].to_owned(),
            ));
        }
        needles
    }
}

/// Everything captured, channel by channel.
#[derive(Default)]
struct Transcript(Vec<(String, String)>);

impl Transcript {
    fn add(&mut self, channel: String, text: String) {
        self.0.push((channel, text));
    }

    /// Each (secret label, channel) where a secret appears.
    fn leaks(&self, secrets: &Secrets) -> Vec<String> {
        let needles = secrets.needles();
        let mut leaks = Vec::new();
        for (channel, text) in &self.0 {
            for (label, needle) in &needles {
                if text.contains(needle.as_str()) {
                    leaks.push(format!("{label} appears in {channel}"));
                }
            }
        }
        leaks
    }
}

/// How the scenario's `POST /enroll` (with the right token) must fail.
#[derive(Clone, Copy)]
enum Api {
    /// This status and problem type (`None`: success).
    Answer(u16, Option<&'static str>),
    /// `serve` refuses to start with this exit code.
    Exits(i32),
}

struct Scenario {
    name: &'static str,
    server: ServerConfig,
    /// acme_srv.cfg keys over the defaults (Basic auth through
    /// `SECRETS_EST_PASSWORD`, the server's root as `ca_bundle`); an empty
    /// value removes a key.
    keys: Vec<(&'static str, String)>,
    /// The children's environment variables holding secrets.
    env: Vec<(&'static str, String)>,
    /// `ca-handler enroll`'s exit code.
    enroll_exit: i32,
    api: Api,
}

fn faults(faults: Faults) -> ServerConfig {
    ServerConfig {
        faults,
        ..ServerConfig::default()
    }
}

fn client_cert_server() -> ServerConfig {
    ServerConfig {
        auth: AuthMode::ClientCert,
        ..ServerConfig::default()
    }
}

/// Runs `ca-handler` with `args` and secrets in `env`: (exit code, stdout + stderr).
/// Its working directory is `dir` (where `enroll` writes `cert-bundle.pem`).
async fn ca_handler(
    dir: &Path,
    args: &[&str],
    env: &[(&'static str, String)],
) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ca-handler"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let result = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("ca-handler {args:?} did not finish in 120 s"))
        .expect("ca-handler runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    (result.status.code(), text)
}

/// One API answer: (status, problem type, the whole answer as text).
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: String,
) -> (u16, Option<String>, String) {
    let exchange = async {
        let answer = common::http(addr, method, path, token, body).await;
        let kind = serde_json::from_slice::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|d| d["type"].as_str().map(str::to_owned));
        let text = format!(
            "{}\n{:?}\n{}",
            answer.status,
            answer.headers,
            String::from_utf8_lossy(&answer.body)
        );
        (answer.status, kind, text)
    };
    tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path} got no answer in 60 s"))
}

/// `ca-handler -vv serve`, killed when dropped.
struct Serve {
    child: tokio::process::Child,
    log: PathBuf,
    addr: SocketAddr,
}

impl Serve {
    async fn start(dir: &Path, config: &Path, env: &[(&'static str, String)]) -> Self {
        let config = ["--config".to_owned(), config.display().to_string()];
        Self::start_with(dir, &config, env).await
    }

    /// `ca-handler -vv serve` with the settings arguments `settings`.
    async fn start_with(dir: &Path, settings: &[String], env: &[(&'static str, String)]) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = dir.join("serve.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ca-handler"))
            .arg("-vv")
            .arg("serve")
            .args(settings)
            .arg("--listen")
            .arg(addr.to_string())
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .expect("ca-handler serve starts");
        Self { child, log, addr }
    }

    /// Waits until it listens (`Ok`) or exits (`Err(code)`).
    async fn ready(&mut self) -> Result<(), Option<i32>> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(status.code());
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            assert!(Instant::now() < deadline, "serve did not listen in 120 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(mut self) -> String {
        let _ = self.child.kill().await;
        std::fs::read_to_string(&self.log).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_failure_shows_a_secret_on_any_channel() {
    let venv = venv().await;
    let mut secrets = Secrets::new();
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // The CSR, and its key (which the handler never sees, but which must
    // not show either).
    let csr_key = KeyType::EcdsaP256.generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["secrets.example.test".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "secrets.example.test");
    let csr = params.serialize_request(&csr_key).unwrap();
    let csr_pem = csr.pem().unwrap();
    let csr_b64url = Base64UrlUnpadded::encode_string(csr.der());
    let csr_path = dir.join("req.pem");
    std::fs::write(&csr_path, &csr_pem).unwrap();
    secrets
        .keys
        .push(("the CSR's private key".into(), csr_key.serialize_pem()));

    let stranger = Ca::new("Stranger", KeyType::EcdsaP256).unwrap();
    let (stranger_cert, stranger_key) = stranger.client_identity("intruder").unwrap();
    secrets
        .keys
        .push(("the refused client key".into(), stranger_key.clone()));

    let scenarios = vec![
        Scenario {
            name: "wrong-est-password",
            server: ServerConfig::default(),
            keys: vec![],
            env: vec![("SECRETS_EST_PASSWORD", secrets.est_password_wrong.clone())],
            enroll_exit: 4,
            api: Api::Answer(502, Some("unauthorized")),
        },
        Scenario {
            name: "wrong-api-token",
            server: ServerConfig::default(),
            keys: vec![],
            env: vec![],
            enroll_exit: 0,
            api: Api::Answer(200, None),
        },
        Scenario {
            name: "wrong-pkcs12-passphrase",
            server: client_cert_server(),
            keys: vec![
                ("est_user", String::new()),
                ("est_password_variable", String::new()),
                ("est_client_cert", "CLIENT_P12".into()),
                ("cert_passphrase_variable", "SECRETS_P12_PASS".into()),
            ],
            env: vec![("SECRETS_P12_PASS", secrets.p12_pass_wrong.clone())],
            enroll_exit: 3,
            api: Api::Exits(3),
        },
        Scenario {
            name: "untrusted-est-server",
            server: ServerConfig::default(),
            keys: vec![("ca_bundle", String::new())],
            env: vec![],
            enroll_exit: 7,
            api: Api::Answer(502, Some("transport")),
        },
        Scenario {
            name: "refused-client-certificate",
            server: client_cert_server(),
            keys: vec![
                ("est_user", String::new()),
                ("est_password_variable", String::new()),
                ("est_client_cert", "STRANGER_CERT".into()),
                ("est_client_key", "STRANGER_KEY".into()),
            ],
            env: vec![],
            enroll_exit: 7,
            api: Api::Answer(502, Some("transport")),
        },
        Scenario {
            name: "ca-error-500",
            server: faults(Faults {
                status: Some((500, "the CA is out of order".into())),
                ..Faults::default()
            }),
            keys: vec![],
            env: vec![],
            enroll_exit: 8,
            api: Api::Answer(502, Some("server-error")),
        },
        Scenario {
            name: "garbage-answer",
            server: faults(Faults {
                body: Some(BodyFault::Garbage),
                ..Faults::default()
            }),
            keys: vec![],
            env: vec![],
            enroll_exit: 8,
            api: Api::Answer(502, Some("malformed-answer")),
        },
        Scenario {
            name: "truncated-answer",
            server: faults(Faults {
                body: Some(BodyFault::Truncated),
                ..Faults::default()
            }),
            keys: vec![],
            env: vec![],
            enroll_exit: 8,
            api: Api::Answer(502, Some("malformed-answer")),
        },
        Scenario {
            name: "wrong-content-type",
            server: faults(Faults {
                wrong_content_type: true,
                ..Faults::default()
            }),
            keys: vec![],
            env: vec![],
            enroll_exit: 8,
            api: Api::Answer(502, Some("malformed-answer")),
        },
        Scenario {
            name: "timeout",
            server: faults(Faults {
                delay: Some(Duration::from_secs(3)),
                ..Faults::default()
            }),
            keys: vec![("request_timeout", "1".into())],
            env: vec![],
            enroll_exit: 7,
            api: Api::Answer(504, Some("timeout")),
        },
        Scenario {
            name: "connection-refused",
            server: ServerConfig::default(),
            keys: vec![("est_host", "REFUSED".into())],
            env: vec![],
            enroll_exit: 7,
            api: Api::Answer(502, Some("transport")),
        },
    ];

    let mut transcript = Transcript::default();
    let poll_body = serde_json::json!({
        "cert_name": "c",
        "poll_identifier": format!("sha256:{}", "0".repeat(64)),
        "csr": csr_pem,
    })
    .to_string();
    for scenario in scenarios {
        let name = scenario.name;
        let started = Instant::now();
        let server = EstServer::start(ServerConfig {
            password: secrets.est_password.clone(),
            ..scenario.server
        })
        .await
        .unwrap();
        let work = dir.join(name);
        std::fs::create_dir_all(&work).unwrap();
        let anchor = work.join("root.pem");
        std::fs::write(&anchor, server.trust_anchor_pem()).unwrap();
        let (client_cert, client_key) = server.client_identity("secrets-client").unwrap();
        if !secrets.keys.iter().any(|(_, pem)| *pem == client_key) {
            secrets
                .keys
                .push((format!("the client key ({name})"), client_key.clone()));
        }
        let file = |file: &str, contents: &[u8]| {
            let path = work.join(file);
            std::fs::write(&path, contents).unwrap();
            path.display().to_string()
        };
        let mut keys: Vec<(&str, String)> = vec![
            ("est_host", server.https_url()),
            ("est_user", "estuser".into()),
            ("est_password_variable", "SECRETS_EST_PASSWORD".into()),
            ("ca_bundle", anchor.display().to_string()),
            ("request_timeout", "5".into()),
            ("api_token_variable", "SECRETS_API_TOKEN".into()),
        ];
        for (key, value) in &scenario.keys {
            let value = match value.as_str() {
                "CLIENT_P12" => file(
                    "client.p12",
                    &pkcs12(&client_cert, &client_key, &secrets.p12_pass),
                ),
                "STRANGER_CERT" => file("stranger.pem", stranger_cert.as_bytes()),
                "STRANGER_KEY" => file("stranger.key", stranger_key.as_bytes()),
                "REFUSED" => format!("https://127.0.0.1:{}", free_port()),
                _ => value.clone(),
            };
            keys.retain(|(k, _)| k != key);
            if !value.is_empty() {
                keys.push((key, value));
            }
        }
        let mut cfg = String::from("[DEFAULT]\ndebug: True\n\n[CAhandler]\n");
        for (key, value) in &keys {
            cfg.push_str(&format!("{key}: {value}\n"));
        }
        let config = work.join("acme_srv.cfg");
        std::fs::write(&config, cfg).unwrap();
        let config = config.display().to_string();
        let csr_arg = csr_path.display().to_string();
        let mut env: Vec<(&'static str, String)> = vec![
            ("SECRETS_EST_PASSWORD", secrets.est_password.clone()),
            ("SECRETS_API_TOKEN", secrets.token.clone()),
        ];
        for (key, value) in &scenario.env {
            env.retain(|(k, _)| k != key);
            env.push((key, value.clone()));
        }

        // The CLI.
        for args in [
            vec!["-vv", "enroll", "--config", &config, "--csr", &csr_arg],
            vec!["enroll", "--config", &config, "--csr", &csr_arg, "--json"],
            vec!["-vv", "check", "--config", &config],
            vec!["-vv", "cacerts", "--config", &config],
        ] {
            let (code, text) = ca_handler(&work, &args, &env).await;
            if args.contains(&"enroll") {
                assert_eq!(
                    code,
                    Some(scenario.enroll_exit),
                    "{name}: ca-handler {args:?}:\n{text}"
                );
            }
            if args.contains(&"-vv") && scenario.enroll_exit != 3 {
                assert!(text.contains("DEBUG"), "{name}: -vv logs: {text}");
            }
            transcript.add(format!("{name}: ca-handler {}", args.join(" ")), text);
        }

        // serve: its log and every answer.
        let mut serve = Serve::start(&work, Path::new(&config), &env).await;
        match (serve.ready().await, scenario.api) {
            (Err(code), Api::Exits(expected)) => assert_eq!(code, Some(expected), "{name}"),
            (Ok(()), Api::Answer(status, kind)) => {
                let addr = serve.addr;
                let right = Some(secrets.token.as_str());
                let wrong = Some(secrets.token_wrong.as_str());
                let (got, got_kind, text) =
                    call(addr, "POST", "/enroll", right, csr_pem.clone()).await;
                assert_eq!(got, status, "{name}: {text}");
                let want = kind.map(|k| format!("urn:est-ca-handler:problem:{k}"));
                assert_eq!(got_kind, want, "{name}: {text}");
                transcript.add(format!("{name}: serve POST /enroll (token)"), text);
                let (got, _, text) = call(addr, "POST", "/enroll", wrong, csr_pem.clone()).await;
                assert_eq!(got, 401, "{name}: {text}");
                transcript.add(format!("{name}: serve POST /enroll (wrong token)"), text);
                let (got, _, text) = call(addr, "POST", "/enroll", None, csr_pem.clone()).await;
                assert_eq!(got, 401, "{name}: {text}");
                transcript.add(format!("{name}: serve POST /enroll (no token)"), text);
                for (method, path, token, body) in [
                    ("GET", "/health", None, String::new()),
                    ("GET", "/health?live=true", None, String::new()),
                    ("GET", "/health", right, String::new()),
                    ("GET", "/health?live=true", right, String::new()),
                    ("GET", "/cacerts", right, String::new()),
                    ("GET", "/cacerts", wrong, String::new()),
                    ("POST", "/poll", right, poll_body.clone()),
                    ("POST", "/revoke", right, "{}".to_owned()),
                    ("POST", "/trigger", right, "{}".to_owned()),
                ] {
                    let (_, _, text) = call(addr, method, path, token, body).await;
                    transcript.add(format!("{name}: serve {method} {path}"), text);
                }
            }
            (outcome, _) => panic!("{name}: serve: {outcome:?}\n{}", serve.stop().await),
        }

        // The acme2certifier module, against this serve (or its closed port).
        let python = venv.join("bin/python");
        let (ok, text) = output(
            Command::new(&python)
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/secrets_a2c_driver.py"))
                .arg(module_dir())
                .arg(format!("http://{}", serve.addr))
                .arg(&csr_b64url)
                .arg(&work)
                .env("ESTC_RIGHT_TOKEN", &secrets.token)
                .env("ESTC_WRONG_TOKEN", &secrets.token_wrong)
                .env("PYTHONDONTWRITEBYTECODE", "1"),
            120,
        )
        .await;
        assert!(ok, "{name}: the Python driver failed:\n{text}");
        let json_start = text.find('{').expect("the driver prints JSON");
        let doc: serde_json::Value =
            serde_json::from_str(&text[json_start..text.rfind('}').unwrap() + 1])
                .unwrap_or_else(|e| panic!("{name}: {e}: {text}"));
        for result in doc["results"].as_array().unwrap() {
            if result["call"] != "enroll" {
                continue;
            }
            let value = result["result"].as_str().unwrap();
            let issued = value.starts_with("(None, '-----BEGIN CERTIFICATE-----");
            let should_issue = result["token"] == "ESTC_RIGHT_TOKEN" && scenario.enroll_exit == 0;
            assert_eq!(issued, should_issue, "{name}: enroll: {value}");
            if !should_issue {
                assert!(
                    value.starts_with("('est-ca-handler") || value.starts_with("(\"est-ca-handler"),
                    "{name}: {value}"
                );
            }
        }
        assert!(
            text.contains("DEBUG est-secrets CAhandler.enroll()"),
            "{name}: the module's log records are captured: {text}"
        );
        transcript.add(format!("{name}: acme2certifier module"), text);

        let log = serve.stop().await;
        if matches!(scenario.api, Api::Answer(..)) {
            assert!(
                log.contains("/enroll"),
                "{name}: serve -vv logs requests: {log}"
            );
        }
        transcript.add(format!("{name}: serve -vv log"), log);
        server.shutdown().await;
        println!("{name}: {:.1} s", started.elapsed().as_secs_f64());
    }

    // The scan itself finds each kind of secret (planted in a copy).
    for (label, needle) in secrets.needles() {
        let mut planted = Transcript::default();
        planted.add("planted".into(), format!("before {needle} after"));
        assert!(
            !planted.leaks(&secrets).is_empty(),
            "the scan misses {label}"
        );
    }
    let mut planted = Transcript::default();
    planted.add(
        "planted".into(),
        secrets.keys[0]
            .1
            .replace("-----BEGIN", "x")
            .replace("KEY-----", "x"),
    );
    assert!(
        !planted.leaks(&secrets).is_empty(),
        "the scan misses a key's body"
    );

    let channels = transcript.0.len();
    let leaks = transcript.leaks(&secrets);
    assert!(
        leaks.is_empty(),
        "secrets leaked ({} findings):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    println!(
        "{channels} captured outputs, {} secret patterns: none appears",
        secrets.needles().len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scratch directory of its own for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("secrets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `--set KEY=VALUE` arguments for `pairs`.
fn set_args(pairs: &[(&str, String)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(k, v)| ["--set".to_owned(), format!("{k}={v}")])
        .collect()
}

/// A password in `est_host` is never shown, whatever it holds: not by
/// `check`, not in serve's start-up log, not in `/health` (with the token)
/// and not in the problem document the configuration error gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_est_host_never_shows() {
    let dir = scratch("est-host");
    let token = format!("ApiTok-{}", random());
    for (i, special) in ["/", "?", "#", "@", "%", "%2F"].into_iter().enumerate() {
        let password = format!("Inj{special}Pw{i}-{}", random());
        // What a parser may keep of it: the part after the special text.
        let tail = format!("Pw{i}-");
        let est_host = format!("https://user:{password}@127.0.0.1:{}", free_port());
        let pairs = [
            ("est_host", est_host.clone()),
            ("est_user", "estuser".to_owned()),
            ("est_password", "est-Password".to_owned()),
            ("api_token", token.clone()),
        ];
        let args = set_args(&pairs);
        let leaks = |channel: &str, text: &str| {
            assert!(
                !text.contains(&password) && !text.contains("Inj") && !text.contains(&tail),
                "{special}: the password shows in {channel}:\n{text}"
            );
        };

        let mut check = vec!["-vv".to_owned(), "check".to_owned()];
        check.extend(args.iter().cloned());
        let check: Vec<&str> = check.iter().map(String::as_str).collect();
        let (code, text) = ca_handler(&dir, &check, &[]).await;
        assert_eq!(code, Some(3), "{special}: check:\n{text}");
        assert!(text.contains("must not carry credentials"), "{text}");
        leaks("ca-handler check", &text);

        let mut serve = Serve::start_with(&dir, &args, &[]).await;
        serve.ready().await.expect("serve starts despite the error");
        let (status, _, health) =
            call(serve.addr, "GET", "/health", Some(&token), String::new()).await;
        assert!(health.contains("must not carry credentials"), "{health}");
        leaks("/health with the token", &health);
        let _ = status;
        let (status, kind, answer) = call(
            serve.addr,
            "POST",
            "/enroll",
            Some(&token),
            csr_pem("a.example.test"),
        )
        .await;
        assert_eq!(
            (status, kind.as_deref()),
            (500, Some("urn:est-ca-handler:problem:config")),
            "{answer}"
        );
        leaks("POST /enroll's 500", &answer);
        let log = serve.stop().await;
        assert!(log.contains("must not carry credentials"), "{log}");
        leaks("serve's log", &log);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// An EST server whose error page shows the request's headers
/// (`Authorization` among them): the credentials are taken out of its
/// words everywhere they go (the component's error, the CLI's output and
/// log, serve's problem document and log), its other words are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cas_echo_of_the_credentials_never_shows() {
    let dir = scratch("echo");
    let password = format!("EchoPw-{}", random());
    let token = format!("ApiTok-{}", random());
    let server = EstServer::start(ServerConfig {
        password: password.clone(),
        faults: Faults {
            fault: Some(est_server::EnrollFault::EchoHeaders),
            ..Faults::default()
        },
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let anchor = dir.join("root.pem");
    std::fs::write(&anchor, server.trust_anchor_pem()).unwrap();
    let basic = Base64::encode_string(format!("estuser:{password}").as_bytes());
    let needles = [
        ("the password", password.clone()),
        ("the Basic value", basic.trim_end_matches('=').to_owned()),
        ("the API token", token.clone()),
    ];
    let absent = |channel: &str, text: &str| {
        for (what, needle) in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "{what} shows in {channel}:\n{text}"
            );
        }
    };
    let check = |channel: &str, text: &str| {
        absent(channel, text);
        assert!(
            text.contains("est-server echo-headers fault") && text.contains("[redacted]"),
            "{channel} keeps the CA's other words:\n{text}"
        );
    };
    let pairs = [
        ("est_host", server.https_url()),
        ("est_user", "estuser".to_owned()),
        ("est_password_variable", "ECHO_EST_PASSWORD".to_owned()),
        ("ca_bundle", anchor.display().to_string()),
        ("api_token_variable", "ECHO_API_TOKEN".to_owned()),
    ];
    let env = [
        ("ECHO_EST_PASSWORD", password.clone()),
        ("ECHO_API_TOKEN", token.clone()),
    ];

    // The component's error, through the host.
    let settings = est_ca_host::Settings::with_env(pairs.clone(), |name| {
        env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    })
    .unwrap();
    let csr = csr_pem("echo.example.test");
    match common::host().enroll(&settings, &csr).await.unwrap() {
        Err(error @ est_ca_host::HandlerError::ServerError(_)) => {
            check("the component's error", &format!("{error:?}"));
        }
        other => panic!("{other:?}"),
    }

    // The CLI: its output and its -vv log.
    let csr_path = dir.join("req.pem");
    std::fs::write(&csr_path, &csr).unwrap();
    let mut enroll = vec!["-vv".to_owned(), "enroll".to_owned()];
    enroll.extend(set_args(&pairs));
    enroll.extend(["--csr".to_owned(), csr_path.display().to_string()]);
    let enroll: Vec<&str> = enroll.iter().map(String::as_str).collect();
    let (code, text) = ca_handler(&dir, &enroll, &env).await;
    assert_eq!(code, Some(8), "{text}");
    assert!(text.contains("DEBUG"), "-vv logs: {text}");
    check("ca-handler -vv enroll", &text);

    // serve: the problem document and the log.
    let mut serve = Serve::start_with(&dir, &set_args(&pairs), &env).await;
    serve.ready().await.unwrap();
    let (status, kind, answer) = call(serve.addr, "POST", "/enroll", Some(&token), csr).await;
    assert_eq!(
        (status, kind.as_deref()),
        (502, Some("urn:est-ca-handler:problem:server-error")),
        "{answer}"
    );
    check("serve's problem document", &answer);
    let log = serve.stop().await;
    assert!(log.contains("/enroll"), "serve -vv logs requests: {log}");
    absent("serve's log", &log);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A PEM CSR (fresh ECDSA P-256 key) for `name` as CN and SAN.
fn csr_pem(name: &str) -> String {
    common::csr_pem(name)
}
