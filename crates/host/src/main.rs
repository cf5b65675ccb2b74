//! `ca-handler`: runs a CA-handler component from the command line.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use est_ca_host::report::{Summary, explain};
use est_ca_host::{
    Enrollment, HandlerError, Host, PemBundle, PollResult, Settings, demo, limits, pem,
};
use est_server::KeyType;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Obtains certificates from a CA through a CA-handler WebAssembly component
/// (by default the embedded est-ca-handler, which speaks EST).
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// More output (-v: progress, -vv: requests).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Use this component instead of the embedded est-ca-handler: a
    /// `.wasm`, or an artifact from `ca-handler compile` (loaded without
    /// compiling; only load artifacts you compiled yourself).
    #[arg(long, global = true, value_name = "FILE.wasm|FILE.cwasm")]
    component: Option<PathBuf>,
    /// Compile the component afresh instead of using wasmtime's on-disk cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// How log lines on stderr look: `text` for people (coloured only on a
    /// terminal, and never with NO_COLOR set), `json` for machines (one
    /// object per line, with the request's id under `span`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// `--log-format`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll a CSR and write the certificate bundle.
    Enroll {
        #[command(flatten)]
        config: ConfigArgs,
        /// The CSR: PEM, DER, or base64.
        #[arg(long)]
        csr: PathBuf,
        /// Where to write the certificate bundle (PEM).
        #[arg(long, default_value = "cert-bundle.pem")]
        out: PathBuf,
        /// Print acme2certifier's cert_bundle, cert_raw and poll_identifier as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask again about an enrollment that was left pending.
    Poll {
        #[command(flatten)]
        config: ConfigArgs,
        /// The CSR that was enrolled.
        #[arg(long)]
        csr: PathBuf,
        /// The poll identifier `enroll` printed.
        #[arg(long)]
        poll_identifier: String,
        /// The ACME server's name for the certificate.
        #[arg(long, default_value = "")]
        cert_name: String,
        /// Where to write the certificate bundle (PEM).
        #[arg(long, default_value = "cert-bundle.pem")]
        out: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetch and print the CA certificates.
    Cacerts {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Check the configuration, then probe the EST server's /cacerts.
    Check {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Serve the component's HTTP API (POST /enroll, /poll, /revoke; GET /cacerts, /health).
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
        /// Address to listen on (HTTP; put TLS in front for other machines).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        limits: LimitArgs,
        /// Also serve Prometheus metrics at GET /metrics on this address
        /// (plain HTTP, no authentication: bind it where only the scraper
        /// reaches).
        #[arg(long, value_name = "ADDR")]
        metrics_listen: Option<std::net::SocketAddr>,
    },
    /// Compile the component ahead of time into a precompiled artifact
    /// that `--component` then loads without compiling (a start in
    /// milliseconds); it loads only into this build of ca-handler.
    Compile {
        /// Where to write the artifact.
        #[arg(long, default_value = "est-ca-handler.cwasm")]
        out: PathBuf,
    },
    /// Enroll through the component against a local EST server started in-process.
    Demo {
        /// Key type of the local CA and of the demo's key.
        #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
        key_type: KeyType,
        /// The name to request a certificate for.
        #[arg(long, default_value = "demo.est-ca-handler.test")]
        name: String,
        /// Where to write the bundle, key and trust anchor.
        #[arg(long, default_value = "est-demo")]
        out: PathBuf,
    },
}

impl Command {
    /// The settings arguments of the commands that take them.
    fn config(&self) -> Option<&ConfigArgs> {
        match self {
            Self::Enroll { config, .. }
            | Self::Poll { config, .. }
            | Self::Cacerts { config }
            | Self::Check { config }
            | Self::Serve { config, .. } => Some(config),
            Self::Demo { .. } | Self::Compile { .. } => None,
        }
    }
}

/// Where the handler's settings come from, lowest precedence first:
/// `--config`, `CAHANDLER_<KEY>` environment variables, `--set`.
#[derive(Args)]
struct ConfigArgs {
    /// An acme2certifier acme_srv.cfg; its `[CAhandler]` section is used.
    #[arg(long, value_name = "acme_srv.cfg")]
    config: Option<PathBuf>,
    /// A setting (e.g. --set est_host=https://est.example). Prefer the
    /// *_variable keys for secrets: command lines are visible to others.
    #[allow(
        rustdoc::bare_urls,
        reason = "clap shows this comment as `--set`'s help"
    )]
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_pair)]
    set: Vec<(String, String)>,
}

