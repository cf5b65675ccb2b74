//! `est-bench`'s command line.

use std::path::PathBuf;

/// Benchmarks the component, a native client and acme2certifier's handler.
#[derive(clap::Parser)]
pub struct Args {
    /// Enrollments per contender for the latency figures (interleaved).
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Enrollments per contender and concurrency level for throughput.
    #[arg(long, default_value_t = 256)]
    pub burst: usize,
    /// Skip acme2certifier (no Python virtualenv is made).
    #[arg(long)]
    pub skip_python: bool,
    /// Also write the results as a Markdown table to this file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Only enroll `--samples` times through one contender, one at a time,
    /// and print the median (for profilers: `perf record`, callgrind).
    #[arg(long, value_enum)]
    pub only: Option<Contender>,
    /// Write a perf map of the component's compiled code (/tmp/perf-PID.map)
    /// so that `perf report` names the guest's functions.
    #[arg(long)]
    pub perf_map: bool,
    /// Give the component's engine wasmtime's default on-demand instance
    /// allocator instead of the host's pooling allocator
    /// (`est_ca_host::engine_config`).
    #[arg(long)]
    pub on_demand: bool,
    /// Benchmark this component instead of the embedded release build (for
    /// example the `wasm-profiling` build,
    /// `target/wasm32-wasip2/wasm-profiling/est_ca_handler.wasm`, which keeps
    /// function names for `--perf-map`).
    #[arg(long)]
    pub component: Option<PathBuf>,
    /// Run the load and soak benchmark instead: `--soak-total` enrollments
    /// at `--soak-concurrency` through the real `ca-handler serve` (built
    /// first with `cargo build --release -p est-ca-host`, unless
    /// `--ca-handler` names a binary).
    #[arg(long)]
    pub soak: bool,
    /// Enrollments in the soak (`serve`'s RSS is read after 10%, 25%, 50%,
    /// 75% and 100% of them).
    #[arg(long, default_value_t = 10_000)]
    pub soak_total: usize,
    /// Enrollments in flight at once in the soak.
    #[arg(long, default_value_t = 64)]
    pub soak_concurrency: usize,
    /// The `ca-handler` binary the soak, the host comparison, the cold
    /// starts and the acme2certifier stack run (default: build the release one).
    #[arg(long)]
    pub ca_handler: Option<PathBuf>,
    /// Enrollments per host and concurrency level in the comparison of
    /// `ca-handler serve` with `wasmtime serve`.
    #[arg(long, default_value_t = 600)]
    pub serve_total: usize,
    /// Starts per way in the cold-start rows.
    #[arg(long, default_value_t = 5)]
    pub cold_runs: usize,
    /// Skip the rows that run `ca-handler serve` as a child process (the
    /// host comparison, the cold starts and the acme2certifier stack).
    #[arg(long)]
    pub skip_serve: bool,
    /// Quick mode: only the acme2certifier stack (and the component's and
    /// the native floor's latency rows, which its targets need); with
    /// `--markdown`, rewrite only the stack's section and its rows of the
    /// targets table in that file.
    #[arg(long, conflicts_with_all = ["skip_python", "skip_serve", "only"])]
    pub only_a2c: bool,
    /// A/B mode: enroll `--samples` times through the component (or
    /// `--component`) and through this other `.wasm`, taking turns, and print
    /// both medians and their ratio.
    #[arg(long, value_name = "FILE.wasm")]
    pub ab: Option<PathBuf>,
    /// A/B mode: the same component with the host's pooling instance
    /// allocator (A) against wasmtime's default on-demand one (B), taking turns.
    #[arg(long)]
    pub ab_pooling: bool,
    /// Size mode: print the code size of each core module of a component
    /// (or module) file and its largest functions, then stop (names need
    /// a build that keeps them: `--profile wasm-profiling`).
    #[arg(long, value_name = "FILE.wasm")]
    pub sizes: Option<PathBuf>,
    /// How many functions `--sizes` lists per module.
    #[arg(long, default_value_t = 15)]
    pub top: usize,
}

/// One contender, for `--only`.
#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
pub enum Contender {
    /// The component in the host.
    Component,
    /// The native floor.
    Native,
}
