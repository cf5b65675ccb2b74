//! The Python package (`crates/python`, `est_ca_handler`): `pip install`ed
//! from the checkout into a virtualenv, its pytest suite run against local
//! EST servers (Basic auth, TLS client certificates, pending, refusing,
//! slow), and certbot → acme2certifier (PyPI, under waitress) →
//! `est_ca_handler.acme2certifier` in-process → the EST server over TLS,
//! all on 127.0.0.1.
//!
//! The wheel is built with cargo's dev profile here, sharing the
//! dependencies this test command has already compiled; the package's own
//! default (pyproject.toml) is the optimised release profile.

use der::Decode;
use est_server::{AuthMode, EstServer, Faults, ServerConfig};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::Command;
use tokio::sync::OnceCell;

mod common;

use common::python::{Acme, certbot, get_status, module_dir, project, run, venv_with};
use common::{PASSWORD, free_port};

const REJECT_TEXT: &str = "policy says no: this name is not ours";
const P12_PASSPHRASE: &str = "p12-Passphrase-py";

/// The virtualenv with acme2certifier, certbot, waitress, pytest and the
/// package as `pip install ./crates/python` builds it, made once per run.
async fn package_venv() -> &'static Path {
    static VENV: OnceCell<PathBuf> = OnceCell::const_new();
    VENV.get_or_init(async || {
        let venv = venv_with(
            "python-package-venv",
            &[
                module_dir().join("requirements-test.txt"),
                project().join("crates/python/tests/requirements.txt"),
            ],
        )
        .await;
        let mut pip = Command::new(venv.join("bin/python"));
        pip.args(["-m", "pip", "install", "--disable-pip-version-check"])
            .args(["--force-reinstall", "--no-deps"])
            .arg(project().join("crates/python"))
            .env("MATURIN_PEP517_ARGS", "--profile dev");
        // What cargo set for this test is not the nested build's: build
        // scripts that watch these variables (ring's) would be rerun, and
        // then again by the next cargo test.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let set_by_cargo = name == "OUT_DIR"
                || [
                    "CARGO_MANIFEST_",
                    "CARGO_PKG_",
                    "CARGO_CRATE_",
                    "CARGO_BIN_",
                    "CARGO_PRIMARY_",
                    "CARGO_TARGET_TMPDIR",
                ]
                .iter()
                .any(|prefix| name.starts_with(prefix));
            if set_by_cargo {
                pip.env_remove(&*name);
            }
        }
        let kept = KeptFiles::keep();
        let started = Instant::now();
        run(&mut pip, 3000).await;
        kept.restore();
        println!(
            "pip install ./crates/python (dev profile) took {:.1} s",
            started.elapsed().as_secs_f64()
        );
        venv
    })
    .await
}

/// The component crate's build outputs in `target/debug/deps` whose names
/// carry no hash (it is a `cdylib` as well as an `rlib`, so cargo leaves the
/// hash out): the wheel's build, whose dependency features differ from the
/// test command's, overwrites them, and the test command's later steps (the
/// doctests) would then find an `est_ca_handler` they were not built
/// against. They are put back, times included, after the wheel's build.
struct KeptFiles(Vec<(PathBuf, Vec<u8>, std::time::SystemTime)>);

impl KeptFiles {
    const NAMES: &[&str] = &[
        "libest_ca_handler.rlib",
        "libest_ca_handler.so",
        "est_ca_handler.d",
    ];

    fn keep() -> Self {
        let deps = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("debug/deps");
        Self(
            Self::NAMES
                .iter()
                .filter_map(|name| {
                    let path = deps.join(name);
                    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
                    Some((path.clone(), std::fs::read(&path).ok()?, modified))
                })
                .collect(),
        )
    }

    fn restore(self) {
        for (path, bytes, modified) in self.0 {
            std::fs::write(&path, bytes).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(modified)
                .unwrap();
        }
    }
}

/// A local EST server and its root certificate, in a file.
struct Est {
    server: EstServer,
    root: PathBuf,
}

impl Est {
    async fn start(dir: &Path, name: &str, auth: AuthMode, faults: Faults) -> Self {
        let server = EstServer::start(ServerConfig {
            password: PASSWORD.into(),
            auth,
            faults,
            ..ServerConfig::default()
        })
        .await
        .unwrap();
        let root = dir.join(format!("{name}-root.pem"));
        std::fs::write(&root, server.trust_anchor_pem()).unwrap();
        Self { server, root }
    }