/// `serve`'s limits (defaults: [`est_ca_host::Limits::default`]).
#[derive(Args)]
struct LimitArgs {
    /// The most connections open at once; one more gets a 503 and is closed
    /// [default: 1024, or what fits in the file-descriptor limit].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// The most requests in the component at once; one more gets a 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = limits::DEFAULT_MAX_INSTANCES as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_instances: u32,
    /// Seconds a client may take to send a request head (from connecting, or
    /// from the head's first byte on a kept-alive connection).
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Seconds a request's body may take to arrive after its head; a body
    /// not complete by then gets a 408 and its instance is freed.
    #[arg(long, value_name = "SECONDS", default_value_t = limits::DEFAULT_BODY_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout: u64,
    /// The most connections open at once to --metrics-listen; one more gets
    /// a 503 and is closed.
    #[arg(long, value_name = "N", default_value_t = limits::DEFAULT_MAX_METRICS_CONNECTIONS as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_metrics_connections: u32,
}

impl LimitArgs {
    /// The limits, fitted into `available` file descriptors (with the
    /// metrics listener's when `metrics`): an explicit --max-connections
    /// that does not fit is an error; the default shrinks to what fits.
    fn limits(&self, metrics: bool, available: u64) -> Result<est_ca_host::Limits, String> {
        let mut limits = est_ca_host::Limits {
            max_connections: self
                .max_connections
                .map_or(limits::DEFAULT_MAX_CONNECTIONS, |n| n as usize),
            max_instances: self.max_instances as usize,
            header_timeout: Duration::from_secs(self.header_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            body_timeout: Duration::from_secs(self.body_timeout),
            max_metrics_connections: self.max_metrics_connections as usize,
            ..est_ca_host::Limits::default()
        };
        if let Err(why) = limits.fit_file_descriptors(metrics, available) {
            let fitted = match self.max_connections {
                None => limits.connections_that_fit(metrics, available),
                Some(_) => None,
            };
            match fitted {
                Some(fit) => {
                    eprintln!(
                        "warning: {why}; serving at most {fit} connections instead of {}",
                        limits.max_connections
                    );
                    limits.max_connections = fit;
                }
                None => return Err(why),
            }
        }
        Ok(limits)
    }
}

/// The soft limit on open files (`RLIMIT_NOFILE`), first raised to the hard
/// limit: `serve`'s caps on connections must fit in it.
fn open_files_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::debug!("cannot raise the open-files limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(u64::MAX, |(soft, _)| soft)
        }
    }
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or("expected KEY=VALUE")?;
    Ok((key.trim().to_ascii_lowercase(), value.to_owned()))
}

impl ConfigArgs {
    fn settings(&self) -> Result<Settings> {
        let mut overrides: Vec<(String, String)> = std::env::vars()
            .filter_map(|(name, value)| {
                Some((name.strip_prefix("CAHANDLER_")?.to_ascii_lowercase(), value))
            })
            .collect();
        overrides.extend(self.set.iter().cloned());
        match &self.config {
            Some(path) => Settings::from_acme_srv_cfg(path, &overrides),
            None => Settings::from_pairs(overrides),
        }
    }
}

/// The instance pool of the commands other than `serve`.
const ONE_SHOT_INSTANCES: usize = 4;

/// Exit codes, one per kind of outcome.
mod exit {
    pub const HOST: u8 = 1;
    pub const CONFIG: u8 = 3;
    pub const UNAUTHORIZED: u8 = 4;
    pub const REJECTED: u8 = 5;
    pub const PENDING: u8 = 6;
    pub const TRANSPORT: u8 = 7;
    pub const SERVER: u8 = 8;
    pub const NOT_SUPPORTED: u8 = 9;
}

fn exit_code(error: &HandlerError) -> u8 {
    match error {
        HandlerError::Config(_) => exit::CONFIG,
        HandlerError::Unauthorized(_) => exit::UNAUTHORIZED,
        HandlerError::BadCsr(_) | HandlerError::Rejected(_) => exit::REJECTED,
        HandlerError::Transport(_) => exit::TRANSPORT,
        HandlerError::ServerError(_)
        | HandlerError::MalformedAnswer(_)
        | HandlerError::CertificateMismatch(_) => exit::SERVER,
        HandlerError::NotSupported(_) => exit::NOT_SUPPORTED,
    }
}

fn fail(error: &HandlerError) -> ExitCode {
    eprintln!("error: {}", explain(error));
    ExitCode::from(exit_code(error))
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
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::HOST)
        }
    }
}

