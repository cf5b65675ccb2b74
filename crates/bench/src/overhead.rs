//! What the in-process acme2certifier module adds to the host's own
//! enrollment. The interleaved stack (`sections::stack`) compares the
//! three acme2certifier handlers with each other, but a figure taken
//! between the stock handler's TLS handshakes cannot be set against the
//! host's enrollment measured elsewhere. Here both sides run back to back
//! in alternating blocks of one run: a block of the host's own
//! enrollments in this process, then a block in a warm Python worker
//! (`a2c_overhead.py`) through the package's `Handler` and through the
//! acme2certifier module, against the same EST server.

use crate::measure::stats;
use anyhow::{Context, Result, bail};
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// The medians of the three paths, milliseconds.
pub struct Overhead {
    /// Blocks per path.
    pub blocks: usize,
    /// Enrollments per block and path.
    pub per_block: usize,
    /// The host's own enrollment (`Host::enroll`, back to back).
    pub host_ms: f64,
    /// `est_ca_handler.Handler.enroll`, one handler reused.
    pub package_ms: f64,
    /// `est_ca_handler.acme2certifier.CAhandler`, a new one per enrollment.
    pub module_ms: f64,
}

/// The Python worker, driven over its stdin and stdout.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn start(python: &Path, dir: &Path, config: &Path, csr: &Path) -> Result<Self> {
        let script = dir.join("a2c_overhead.py");
        std::fs::write(&script, include_str!("a2c_overhead.py"))?;
        let mut child = Command::new(python)
            .arg(&script)
            .arg(config)
            .arg(csr)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the overhead worker")?;
        let stdin = child.stdin.take().context("the worker's stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("the worker's stdout")?);
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    /// `count` enrollments through each Python path: (package, module).
    fn block(&mut self, count: usize) -> Result<(Vec<Duration>, Vec<Duration>)> {
        writeln!(self.stdin, "{count}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("the overhead worker stopped (its stderr says why)");
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).context("the worker's answer")?;
        let seconds = |name: &str| -> Result<Vec<Duration>> {
            let took: Vec<Duration> = value[name]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_f64)
                .filter_map(|s| Duration::try_from_secs_f64(s).ok())
                .collect();
            if took.len() != count {
                bail!("{name}: {} latencies for {count} enrollments", took.len());
            }
            Ok(took)
        };
        Ok((seconds("package")?, seconds("module")?))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin);
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// Runs `blocks` alternating blocks of `per_block` enrollments: the
/// host's own (`host_enroll`) and the Python worker's, after a warm-up
/// block of each.
pub async fn measure<F, Fut>(
    python: &Path,
    dir: &Path,
    config: &Path,
    csr: &Path,
    blocks: usize,
    per_block: usize,
    host_enroll: F,
) -> Result<Overhead>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    if blocks == 0 || per_block == 0 {
        bail!("the overhead needs at least one block of one enrollment");
    }
    let mut worker = Some(Worker::start(python, dir, config, csr)?);
    let (mut host, mut package, mut module) = (Vec::new(), Vec::new(), Vec::new());
    for block in 0..=blocks {
        let mut took = Vec::with_capacity(per_block);
        for _ in 0..per_block {
            let start = Instant::now();
            host_enroll().await?;
            took.push(start.elapsed());
        }
        // The worker's block blocks this thread, not the EST server's.
        let mut w = worker.take().context("the worker")?;
        let (w, answer) = tokio::task::spawn_blocking(move || {
            let answer = w.block(per_block);
            (w, answer)
        })
        .await?;
        worker = Some(w);
        let (p, m) = answer?;
        if block > 0 {
            host.extend(took);
            package.extend(p);
            module.extend(m);
        }
    }
    Ok(Overhead {
        blocks,
        per_block,
        host_ms: stats(host).median,
        package_ms: stats(package).median,
        module_ms: stats(module).median,
    })
}
