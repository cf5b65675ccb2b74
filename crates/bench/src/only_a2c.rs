//! `--only-a2c`: the acme2certifier stack alone, its targets and the
//! component's median they compare with, replaced in the `--markdown` file.

use crate::args::Args;
use crate::measure::stats;
use crate::sections;
use anyhow::{Context, Result, bail};
use std::time::Duration;

/// `--only-a2c`: prints the acme2certifier stack, its targets and the
/// component's median they compare with; with `--markdown`, replaces
/// them in that file.
pub fn run(
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
