//! `--soak`: the load and soak benchmark through `ca-handler serve`, and
//! its section of the `--markdown` file.

use crate::args::Args;
use crate::release::release_ca_handler;
use anyhow::{Result, bail};

/// The heading of the soak's section in the `--markdown` file.
pub const SOAK_HEADING: &str = "## Soak";

/// `--soak`: the load and soak benchmark through `ca-handler serve`.
pub fn run(args: &Args) -> Result<()> {
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
        std::fs::write(path, replace_soak(&old, &section))?;
    }
    if report.failures > 0 {
        bail!("{} of {} enrollments failed", report.failures, report.total);
    }
    Ok(())
}

/// `old` (a `--markdown` file) with `section` in place of its soak
/// section, or with `section` appended when it has none; the sections
/// before and after the soak's stay as they are.
fn replace_soak(old: &str, section: &str) -> String {
    let Some(at) = old.find(SOAK_HEADING) else {
        let before = old.trim_end();
        return if before.is_empty() {
            section.to_owned()
        } else {
            format!("{before}\n\n{section}")
        };
    };
    let before = old[..at].trim_end();
    let after = old[at + SOAK_HEADING.len()..]
        .find("\n## ")
        .map(|end| &old[at + SOAK_HEADING.len() + end + 1..]);
    let mut text = if before.is_empty() {
        section.to_owned()
    } else {
        format!("{before}\n\n{section}")
    };
    if let Some(after) = after {
        text = format!("{}\n\n{after}", text.trim_end());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::replace_soak;

    #[test]
    fn the_soak_section_is_replaced_and_the_others_kept() {
        let old = "# B\n\n## Targets\nt\n\n## Soak\nold soak\n\n## Build profile choices\nkept\n";
        let new = replace_soak(old, "## Soak\n\nnew soak\n");
        assert_eq!(
            new,
            "# B\n\n## Targets\nt\n\n## Soak\n\nnew soak\n\n## Build profile choices\nkept\n"
        );
        assert_eq!(replace_soak("", "## Soak\nx\n"), "## Soak\nx\n");
        assert_eq!(replace_soak("# B\n", "## Soak\nx\n"), "# B\n\n## Soak\nx\n");
    }
}
