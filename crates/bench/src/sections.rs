//! The benchmark's sections after its main table: `serve`'s cold start,
//! the component under `ca-handler serve` and under `wasmtime serve`, the
//! acme2certifier stack, and the targets beside the results. Each figure
//! is a `Result`: a row that could not be measured says why.

use anyhow::{Context, Result, bail};
use est_bench::hosts::{self, ColdStart, Level};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One handler's latencies in the acme2certifier stack.
pub struct Latency {
    /// Median, milliseconds.
    pub median: f64,
    /// 99th percentile, milliseconds.
    pub p99: f64,
}

/// acme2certifier's own EST handler against the project's module.
pub struct Stack {
    /// Enrollments per handler.
    pub samples: usize,
    /// `est_ca_handler.py`.
    pub acme2certifier: Latency,
    /// `est_component_ca_handler.py` → `ca-handler serve` → component.
    pub module: Latency,
}

/// Everything the sections show.
pub struct Sections {
    /// `serve`'s cold starts.
    pub cold: Result<Vec<ColdStart>, String>,
    /// `ca-handler serve` against `wasmtime serve`.
    pub hosts: Result<Vec<Level>, String>,
    /// The acme2certifier stack.
    pub stack: Result<Stack, String>,
}

/// What the targets table needs from the main table.
pub struct Main {
    /// Component and native floor medians at concurrency 1, ms.
    pub component_ms: f64,
    /// See `component_ms`.
    pub floor_ms: f64,
    /// The default flavour's size in bytes.
    pub wasm_size: usize,
    /// The `wasmtime serve` flavour's size in bytes, if it was found.
    pub wasmtime_flavour_size: Option<u64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs the acme2certifier stack: `script` in the virtualenv's `python`,
/// with both handlers' keys in one `[CAhandler]`.
pub fn stack(
    python: &Path,
    dir: &Path,
    pairs: &[(String, String)],
    api_url: &str,
    token: &str,
    csr: &Path,
    samples: usize,
) -> Result<Stack> {
    let script = dir.join("a2c_stack.py");
    std::fs::write(&script, include_str!("a2c_stack.py"))?;
    let mut cfg = String::from("[DEFAULT]\ndebug: False\n\n[CAhandler]\n");
    for (key, value) in pairs {
        cfg.push_str(&format!("{key}: {value}\n"));
    }
    cfg.push_str(&format!(
        "api_url: {api_url}\napi_token: {token}\nrequest_timeout: 60\n"
    ));
    let config = dir.join("stack.cfg");
    std::fs::write(&config, cfg)?;
    let module_dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../integrations/acme2certifier");
    let output = Command::new(python)
        .arg(&script)
        .arg(&config)
        .arg(&module_dir)
        .arg(csr)
        .arg(samples.to_string())
        .output()
        .context("running the stack script")?;
    if !output.status.success() {
        bail!(
            "the stack script failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let value: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let latency = |name: &str| -> Result<Latency> {
        if value["error_counts"][name].as_u64() != Some(0) {
            bail!("{name} reported errors: {}", value["errors"][name]);
        }
        let mut took: Vec<f64> = value["latencies"][name]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_f64())
            .map(|s| s * 1000.0)
            .collect();
        if took.len() != samples {
            bail!("{name}: {} latencies for {samples} enrollments", took.len());
        }
        took.sort_by(f64::total_cmp);
        let at = |q: f64| took[((took.len() as f64 - 1.0) * q).round() as usize];
        Ok(Latency {
            median: at(0.5),
            p99: at(0.99),
        })
    };
    Ok(Stack {
        samples,
        acme2certifier: latency("acme2certifier")?,
        module: latency("module")?,
    })
}

impl Sections {
    /// The sections as Markdown (also what the benchmark prints).
    pub fn markdown(&self, main: &Main, serve_total: usize) -> String {
        let mut out = Vec::new();
        out.push("## Targets\n".to_owned());
        out.push("| target | goal | measured | result |".to_owned());
        out.push("| --- | --- | --- | --- |".to_owned());
        let verdict = |ok: bool| if ok { "met" } else { "missed" };
        let ratio = main.component_ms / main.floor_ms;
        out.push(format!(
            "| latency component/floor, c=1 (median) | ≤ 1.3× | {ratio:.3}× | {} |",
            verdict(ratio <= 1.3)
        ));
        let overhead = main.component_ms - main.floor_ms;
        out.push(format!(
            "| overhead per enrollment (component − floor, median) | ≤ 0.1 ms | {overhead:.3} ms | {} |",
            verdict(overhead <= 0.1)
        ));
        let limit = 400 * 1024;
        out.push(format!(
            "| .wasm size (release, default flavour) | ≤ 409600 bytes | {} bytes | {} |",
            main.wasm_size,
            verdict(main.wasm_size <= limit)
        ));
        match main.wasmtime_flavour_size {
            Some(size) => out.push(format!(
                "| .wasm size (release, `wasmtime-serve` flavour) | ≤ 409600 bytes | {size} bytes | {} |",
                verdict(size <= limit as u64)
            )),
            None => out.push(
                "| .wasm size (release, `wasmtime-serve` flavour) | ≤ 409600 bytes | n/a | not found |"
                    .to_owned(),
            ),
        }
        match &self.cold {
            Ok(cold) => {
                if let Some(artifact) = cold.first() {
                    let median = ms(artifact.median());
                    out.push(format!(
                        "| cold start with the artifact (spawn → first 200 from /enroll, median) | ≤ 50 ms | {median:.1} ms | {} |",
                        verdict(median <= 50.0)
                    ));
                }
            }
            Err(why) => out.push(format!(
                "| cold start with the artifact | ≤ 50 ms | n/a | {why} |"
            )),
        }
        match &self.hosts {
            Ok(levels) => {
                for level in levels {
                    let r = level.ours.per_sec / level.wasmtime.per_sec;
                    out.push(format!(
                        "| `ca-handler serve` / `wasmtime serve` enrollments/s, c={} | ≥ 1× | {r:.3}× | {} |",
                        level.concurrency,
                        verdict(r >= 1.0)
                    ));
                }
            }
            Err(why) => out.push(format!(
                "| `ca-handler serve` / `wasmtime serve` | ≥ 1× | n/a | {why} |"
            )),
        }
        match &self.stack {
            Ok(stack) => {
                let r = stack.acme2certifier.median / stack.module.median;
                out.push(format!(
                    "| acme2certifier: own handler / the project's module (median latency) | > 1× | {r:.2}× | {} |",
                    verdict(r > 1.0)
                ));
            }
            Err(why) => out.push(format!(
                "| acme2certifier: own handler / the project's module | > 1× | n/a | {why} |"
            )),
        }

        out.push("\n## Cold start of `ca-handler serve`\n".to_owned());
        out.push("From spawning the release `ca-handler serve` (embedded component) to the first `200` from `POST /enroll`, that enrollment included (TLS to the local EST server); the three ways took turns, after one untimed start that primed wasmtime's cache.\n".to_owned());
        match &self.cold {
            Ok(cold) => {
                out.push("| way | median | fastest | starts |".to_owned());
                out.push("| --- | --- | --- | --- |".to_owned());
                for way in cold {
                    out.push(format!(
                        "| {} | {:.1} ms | {:.1} ms | {} |",
                        way.way,
                        ms(way.median()),
                        ms(way.min()),
                        way.runs.len()
                    ));
                }
            }
            Err(why) => out.push(format!("not measured: {why}")),
        }

        out.push("\n## The component under `ca-handler serve` and `wasmtime serve`\n".to_owned());
        out.push(format!(
            "One component file (the `wasmtime-serve` flavour, which both load) served by the release `ca-handler serve` and by `wasmtime serve` {}, each a child process with a fresh instance per request, against the local EST server's plain-HTTP listener (the wasmtime CLI trusts only the public web PKI roots). A keep-alive client posts distinct CSRs to `POST /enroll`; {serve_total} enrollments per host and level, the hosts taking turns in two rounds.\n",
            hosts::WASMTIME_VERSION
        ));
        match &self.hosts {
            Ok(levels) => {
                out.push("| concurrency | `ca-handler serve` enrollments/s | p50 / p99 | `wasmtime serve` enrollments/s | p50 / p99 | ours / theirs |".to_owned());
                out.push("| --- | --- | --- | --- | --- | --- |".to_owned());
                for l in levels {
                    out.push(format!(
                        "| {} | {:.1}{} | {:.2} / {:.2} ms | {:.1}{} | {:.2} / {:.2} ms | {:.3}× |",
                        l.concurrency,
                        l.ours.per_sec,
                        failures(l.ours.failures),
                        ms(l.ours.p50),
                        ms(l.ours.p99),
                        l.wasmtime.per_sec,
                        failures(l.wasmtime.failures),
                        ms(l.wasmtime.p50),
                        ms(l.wasmtime.p99),
                        l.ours.per_sec / l.wasmtime.per_sec
                    ));
                }
            }
            Err(why) => out.push(format!("not measured: {why}")),
        }

        out.push("\n## The acme2certifier stack\n".to_owned());
        out.push("One warm Python process with acme2certifier 0.46.3 holds both CA handlers and calls them in turn, enrollment by enrollment, against the same local EST server (TLS, HTTP Basic): acme2certifier's own `est_ca_handler.py` (`/cacerts`, then `/simpleenroll`, PKCS#7 in Python), and the project's `est_component_ca_handler.py`, which posts the CSR to the release `ca-handler serve`, whose component sends `/cacerts` and `/simpleenroll` at once.\n".to_owned());
        match &self.stack {
            Ok(stack) => {
                out.push("| handler | median | p99 |".to_owned());
                out.push("| --- | --- | --- |".to_owned());
                out.push(format!(
                    "| acme2certifier's `est_ca_handler.py` | {:.2} ms | {:.2} ms |",
                    stack.acme2certifier.median, stack.acme2certifier.p99
                ));
                out.push(format!(
                    "| the project's module → `ca-handler serve` → component | {:.2} ms | {:.2} ms |",
                    stack.module.median, stack.module.p99
                ));
                out.push(format!(
                    "\n- {} enrollments each; own handler / module (median): {:.2}×",
                    stack.samples,
                    stack.acme2certifier.median / stack.module.median
                ));
            }
            Err(why) => out.push(format!("not measured: {why}")),
        }
        out.join("\n")
    }
}

fn failures(count: usize) -> String {
    if count == 0 {
        String::new()
    } else {
        format!(" ({count} failed)")
    }
}
