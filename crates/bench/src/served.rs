//! A child process of the benchmark, killed when dropped.

use std::path::PathBuf;
use std::process::Child;

/// `ca-handler serve`, killed when dropped.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Served {
    /// The last 20 lines of its log.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
