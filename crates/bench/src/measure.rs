//! What the benchmark computes from its timings: latency statistics,
//! throughput of a burst, and the process's peak memory.

use anyhow::Result;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Latency statistics in milliseconds.
pub struct Stats {
    pub median: f64,
    pub p99: f64,
}

/// The median and p99 of `samples`.
pub fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| {
        samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
    };
    Stats {
        median: at(0.5),
        p99: at(0.99),
    }
}

/// Enrollments per second for `total` enrollments by `concurrency` workers.
pub async fn burst<F, Fut>(concurrency: usize, total: usize, once: F) -> Result<f64>
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

/// The process's peak resident set size, from /proc (Linux).
pub fn peak_rss_kib() -> u64 {
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
