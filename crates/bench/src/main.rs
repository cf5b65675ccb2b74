//! `est-bench`: the est-ca-handler component against the native floor and
//! against acme2certifier's Python EST handler, side by side in one run,
//! all enrolling against the local EST server (ECDSA P-256 CA, HTTP Basic,
//! TLS) on 127.0.0.1.

mod native;
mod overhead;
mod sections;
mod sizes;

use anyhow::{Context, Result, bail};
use base64ct::{Base64UrlUnpadded, Encoding};
use clap::Parser;
use est_ca_handler::config::{Config, MapSource};
use est_ca_handler::handler;
use est_ca_host::{Host, Settings};
use est_server::{EstServer, KeyType, ServerConfig};
use native::NativeTransport;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Benchmarks the component, a native client and acme2certifier's handler.
#[derive(Parser)]
struct Args {
    /// Enrollments per contender for the latency figures (interleaved).
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Enrollments per contender and concurrency level for throughput.
    #[arg(long, default_value_t = 256)]
    burst: usize,
    /// Skip acme2certifier (no Python virtualenv is made).
    #[arg(long)]
    skip_python: bool,
    /// Also write the results as a Markdown table to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Only enroll `--samples` times through one contender, one at a time,
    /// and print the median (for profilers: `perf record`, callgrind).
    #[arg(long, value_enum)]
    only: Option<Contender>,
    /// Write a perf map of the component's compiled code (/tmp/perf-PID.map)
    /// so that `perf report` names the guest's functions.
    #[arg(long)]
    perf_map: bool,
    /// Give the component's engine wasmtime's default on-demand instance
    /// allocator instead of the host's pooling allocator
    /// (`est_ca_host::engine_config`).
    #[arg(long)]
    on_demand: bool,
    /// Benchmark this component instead of the embedded release build (for
    /// example the `wasm-profiling` build,
    /// `target/wasm32-wasip2/wasm-profiling/est_ca_handler.wasm`, which keeps
    /// function names for `--perf-map`).
    #[arg(long)]
    component: Option<PathBuf>,
    /// Run the load and soak benchmark instead: `--soak-total` enrollments
    /// at `--soak-concurrency` through the real `ca-handler serve` (built
    /// first with `cargo build --release -p est-ca-host`, unless
    /// `--ca-handler` names a binary).
    #[arg(long)]
    soak: bool,
    /// Enrollments in the soak (`serve`'s RSS is read after 10%, 25%, 50%,
    /// 75% and 100% of them).
    #[arg(long, default_value_t = 10_000)]
    soak_total: usize,
    /// Enrollments in flight at once in the soak.
    #[arg(long, default_value_t = 64)]
    soak_concurrency: usize,
    /// The `ca-handler` binary the soak, the host comparison, the cold
    /// starts and the acme2certifier stack run (default: build the release one).
    #[arg(long)]
    ca_handler: Option<PathBuf>,
    /// Enrollments per host and concurrency level in the comparison of
    /// `ca-handler serve` with `wasmtime serve`.
    #[arg(long, default_value_t = 600)]
    serve_total: usize,
    /// Starts per way in the cold-start rows.
    #[arg(long, default_value_t = 5)]
    cold_runs: usize,
    /// Skip the rows that run `ca-handler serve` as a child process (the
    /// host comparison, the cold starts and the acme2certifier stack).
    #[arg(long)]
    skip_serve: bool,
    /// Quick mode: only the acme2certifier stack (and the component's and
    /// the native floor's latency rows, which its targets need); with
    /// `--markdown`, rewrite only the stack's section and its rows of the
    /// targets table in that file.
    #[arg(long, conflicts_with_all = ["skip_python", "skip_serve", "only"])]
    only_a2c: bool,
    /// A/B mode: enroll `--samples` times through the component (or
    /// `--component`) and through this other `.wasm`, taking turns, and print
    /// both medians and their ratio.
    #[arg(long, value_name = "FILE.wasm")]
    ab: Option<PathBuf>,
    /// A/B mode: the same component with the host's pooling instance
    /// allocator (A) against wasmtime's default on-demand one (B), taking turns.
    #[arg(long)]
    ab_pooling: bool,
    /// Size mode: print the code size of each core module of a component
    /// (or module) file and its largest functions, then stop (names need
    /// a build that keeps them: `--profile wasm-profiling`).
    #[arg(long, value_name = "FILE.wasm")]
    sizes: Option<PathBuf>,
    /// How many functions `--sizes` lists per module.
    #[arg(long, default_value_t = 15)]
    top: usize,
}

