//! End to end: the release est-ca-handler component (embedded in the host)
//! in the wasmtime host, against the local EST server over real TLS with a
//! real CA, all on 127.0.0.1.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use est_ca_host::report::verify_chain;
use est_ca_host::{
    Certificate, Enrollment, HandlerError, PemBundle, PollResult, Settings, TransportCause, pem,
};
use est_server::{
    AuthMode, BodyFault, Ca, CacertsOrder, EnrollFault, EstServer, Faults, KeyType, ServerConfig,
};
use est_test_kit::pkcs12;
use rcgen::{CertificateParams, DnType};
use std::path::PathBuf;
use std::time::Duration;

const PASSWORD: &str = "e2e-Secret-Passw0rd";

mod common;

use common::host;

/// A running server and a scratch directory for its files.
struct Lab {
    server: EstServer,
    dir: PathBuf,
}

impl Lab {
    async fn start(config: ServerConfig) -> Self {
        let server = EstServer::start(ServerConfig {
            password: PASSWORD.into(),
            ..config
        })
        .await
        .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "est-e2e-{}-{}",
            std::process::id(),
            server.https_addr().port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("root.pem"), server.trust_anchor_pem()).unwrap();
        Self { server, dir }
    }

    async fn basic() -> Self {
        Self::start(ServerConfig::default()).await
    }

    fn trust_anchor(&self) -> String {
        self.dir.join("root.pem").display().to_string()
    }

    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    /// Basic-auth settings plus `extra` (which may override).
    fn settings(&self, extra: &[(&str, &str)]) -> Settings {
        let mut pairs = vec![
            ("est_host".to_owned(), self.server.https_url()),
            ("est_user".to_owned(), "estuser".to_owned()),
            ("est_password".to_owned(), PASSWORD.to_owned()),
            ("ca_bundle".to_owned(), self.trust_anchor()),
        ];
        for (k, v) in extra {
            pairs.retain(|(key, _)| key != k);
            if !v.is_empty() {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
        Settings::from_pairs(pairs).unwrap()
    }
}

/// A CSR for `name` (CN and DNS SAN), as ACME sends it.
fn csr(name: &str) -> String {
    let key = KeyType::EcdsaP256.generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    Base64UrlUnpadded::encode_string(params.serialize_request(&key).unwrap().der())
}

async fn enroll(settings: &Settings) -> Result<Enrollment, HandlerError> {
    host()
        .enroll(settings, &csr("e2e.example.test"))
        .await
        .expect("the component runs without trapping")
}

fn issued(result: Result<Enrollment, HandlerError>) -> Certificate {
    match result {
        Ok(Enrollment::Issued(cert)) => cert,
        other => panic!("expected an issued certificate, got {other:?}"),
    }
}

fn error(result: Result<Enrollment, HandlerError>) -> HandlerError {
    match result {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn detail(error: &HandlerError) -> String {
    format!("{error:?}")
}

/// The output shape acme2certifier expects, and a chain that verifies.
fn assert_good_certificate(cert: &Certificate, lab: &Lab) {
    let bundle = PemBundle::parse(&cert.cert_bundle).unwrap();
    assert_eq!(
        Base64::decode_vec(&cert.cert_raw).unwrap(),
        bundle.leaf,
        "cert_raw is the bundle's first certificate"
    );
    assert!(!cert.cert_raw.contains(['\n', '-']));
    for line in cert.cert_bundle.lines().filter(|l| !l.starts_with("-----")) {
        assert!(line.len() <= 64, "PEM lines are at most 64 columns: {line}");
    }
    let [issuer, root] = bundle.chain.as_slice() else {
        panic!("the chain is the issuer then the root: {bundle:?}")
    };
    assert_eq!(
        *issuer,
        lab.server.ca().issuing_der(),
        "the issuer follows the certificate"
    );
    assert_eq!(*root, lab.server.ca().root_der(), "the root ends the chain");
    verify_chain(&cert.cert_bundle, &lab.server.trust_anchor_pem()).unwrap();
    openssl_verify(cert, lab);
}

/// `openssl verify` accepts the chain, read from the PEM the handler wrote.
fn openssl_verify(cert: &Certificate, lab: &Lab) {
    let pems: Vec<String> = cert
        .cert_bundle
        .split_inclusive("-----END CERTIFICATE-----\n")
        .map(str::to_owned)
        .collect();
    let (leaf, chain) = pems.split_first().expect("the bundle is not empty");
    let leaf = lab.file("leaf.pem", leaf);
    let chain = lab.file("chain.pem", chain.concat());
    common::tools::require_openssl();
    let output = std::process::Command::new("openssl")
        .args([
            "verify",
            "-CAfile",
            &lab.trust_anchor(),
            "-untrusted",
            &chain,
            &leaf,
        ])
        .output()
        .expect("openssl runs (the CI script installs it)");
    assert!(
        output.status.success(),
        "openssl verify: {}",
        String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_enrollment_gives_a_verifiable_chain() {
    let lab = Lab::basic().await;
    let cert = issued(enroll(&lab.settings(&[])).await);
    assert_good_certificate(&cert, &lab);
    let requests = lab.server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests
            .iter()
            .any(|r| r.method == "POST" && r.path == "/.well-known/est/simpleenroll")
    );
    assert!(
        requests
            .iter()
            .any(|r| r.method == "GET" && r.path == "/.well-known/est/cacerts")
    );
    assert!(
        requests
            .iter()
            .all(|r| r.had_authorization && !r.had_client_cert)
    );
    assert!(
        requests
            .iter()
            .all(|r| r.tls_version.as_deref() == Some("TLSv1_3")),
        "{requests:?}"
    );
    // Neither request is chunked: the GET has no body, the POST a Content-Length.
    assert!(
        requests.iter().all(|r| r.transfer_encoding.is_none()),
        "{requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn later_enrollments_reuse_the_hosts_connections() {
    let lab = Lab::basic().await;
    let settings = lab.settings(&[]);
    for _ in 0..3 {
        issued(enroll(&settings).await);
        // The client puts a connection back in its pool from a task of its
        // own once the answer has been read; an enrollment that starts at
        // once may find it not back yet and open another.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let requests = lab.server.requests();
    assert_eq!(requests.len(), 6, "{requests:?}");
    let mut connections: Vec<u64> = requests.iter().map(|r| r.connection).collect();
    connections.sort_unstable();
    connections.dedup();
    // Each enrollment has its two requests in flight together, so at most
    // two connections are open; later enrollments take them from the pool.
    assert!(connections.len() <= 2, "{requests:?}");
    // Settings built separately share nothing.
    issued(enroll(&lab.settings(&[])).await);
    let fresh = lab.server.requests()[6..]
        .iter()
        .filter(|r| !connections.contains(&r.connection))
        .count();
    assert_eq!(fresh, 2, "{:?}", lab.server.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_1_2_only_servers_and_rsa_cas_work() {
    let lab = Lab::start(ServerConfig {
        key_type: KeyType::Rsa2048,
        tls12_only: true,
        ..ServerConfig::default()
    })
    .await;
    let cert = issued(enroll(&lab.settings(&[])).await);
    assert_good_certificate(&cert, &lab);
    assert!(
        lab.server
            .requests()
            .iter()
            .all(|r| r.tls_version.as_deref() == Some("TLSv1_2"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pem_client_certificate() {
    let lab = Lab::start(ServerConfig {
        auth: AuthMode::ClientCert,
        ..ServerConfig::default()
    })
    .await;
    let (cert_pem, key_pem) = lab.server.client_identity("e2e-client").unwrap();
    let (cert_file, key_file) = (
        lab.file("client.pem", cert_pem),
        lab.file("client.key", key_pem),
    );
    let settings = lab.settings(&[
        ("est_user", ""),
        ("est_password", ""),
        ("est_client_cert", &cert_file),
        ("est_client_key", &key_file),
    ]);
    let cert = issued(enroll(&settings).await);
    assert_good_certificate(&cert, &lab);
    assert!(
        lab.server
            .requests()
            .iter()
            .all(|r| r.had_client_cert && !r.had_authorization)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pkcs12_client_certificate_with_passphrase_variable() {
    let lab = Lab::start(ServerConfig {
        auth: AuthMode::ClientCert,
        ..ServerConfig::default()
    })
    .await;
    let (cert_pem, key_pem) = lab.server.client_identity("e2e-p12").unwrap();
    let p12 = lab.file("client.p12", pkcs12(&cert_pem, &key_pem, "p12-Passphrase"));
    let pairs = [
        ("est_host", lab.server.https_url()),
        ("ca_bundle", lab.trust_anchor()),
        ("est_client_cert", p12.clone()),
        ("cert_passphrase_variable", "E2E_P12_PASS".to_owned()),
    ];
    let settings = Settings::with_env(pairs, |name| {
        (name == "E2E_P12_PASS").then(|| "p12-Passphrase".to_owned())
    })
    .unwrap();
    let cert = issued(enroll(&settings).await);
    assert_good_certificate(&cert, &lab);
    assert!(lab.server.requests().iter().all(|r| r.had_client_cert));

    // A wrong passphrase is a clear host-side configuration error that never shows the passphrase.
    let pairs = [
        ("est_host", lab.server.https_url()),
        ("ca_bundle", lab.trust_anchor()),
        ("est_client_cert", p12),
        ("cert_passphrase", "not-the-Passphrase".to_owned()),
    ];
    let err = Settings::from_pairs(pairs)
        .err()
        .expect("a wrong passphrase is refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("PKCS#12") && text.contains("cert_passphrase"),
        "{text}"
    );
    assert!(!text.contains("not-the-Passphrase"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn variables_fill_in_and_direct_values_win() {
    let lab = Lab::basic().await;
    let env = |name: &str| match name {
        "E2E_HOST" => Some(lab.server.https_url()),
        "E2E_USER" => Some("estuser".to_owned()),
        "E2E_GOOD" => Some(PASSWORD.to_owned()),
        "E2E_BAD" => Some("wrong-from-variable".to_owned()),
        _ => None,
    };
    let base = |password: (&str, &str)| {
        let pairs = vec![
            ("est_host_variable".to_owned(), "E2E_HOST".to_owned()),
            ("est_user_variable".to_owned(), "E2E_USER".to_owned()),
            ("ca_bundle".to_owned(), lab.trust_anchor()),
            (password.0.to_owned(), password.1.to_owned()),
        ];
        pairs
    };
    // Everything through variables.
    let settings = Settings::with_env(base(("est_password_variable", "E2E_GOOD")), env).unwrap();
    issued(enroll(&settings).await);
    // The direct password wins over a variable holding a wrong one...
    let mut pairs = base(("est_password_variable", "E2E_BAD"));
    pairs.push(("est_password".into(), PASSWORD.into()));
    issued(enroll(&Settings::with_env(pairs, env).unwrap()).await);
    // ...and a wrong direct password wins over a right variable.
    let mut pairs = base(("est_password_variable", "E2E_GOOD"));
    pairs.push(("est_password".into(), "wrong-direct".into()));
    let err = error(enroll(&Settings::with_env(pairs, env).unwrap()).await);
    assert!(matches!(err, HandlerError::Unauthorized(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_unauthorized_with_the_servers_words() {
    let lab = Lab::basic().await;
    let err = error(enroll(&lab.settings(&[("est_password", "not-the-password")])).await);
    let HandlerError::Unauthorized(failure) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(failure.status, 401);
    assert!(
        failure
            .detail
            .contains("could not verify that you are authorized"),
        "{}",
        failure.detail
    );
    assert!(!detail(&err).contains("not-the-password"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_server_certificate_is_a_tls_trust_error() {
    let lab = Lab::basic().await;
    // No ca_bundle: the host's public roots do not know the local CA.
    let err = error(enroll(&lab.settings(&[("ca_bundle", "")])).await);
    let HandlerError::Transport(failure) = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(failure.cause, TransportCause::TlsUntrusted),
        "{err:?}"
    );
    assert!(
        failure.detail.contains("TLS certificate error"),
        "{}",
        failure.detail
    );
    // Trusting another CA is no better.
    let other = Ca::new("Other", KeyType::EcdsaP256).unwrap();
    let other_root = lab.file("other-root.pem", other.root_pem());
    let err = error(enroll(&lab.settings(&[("ca_bundle", &other_root)])).await);
    assert!(detail(&err).contains("TLS certificate error"), "{err:?}");
    assert!(
        matches!(&err, HandlerError::Transport(f) if matches!(f.cause, TransportCause::TlsUntrusted)),
        "{err:?}"
    );
    assert!(
        est_ca_host::report::explain(&err).contains("set ca_bundle to its CA"),
        "{}",
        est_ca_host::report::explain(&err)
    );
    assert!(
        lab.server.requests().is_empty(),
        "nothing reached the server"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ca_bundle_false_works_but_is_warned_about() {
    let lab = Lab::basic().await;
    let settings = lab.settings(&[("ca_bundle", "False")]);
    issued(enroll(&settings).await);
    let warnings = host().handler_check(&settings).await.unwrap().unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("not verified")),
        "{warnings:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_certificate_the_server_does_not_trust_is_a_clear_error() {
    let lab = Lab::start(ServerConfig {
        auth: AuthMode::ClientCert,
        ..ServerConfig::default()
    })
    .await;
    let stranger = Ca::new("Stranger", KeyType::EcdsaP256).unwrap();
    let (cert_pem, key_pem) = stranger.client_identity("intruder").unwrap();
    let settings = lab.settings(&[
        ("est_user", ""),
        ("est_password", ""),
        ("est_client_cert", &lab.file("stranger.pem", cert_pem)),
        ("est_client_key", &lab.file("stranger.key", key_pem)),
    ]);
    let err = error(enroll(&settings).await);
    let HandlerError::Transport(failure) = &err else {
        panic!("{err:?}")
    };
    // A client certificate from a CA the server does not know: unknown_ca (RFC 8446 §6.2).
    assert!(
        matches!(failure.cause, TransportCause::TlsAlert(Some(48))),
        "{err:?}"
    );
    assert!(failure.detail.contains("TLS alert"), "{}", failure.detail);
    let explained = est_ca_host::report::explain(&err);
    assert!(
        explained.contains("(alert 48, unknown_ca): check est_client_cert/est_client_key"),
        "{explained}"
    );
    assert!(lab.server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_twice_then_issued_through_poll() {
    let lab = Lab::start(ServerConfig {
        faults: Faults {
            pending_times: 2,
            retry_after: Some("7".into()),
            ..Faults::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let settings = lab.settings(&[]);
    let request = csr("pending.example.test");
    let pending = match host().enroll(&settings, &request).await.unwrap() {
        Ok(Enrollment::Pending(p)) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(pending.retry_after_seconds, 7);
    let id = pending.poll_identifier;
    match host()
        .poll(&settings, "cert-1", &id, &request)
        .await
        .unwrap()
    {
        Ok(PollResult::Pending(p)) => assert_eq!(
            (p.retry_after_seconds, p.poll_identifier.as_str()),
            (7, id.as_str())
        ),
        other => panic!("{other:?}"),
    }
    match host()
        .poll(&settings, "cert-1", &id, &request)
        .await
        .unwrap()
    {
        Ok(PollResult::Issued(cert)) => assert_good_certificate(&cert, &lab),
        other => panic!("{other:?}"),
    }
    let posts = lab
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 3, "poll repeats the enrollment request");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_poll_says_so() {
    let lab = Lab::start(ServerConfig {
        faults: Faults {
            status: Some((400, "policy says no".into())),
            ..Faults::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let request = csr("rejected.example.test");
    let id = format!(
        "sha256:{}",
        sha256_hex(&Base64UrlUnpadded::decode_vec(&request).unwrap())
    );
    match host()
        .poll(&lab.settings(&[]), "c", &id, &request)
        .await
        .unwrap()
    {
        Ok(PollResult::Rejected(reason)) => assert!(reason.contains("policy says no"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs one enrollment against a server with `faults`.
async fn with_faults(
    faults: Faults,
    extra: &[(&str, &str)],
) -> (Result<Enrollment, HandlerError>, Lab) {
    let lab = Lab::start(ServerConfig {
        faults,
        ..ServerConfig::default()
    })
    .await;
    let result = enroll(&lab.settings(extra)).await;
    (result, lab)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_knob_gives_its_typed_error() {
    for (status, kind) in [
        (401, "Unauthorized"),
        (403, "Unauthorized"),
        (404, "Rejected"),
        (500, "ServerError"),
        (503, "ServerError"),
    ] {
        let text = format!("knob says {status}");
        let (result, _) = with_faults(
            Faults {
                status: Some((status, text.clone())),
                ..Faults::default()
            },
            &[],
        )
        .await;
        let err = error(result);
        let shown = detail(&err);
        assert!(shown.contains(&format!("::{kind}(")), "{status}: {shown}");
        assert!(
            shown.contains(&format!("status: {status}")) && shown.contains(&text),
            "{shown}"
        );
    }
    /// Faults, extra settings, expected error kind, expected text.
    type Case = (
        Faults,
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            Faults {
                body: Some(BodyFault::Garbage),
                ..Faults::default()
            },
            &[],
            "MalformedAnswer",
            "not a PKCS#7",
        ),
        (
            Faults {
                body: Some(BodyFault::Truncated),
                ..Faults::default()
            },
            &[],
            "MalformedAnswer",
            "/simpleenroll",
        ),
        (
            Faults {
                body: Some(BodyFault::Oversized),
                ..Faults::default()
            },
            &[],
            "MalformedAnswer",
            "larger than 1048576 bytes",
        ),
        (
            Faults {
                wrong_content_type: true,
                ..Faults::default()
            },
            &[],
            "MalformedAnswer",
            "text/html",
        ),
        (
            Faults {
                other_key: true,
                ..Faults::default()
            },
            &[],
            "CertificateMismatch",
            "CSR's public key",
        ),
        (
            Faults {
                delay: Some(Duration::from_secs(3)),
                ..Faults::default()
            },
            &[("request_timeout", "1")],
            "Transport",
            "TransportCause::Timeout",
        ),
    ];
    for (faults, extra, kind, text) in cases {
        let label = format!("{faults:?}");
        let (result, _) = with_faults(faults, extra).await;
        let shown = detail(&error(result));
        assert!(
            shown.contains(&format!("::{kind}(")) && shown.contains(text),
            "{label}: {shown}"
        );
    }
}

/// A CSR with a CN and two more names, as ACME orders them.
fn csr_with_sans() -> String {
    let key = KeyType::EcdsaP256.generate().unwrap();
    let names = ["names.example.test", "www.names.example.test", "192.0.2.44"];
    let mut params = CertificateParams::new(names.map(String::from).to_vec()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "names.example.test");
    Base64UrlUnpadded::encode_string(params.serialize_request(&key).unwrap().der())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_missing_requested_names_is_warned_about_or_refused() {
    let lab = Lab::start(ServerConfig {
        faults: Faults {
            drop_sans: true,
            ..Faults::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let lacking = "lacks 2 name(s) the CSR asked for: www.names.example.test, 192.0.2.44";
    let enroll_with = async |extra: &[(&str, &str)]| {
        host()
            .enroll(&lab.settings(extra), &csr_with_sans())
            .await
            .unwrap()
    };

    // Default (warn): the certificate comes back, with the warning.
    let cert = issued(enroll_with(&[]).await);
    assert_eq!(PemBundle::parse(&cert.cert_bundle).unwrap().len(), 3);
    assert_eq!(cert.warnings.len(), 1, "{:?}", cert.warnings);
    assert!(cert.warnings[0].contains(lacking), "{:?}", cert.warnings);

    let err = error(enroll_with(&[("est_names_check", "error")]).await);
    let HandlerError::CertificateMismatch(text) = &err else {
        panic!("{err:?}")
    };
    assert!(text.contains(lacking), "{text}");
    assert!(text.contains("serial"), "{text}");

    let cert = issued(enroll_with(&[("est_names_check", "off")]).await);
    assert!(cert.warnings.is_empty(), "{:?}", cert.warnings);

    // A server that keeps the SANs satisfies even the strict mode.
    lab.server.set_faults(Faults::default());
    let cert = issued(enroll_with(&[("est_names_check", "error")]).await);
    assert!(cert.warnings.is_empty(), "{:?}", cert.warnings);
}

#[tokio::test(flavor = "multi_thread")]
async fn cacerts_order_and_extra_certificates_do_not_disturb_the_chain() {
    for order in [
        CacertsOrder::RootFirst,
        CacertsOrder::IssuerFirst,
        CacertsOrder::Canonical,
    ] {
        for extra in [false, true] {
            let faults = Faults {
                cacerts_order: order,
                cacerts_extra: extra,
                ..Faults::default()
            };
            let (result, lab) = with_faults(faults, &[]).await;
            assert_good_certificate(&issued(result), &lab);
            let listed = host().ca_certs(&lab.settings(&[])).await.unwrap().unwrap();
            assert_eq!(listed.len(), if extra { 3 } else { 2 }, "{order:?}");
            if order == CacertsOrder::RootFirst {
                let first = listed.first().expect("certificates are listed");
                assert_eq!(
                    pem::certificate(first).unwrap(),
                    lab.server.ca().root_der(),
                    "server order kept"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_label_goes_into_every_path() {
    let lab = Lab::basic().await;
    issued(enroll(&lab.settings(&[("est_label", "tenant-7")])).await);
    let requests = lab.server.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.path.starts_with("/.well-known/est/tenant-7/")),
        "{requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_needs_the_opt_in() {
    let lab = Lab::start(ServerConfig {
        http_port: Some(0),
        ..ServerConfig::default()
    })
    .await;
    let url = lab.server.http_url().unwrap();
    let err = error(enroll(&lab.settings(&[("est_host", &url)])).await);
    assert!(
        matches!(err, HandlerError::Config(ref t) if t.contains("plain http://")),
        "{err:?}"
    );
    let settings = lab.settings(&[("est_host", &url), ("est_insecure_http", "True")]);
    issued(enroll(&settings).await);
    assert!(
        lab.server
            .requests()
            .iter()
            .all(|r| r.tls_version.is_none())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_servers_are_transport_errors() {
    let lab = Lab::basic().await;
    let port = lab.server.https_addr().port();
    let trust_anchor = lab.trust_anchor();
    lab.server.shutdown().await;
    let settings = Settings::from_pairs([
        ("est_host", format!("https://localhost:{port}")),
        ("est_user", "estuser".into()),
        ("est_password", PASSWORD.into()),
        ("ca_bundle", trust_anchor),
    ])
    .unwrap();
    let err = error(enroll(&settings).await);
    assert!(
        matches!(&err, HandlerError::Transport(t)
            if matches!(t.cause, TransportCause::ConnectionRefused) && t.detail.contains("connection refused")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_reset_mid_answer_is_its_own_cause() {
    let (result, lab) = with_faults(
        Faults {
            fault: Some(EnrollFault::Reset),
            ..Faults::default()
        },
        &[],
    )
    .await;
    let err = error(result);
    let HandlerError::Transport(failure) = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(failure.cause, TransportCause::ConnectionReset),
        "{err:?}"
    );
    // The host's error code, not its debug text (which can hold a backtrace).
    assert!(
        failure.detail.starts_with("/simpleenroll: ") && !failure.detail.contains("backtrace"),
        "{}",
        failure.detail
    );
    let explained = est_ca_host::report::explain(&err);
    assert!(
        explained.contains("the server closed the connection"),
        "{explained}"
    );
    assert!(
        lab.server
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/simpleenroll")),
        "the enrollment reached the server"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_handshake_that_never_completes_times_out() {
    let lab = Lab::start(ServerConfig {
        tls_stall_port: Some(0),
        ..ServerConfig::default()
    })
    .await;
    let url = lab
        .server
        .tls_stall_url()
        .expect("the stalling port listens");
    let err = error(enroll(&lab.settings(&[("est_host", &url), ("request_timeout", "1")])).await);
    let HandlerError::Transport(failure) = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(failure.cause, TransportCause::Timeout), "{err:?}");
    let explained = est_ca_host::report::explain(&err);
    assert!(
        explained.starts_with("the EST server did not answer in time")
            && explained.ends_with("see request_timeout"),
        "{explained}"
    );
    assert!(lab.server.stalled_handshakes() >= 1);
    assert!(lab.server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn config_errors_arrive_before_any_request() {
    let lab = Lab::basic().await;
    let settings = lab.settings(&[("est_password", "")]);
    let err = error(enroll(&settings).await);
    assert!(
        matches!(&err, HandlerError::Config(t) if t.contains("\"est_user\" or \"est_password\"")),
        "{err:?}"
    );
    let checked = host().handler_check(&settings).await.unwrap();
    assert!(matches!(checked, Err(HandlerError::Config(_))));
    assert!(lab.server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn revoke_and_trigger_answer_not_supported() {
    let lab = Lab::basic().await;
    let settings = lab.settings(&[]);
    let err = host()
        .revoke(&settings, "cert", "unspecified", "2026-01-01T00:00:00Z")
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str(), err.detail.as_str()),
        (
            500,
            "urn:ietf:params:acme:error:serverInternal",
            "Revocation is not supported."
        )
    );
    let err = host()
        .trigger(&settings, "payload")
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, HandlerError::NotSupported(ref t) if t == "Method not implemented."));
}

/// A CSR with an empty subject and the DNS SAN `name`.
fn csr_without_cn(name: &str) -> String {
    let key = KeyType::EcdsaP256.generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    Base64UrlUnpadded::encode_string(params.serialize_request(&key).unwrap().der())
}

/// Servers seen in the field: errors without a Content-Type, a 202 whose
/// body ends at the close of the connection, and enrollments refused
/// without a final newline, without `Content-Transfer-Encoding: base64` or
/// without a CN in the CSR.
#[tokio::test(flavor = "multi_thread")]
async fn servers_that_frame_and_check_their_own_way_are_met() {
    let strict = Faults {
        untyped_errors: true,
        pending_until_close: true,
        require_final_newline: true,
        require_base64_header: true,
        require_cn: true,
        ..Faults::default()
    };
    let lab = Lab::start(ServerConfig {
        faults: strict.clone(),
        ..ServerConfig::default()
    })
    .await;
    let settings = lab.settings(&[]);
    // What the component sends passes every check of the strict server.
    let cert = issued(enroll(&settings).await);
    assert_good_certificate(&cert, &lab);
    // A CSR without a CN: the server's 400, without a Content-Type, arrives
    // with the server's words.
    let refused = host()
        .enroll(&settings, &csr_without_cn("no-cn.example.test"))
        .await
        .unwrap();
    let shown = detail(&error(refused));
    assert!(
        shown.contains("::Rejected(") && shown.contains("status: 400"),
        "{shown}"
    );
    assert!(shown.contains("no common name (CN)"), "{shown}");

    // A 202 without Content-Length, then the certificate through poll.
    lab.server.set_faults(Faults {
        pending_times: 1,
        retry_after: Some("3".into()),
        ..strict.clone()
    });
    let request = csr("close-delimited.example.test");
    let pending = match host().enroll(&settings, &request).await.unwrap() {
        Ok(Enrollment::Pending(p)) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(pending.retry_after_seconds, 3);
    match host()
        .poll(&settings, "cert-1", &pending.poll_identifier, &request)
        .await
        .unwrap()
    {
        Ok(PollResult::Issued(cert)) => assert_good_certificate(&cert, &lab),
        other => panic!("{other:?}"),
    }

    // Errors without a Content-Type keep their kind and the server's words.
    for (status, kind) in [(401, "Unauthorized"), (500, "ServerError")] {
        let text = format!("untyped {status}");
        lab.server.set_faults(Faults {
            status: Some((status, text.clone())),
            ..strict.clone()
        });
        let shown = detail(&error(enroll(&settings).await));
        assert!(shown.contains(&format!("::{kind}(")), "{status}: {shown}");
        assert!(
            shown.contains(&format!("status: {status}")) && shown.contains(&text),
            "{shown}"
        );
    }
}

/// `/simpleenroll` answers at once, `/cacerts` never: the certificate the
/// CA issued comes back (with the chain it came with: none here) and a
/// warning naming `/cacerts`, within the call's deadline, with no second
/// `/cacerts` started that could not finish in time.
#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_issued_while_cacerts_stalls_comes_back_with_a_warning() {
    let lab = Lab::start(ServerConfig {
        faults: Faults {
            stall_cacerts: true,
            ..Faults::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let settings = lab.settings(&[("request_timeout", "2")]);
    let cert = issued(enroll(&settings).await);
    let bundle = PemBundle::parse(&cert.cert_bundle).unwrap();
    assert!(bundle.chain.is_empty(), "{bundle:?}");
    assert_eq!(Base64::decode_vec(&cert.cert_raw).unwrap(), bundle.leaf);
    let leaf = est_ca_host::report::Summary::of(&bundle.leaf).unwrap();
    assert_eq!(leaf.subject, "CN=e2e.example.test");
    assert_eq!(cert.warnings.len(), 1, "{:?}", cert.warnings);
    let warning = &cert.warnings[0];
    assert!(
        warning.contains("/cacerts failed (timeout: /cacerts:")
            && warning.contains("0 chain certificate(s)"),
        "{warning}"
    );
    assert!(!warning.contains("/simpleenroll:"), "{warning}");
    let paths: Vec<String> = lab.server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths.iter().filter(|p| p.ends_with("/cacerts")).count(),
        1,
        "{paths:?}"
    );
}
