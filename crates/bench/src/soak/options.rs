//! What a soak runs: the binary, how many enrollments at what concurrency,
//! when to read the RSS, and its time limits.

use std::path::PathBuf;
use std::time::Duration;

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// The `ca-handler` binary to run as `ca-handler serve`.
    pub ca_handler: PathBuf,
    /// Enrollments in all, warm-up included.
    pub total: usize,
    /// Enrollments in flight at once.
    pub concurrency: usize,
    /// When to read `serve`'s RSS: after these percentages of `total` are
    /// done (from 1 to 100; 100 is always read).
    pub rss_points: Vec<u32>,
    /// The longest `serve` may take to answer `GET /health` (it compiles the
    /// component first unless wasmtime's cache has it).
    pub startup_timeout: Duration,
    /// The longest one enrollment may take before it counts as failed.
    pub request_timeout: Duration,
}

impl SoakOptions {
    /// `total` enrollments at `concurrency`, the RSS read after 10%, 25%,
    /// 50%, 75% and 100% of them.
    pub fn new(ca_handler: impl Into<PathBuf>, total: usize, concurrency: usize) -> Self {
        Self {
            ca_handler: ca_handler.into(),
            total,
            concurrency,
            rss_points: vec![10, 25, 50, 75, 100],
            startup_timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(120),
        }
    }

    /// The enrollment counts after which the RSS is read, ascending, the
    /// last one `total`.
    pub(super) fn rss_ends(&self) -> Vec<usize> {
        let mut ends: Vec<usize> = self
            .rss_points
            .iter()
            .filter(|p| (1..=100).contains(*p))
            .map(|p| (self.total * *p as usize).div_ceil(100))
            .filter(|end| *end > 0)
            .chain([self.total])
            .collect();
        ends.sort_unstable();
        ends.dedup();
        ends
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rss_is_read_after_each_share_and_at_the_end() {
        let mut options = SoakOptions::new("ca-handler", 500, 32);
        assert_eq!(options.rss_ends(), vec![50, 125, 250, 375, 500]);
        options.rss_points = vec![50, 0, 10, 50, 101];
        assert_eq!(options.rss_ends(), vec![50, 250, 500]);
        let tiny = SoakOptions::new("ca-handler", 3, 1);
        assert_eq!(tiny.rss_ends(), vec![1, 2, 3]);
    }
}
