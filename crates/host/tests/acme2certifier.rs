//! acme2certifier end to end: certbot → acme2certifier (PyPI, under
//! waitress) → `integrations/acme2certifier/est_component_ca_handler.py` →
//! the host's `serve` → the release component → the local EST server, all
//! on 127.0.0.1. Also runs the module's own Python tests against live APIs.
//!
//! The Python packages go into a virtualenv made on first use
//! (`common::python::venv`).

use der::Decode;
use est_ca_handler::x509::names::Names;
use est_server::Faults;
use std::path::Path;
use tokio::process::Command;

mod common;

use common::python::{Acme, certbot, get_status, module_dir, run, venv};
use common::{Api, TOKEN, free_port};

const REJECT_TEXT: &str = "policy says no: example.test is not ours";

/// acme2certifier under waitress, with the module pointed at `api_url`.
async fn start_acme(venv: &Path, dir: &Path, name: &str, api_url: &str) -> Acme {
    let cahandler = format!(
        "[CAhandler]\nhandler_module: {module}\napi_url: {api_url}\n\
         api_token: {TOKEN}\nrequest_timeout: 30\nca_error_details_forward: True\n",
        module = module_dir().join("est_component_ca_handler.py").display(),
    );
    Acme::start(venv, dir, name, &cahandler, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certbot_through_acme2certifier_and_the_component() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("a2c-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let venv = venv().await;

    let ok = Api::start(Faults::default(), &[]).await;
    let pending = Api::start(
        Faults {
            pending_times: 1,
            retry_after: Some("1".into()),
            ..Faults::default()
        },
        &[],
    )
    .await;
    let reject = Api::start(
        Faults {
            status: Some((400, REJECT_TEXT.into())),
            ..Faults::default()
        },
        &[],
    )
    .await;
    let names = Api::start(
        Faults {
            drop_sans: true,
            ..Faults::default()
        },
        &[],
    )
    .await;
    // No ca_bundle: the component's host trusts the public roots only.
    let untrusted = Api::start(Faults::default(), &[("ca_bundle", "")]).await;
    let down = format!("http://127.0.0.1:{}", free_port());

    // The module's own tests, against the live APIs.
    let python_tests = run(
        Command::new(venv.join("bin/python"))
            .args(["-m", "unittest", "-v", "test_est_component_ca_handler"])
            .current_dir(module_dir())
            .env("ESTC_API_OK", ok.url())
            .env("ESTC_API_PENDING", pending.url())
            .env("ESTC_API_REJECT", reject.url())
            .env("ESTC_API_NAMES", names.url())
            .env("ESTC_API_DOWN", &down)
            .env("ESTC_API_UNTRUSTED", untrusted.url())
            .env("ESTC_API_TOKEN", TOKEN)
            .env("ESTC_REJECT_TEXT", REJECT_TEXT)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        300,
    )
    .await;
    assert!(python_tests.contains("OK"), "{python_tests}");
    println!("{python_tests}");

    // certbot, for a CSR with a CN and two SANs.
    let key = rcgen::KeyPair::generate().unwrap();
    let requested = [
        "certbot.example.test",
        "www.certbot.example.test",
        "api.certbot.example.test",
    ];
    let mut params = rcgen::CertificateParams::new(requested.map(String::from).to_vec()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, requested[0]);
    let csr = params.serialize_request(&key).unwrap();
    let csr_path = dir.join("certbot.csr.pem");
    std::fs::write(&csr_path, csr.pem().unwrap()).unwrap();

    let acme = start_acme(&venv, &dir, "acme-ok", &ok.url()).await;
    let (success, text) =
        certbot(&venv, &dir.join("certbot-ok"), &acme.directory(), &csr_path).await;
    assert!(success, "certbot failed:\n{text}");
    println!("certbot:\n{text}");
    let fullchain = std::fs::read_to_string(dir.join("certbot-ok/fullchain.pem")).unwrap();
    est_ca_host::report::verify_chain(&fullchain, &ok.est.trust_anchor_pem())
        .expect("the chain verifies up to the local EST CA");
    let certs = est_ca_host::PemBundle::parse(&fullchain).unwrap();
    assert_eq!(certs.len(), 3, "leaf, issuing CA, root");
    let leaf = x509_cert::Certificate::from_der(&certs.leaf).unwrap();
    let request = x509_cert::request::CertReq::from_der(csr.der()).unwrap();
    assert_eq!(
        leaf.tbs_certificate().subject_public_key_info(),
        &request.info.public_key,
        "the leaf certifies the CSR's key"
    );
    assert_eq!(
        Names::of_certificate(&leaf).unwrap(),
        Names::of_request(&request).unwrap(),
        "the leaf carries exactly the requested names"
    );
    let issued = ok
        .est
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/simpleenroll"))
        .count();
    assert!(issued >= 1, "the EST server issued it");
    acme.stop().await;

    // The EST server refuses: certbot shows its words, not a generic failure.
    let acme = start_acme(&venv, &dir, "acme-reject", &reject.url()).await;
    let (success, text) = certbot(
        &venv,
        &dir.join("certbot-reject"),
        &acme.directory(),
        &csr_path,
    )
    .await;
    assert!(!success, "certbot should fail:\n{text}");
    assert!(
        text.contains(REJECT_TEXT),
        "certbot's output lacks the EST server's detail:\n{text}"
    );
    println!("certbot against the refusing EST server:\n{text}");
    acme.stop().await;

    // The component's API is down: handler_check fails, the directory says 403.
    let acme = start_acme(&venv, &dir, "acme-down", &down).await;
    assert_eq!(get_status(acme.addr, "/directory").await, Some(403));
    acme.stop().await;

    assert!(
        untrusted.est.requests().is_empty(),
        "no request reached the untrusted EST server"
    );
    drop((ok, pending, reject, names, untrusted));
    let _ = std::fs::remove_dir_all(&dir);
}