/// One contender, for `--only`.
#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum Contender {
    /// The component in the host.
    Component,
    /// The native floor.
    Native,
}

const PASSWORD: &str = "bench-Passw0rd";

/// The settings both contenders use, as acme2certifier keys.
fn pairs(server: &EstServer, anchor: &Path) -> Vec<(String, String)> {
    vec![
        ("est_host".into(), server.https_url()),
        ("est_user".into(), "estuser".into()),
        ("est_password".into(), PASSWORD.into()),
        ("ca_bundle".into(), anchor.display().to_string()),
    ]
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.sizes {
        return sizes::print(path, args.top);
    }
    if args.soak {
        return soak(&args);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(128)
        .build()?;
    runtime.block_on(run(args, runtime.handle().clone()))
}

/// Latency statistics in milliseconds.
struct Stats {
    median: f64,
    p99: f64,
}

/// Blocks of the host's own enrollments and of the Python worker's that
/// take turns in the in-process module's overhead figure.
const OVERHEAD_BLOCKS: usize = 5;

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| {
        samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
    };
    Stats {
        median: at(0.5),
        p99: at(0.99),
    }
}

async fn run(args: Args, runtime: tokio::runtime::Handle) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("est-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let anchor = dir.join("root.pem");
    let server = EstServer::start(ServerConfig {
        key_type: KeyType::EcdsaP256,
        password: PASSWORD.into(),
        trust_anchor_out: Some(anchor.clone()),
        ..ServerConfig::default()
    })
    .await?;
    let pairs = pairs(&server, &anchor);
    let settings = Arc::new(Settings::from_pairs(pairs.clone())?);
    let config = Arc::new(
        Config::load(&MapSource::new(pairs.iter().cloned())).map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let native = Arc::new(NativeTransport::new(&config, runtime.clone())?);

    let key = KeyType::EcdsaP256.generate()?;
    let mut params = rcgen::CertificateParams::new(vec!["bench.example.test".to_owned()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "bench.example.test");
    let csr = Base64UrlUnpadded::encode_string(params.serialize_request(&key)?.der());

    // Cold start: compiling the component, and instantiating it from InstancePre.
    let wasm = match &args.component {
        Some(path) => std::fs::read(path).with_context(|| format!("{}", path.display()))?,
        None => est_ca_host::COMPONENT.to_vec(),
    };
    let wasm_size = wasm.len();
    let mut compile = Vec::new();
    let mut host = None;
    for _ in 0..3 {
        let start = Instant::now();
        host = Some(Host::with_engine_config(
            &wasm,
            engine_config(&args, !args.on_demand),
        )?);
        compile.push(start.elapsed());
    }
    let host = Arc::new(host.context("compiled")?);
    let mut instantiate = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        host.instantiate(&settings).await?;
        instantiate.push(start.elapsed());
    }

    let component_once = {
        let (host, settings, csr) = (Arc::clone(&host), Arc::clone(&settings), csr.clone());
        move || {
            let (host, settings, csr) = (Arc::clone(&host), Arc::clone(&settings), csr.clone());
            async move {
                match host.enroll(&settings, &csr).await? {
                    Ok(est_ca_host::Enrollment::Issued(_)) => Ok(()),
                    other => bail!("component: {other:?}"),
                }
            }
        }
    };
    let native_once = {
        let (config, native, csr) = (Arc::clone(&config), Arc::clone(&native), csr.clone());
        move || {
            let (config, native, csr) = (Arc::clone(&config), Arc::clone(&native), csr.clone());
            async move {
                let result = tokio::task::spawn_blocking(move || {
                    handler::enroll(&config, native.as_ref(), &csr)
                })
                .await?;
                match result {
                    Ok(handler::Enrollment::Issued(_)) => Ok(()),
                    other => bail!("native: {other:?}"),
                }
            }
        }
    };

    if args.ab.is_some() || args.ab_pooling {
        let (label_b, host_b) = match &args.ab {
            Some(path) => {
                let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
                (
                    path.display().to_string(),
                    Host::with_engine_config(&bytes, engine_config(&args, !args.on_demand))?,
                )
            }
            None => (
                "the same component, on-demand allocator (wasmtime's default)".to_owned(),
                Host::with_engine_config(&wasm, engine_config(&args, false))?,
            ),
        };
        let label_a = match &args.component {
            Some(path) => path.display().to_string(),
            None => "the embedded component".to_owned(),
        };
        let label_a = if args.on_demand {
            format!("{label_a}, on-demand allocator")
        } else {
            format!("{label_a}, pooling allocator (the host's default)")
        };
        let result = ab(
            [(label_a, Arc::clone(&host)), (label_b, Arc::new(host_b))],
            &settings,
            &csr,
            args.samples,
        )
        .await;
        server.shutdown().await;
        return result;
    }

    // Warm up both paths.
    for _ in 0..5 {
        component_once().await?;
        native_once().await?;
    }
    let quick = args.only_a2c;
    if let Some(only) = args.only {
        let mut took = Vec::new();
        let begin = Instant::now();
        for _ in 0..args.samples {
            let start = Instant::now();
            match only {
                Contender::Component => component_once().await?,
                Contender::Native => native_once().await?,
            }
            took.push(start.elapsed());
        }
        let wall = begin.elapsed();
        println!(
            "median {:.3} ms, mean {:.3} ms over {} enrollments ({:.2} s)",
            stats(took).median,
            wall.as_secs_f64() * 1000.0 / args.samples as f64,
            args.samples,
            wall.as_secs_f64()
        );
        server.shutdown().await;
        return Ok(());
    }
    // Where the component's time goes: a fresh instance alone, a fresh
    // instance and one call that does no I/O (handler-check), and one EST
    // request (ca-certs) against the native floor making the same request.
    // An untimed native enrollment goes before each of the component's
    // figures, as in the latency rows below, where the contenders take
    // turns: each figure then pays for caches that the other path used in
    // between, as an enrollment does (back to back, a fresh instance costs
    // a fifth to a third as much).
    let (mut bare, mut fixed) = (Vec::new(), Vec::new());
    let (mut one_c, mut one_n) = (Vec::new(), Vec::new());
    let breakdown = if quick { 0 } else { args.samples };
    for _ in 0..breakdown {
        native_once().await?;
        let start = Instant::now();
        host.instantiate(&settings).await?;
        bare.push(start.elapsed());
        native_once().await?;
        let start = Instant::now();
        host.handler_check(&settings)
            .await?
            .map_err(|e| anyhow::anyhow!("component: {e:?}"))?;
        fixed.push(start.elapsed());
        native_once().await?;
        let start = Instant::now();
        host.ca_certs(&settings)
            .await?
            .map_err(|e| anyhow::anyhow!("component: {e:?}"))?;
        one_c.push(start.elapsed());
        let (config, native) = (Arc::clone(&config), Arc::clone(&native));
        let start = Instant::now();
        tokio::task::spawn_blocking(move || handler::ca_certs(&config, native.as_ref()))
            .await?
            .map_err(|e| anyhow::anyhow!("native: {e:?}"))?;
        one_n.push(start.elapsed());
    }

    // Python: set up the virtualenv first (outside any timing).
    let python_env = if args.skip_python {
        Err("skipped (--skip-python)".to_owned())
    } else {
        python_setup(&dir, &pairs, &csr)
    };
    // The in-process package, from the checkout, for the stack.
    let package = match &python_env {
        Ok(env) if !args.skip_serve => install_package(&env.python),
        Ok(_) => Err("skipped (--skip-serve)".to_owned()),
        Err(why) => Err(why.clone()),
    };

    // Latency at concurrency 1, the contenders interleaved one by one.
    let (mut component_lat, mut native_lat) = (Vec::new(), Vec::new());
    for _ in 0..args.samples {
        let start = Instant::now();
        component_once().await?;
        component_lat.push(start.elapsed());
        let start = Instant::now();
        native_once().await?;
        native_lat.push(start.elapsed());
    }

    // Throughput at concurrency 1, 8 and 64, alternating contenders per round.
    let mut throughput = Vec::new();
    let levels: &[usize] = if quick { &[] } else { &[1, 8, 64] };
    for &concurrency in levels {
        let (mut c_best, mut n_best) = (0.0f64, 0.0f64);
        for _ in 0..2 {
            c_best = c_best.max(burst(concurrency, args.burst, component_once.clone()).await?);
            n_best = n_best.max(burst(concurrency, args.burst, native_once.clone()).await?);
        }
        throughput.push((concurrency, c_best, n_best));
    }

    let python = match &python_env {
        Ok(_) if quick => Err("skipped (--only-a2c)".to_owned()),
        Ok(env) => python_run(env, args.samples, 1)
            .and_then(|one| Ok((one, python_run(env, args.burst, 8)?))),
        Err(e) => Err(e.clone()),
    };

    // The rows that run `ca-handler serve` as a child process.
    let ca_handler: Result<PathBuf, String> = if args.skip_serve {
        Err("skipped (--skip-serve)".to_owned())
    } else {
        match &args.ca_handler {
            Some(path) => Ok(path.clone()),
            None => release_ca_handler().map_err(|e| format!("{e:#}")),
        }
    };
    let cold = match &ca_handler {
        Ok(_) if quick => Err("skipped (--only-a2c)".to_owned()),
        Ok(bin) => est_bench::hosts::cold_start(bin, args.cold_runs)
            .await
            .map_err(|e| format!("{e:#}")),
        Err(why) => Err(why.clone()),
    };
    let hosts = match (&ca_handler, est_bench::hosts::wasmtime_cli()) {
        (Ok(_), _) if quick => Err("skipped (--only-a2c)".to_owned()),
        (Ok(bin), Ok(wasmtime)) => est_bench::hosts::compare(
            bin,
            &wasmtime,
            Path::new(est_ca_host::WASMTIME_SERVE_COMPONENT_PATH),
            args.serve_total,
        )
        .await
        .map_err(|e| format!("{e:#}")),
        (Err(why), _) => Err(why.clone()),
        (_, Err(why)) => Err(why),
    };
    let stack = match (&ca_handler, &python_env, &package) {
        (Ok(bin), Ok(env), Ok(_)) => {
            let token = format!("stack-{}", std::process::id());
            match est_bench::hosts::serve_process(
                bin,
                &server.https_url(),
                &anchor,
                PASSWORD,
                &token,
            )
            .await
            {
                Ok(serve) => sections::stack(
                    &env.python,
                    &dir,
                    &pairs,
                    &serve.base,
                    &token,
                    &env.csr,
                    sections::StackRun {
                        samples: args.samples,
                        burst: args.burst,
                        threads: 8,
                        rounds: 2,
                    },
                )
                .map_err(|e| format!("{e:#}; serve's log:\n{}", serve.log_tail())),
                Err(e) => Err(format!("{e:#}")),
            }
        }
        (Err(why), _, _) | (_, Err(why), _) | (_, _, Err(why)) => Err(why.clone()),
    };
    // What the in-process module adds to the host's own enrollment, in
    // alternating blocks (the stack above interleaves other handlers).
    let overhead = match (&python_env, &package) {
        (Ok(env), Ok(_)) => overhead::measure(
            &env.python,
            &dir,
            &env.config,
            &env.csr,
            OVERHEAD_BLOCKS,
            args.samples.div_ceil(OVERHEAD_BLOCKS),
            component_once.clone(),
        )
        .await
        .map_err(|e| format!("{e:#}")),
        (Err(why), _) | (_, Err(why)) => Err(why.clone()),
    };
    let sections = sections::Sections {
        cold,
        hosts,
        stack,
        overhead,
        install: package.as_ref().ok().copied(),
    };
    if quick {
        let result = only_a2c(&args, &sections, component_lat, native_lat);
        server.shutdown().await;
        return result;
    }

    let compile_ms = stats(compile).median;
    let inst = stats(instantiate);
    let fixed_median = stats(fixed).median;
    let bare_median = stats(bare).median;
    let (one_c, one_n) = (stats(one_c).median, stats(one_n).median);
    let c = stats(component_lat);
    let n = stats(native_lat);
    let peak_memory = host.peak_linear_memory();
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
    let extra = sections.markdown(&main_figures, args.serve_total);
    let table = lines.join("\n");
    println!("{table}\n\n{extra}");
    if let Some(path) = &args.markdown {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        let text = format!(
            "# Benchmarks\n\nProduced by `cargo run --release -p est-bench -- --markdown BENCHMARKS.md` on this project's build machine ({cores} cores); regenerate, never edit by hand.\nAll contenders enroll the same CSR against the local EST server (ECDSA P-256 CA, HTTP Basic, TLS 1.3) on 127.0.0.1, each keeping its connections open for reuse (the host's and the native floor's pooled client; acme2certifier's requests session); the component and the native floor were interleaved request by request (latency) and round by round (throughput); acme2certifier ran after them in one warm Python process ({samples} and {burst} enrollments).\n\n{table}\n\n{extra}\n",
            samples = args.samples,
            burst = args.burst
        );
        // Keep the soak's section, which `--soak` writes.
        let kept = std::fs::read_to_string(path)
            .ok()
            .and_then(|old| old.find(SOAK_HEADING).map(|at| old[at..].to_owned()))
            .map(|soak| format!("\n{soak}"))
            .unwrap_or_default();
        std::fs::write(path, format!("{text}{kept}"))?;
    }
    server.shutdown().await;
    Ok(())
}

/// `--only-a2c`: prints the acme2certifier stack, its targets and the
/// component's median they compare with; with `--markdown`, replaces
/// them in that file.
fn only_a2c(
    args: &Args,
    sections: &sections::Sections,
    component_lat: Vec<Duration>,
    native_lat: Vec<Duration>,
) -> Result<()> {
    let (c, n) = (stats(component_lat), stats(native_lat));
    let rows = sections.stack_targets();
    let section = format!(
        "{}\n\n- written by `cargo run --release -p est-bench -- --only-a2c --markdown BENCHMARKS.md` ({} and {} enrollments), whose own latency loop gave the host's enrollment (the component row) {:.2} ms at the median (native floor {:.2} ms)",
        sections.stack_section(),
        args.samples,
        args.burst,
        c.median,
        n.median
    );
    println!(
        "component (wasm in the host) median {:.2} ms, p99 {:.2} ms; native floor median {:.2} ms\n",
        c.median, c.p99, n.median
    );
    println!("| target | goal | measured | result |\n| --- | --- | --- | --- |");
    for row in &rows {
        println!("{row}");
    }
    println!("\n{section}");
    if let Err(why) = &sections.stack {
        bail!("the acme2certifier stack was not measured: {why}");
    }
    if let Some(path) = &args.markdown {
        let old = std::fs::read_to_string(path).with_context(|| {
            format!(
                "--only-a2c updates {}: a full run writes it first",
                path.display()
            )
        })?;
        std::fs::write(path, replace_stack(&old, &section, &rows)?)?;
    }
    Ok(())
}

/// `old` (a `--markdown` file) with `section` in place of the stack's
/// section and `rows` in place of the stack's rows of the targets table.
fn replace_stack(old: &str, section: &str, rows: &[String]) -> Result<String> {
    let at = old
        .find(sections::STACK_HEADING)
        .context("the file has no acme2certifier stack section")?;
    let after = &old[at..];
    let text = match after[1..].find("\n## ") {
        Some(end) => format!("{}{section}\n\n{}", &old[..at], &after[end + 2..]),
        None => format!("{}{section}\n", &old[..at]),
    };
    let mut lines: Vec<&str> = text.lines().collect();
    let targets = lines
        .iter()
        .position(|l| *l == "## Targets")
        .context("the file has no targets table")?;
    let start = (targets..lines.len())
        .find(|&i| lines[i].starts_with('|'))
        .context("the targets table is empty")?;
    lines.retain(|l| !l.starts_with("| acme2certifier:"));
    let end = (start..lines.len())
        .find(|&i| !lines[i].starts_with('|'))
        .unwrap_or(lines.len());
    lines.splice(end..end, rows.iter().map(String::as_str));
    Ok(lines.join("\n") + "\n")
}

/// The engine configuration of the benchmark's hosts.
fn engine_config(args: &Args, pooling: bool) -> wasmtime::Config {
    let mut engine = wasmtime::Config::new();
    if args.perf_map {
        engine.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if pooling {
        engine.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
            // Room for the throughput rounds' 64 workers and the host's default.
            est_ca_host::pooling_config(est_ca_host::limits::DEFAULT_MAX_INSTANCES),
        ));
    }
    engine
}

