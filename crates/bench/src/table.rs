//! The main table: the in-process rows of the component, the native floor
//! and acme2certifier, the lines under it, and the `--markdown` file.

use crate::cold::ColdStart;
use crate::measure::{peak_rss_kib, stats};
use crate::python::PythonResult;
use crate::rounds::Breakdown;
use crate::sections;
use crate::soak_mode::SOAK_HEADING;
use anyhow::Result;
use std::path::Path;
use std::time::Duration;

/// What the main table shows.
pub struct Rows {
    /// The cold start's timings.
    pub cold: ColdStart,
    /// Where the component's time goes.
    pub breakdown: Breakdown,
    /// Latency at concurrency 1 of the component.
    pub component_lat: Vec<Duration>,
    /// Latency at concurrency 1 of the native floor.
    pub native_lat: Vec<Duration>,
    /// (concurrency, component, native floor) enrollments per second.
    pub throughput: Vec<(usize, f64, f64)>,
    /// acme2certifier at concurrency 1 and on 8 threads, or why not.
    pub python: Result<(PythonResult, PythonResult), String>,
}

/// The table and the lines under it, and the figures the later sections
/// compare with.
pub fn main_table(rows: Rows) -> (String, sections::Main) {
    let Rows {
        cold,
        breakdown,
        component_lat,
        native_lat,
        throughput,
        python,
    } = rows;
    let wasm_size = cold.wasm.len();
    let Breakdown {
        bare,
        fixed,
        one_c,
        one_n,
    } = breakdown;
    let compile_ms = stats(cold.compile).median;
    let inst = stats(cold.instantiate);
    let fixed_median = stats(fixed).median;
    let bare_median = stats(bare).median;
    let (one_c, one_n) = (stats(one_c).median, stats(one_n).median);
    let c = stats(component_lat);
    let n = stats(native_lat);
    let peak_memory = cold.host.peak_linear_memory();
    let rss = peak_rss_kib();

    let mut lines = Vec::new();
    lines.push(
        "| figure | component (wasm in the host) | native floor | acme2certifier (Python) |"
            .to_owned(),
    );
    lines.push("| --- | --- | --- | --- |".to_owned());
    let (py_median, py_p99, py_t1, py_t8) = match &python {
        Ok((one, eight)) => (
            format!("{:.2} ms", one.median),
            format!("{:.2} ms", one.p99),
            format!("{:.1}/s", one.throughput),
            format!("{:.1}/s (8 threads)", eight.throughput),
        ),
        Err(why) => (
            format!("n/a ({why})"),
            "n/a".into(),
            "n/a".into(),
            "n/a".into(),
        ),
    };
    lines.push(format!(
        "| latency median, concurrency 1 | {:.2} ms | {:.2} ms | {py_median} |",
        c.median, n.median
    ));
    lines.push(format!(
        "| latency p99, concurrency 1 | {:.2} ms | {:.2} ms | {py_p99} |",
        c.p99, n.p99
    ));
    for (concurrency, comp, nat) in &throughput {
        let py = match concurrency {
            1 => py_t1.clone(),
            8 => py_t8.clone(),
            _ => "-".into(),
        };
        lines.push(format!(
            "| enrollments/s, concurrency {concurrency} | {comp:.1} | {nat:.1} | {py} |"
        ));
    }
    lines.push(format!(
        "| a fresh instance alone, made and dropped (median) | {bare_median:.3} ms | - | - |"
    ));
    lines.push(format!(
        "| one call without I/O: fresh instance + handler-check (median) | {fixed_median:.3} ms | - | - |"
    ));
    lines.push(format!(
        "| one EST request: ca-certs, GET /cacerts (median) | {:.3} ms | {:.3} ms | - |",
        one_c, one_n
    ));
    lines.push(format!(
        "| cold start: compile the .wasm | {compile_ms:.1} ms | - | - |"
    ));
    lines.push(format!(
        "| cold start: instantiate from InstancePre (median / p99) | {:.3} ms / {:.3} ms | - | - |",
        inst.median, inst.p99
    ));
    lines.push(format!(
        "| .wasm size | {wasm_size} bytes ({:.1} KiB) | - | - |",
        wasm_size as f64 / 1024.0
    ));
    lines.push(format!(
        "| peak linear memory per instance | {} KiB | - | - |",
        peak_memory / 1024
    ));
    lines.push(format!(
        "| host peak RSS (whole benchmark process) | {rss} KiB | | |"
    ));
    lines.push(String::new());
    lines.push(format!(
        "- latency component/floor (median, c=1): {:.3}x",
        c.median / n.median
    ));
    // The overhead per enrollment, split with this run's own figures.
    lines.push(format!(
        "- the component's extra time per enrollment, {:.3} ms (medians of this run): a fresh instance made and dropped {:.3} ms ({:.3} ms back to back, the cold-start row: the rest is what it pays for caches that the other path used in between); its first call, which reads the configuration and does no I/O, {:.3} ms more; the remaining {:.3} ms are the guest's work on the CSR and the answers (PKCS#7, X.509, base64 in WebAssembly) and the wasi-http exchange (one GET /cacerts alone costs {:.3} ms more than natively). `--only component --perf-map` with the `wasm-profiling` build splits it further (README, Benchmarks)",
        c.median - n.median,
        bare_median,
        inst.median,
        fixed_median - bare_median,
        c.median - n.median - fixed_median,
        one_c - one_n,
    ));
    let (_, c64, n64) = throughput[2];
    lines.push(format!(
        "- throughput floor/component (c=64): {:.3}x",
        n64 / c64
    ));
    if let Ok((one, _)) = &python {
        lines.push(format!(
            "- enrollments/s component/Python (c=1): {:.1}x",
            throughput[0].1 / one.throughput
        ));
    }
    let main_figures = sections::Main {
        component_ms: c.median,
        floor_ms: n.median,
        wasm_size,
        wasmtime_flavour_size: std::fs::metadata(est_ca_host::WASMTIME_SERVE_COMPONENT_PATH)
            .ok()
            .map(|m| m.len()),
    };
    (lines.join("\n"), main_figures)
}

/// Writes the whole run to the `--markdown` file `path`, keeping the soak's
/// section that `--soak` wrote there.
pub fn write_markdown(
    path: &Path,
    table: &str,
    extra: &str,
    samples: usize,
    burst: usize,
) -> Result<()> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let text = format!(
        "# Benchmarks\n\nProduced by `cargo run --release -p est-bench -- --markdown BENCHMARKS.md` on this project's build machine ({cores} cores); regenerate, never edit by hand.\nAll contenders enroll the same CSR against the local EST server (ECDSA P-256 CA, HTTP Basic, TLS 1.3) on 127.0.0.1, each keeping its connections open for reuse (the host's and the native floor's pooled client; acme2certifier's requests session); the component and the native floor were interleaved request by request (latency) and round by round (throughput); acme2certifier ran after them in one warm Python process ({samples} and {burst} enrollments).\n\n{table}\n\n{extra}\n"
    );
    // Keep the soak's section, which `--soak` writes.
    let kept = std::fs::read_to_string(path)
        .ok()
        .and_then(|old| old.find(SOAK_HEADING).map(|at| old[at..].to_owned()))
        .map(|soak| format!("\n{soak}"))
        .unwrap_or_default();
    std::fs::write(path, format!("{text}{kept}"))?;
    Ok(())
}
