//! acme2certifier's Python EST handler as a contender: its virtualenv, its
//! runs (`a2c_bench.py`), and the in-process Python package for the stack.

use crate::measure::stats;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `pip install ./crates/python` (the release wheel) into the
/// virtualenv of `python`; prints how long it took.
pub fn install_package(python: &Path) -> Result<Duration, String> {
    let package = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../python");
    let mut pip = Command::new(python);
    pip.args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(["--force-reinstall", "--no-deps"])
        .arg(&package);
    // What cargo set for this benchmark is not the wheel's build's: build
    // scripts that watch these variables would be rerun.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_PRIMARY_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        {
            pip.env_remove(&*name);
        }
    }
    let start = Instant::now();
    let status = pip.status().map_err(|e| format!("pip: {e}"))?;
    if !status.success() {
        return Err("pip install ./crates/python failed".into());
    }
    let took = start.elapsed();
    println!(
        "pip install ./crates/python (release wheel) took {:.1} s",
        took.as_secs_f64()
    );
    Ok(took)
}

/// A virtualenv with acme2certifier, and what its runs read.
pub struct PythonEnv {
    /// The virtualenv's `python`.
    pub python: PathBuf,
    script: PathBuf,
    /// The `acme_srv.cfg` with the handlers' settings.
    pub config: PathBuf,
    /// The CSR, base64, in a file.
    pub csr: PathBuf,
}

/// One run of the Python handler: latency (ms) and enrollments per second.
pub struct PythonResult {
    pub median: f64,
    pub p99: f64,
    pub throughput: f64,
}

/// A virtualenv with acme2certifier, its config and the CSR, or why not.
pub fn python_setup(
    dir: &Path,
    pairs: &[(String, String)],
    csr: &str,
) -> Result<PythonEnv, String> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status();
        if !made.is_ok_and(|s| s.success()) {
            return Err("python3 -m venv failed".into());
        }
    }
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "acme2certifier==0.46.3"])
        .status()
        .map_err(|e| format!("pip: {e}"))?;
    if !installed.success() {
        return Err("pip install acme2certifier failed".into());
    }
    let script = dir.join("a2c_bench.py");
    std::fs::write(&script, include_str!("a2c_bench.py")).map_err(|e| e.to_string())?;
    let mut cfg = String::from("[DEFAULT]\ndebug: False\n\n[CAhandler]\n");
    for (key, value) in pairs {
        cfg.push_str(&format!("{key}: {value}\n"));
    }
    let config = dir.join("acme_srv.cfg");
    std::fs::write(&config, cfg).map_err(|e| e.to_string())?;
    let csr_path = dir.join("csr.b64");
    std::fs::write(&csr_path, csr).map_err(|e| e.to_string())?;
    Ok(PythonEnv {
        python,
        script,
        config,
        csr: csr_path,
    })
}

/// `iterations` enrollments through the Python handler on `threads` threads.
pub fn python_run(
    env: &PythonEnv,
    iterations: usize,
    threads: usize,
) -> Result<PythonResult, String> {
    let output = Command::new(&env.python)
        .arg(&env.script)
        .arg(&env.config)
        .arg(&env.csr)
        .arg(iterations.to_string())
        .arg(threads.to_string())
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "the Python handler failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    if value["error_count"].as_u64() != Some(0) {
        return Err(format!(
            "the Python handler reported errors: {}",
            value["errors"]
        ));
    }
    let latencies: Vec<Duration> = value["latencies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_f64())
        .map(Duration::from_secs_f64)
        .collect();
    let wall = value["wall"].as_f64().unwrap_or(f64::NAN);
    let s = stats(latencies.clone());
    Ok(PythonResult {
        median: s.median,
        p99: s.p99,
        throughput: latencies.len() as f64 / wall,
    })
}
