//! Load and soak, scaled down: 500 enrollments at 32-way through the real
//! `ca-handler serve` (this build's binary), with the same driver as
//! `est-bench --soak` (`est_bench::soak`). No enrollment may fail, and the
//! server's resident set, read after every 50 enrollments, may not trend
//! upwards over the second half of the run: the least-squares slope
//! through the readings from 250 to 500 enrollments may not amount to 10%
//! or more of the RSS at 250 over those 250 enrollments.
//!
//! The trend, not one reading against an early one: the warm-up (the
//! allocator's arenas, the connection pools, wasmtime's instance memory)
//! raises the RSS early on and then levels off, at a point that varies from
//! run to run; a leak raises it steadily. Why the bound still catches a leak
//! at this scale: every enrollment runs in a fresh component instance with
//! its own linear memory (over 1 MiB each) and TLS and HTTP state in the
//! host; leaking any of them for 250 enrollments grows the RSS by hundreds
//! of MiB, far past 10% of a warm `serve` (tens of MiB). Leaks of a few
//! hundred bytes per request show only in the full benchmark (10,000
//! enrollments).

use est_bench::soak::{SoakOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_enrollments_at_32_way_without_failures_or_growth() {
    let mut options = SoakOptions::new(env!("CARGO_BIN_EXE_ca-handler"), 500, 32);
    options.rss_points = (1..=10).map(|tenth| tenth * 10).collect();
    let report = tokio::time::timeout(std::time::Duration::from_secs(600), run(options))
        .await
        .expect("the soak ends within 10 minutes")
        .expect("the soak runs");
    let lines = report.lines().join("\n");
    println!("{lines}");
    assert_eq!(report.failures, 0, "{lines}");
    assert_eq!(report.est_enrollments, 500, "{lines}");
    assert_eq!(report.rss_samples.len(), 10, "{lines}");
    let trend = report.rss_trend().expect("six readings from half-way on");
    assert_eq!((trend.from, trend.to), (250, 500), "{lines}");
    assert!(
        trend.growth_percent() < 10.0,
        "serve's RSS trends upwards over the second half: {lines}"
    );
}