/// `--ab`/`--ab-pooling`: `samples` enrollments through each of two hosts,
/// taking turns, after a warm-up; prints each median and the ratio B/A.
async fn ab(
    hosts: [(String, Arc<Host>); 2],
    settings: &Settings,
    csr: &str,
    samples: usize,
) -> Result<()> {
    let mut took: [Vec<Duration>; 2] = Default::default();
    for round in 0..samples + 10 {
        for (i, (label, host)) in hosts.iter().enumerate() {
            let start = Instant::now();
            match host.enroll(settings, csr).await? {
                Ok(est_ca_host::Enrollment::Issued(_)) => {}
                other => bail!("{label}: {other:?}"),
            }
            if round >= 10 {
                took[i].push(start.elapsed());
            }
        }
    }
    let [a, b] = took;
    let (a, b) = (stats(a), stats(b));
    println!(
        "A: {} median {:.3} ms, p99 {:.3} ms",
        hosts[0].0, a.median, a.p99
    );
    println!(
        "B: {} median {:.3} ms, p99 {:.3} ms",
        hosts[1].0, b.median, b.p99
    );
    println!(
        "B/A median: {:.3}x over {samples} enrollments each, taking turns",
        b.median / a.median
    );
    Ok(())
}

/// The heading of the soak's section in the `--markdown` file.
const SOAK_HEADING: &str = "## Soak";