    fn url(&self) -> String {
        self.server.https_url()
    }

    fn enrollments(&self) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/simpleenroll"))
            .count()
    }
}

/// A client identity the server `est` trusts, as PEM files and as a
/// PKCS#12 file under [`P12_PASSPHRASE`]: (cert, key, p12).
fn client_identity(est: &Est, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (cert_pem, key_pem) = est.server.client_identity("python-client").unwrap();
    let p12 = est_test_kit::pkcs12(&cert_pem, &key_pem, P12_PASSPHRASE);
    let paths = (
        dir.join("client.pem"),
        dir.join("client.key"),
        dir.join("client.p12"),
    );
    std::fs::write(&paths.0, cert_pem).unwrap();
    std::fs::write(&paths.1, key_pem).unwrap();
    std::fs::write(&paths.2, p12).unwrap();
    (paths.0, paths.1, paths.2)
}

/// A fresh directory under cargo's target directory.
fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_packages_pytest_suite() {
    let dir = work_dir("py-pytest");
    let venv = package_venv().await;
    let basic = Est::start(&dir, "basic", AuthMode::Basic, Faults::default()).await;
    let pending = Est::start(
        &dir,
        "pending",
        AuthMode::Basic,
        Faults {
            pending_times: 1,
            retry_after: Some("1".into()),
            ..Faults::default()
        },
    )
    .await;
    let reject = Est::start(
        &dir,
        "reject",
        AuthMode::Basic,
        Faults {
            status: Some((400, REJECT_TEXT.into())),
            ..Faults::default()
        },
    )
    .await;
    let slow = Est::start(
        &dir,
        "slow",
        AuthMode::Basic,
        Faults {
            delay: Some(Duration::from_secs(1)),
            ..Faults::default()
        },
    )
    .await;
    let tls = Est::start(&dir, "tls", AuthMode::ClientCert, Faults::default()).await;
    let (cert, key, p12) = client_identity(&tls, &dir);
    let down = format!("https://127.0.0.1:{}", free_port());

    let mut pytest = Command::new(venv.join("bin/python"));
    pytest
        .args(["-m", "pytest", "-v", "-p", "no:cacheprovider"])
        .arg(project().join("crates/python/tests"))
        .current_dir(&dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("ESTPY_PASSWORD", PASSWORD)
        .env("ESTPY_REJECT_TEXT", REJECT_TEXT)
        .env("ESTPY_DOWN_URL", &down)
        .env("ESTPY_CLIENT_CERT", &cert)
        .env("ESTPY_CLIENT_KEY", &key)
        .env("ESTPY_CLIENT_P12", &p12)
        .env("ESTPY_P12_PASSPHRASE", P12_PASSPHRASE);
    for (name, est) in [
        ("BASIC", &basic),
        ("PENDING", &pending),
        ("REJECT", &reject),
        ("SLOW", &slow),
        ("TLS", &tls),
    ] {
        pytest
            .env(format!("ESTPY_{name}_URL"), est.url())
            .env(format!("ESTPY_{name}_CA"), &est.root);
    }
    let text = run(&mut pytest, 1200).await;
    println!("{text}");
    assert!(
        !text.contains(" skipped") && text.contains(" passed"),
        "every test ran:\n{text}"
    );
    // 8 threads x 32 enrollments and the rest reached the Basic server.
    assert!(basic.enrollments() >= 256, "{}", basic.enrollments());
    assert!(pending.enrollments() >= 2, "enrolled, then polled");
    assert!(
        tls.enrollments() >= 2,
        "with the PEM and the PKCS#12 identity"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `[CAhandler]` section for `est_ca_handler.acme2certifier` with
/// `keys` (the password comes from `EST_PASSWORD`, set in the
/// environment of acme2certifier).
fn cahandler(section: &str, keys: &[(&str, String)]) -> String {
    let mut text = format!("[{section}]\nhandler_module: est_ca_handler.acme2certifier\n");
    for (key, value) in keys {
        text.push_str(&format!("{key}: {value}\n"));
    }
    text + "\n"
}

/// A CSR (PEM file under `dir`) for `names`, the first also the CN, and
/// the key it certifies.
fn csr_file(dir: &Path, names: &[&str]) -> (PathBuf, rcgen::CertificateSigningRequest) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    let csr = params.serialize_request(&key).unwrap();
    let path = dir.join(format!("{}.csr.pem", names[0]));
    std::fs::write(&path, csr.pem().unwrap()).unwrap();
    (path, csr)
}

/// certbot gets a certificate for `csr` through `acme`, and it chains to
/// `est`'s root and certifies the CSR's key.
async fn certbot_succeeds(
    venv: &Path,
    acme: &Acme,
    dir: &Path,
    est: &Est,
    csr_path: &Path,
    csr: &rcgen::CertificateSigningRequest,
) {
    let (success, text) = certbot(venv, dir, &acme.directory(), csr_path).await;
    assert!(
        success,
        "certbot failed:\n{text}\nacme2certifier:\n{}",
        acme.log()
    );
    let fullchain = std::fs::read_to_string(dir.join("fullchain.pem")).unwrap();
    est_ca_host::report::verify_chain(&fullchain, &est.server.trust_anchor_pem())
        .expect("the chain verifies up to the EST server's CA");
    let certs = est_ca_host::PemBundle::parse(&fullchain).unwrap();
    let leaf = x509_cert::Certificate::from_der(&certs.leaf).unwrap();
    let request = x509_cert::request::CertReq::from_der(csr.der()).unwrap();
    assert_eq!(
        leaf.tbs_certificate().subject_public_key_info(),
        &request.info.public_key,
        "the leaf certifies the CSR's key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certbot_through_acme2certifier_and_the_package_in_process() {
    let dir = work_dir("py-a2c");
    let venv = package_venv().await;
    let basic = Est::start(&dir, "basic", AuthMode::Basic, Faults::default()).await;
    let tls = Est::start(&dir, "tls", AuthMode::ClientCert, Faults::default()).await;
    let (cert, key, p12) = client_identity(&tls, &dir);
    let env = [("EST_PASSWORD", PASSWORD), ("P12_PASS", P12_PASSPHRASE)];
    let basic_keys = |est: &Est| {
        vec![
            ("est_host", est.url()),
            ("est_user", "estuser".to_owned()),
            ("est_password_variable", "EST_PASSWORD".to_owned()),
            ("ca_bundle", est.root.display().to_string()),
            ("request_timeout", "20".to_owned()),
        ]
    };
    let (csr_path, csr) = csr_file(&dir, &["py.example.test", "www.py.example.test"]);

    // Basic auth.
    let acme = Acme::start(
        venv,
        &dir,
        "acme-basic",
        &cahandler("CAhandler", &basic_keys(&basic)),
        &env,
    )
    .await;
    let before = basic.enrollments();
    certbot_succeeds(
        venv,
        &acme,
        &dir.join("certbot-basic"),
        &basic,
        &csr_path,
        &csr,
    )
    .await;
    assert!(basic.enrollments() > before, "the EST server issued it");
    acme.stop().await;

    // A PEM client certificate.
    let tls_keys = |client: Vec<(&'static str, String)>| {
        let mut keys = vec![
            ("est_host", tls.url()),
            ("ca_bundle", tls.root.display().to_string()),
        ];
        keys.extend(client);
        keys
    };
    let acme = Acme::start(
        venv,
        &dir,
        "acme-pem",
        &cahandler(
            "CAhandler",
            &tls_keys(vec![
                ("est_client_cert", cert.display().to_string()),
                ("est_client_key", key.display().to_string()),
            ]),
        ),
        &env,
    )
    .await;
    certbot_succeeds(venv, &acme, &dir.join("certbot-pem"), &tls, &csr_path, &csr).await;
    acme.stop().await;

    // A PKCS#12 client certificate, its passphrase from the environment.
    let acme = Acme::start(
        venv,
        &dir,
        "acme-p12",
        &cahandler(
            "CAhandler",
            &tls_keys(vec![
                ("est_client_cert", p12.display().to_string()),
                ("cert_passphrase_variable", "P12_PASS".to_owned()),
            ]),
        ),
        &env,
    )
    .await;
    certbot_succeeds(venv, &acme, &dir.join("certbot-p12"), &tls, &csr_path, &csr).await;
    acme.stop().await;
    assert!(
        tls.server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/simpleenroll"))
            .all(|r| r.had_client_cert && !r.had_authorization)
    );

    // Pending, then acme2certifier's poller (a2c_cert_poll) gets it.
    let pending = Est::start(
        &dir,
        "pending",
        AuthMode::Basic,
        Faults {
            pending_times: 1,
            retry_after: Some("1".into()),
            ..Faults::default()
        },
    )
    .await;
    let acme = Acme::start(
        venv,
        &dir,
        "acme-pending",
        &cahandler("CAhandler", &basic_keys(&pending)),
        &env,
    )
    .await;
    let certbot_dir = dir.join("certbot-pending");
    let directory = acme.directory();
    let certbot_run = certbot(venv, &certbot_dir, &directory, &csr_path);
    let poller = async {
        // Until certbot is done (it waits for the order for 90 s at most).
        for _ in 0..120 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if pending.enrollments() >= 1 {
                run(
                    Command::new(venv.join("bin/python"))
                        .args(["-m", "acme2certifier.tools.a2c_cert_poll"])
                        .env("ACME_SRV_CONFIGFILE", acme.config())
                        .env("ACME2CERTIFIER_I_KNOW_THE_RISK", "1")
                        .envs(env)
                        .current_dir(&acme.dir),
                    120,
                )
                .await;
            }
            if pending.enrollments() >= 2 {
                break;
            }
        }
    };
    let ((success, text), ()) = tokio::join!(certbot_run, poller);
    assert!(
        success,
        "certbot failed:\n{text}\nacme2certifier:\n{}",
        acme.log()
    );
    assert!(
        pending.enrollments() >= 2,
        "enrolled, pending, then polled: {}",
        pending.enrollments()
    );
    let fullchain = std::fs::read_to_string(certbot_dir.join("fullchain.pem")).unwrap();
    est_ca_host::report::verify_chain(&fullchain, &pending.server.trust_anchor_pem()).unwrap();
    acme.stop().await;

    // The EST server refuses: certbot shows its words.
    let reject = Est::start(
        &dir,
        "reject",
        AuthMode::Basic,
        Faults {
            status: Some((400, REJECT_TEXT.into())),
            ..Faults::default()
        },
    )
    .await;
    let mut keys = basic_keys(&reject);
    keys.push(("ca_error_details_forward", "True".to_owned()));
    let acme = Acme::start(
        venv,
        &dir,
        "acme-reject",
        &cahandler("CAhandler", &keys),
        &env,
    )
    .await;
    let (success, text) = certbot(
        venv,
        &dir.join("certbot-reject"),
        &acme.directory(),
        &csr_path,
    )
    .await;
    assert!(!success, "certbot should fail:\n{text}");
    assert!(
        text.contains(REJECT_TEXT) && text.contains("HTTP 400"),
        "certbot's output lacks the EST server's words:\n{text}"
    );
    println!("certbot against the refusing EST server:\n{text}");
    acme.stop().await;

    // One of several handlers under multi_handler: the default handler's
    // own section is read ([CAhandler] itself has no EST keys, and the
    // other handler points at nothing).
    let down = format!("https://127.0.0.1:{}", free_port());
    let mut other = basic_keys(&basic);
    other[0].1 = down;
    let sections = format!(
        "[CAhandler]\nmulti_handler: True\ndefault_handler: est\n\n{}{}",
        cahandler("CAhandler:est", &basic_keys(&basic)),
        cahandler("CAhandler:other", &other),
    );
    let acme = Acme::start(venv, &dir, "acme-multi", &sections, &env).await;
    let before = basic.enrollments();
    certbot_succeeds(
        venv,
        &acme,
        &dir.join("certbot-multi"),
        &basic,
        &csr_path,
        &csr,
    )
    .await;
    assert_eq!(basic.enrollments(), before + 1);
    acme.stop().await;

    // A configuration error: handler_check fails, the directory says so.
    let acme = Acme::start(
        venv,
        &dir,
        "acme-unconfigured",
        &cahandler("CAhandler", &[("est_user", "estuser".to_owned())]),
        &env,
    )
    .await;
    assert_eq!(get_status(acme.addr, "/directory").await, Some(403));
    assert!(acme.log().contains("\"est_host\" parameter is missing"));
    acme.stop().await;

    let _ = std::fs::remove_dir_all(&dir);
}
