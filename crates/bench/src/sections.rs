//! The benchmark's sections after its main table: `serve`'s cold start,
//! the component under `ca-handler serve` and under `wasmtime serve`, the
//! acme2certifier stack, and the targets beside the results. Each figure
//! is a `Result`: a row that could not be measured says why.

use anyhow::{Context, Result, bail};
use est_bench::hosts::{self, ColdStart, Level};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One handler's figures in the acme2certifier stack.
pub struct Latency {
    /// Median, milliseconds.
    pub median: f64,
    /// 99th percentile, milliseconds.
    pub p99: f64,
    /// Enrollments per second from the threads (the best round).
    pub per_sec: f64,
}

/// How the acme2certifier stack is run.
pub struct StackRun {
    /// Enrollments per handler for the latency figures.
    pub samples: usize,
    /// Enrollments per handler and round for the throughput figures.
    pub burst: usize,
    /// Python threads enrolling at once in the throughput figures.
    pub threads: usize,
    /// Throughput rounds (the handlers take turns in each).
    pub rounds: usize,
}

/// acme2certifier's own EST handler against the project's two modules.
pub struct Stack {
    /// How it was run.
    pub run: StackRun,
    /// `est_ca_handler.py`.
    pub acme2certifier: Latency,
    /// `est_component_ca_handler.py` → `ca-handler serve` → component.
    pub module: Latency,
    /// `est_ca_handler.acme2certifier`: the component in acme2certifier's
    /// process.
    pub inprocess: Latency,
}

/// Everything the sections show.
pub struct Sections {
    /// `serve`'s cold starts.
    pub cold: Result<Vec<ColdStart>, String>,
    /// `ca-handler serve` against `wasmtime serve`.
    pub hosts: Result<Vec<Level>, String>,
    /// The acme2certifier stack.
    pub stack: Result<Stack, String>,
    /// What the in-process module adds to the host's own enrollment.
    pub overhead: Result<crate::overhead::Overhead, String>,
    /// How long `pip install ./crates/python` took before the run.
    pub install: Option<Duration>,
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

/// Runs the acme2certifier stack: `script` in the virtualenv's `python`
/// (with the `est_ca_handler` package installed), with the handlers' keys
/// in one `[CAhandler]`.
pub fn stack(
    python: &Path,
    dir: &Path,
    pairs: &[(String, String)],
    api_url: &str,
    token: &str,
    csr: &Path,
    run: StackRun,
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
        .arg(run.samples.to_string())
        .arg(run.burst.to_string())
        .arg(run.threads.to_string())
        .arg(run.rounds.to_string())
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
        if took.len() != run.samples {
            bail!(
                "{name}: {} latencies for {} enrollments",
                took.len(),
                run.samples
            );
        }
        took.sort_by(f64::total_cmp);
        let at = |q: f64| took[((took.len() as f64 - 1.0) * q).round() as usize];
        let per_sec = value["per_sec"][name]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_f64())
            .fold(f64::NAN, f64::max);
        if per_sec.is_nan() {
            bail!("{name}: no throughput figure");
        }
        Ok(Latency {
            median: at(0.5),
            p99: at(0.99),
            per_sec,
        })
    };
    Ok(Stack {
        acme2certifier: latency("acme2certifier")?,
        module: latency("module")?,
        inprocess: latency("inprocess")?,
        run,
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
        out.extend(self.stack_targets());
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

        out.push(String::new());
        out.push(self.stack_section());
        out.join("\n")
    }
}

impl Sections {
    /// The acme2certifier stack's rows of the targets table.
    pub fn stack_targets(&self) -> Vec<String> {
        let verdict = |ok: bool| if ok { "met" } else { "missed" };
        let stack = match &self.stack {
            Ok(stack) => stack,
            Err(why) => {
                return vec![
                    format!(
                        "| acme2certifier: own handler / the project's module | > 1× | n/a | {why} |"
                    ),
                    format!(
                        "| acme2certifier: own handler / in-process module (median latency) | ≥ 3× | n/a | {why} |"
                    ),
                    format!(
                        "| acme2certifier: in-process module − the host's enrollment (median) | ≤ 0.3 ms | n/a | {why} |"
                    ),
                ];
            }
        };
        let module = stack.acme2certifier.median / stack.module.median;
        let inprocess = stack.acme2certifier.median / stack.inprocess.median;
        let over_host = match &self.overhead {
            Ok(o) => format!(
                "| acme2certifier: in-process module − the host's enrollment (alternating blocks, median) | ≤ 0.3 ms | {:.3} ms | {} |",
                o.module_ms - o.host_ms,
                verdict(o.module_ms - o.host_ms <= 0.3)
            ),
            Err(why) => format!(
                "| acme2certifier: in-process module − the host's enrollment (median) | ≤ 0.3 ms | n/a | {why} |"
            ),
        };
        vec![
            format!(
                "| acme2certifier: own handler / the project's module (median latency) | > 1× | {module:.2}× | {} |",
                verdict(module > 1.0)
            ),
            format!(
                "| acme2certifier: own handler / in-process module (median latency) | ≥ 3× | {inprocess:.2}× | {} |",
                verdict(inprocess >= 3.0)
            ),
            over_host,
        ]
    }

