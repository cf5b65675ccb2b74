//! `ca-handler`: runs a CA-handler component from the command line.
//!
//! This file parses the command line, sets up logging and hands the
//! command to [`commands`], which has one module a command.

mod commands;

use clap::Parser;
use std::process::ExitCode;

/// Obtains certificates from a CA through a CA-handler WebAssembly component
/// (by default the embedded est-ca-handler, which speaks EST).
#[derive(Parser)]
#[command(version)]
#[cfg_attr(
    not(feature = "demo"),
    command(
        after_help = "This ca-handler was built without the `demo` feature: it has no `demo` command."
    )
)]
struct Cli {
    /// More output (-v: progress, -vv: requests).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(flatten)]
    global: commands::Global,
    /// How log lines on stderr look: `text` for people (coloured only on a
    /// terminal, and never with NO_COLOR set), `json` for machines (one
    /// object per line, with the request's id under `span`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: commands::Command,
}

/// `--log-format`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},wasmtime=warn,cranelift=warn"))
    });
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false);
    match cli.log_format {
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        LogFormat::Text => logs.with_ansi(colour_on_stderr()).init(),
    }
    match cli.command.run(&cli.global).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(commands::exit::HOST)
        }
    }
}

/// Whether text logs may be coloured: stderr is a terminal and `NO_COLOR`
/// is unset or empty (<https://no-color.org>).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