/// `--soak`: the load and soak benchmark through `ca-handler serve`.
fn soak(args: &Args) -> Result<()> {
    let ca_handler = match &args.ca_handler {
        Some(path) => path.clone(),
        None => release_ca_handler()?,
    };
    let options =
        est_bench::soak::SoakOptions::new(ca_handler, args.soak_total, args.soak_concurrency);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(est_bench::soak::run(options))?;
    for line in report.lines() {
        println!("{line}");
    }
    if let Some(path) = &args.markdown {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        let section = format!(
            "{SOAK_HEADING}\n\nProduced by `cargo run --release -p est-bench -- --soak --soak-total {total} --soak-concurrency {concurrency} --markdown BENCHMARKS.md` on this project's build machine ({cores} cores, shared with other work); regenerate, never edit by hand.\nA keep-alive HTTP client (hyper) posts {total} distinct pre-generated CSRs to `POST /enroll` of the release `ca-handler serve` (a separate process, a fresh component instance per request), {concurrency} at a time; the component enrolls each against the local EST server (ECDSA P-256 CA, HTTP Basic, TLS 1.3) in the benchmark's process on 127.0.0.1. Latency and throughput cover all {total} enrollments; RSS is `serve`'s `VmRSS`, read after 10%, 25%, 50%, 75% and all of the enrollments; its trend is the least-squares slope through the readings from half-way on.\n\n{table}\n",
            total = report.total,
            concurrency = report.concurrency,
            table = report.markdown(),
        );
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let before = match old.find(SOAK_HEADING) {
            Some(at) => old[..at].trim_end().to_owned(),
            None => old.trim_end().to_owned(),
        };
        let text = if before.is_empty() {
            section
        } else {
            format!("{before}\n\n{section}")
        };
        std::fs::write(path, text)?;
    }
    if report.failures > 0 {
        bail!("{} of {} enrollments failed", report.failures, report.total);
    }
    Ok(())
}