    /// The acme2certifier stack's section, its heading first.
    pub fn stack_section(&self) -> String {
        let mut out = vec![format!("{STACK_HEADING}\n")];
        out.push("One warm Python process with acme2certifier 0.46.3 holds three CA handlers and calls them in turn against the same local EST server (TLS 1.3, HTTP Basic with the same credentials): acme2certifier's own `est_ca_handler.py` (`/cacerts`, then `/simpleenroll`, PKCS#7 in Python); the project's HTTP module `est_component_ca_handler.py`, which posts the CSR to the release `ca-handler serve`, whose component sends `/cacerts` and `/simpleenroll` at once; and the in-process module `est_ca_handler.acme2certifier` (the release wheel of `crates/python`, pip-installed from the checkout), which runs the component in acme2certifier's own process. As acme2certifier does, every enrollment constructs a new `CAhandler` and enters it as a context manager, for all three alike: the stock handler and the HTTP module then open a new `requests` session (and TLS connection) each time, the in-process module reuses the process's compiled component and connection pool. Latency: the handlers take turns enrollment by enrollment; throughput: 8 Python threads enroll through one handler at a time, the handlers taking turns phase by phase, the best round counts.\n".to_owned());
        match &self.stack {
            Ok(stack) => {
                out.push(format!(
                    "| handler | median | p99 | enrollments/s, {} threads |",
                    stack.run.threads
                ));
                out.push("| --- | --- | --- | --- |".to_owned());
                for (name, figures) in [
                    (
                        "acme2certifier's `est_ca_handler.py`",
                        &stack.acme2certifier,
                    ),
                    (
                        "the project's HTTP module → `ca-handler serve` → component",
                        &stack.module,
                    ),
                    (
                        "the in-process module `est_ca_handler.acme2certifier`",
                        &stack.inprocess,
                    ),
                ] {
                    out.push(format!(
                        "| {name} | {:.2} ms | {:.2} ms | {:.1} |",
                        figures.median, figures.p99, figures.per_sec
                    ));
                }
                out.push(format!(
                    "\n- {} enrollments each for latency; {} per handler and round from {} threads, {} rounds, for throughput",
                    stack.run.samples, stack.run.burst, stack.run.threads, stack.run.rounds
                ));
                out.push(format!(
                    "- own handler / HTTP module (median): {:.2}×; own handler / in-process module (median): {:.2}×",
                    stack.acme2certifier.median / stack.module.median,
                    stack.acme2certifier.median / stack.inprocess.median
                ));
            }
            Err(why) => out.push(format!("not measured: {why}")),
        }
        out.push(String::new());
        out.push("What the in-process module adds to the host's own enrollment: the latency rows above interleave the stock handler's and the HTTP module's work (new TLS connections, Python's HTTP stack) with the in-process module's, so they are not set against the host's enrollment. Instead, in alternating blocks of one run, est-bench enrolls through its own host (the component row's path, in Rust), then a warm Python worker enrolls through one reused `est_ca_handler.Handler` (the package's API) and through a new acme2certifier `CAhandler` per enrollment (the module as acme2certifier calls it), taking turns, all against the same EST server and CSR.\n".to_owned());
        match &self.overhead {
            Ok(o) => {
                out.push("| path | median | over the host |".to_owned());
                out.push("| --- | --- | --- |".to_owned());
                out.push(format!(
                    "| the host's own enrollment (`Host::enroll`) | {:.3} ms | |",
                    o.host_ms
                ));
                out.push(format!(
                    "| `est_ca_handler.Handler.enroll` | {:.3} ms | {:+.3} ms |",
                    o.package_ms,
                    o.package_ms - o.host_ms
                ));
                out.push(format!(
                    "| `est_ca_handler.acme2certifier.CAhandler` per enrollment | {:.3} ms | {:+.3} ms |",
                    o.module_ms,
                    o.module_ms - o.host_ms
                ));
                out.push(format!(
                    "\n- {} blocks of {} enrollments per path, after one warm-up block each",
                    o.blocks, o.per_block
                ));
                if let Some(took) = self.install {
                    out.push(format!(
                        "- `pip install ./crates/python` (the release wheel, over cargo's artifacts of earlier builds) took {:.1} s before the run",
                        took.as_secs_f64()
                    ));
                }
            }
            Err(why) => out.push(format!("not measured: {why}")),
        }
        out.join("\n")
    }
}

/// The heading of the acme2certifier stack's section.
pub const STACK_HEADING: &str = "## The acme2certifier stack";

fn failures(count: usize) -> String {
    if count == 0 {
        String::new()
    } else {
        format!(" ({count} failed)")
    }
}
