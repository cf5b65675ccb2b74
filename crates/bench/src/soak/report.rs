//! What a soak measured, and its table.

use super::rss::{RssSample, RssTrend, rss_trend};
use std::collections::BTreeMap;
use std::time::Duration;

/// What a run measured.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// Enrollments attempted.
    pub total: usize,
    /// Enrollments in flight at once.
    pub concurrency: usize,
    /// Enrollments that did not end in `200` with a `cert_bundle`.
    pub failures: usize,
    /// The failures by kind (`HTTP 502 urn:...:transport`, `timeout`, ...).
    pub failure_kinds: BTreeMap<String, usize>,
    /// `/simpleenroll` requests the EST server saw.
    pub est_enrollments: usize,
    /// Median latency of one enrollment (all enrollments).
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// The slowest enrollment.
    pub max: Duration,
    /// Wall time of all enrollments (warm-up included).
    pub wall: Duration,
    /// `serve`'s resident set size after each share of the enrollments
    /// ([`SoakOptions::rss_points`](super::SoakOptions::rss_points)), the last after all of them.
    pub rss_samples: Vec<RssSample>,
    /// The largest resident set size sampled (every 100 ms) during the run, KiB.
    pub rss_peak_kib: u64,
}

impl SoakReport {
    /// Enrollments per second over the whole run.
    pub fn throughput(&self) -> f64 {
        self.total as f64 / self.wall.as_secs_f64()
    }

    /// `serve`'s resident set size after the last enrollment, KiB.
    pub fn rss_end_kib(&self) -> u64 {
        self.rss_samples.last().map_or(0, |s| s.kib)
    }

    /// The RSS trend over the second half of the run ([`rss_trend`]);
    /// `None` with fewer than two readings from half-way on.
    pub fn rss_trend(&self) -> Option<RssTrend> {
        rss_trend(&self.rss_samples, self.total)
    }

    /// Each RSS reading in words: `250 (50%): 34000 KiB`.
    fn rss_readings(&self) -> Vec<String> {
        self.rss_samples
            .iter()
            .map(|s| {
                format!(
                    "{} ({:.0}%): {} KiB",
                    s.enrollments,
                    s.enrollments as f64 * 100.0 / self.total as f64,
                    s.kib
                )
            })
            .collect()
    }

    /// The trend in words.
    fn trend_words(&self) -> String {
        match self.rss_trend() {
            Some(t) => format!(
                "{:+.1} KiB per 1000 enrollments from {} to {} (least squares), {:+.2}% of the RSS at {} over those {}",
                t.kib_per_1000,
                t.from,
                t.to,
                t.growth_percent(),
                t.from,
                t.to - t.from
            ),
            None => "not measured (fewer than two readings from half-way on)".to_owned(),
        }
    }

    /// The lines the benchmark prints.
    pub fn lines(&self) -> Vec<String> {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut lines = vec![
            format!(
                "soak: {} enrollments at concurrency {} through `ca-handler serve` (keep-alive HTTP client -> serve -> component -> est-server over TLS, HTTP Basic, ECDSA P-256)",
                self.total, self.concurrency
            ),
            format!(
                "failures: {} (EST server saw {} enrollments)",
                self.failures, self.est_enrollments
            ),
        ];
        for (kind, count) in &self.failure_kinds {
            lines.push(format!("  {count} x {kind}"));
        }
        lines.push(format!(
            "latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        ));
        lines.push(format!(
            "throughput: {:.1} enrollments/s ({} in {:.2} s)",
            self.throughput(),
            self.total,
            self.wall.as_secs_f64()
        ));
        lines.push(format!(
            "serve RSS after enrollments: {}; peak {} KiB",
            self.rss_readings().join(", "),
            self.rss_peak_kib
        ));
        lines.push(format!(
            "serve RSS trend over the second half: {}",
            self.trend_words()
        ));
        lines
    }

    /// The figures as a Markdown table.
    pub fn markdown(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut rows = vec![
            "| figure | value |".to_owned(),
            "| --- | --- |".to_owned(),
            format!(
                "| enrollments, concurrency | {}, {} |",
                self.total, self.concurrency
            ),
            format!("| failures | {} |", self.failures),
        ];
        for (kind, count) in &self.failure_kinds {
            rows.push(format!("| failure: {kind} | {count} |"));
        }
        rows.extend([
            format!(
                "| latency p50 / p99 / max | {:.2} ms / {:.2} ms / {:.2} ms |",
                ms(self.p50),
                ms(self.p99),
                ms(self.max)
            ),
            format!(
                "| throughput | {:.1} enrollments/s ({:.2} s) |",
                self.throughput(),
                self.wall.as_secs_f64()
            ),
        ]);
        for reading in self.rss_readings() {
            let (after, kib) = reading.split_once(": ").unwrap_or((&reading, ""));
            rows.push(format!("| serve RSS after {after} enrollments | {kib} |"));
        }
        rows.extend([
            format!(
                "| serve RSS trend over the second half | {} |",
                self.trend_words()
            ),
            format!("| serve peak RSS (sampled) | {} KiB |", self.rss_peak_kib),
        ]);
        rows.join("\n")
    }
}
