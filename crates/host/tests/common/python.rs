//! The acme2certifier module and the Python virtualenvs, for the tests that
//! run Python (`tests/acme2certifier.rs`, `tests/secrets.rs`,
//! `tests/python_package.rs`).
//!
//! The Python packages (pinned in the module's `requirements-test.txt`) go
//! into a virtualenv under cargo's target directory, made on first use (by
//! one test process at a time; a missing `python3` or `venv` is named at
//! once, see [`super::tools`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// The repository's root.
pub fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `est_component_ca_handler.py` and its tests are.
pub fn module_dir() -> PathBuf {
    project().join("integrations/acme2certifier")
}

/// The virtualenv with acme2certifier, waitress and certbot, made once.
pub async fn venv() -> PathBuf {
    venv_with("a2c-venv", &[module_dir().join("requirements-test.txt")]).await
}

/// The virtualenv `name` under cargo's target directory with the packages
/// of the `requirements` files, made once (and again when they change).
pub async fn venv_with(name: &str, requirements: &[PathBuf]) -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.installed");
    let wanted: String = requirements
        .iter()
        .map(|file| std::fs::read_to_string(file).unwrap())
        .collect();
    let installed = || std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str());
    if installed() {
        return venv;
    }
    std::fs::create_dir_all(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let _turn = super::tools::lock(&venv.with_extension("lock")).await;
    if installed() {
        return venv;
    }
    super::tools::make_venv(&venv).await;
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]);
    for file in requirements {
        pip.arg("-r").arg(file);
    }
    run(&mut pip, 900).await;
    std::fs::write(&stamp, wanted).unwrap();
    venv
}

/// Runs `command` to completion within `secs`, and fails the test on a
/// non-zero exit, showing its output.
pub async fn run(command: &mut Command, secs: u64) -> String {
    let (ok, output) = output(command, secs).await;
    assert!(ok, "{command:?} failed:\n{output}");
    output
}

/// Runs `command` within `secs`: (success, stdout + stderr).
pub async fn output(command: &mut Command, secs: u64) -> (bool, String) {
    command.kill_on_drop(true).stdin(Stdio::null());
    let result = tokio::time::timeout(Duration::from_secs(secs), command.output())
        .await
        .unwrap_or_else(|_| panic!("{command:?} did not finish in {secs} s"))
        .unwrap_or_else(|e| panic!("{command:?} could not start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    (result.status.success(), text)
}

/// The status of `GET path` on `addr`, or `None` when nothing answers.
pub async fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// acme2certifier (the virtualenv's) under waitress on 127.0.0.1.
pub struct Acme {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its directory: `acme_srv.cfg`, the database, `waitress.log`.
    pub dir: PathBuf,
    child: Child,
}

impl Acme {
    /// Starts it in `dir/name` with an `acme_srv.cfg` of the usual test
    /// sections (no challenge validation, a SQLite database) and
    /// `cahandler`, the text of its `[CAhandler]` section(s); `env` is
    /// added to its environment. Waits until it answers.
    pub async fn start(
        venv: &Path,
        dir: &Path,
        name: &str,
        cahandler: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("acme_srv.cfg");
        std::fs::write(
            &config,
            format!(
                "[DEFAULT]\ndebug: True\n\n\
                 [Nonce]\nnonce_check_disable: False\n\n\
                 [Account]\ncontact_check_disable: True\n\n\
                 [Challenge]\nchallenge_validation_disable: True\n\n\
                 [Order]\ntnauthlist_support: False\n\n\
                 [Certificate]\nenrollment_timeout: 20\n\n\
                 [DBhandler]\nhandler: wsgi\ndbfile: {db}\n\n\
                 {cahandler}",
                db = dir.join("acme.sqlite").display(),
            ),
        )
        .unwrap();
        let port = super::free_port();
        let log = std::fs::File::create(dir.join("waitress.log")).unwrap();
        let child = Command::new(venv.join("bin/waitress-serve"))
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg("acme2certifier.share.acme2certifier_wsgi:application")
            .env("ACME_SRV_CONFIGFILE", &config)
            .env("ACME2CERTIFIER_I_KNOW_THE_RISK", "1")
            .envs(env.iter().copied())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("waitress-serve starts");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while get_status(addr, "/directory").await.is_none() {
            assert!(
                Instant::now() < deadline,
                "acme2certifier did not start in 60 s:\n{}",
                std::fs::read_to_string(dir.join("waitress.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Self { addr, dir, child }
    }

    /// The ACME directory URL.
    pub fn directory(&self) -> String {
        format!("http://{}/directory", self.addr)
    }

    /// Its `acme_srv.cfg`.
    pub fn config(&self) -> PathBuf {
        self.dir.join("acme_srv.cfg")
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("waitress.log")).unwrap_or_default()
    }

    /// Stops it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// certbot with `--csr`, its files under `dir`: (success, output).
pub async fn certbot(venv: &Path, dir: &Path, directory: &str, csr: &Path) -> (bool, String) {
    std::fs::create_dir_all(dir).unwrap();
    let mut command = Command::new(venv.join("bin/certbot"));
    command
        .args(["certonly", "--non-interactive", "--agree-tos"])
        .args(["--register-unsafely-without-email", "--manual"])
        .args([
            "--preferred-challenges",
            "http",
            "--manual-auth-hook",
            "/bin/true",
        ])
        .arg("--server")
        .arg(directory)
        .arg("--csr")
        .arg(csr)
        .arg("--config-dir")
        .arg(dir.join("config"))
        .arg("--work-dir")
        .arg(dir.join("work"))
        .arg("--logs-dir")
        .arg(dir.join("logs"))
        .arg("--cert-path")
        .arg(dir.join("cert.pem"))
        .arg("--chain-path")
        .arg(dir.join("chain.pem"))
        .arg("--fullchain-path")
        .arg(dir.join("fullchain.pem"));
    output(&mut command, 180).await
}