/// The component `--component` names (a `.wasm` or a precompiled
/// artifact), or the embedded one; from wasmtime's on-disk cache unless
/// `--no-cache`; its instance pool sized for `max_instances`.
#[allow(
    unsafe_code,
    reason = "loading a precompiled artifact is `Host::from_precompiled_file`"
)]
fn load_host(cli: &Cli, max_instances: usize) -> Result<Host> {
    let mut config = est_ca_host::engine_config(max_instances);
    let bytes = match &cli.component {
        Some(path) if Host::is_precompiled(path)? => {
            // SAFETY: the operator named this artifact on the command line
            // (documented as: only artifacts you compiled yourself); wasmtime
            // refuses one from another build or other settings.
            return unsafe { Host::from_precompiled_file(path, config) };
        }
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => est_ca_host::COMPONENT.to_vec(),
    };
    if !cli.no_cache {
        est_ca_host::use_disk_cache(&mut config);
    }
    Host::with_engine_config(&bytes, config)
}

/// `compile`: writes the precompiled artifact of the `--component` `.wasm`
/// (or of the embedded component) to `out`.
fn compile(component: Option<&Path>, out: &Path) -> Result<ExitCode> {
    let (bytes, name) = match component {
        Some(path) => {
            if Host::is_precompiled(path)? {
                anyhow::bail!("{} is already a precompiled artifact", path.display());
            }
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            (bytes, path.display().to_string())
        }
        None => (
            est_ca_host::COMPONENT.to_vec(),
            "the embedded est-ca-handler".to_owned(),
        ),
    };
    let start = std::time::Instant::now();
    let artifact = Host::precompile(&bytes).with_context(|| name.clone())?;
    let took = start.elapsed();
    // Written beside its destination, then renamed: a reader never maps a
    // half-written artifact.
    let partial = out.with_extension("cwasm.partial");
    std::fs::write(&partial, &artifact)
        .and_then(|()| std::fs::rename(&partial, out))
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "compiled {name} ({} bytes) in {} ms: {} ({} bytes); load it with --component {}",
        bytes.len(),
        took.as_millis(),
        out.display(),
        artifact.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether text logs may be coloured: stderr is a terminal and `NO_COLOR`
/// is unset or empty (<https://no-color.org>).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

async fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Compile { out } = &cli.command {
        return compile(cli.component.as_deref(), out);
    }
    // The one-shot commands run one instance at a time: a small pool
    // reserves little address space.
    let max_instances = match &cli.command {
        Command::Serve { limits, .. } => limits.max_instances as usize,
        _ => ONE_SHOT_INSTANCES,
    };
    let host = load_host(&cli, max_instances)?;
    let settings = match cli.command.config() {
        Some(config) => match config.settings() {
            Ok(settings) => settings,
            Err(e) => {
                eprintln!("error: configuration: {e:#}");
                return Ok(ExitCode::from(exit::CONFIG));
            }
        },
        // `demo` configures its own settings.
        None => Settings::from_pairs(Vec::<(String, String)>::new())?,
    };
    match cli.command {
        Command::Enroll { csr, out, json, .. } => {
            match host.enroll(&settings, &read_csr(&csr)?).await? {
                Ok(Enrollment::Issued(cert)) => issued(&cert, &out, json),
                Ok(Enrollment::Pending(p)) => Ok(pending(&p, json)),
                Err(e) => Ok(fail(&e)),
            }
        }
        Command::Poll {
            csr,
            poll_identifier,
            cert_name,
            out,
            json,
            ..
        } => {
            match host
                .poll(&settings, &cert_name, &poll_identifier, &read_csr(&csr)?)
                .await?
            {
                Ok(PollResult::Issued(cert)) => issued(&cert, &out, json),
                Ok(PollResult::Pending(p)) => Ok(pending(&p, json)),
                Ok(PollResult::Rejected(reason)) => {
                    eprintln!("error: the CA rejected the request: {reason}");
                    Ok(ExitCode::from(exit::REJECTED))
                }
                Err(e) => Ok(fail(&e)),
            }
        }
        Command::Cacerts { .. } => match host.ca_certs(&settings).await? {
            Ok(pems) => {
                for text in &pems {
                    eprintln!("# {}", ca_subject(text)?);
                    print!("{text}");
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Ok(fail(&e)),
        },
        Command::Check { .. } => {
            match host.handler_check(&settings).await? {
                Ok(warnings) => {
                    println!("configuration: OK");
                    if let Some(proxy) = settings.proxy() {
                        println!("proxy: {proxy} (from proxy_server_list)");
                    }
                    for warning in warnings {
                        println!("warning: {warning}");
                    }
                }
                Err(e) => return Ok(fail(&e)),
            }
            match host.ca_certs(&settings).await? {
                Ok(pems) => {
                    println!(
                        "EST server: OK, /cacerts returned {} certificate(s)",
                        pems.len()
                    );
                    for text in &pems {
                        println!("  {}", ca_subject(text)?);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(fail(&e)),
            }
        }
        Command::Serve {
            listen,
            limits,
            metrics_listen,
            ..
        } => {
            let limits = match limits.limits(metrics_listen.is_some(), open_files_limit()) {
                Ok(limits) => limits,
                Err(why) => {
                    eprintln!("error: {why}");
                    return Ok(ExitCode::from(exit::CONFIG));
                }
            };
            let host = host.with_limits(limits);
            if let Err(e) = host.handler_check(&settings).await? {
                eprintln!(
                    "warning: {} (the API answers with this error until it is fixed)",
                    explain(&e)
                );
            }
            let listener = est_ca_host::serve::bind(listen)
                .with_context(|| format!("cannot listen on {listen}"))?;
            println!("serving the HTTP API on http://{}", listener.local_addr()?);
            if let Some(addr) = metrics_listen {
                let metrics = est_ca_host::serve::bind(addr)
                    .with_context(|| format!("cannot listen on {addr} for metrics"))?;
                println!(
                    "serving metrics on http://{}/metrics",
                    metrics.local_addr()?
                );
                let host = host.clone();
                tokio::spawn(async move { host.serve_metrics(metrics).await });
            }
            use std::io::Write;
            std::io::stdout().flush()?;
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
                eprintln!("shutting down: finishing requests in progress");
            };
            host.serve(std::sync::Arc::new(settings), listener, shutdown)
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        // Handled above, before a host is loaded; the same answer here.
        Command::Compile { out } => compile(cli.component.as_deref(), &out),
        Command::Demo {
            key_type,
            name,
            out,
        } => {
            println!("Starting a local EST server and enrolling through the component...");
            let outcome = demo::run(&host, key_type, &name, &out).await?;
            println!(
                "EST server: {} (HTTP Basic, TLS with a CA made just now)",
                outcome.est_url
            );
            println!("{}", outcome.summary);
            println!("chain:      verified up to the local CA's root");
            println!(
                "written to: {}/cert-bundle.pem, key.pem, est-root.pem",
                outcome.out_dir.display()
            );
            println!();
            print!("{}", outcome.cert_bundle);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The subject of one CA certificate that `ca-certs` returned.
fn ca_subject(pem_text: &str) -> Result<String> {
    let der = pem::certificate(pem_text).context("a CA certificate from ca-certs")?;
    Ok(Summary::of(&der)?.subject)
}

fn read_csr(path: &Path) -> Result<String> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the CSR {}", path.display()))?;
    let is_text = bytes
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if is_text {
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    use base64ct::Encoding;
    Ok(base64ct::Base64UrlUnpadded::encode_string(&bytes))
}

/// Prints an issued certificate (its warnings are logged by the host from
/// the component's stderr, and included in the JSON).
fn issued(cert: &est_ca_host::Certificate, out: &Path, json: bool) -> Result<ExitCode> {
    let bundle = &cert.cert_bundle;
    if json {
        let value = serde_json::json!({
            "cert_bundle": bundle, "cert_raw": cert.cert_raw, "poll_identifier": null,
            "warnings": cert.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let parsed = PemBundle::parse(bundle).context("the component's cert_bundle")?;
    std::fs::write(out, bundle).with_context(|| format!("cannot write {}", out.display()))?;
    println!("{}", Summary::of(&parsed.leaf)?);
    println!("chain:      {} CA certificate(s)", parsed.chain.len());
    println!("written to: {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn pending(p: &est_ca_host::Pending, json: bool) -> ExitCode {
    if json {
        let value = serde_json::json!({
            "cert_bundle": null, "cert_raw": null,
            "poll_identifier": p.poll_identifier, "retry_after": p.retry_after_seconds,
        });
        println!("{value}");
    } else {
        println!(
            "pending: the CA will decide later; poll again in {} s with --poll-identifier {}",
            p.retry_after_seconds, p.poll_identifier
        );
    }
    ExitCode::from(exit::PENDING)
}