/// Builds the release `ca-handler` (`cargo build --release -p est-ca-host`)
/// and returns its path in this workspace's target directory.
fn release_ca_handler() -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "est-ca-host",
            "--bin",
            "ca-handler",
        ])
        .current_dir(&workspace)
        .status()
        .context("running cargo build for ca-handler")?;
    if !built.success() {
        bail!("cargo build --release -p est-ca-host failed");
    }
    // This binary is target/<profile>/est-bench: ca-handler is in target/release.
    let exe = std::env::current_exe()?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .context("the target directory")?;
    let path = target.join("release").join("ca-handler");
    if !path.exists() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}

/// Enrollments per second for `total` enrollments by `concurrency` workers.
async fn burst<F, Fut>(concurrency: usize, total: usize, once: F) -> Result<f64>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (once, counter) = (once.clone(), Arc::clone(&counter));
        workers.push(tokio::spawn(async move {
            while counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                once().await?;
            }
            anyhow::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// `pip install ./crates/python` (the release wheel) into the
/// virtualenv of `python`; prints how long it took.
fn install_package(python: &Path) -> Result<Duration, String> {
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

struct PythonEnv {
    python: PathBuf,
    script: PathBuf,
    config: PathBuf,
    csr: PathBuf,
}

struct PythonResult {
    median: f64,
    p99: f64,
    throughput: f64,
}

/// A virtualenv with acme2certifier, its config and the CSR, or why not.
fn python_setup(dir: &Path, pairs: &[(String, String)], csr: &str) -> Result<PythonEnv, String> {
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

fn python_run(env: &PythonEnv, iterations: usize, threads: usize) -> Result<PythonResult, String> {
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

/// The process's peak resident set size, from /proc (Linux).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}
