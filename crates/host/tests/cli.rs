//! The `ca-handler` command line, run as a user runs it.

use est_server::{EstServer, Faults, ServerConfig};
use std::path::PathBuf;
use std::process::{Command, Output};

const PASSWORD: &str = "cli-Secret-Passw0rd";

fn ca_handler(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ca-handler"));
    command.args(args).env_remove("RUST_LOG");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("ca-handler runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("est-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Setup {
    server: EstServer,
    dir: PathBuf,
    config: String,
    csr: String,
}

/// A server, an acme_srv.cfg for it (password through a variable), and a PEM CSR.
async fn setup(name: &str, faults: Faults) -> Setup {
    let server = EstServer::start(ServerConfig {
        password: PASSWORD.into(),
        faults,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let dir = scratch(name);
    let anchor = dir.join("root.pem");
    std::fs::write(&anchor, server.trust_anchor_pem()).unwrap();
    let cfg = format!(
        "[DEFAULT]\ndebug: False\n\n[CAhandler]\n# the EST server under test\nest_host: {}\nest_user: estuser\nest_password_variable: CLI_EST_PASSWORD\nca_bundle = {}\nrequest_timeout: 5\n",
        server.https_url(),
        anchor.display()
    );
    let config = dir.join("acme_srv.cfg");
    std::fs::write(&config, cfg).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["cli.example.test".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cli.example.test");
    let csr = dir.join("req.pem");
    std::fs::write(&csr, params.serialize_request(&key).unwrap().pem().unwrap()).unwrap();
    Setup {
        server,
        config: config.display().to_string(),
        csr: csr.display().to_string(),
        dir,
    }
}

#[test]
fn demo_prints_an_issued_certificate() {
    let out = scratch("demo").join("out");
    let output = ca_handler(&["demo", "--out", out.to_str().unwrap()], &[]);
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("subject:    CN=demo.est-ca-handler.test"),
        "{shown}"
    );
    assert!(shown.contains("chain:      verified"), "{shown}");
    assert!(shown.contains("-----BEGIN CERTIFICATE-----"), "{shown}");
    let bundle = std::fs::read_to_string(out.join("cert-bundle.pem")).unwrap();
    assert_eq!(bundle.matches("-----BEGIN CERTIFICATE-----").count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn enroll_from_an_acme_srv_cfg_writes_the_bundle() {
    let setup = setup("enroll", Faults::default()).await;
    let bundle = setup.dir.join("bundle.pem");
    let output = ca_handler(
        &[
            "-vv",
            "enroll",
            "--config",
            &setup.config,
            "--csr",
            &setup.csr,
            "--out",
            bundle.to_str().unwrap(),
        ],
        &[("CLI_EST_PASSWORD", PASSWORD)],
    );
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("subject:    CN=cli.example.test")
            && shown.contains("SANs:       DNS:cli.example.test"),
        "{shown}"
    );
    assert!(
        shown.contains("issuer:") && shown.contains("serial:") && shown.contains("valid to:"),
        "{shown}"
    );
    assert!(
        std::fs::read_to_string(bundle)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
    assert!(!shown.contains(PASSWORD), "the password leaked: {shown}");

    let json = ca_handler(
        &[
            "enroll",
            "--config",
            &setup.config,
            "--csr",
            &setup.csr,
            "--json",
        ],
        &[("CLI_EST_PASSWORD", PASSWORD)],
    );
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        value["cert_bundle"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert!(value["cert_raw"].as_str().unwrap().starts_with("MII"));
    assert!(value["poll_identifier"].is_null());
    assert_eq!(setup.server.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_tell_the_failures_apart_and_never_show_the_password() {
    let setup = setup("codes", Faults::default()).await;
    let enroll = |envs: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec![
            "-vv",
            "enroll",
            "--config",
            &setup.config,
            "--csr",
            &setup.csr,
        ];
        args.extend_from_slice(extra);
        ca_handler(&args, envs)
    };
    let wrong = enroll(&[("CLI_EST_PASSWORD", "wrong-Passw0rd")], &[]);
    assert_eq!(wrong.status.code(), Some(4), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("authentication failed (HTTP 401)"),
        "{}",
        text(&wrong)
    );
    assert!(!text(&wrong).contains("wrong-Passw0rd"));

    let missing = enroll(&[], &[]);
    assert_eq!(missing.status.code(), Some(3), "{}", text(&missing));
    assert!(
        text(&missing).contains("CLI_EST_PASSWORD"),
        "{}",
        text(&missing)
    );

    let bad_port = enroll(
        &[("CLI_EST_PASSWORD", PASSWORD)],
        &["--set", "est_host=https://localhost:1"],
    );
    assert_eq!(bad_port.status.code(), Some(7), "{}", text(&bad_port));
    assert!(
        text(&bad_port).contains("connection refused"),
        "{}",
        text(&bad_port)
    );
    assert!(
        text(&bad_port).contains("nothing listens there: check the port in est_host"),
        "{}",
        text(&bad_port)
    );
    assert!(!text(&bad_port).contains(PASSWORD));

    // A server that stalls: a timeout shares the transport exit code.
    setup.server.set_faults(Faults {
        delay: Some(std::time::Duration::from_secs(3)),
        ..Faults::default()
    });
    let stalled = enroll(
        &[("CLI_EST_PASSWORD", PASSWORD)],
        &["--set", "request_timeout=1"],
    );
    assert_eq!(stalled.status.code(), Some(7), "{}", text(&stalled));
    assert!(
        text(&stalled).contains("did not answer in time")
            && text(&stalled).contains("see request_timeout"),
        "{}",
        text(&stalled)
    );

    setup.server.set_faults(Faults {
        pending_times: 1,
        retry_after: Some("30".into()),
        ..Faults::default()
    });
    let pending = enroll(&[("CLI_EST_PASSWORD", PASSWORD)], &[]);
    assert_eq!(pending.status.code(), Some(6), "{}", text(&pending));
    assert!(
        text(&pending).contains("--poll-identifier sha256:"),
        "{}",
        text(&pending)
    );

    setup.server.set_faults(Faults {
        status: Some((400, "CSR refused by policy".into())),
        ..Faults::default()
    });
    let rejected = enroll(&[("CLI_EST_PASSWORD", PASSWORD)], &[]);
    assert_eq!(rejected.status.code(), Some(5), "{}", text(&rejected));
    assert!(text(&rejected).contains("CSR refused by policy"));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_explains_what_failed() {
    let setup = setup("check", Faults::default()).await;
    let good = ca_handler(
        &["check", "--config", &setup.config],
        &[("CLI_EST_PASSWORD", PASSWORD)],
    );
    assert!(good.status.success(), "{}", text(&good));
    assert!(
        text(&good).contains("configuration: OK")
            && text(&good).contains("returned 2 certificate(s)"),
        "{}",
        text(&good)
    );

    let untrusted = ca_handler(
        &[
            "check",
            "--config",
            &setup.config,
            "--set",
            "ca_bundle=True",
        ],
        &[("CLI_EST_PASSWORD", PASSWORD)],
    );
    assert_eq!(untrusted.status.code(), Some(7));
    assert!(
        text(&untrusted).contains("not trusted: set ca_bundle"),
        "{}",
        text(&untrusted)
    );

    let unset = ca_handler(&["check", "--set", "est_user=u"], &[]);
    assert_eq!(unset.status.code(), Some(3));
    assert!(
        text(&unset).contains("\"est_host\" parameter is missing"),
        "{}",
        text(&unset)
    );

    let cacerts = ca_handler(
        &["cacerts", "--config", &setup.config],
        &[("CLI_EST_PASSWORD", PASSWORD)],
    );
    assert!(cacerts.status.success());
    assert_eq!(
        String::from_utf8_lossy(&cacerts.stdout)
            .matches("-----BEGIN CERTIFICATE-----")
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn compile_writes_an_artifact_that_enrolls_without_compiling() {
    let setup = setup("compile", Faults::default()).await;
    let artifact = setup.dir.join("est-ca-handler.cwasm");
    let output = ca_handler(&["compile", "--out", artifact.to_str().unwrap()], &[]);
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("compiled the embedded est-ca-handler") && shown.contains("--component"),
        "{shown}"
    );
    let bytes = std::fs::read(&artifact).unwrap();
    assert!(
        bytes.starts_with(b"\x7fELF"),
        "wasmtime's artifacts are ELF files"
    );
    assert!(!setup.dir.join("est-ca-handler.cwasm.partial").exists());

    let bundle = setup.dir.join("bundle.pem");
    let enroll = |component: &str| {
        ca_handler(
            &[
                "--component",
                component,
                "enroll",
                "--config",
                &setup.config,
                "--csr",
                &setup.csr,
                "--out",
                bundle.to_str().unwrap(),
            ],
            &[("CLI_EST_PASSWORD", PASSWORD)],
        )
    };
    let output = enroll(artifact.to_str().unwrap());
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("subject:    CN=cli.example.test"), "{shown}");
    assert_eq!(setup.server.requests().len(), 2, "cacerts and simpleenroll");

    // An artifact is not compiled again.
    let again = ca_handler(
        &[
            "--component",
            artifact.to_str().unwrap(),
            "compile",
            "--out",
            setup.dir.join("twice.cwasm").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again).contains("is already a precompiled artifact"),
        "{}",
        text(&again)
    );

    // A damaged artifact is refused with what to do, and nothing runs.
    let damaged = setup.dir.join("damaged.cwasm");
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();
    let output = enroll(damaged.to_str().unwrap());
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("cannot be loaded; compile it again with `ca-handler compile`"),
        "{shown}"
    );
    assert_eq!(
        setup.server.requests().len(),
        2,
        "no request from a damaged artifact"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wasmtime_serve_build_of_the_component_runs_in_this_host_too() {
    let setup = setup("rc1", Faults::default()).await;
    let bundle = setup.dir.join("bundle.pem");
    let output = ca_handler(
        &[
            "--component",
            env!("EST_CA_HANDLER_WASMTIME_SERVE_WASM"),
            "enroll",
            "--config",
            &setup.config,
            "--csr",
            &setup.csr,
            "--out",
            bundle.to_str().unwrap(),
        ],
        &[("CLI_EST_PASSWORD", PASSWORD)],
    );
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("subject:    CN=cli.example.test"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_room_for_the_instance_pool_instances_are_allocated_on_demand() {
    let setup = setup("ulimit", Faults::default()).await;
    // 8 GiB of address space: room for an instance made on demand, not for
    // the pool's reservation of about 4 GiB for each of its slots.
    let output = Command::new("sh")
        .args([
            "-c",
            &format!(
                "ulimit -v 8388608 && exec {} check --config {}",
                env!("CARGO_BIN_EXE_ca-handler"),
                setup.config
            ),
        ])
        .env("CLI_EST_PASSWORD", PASSWORD)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("the instance pool could not be set up")
            && shown.contains("instances are allocated on demand instead"),
        "{shown}"
    );
    assert!(shown.contains("EST server: OK"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn enroll_returns_a_certificate_issued_while_cacerts_stalls() {
    let setup = setup(
        "stall-cacerts",
        Faults {
            stall_cacerts: true,
            ..Faults::default()
        },
    )
    .await;
    let bundle = setup.dir.join("bundle.pem");
    let output = ca_handler(
        &[
            "enroll",
            "--config",
            &setup.config,
            "--set",
            "request_timeout=2",
            "--csr",
            &setup.csr,
            "--out",
            bundle.to_str().unwrap(),
        ],
        &[("CLI_EST_PASSWORD", PASSWORD)],
    );
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(shown.contains("subject:    CN=cli.example.test"), "{shown}");
    assert!(shown.contains("chain:      0 CA certificate(s)"), "{shown}");
    assert!(
        shown.contains("/cacerts failed (timeout: /cacerts:"),
        "the warning is shown: {shown}"
    );
    let written = std::fs::read_to_string(bundle).unwrap();
    assert_eq!(written.matches("-----BEGIN CERTIFICATE-----").count(), 1);
    assert!(!shown.contains(PASSWORD), "{shown}");
    drop(setup.server);
}
