//! `est-server`: runs the local EST server until interrupted.

use anyhow::Result;
use clap::Parser;
use est_server::{
    AuthMode, BodyFault, CacertsOrder, EnrollFault, EstServer, Faults, KeyType, ServerConfig,
};
use std::path::PathBuf;
use std::time::Duration;

/// A local EST (RFC 7030) server with a test CA made at start-up.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// HTTPS port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8443)]
    port: u16,
    /// Also serve plain HTTP on this port of 127.0.0.1.
    #[arg(long)]
    http_port: Option<u16>,
    /// Key type of the CA and its certificates.
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
    key_type: KeyType,
    /// Client authentication.
    #[arg(long, value_enum, default_value_t = AuthMode::Basic)]
    auth: AuthMode,
    /// HTTP Basic user.
    #[arg(long, default_value = "estuser")]
    user: String,
    /// HTTP Basic password (also from EST_SERVER_PASSWORD).
    #[arg(
        long,
        env = "EST_SERVER_PASSWORD",
        default_value = "estpwd",
        hide_env_values = true
    )]
    password: String,
    /// Write the root certificate (the trust anchor) to this PEM file.
    #[arg(long, default_value = "est-server-root.pem")]
    trust_anchor_out: PathBuf,
    /// Write a TLS client certificate and key the server trusts to
    /// FILE.pem and FILE.key.
    #[arg(long, value_name = "FILE")]
    client_identity_out: Option<PathBuf>,
    /// Speak only TLS 1.2.
    #[arg(long)]
    tls12_only: bool,
    /// Answer each CSR's enrollment with 202 this many times first.
    #[arg(long, default_value_t = 0)]
    pending_times: u32,
    /// Retry-After value for 202 answers.
    #[arg(long)]
    retry_after: Option<String>,
    /// Answer enrollments with this HTTP status (and --status-text).
    #[arg(long)]
    status: Option<u16>,
    /// Body of --status answers.
    #[arg(long, default_value = "refused by est-server")]
    status_text: String,
    /// Spoil enrollment answers' bodies.
    #[arg(long, value_enum)]
    body_fault: Option<BodyFault>,
    /// Send enrollment answers as text/html.
    #[arg(long)]
    wrong_content_type: bool,
    /// Wait this many milliseconds before answering.
    #[arg(long)]
    delay_ms: Option<u64>,
    /// Issue certificates for another key than the CSR's.
    #[arg(long)]
    other_key: bool,
    /// Leave the CSR's subject alternative names out.
    #[arg(long)]
    drop_sans: bool,
    /// Certificate order in /cacerts.
    #[arg(long, value_enum, default_value_t = CacertsOrder::Canonical)]
    cacerts_order: CacertsOrder,
    /// Add an unrelated certificate to /cacerts.
    #[arg(long)]
    cacerts_extra: bool,
    /// Answer nothing to GET /cacerts (enrollments are answered as usual).
    #[arg(long)]
    stall_cacerts: bool,
    /// Apply this fault to every enrollment: stall-headers, trickle, reset,
    /// huge, endless, pending-forever, status-NNN, garbage, truncated,
    /// oversized, wrong-content-type, other-key, drop-sans or echo-headers.
    #[arg(long, value_name = "KIND")]
    fault: Option<EnrollFault>,
    /// Apply fault KIND to an enrollment whose CSR's CN (or else first DNS
    /// SAN) starts with "fault-KIND." (e.g. fault-trickle.example.test).
    #[arg(long)]
    faults_by_csr: bool,
    /// Send error answers (4xx, 5xx) without a Content-Type header.
    #[arg(long)]
    untyped_errors: bool,
    /// Send 202 answers without Content-Length (HTTP/1.0, the body ending
    /// at the close of the connection).
    #[arg(long)]
    pending_until_close: bool,
    /// Refuse enrollments whose base64 body does not end with a newline.
    #[arg(long)]
    require_final_newline: bool,
    /// Refuse enrollments sent without Content-Transfer-Encoding: base64.
    #[arg(long)]
    require_base64_header: bool,
    /// Refuse CSRs whose subject has no common name (CN).
    #[arg(long)]
    require_cn: bool,
    /// Also listen on this port of 127.0.0.1 and never complete a TLS
    /// handshake there (0 picks a free one).
    #[arg(long, value_name = "PORT")]
    tls_stall_port: Option<u16>,
}

/// `println!` that does not panic when stdout is gone (a closed pipe): the
/// server keeps serving whoever reads its output.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let faults = Faults {
        pending_times: args.pending_times,
        retry_after: args.retry_after,
        status: args.status.map(|s| (s, args.status_text.clone())),
        body: args.body_fault,
        wrong_content_type: args.wrong_content_type,
        delay: args.delay_ms.map(Duration::from_millis),
        other_key: args.other_key,
        drop_sans: args.drop_sans,
        cacerts_order: args.cacerts_order,
        cacerts_extra: args.cacerts_extra,
        by_csr: args.faults_by_csr,
        fault: args.fault,
        untyped_errors: args.untyped_errors,
        pending_until_close: args.pending_until_close,
        require_final_newline: args.require_final_newline,
        require_base64_header: args.require_base64_header,
        require_cn: args.require_cn,
        stall_cacerts: args.stall_cacerts,
    };
    let server = EstServer::start(ServerConfig {
        ca_name: "est-server".into(),
        key_type: args.key_type,
        auth: args.auth,
        user: args.user.clone(),
        password: args.password,
        https_port: args.port,
        http_port: args.http_port,
        trust_anchor_out: Some(args.trust_anchor_out.clone()),
        tls12_only: args.tls12_only,
        faults,
        tls_stall_port: args.tls_stall_port,
    })
    .await?;
    say!("EST server: {}/.well-known/est/", server.https_url());
    if let Some(url) = server.http_url() {
        say!("plain HTTP: {url}/.well-known/est/");
    }
    if let Some(url) = server.tls_stall_url() {
        say!("TLS handshakes stall: {url}");
    }
    say!("trust anchor: {}", args.trust_anchor_out.display());
    match args.auth {
        AuthMode::Basic | AuthMode::Both => say!("HTTP Basic user: {}", args.user),
        _ => {}
    }
    if let Some(base) = args.client_identity_out {
        let (cert, key) = server.client_identity("est-client")?;
        let (cert_path, key_path) = (base.with_extension("pem"), base.with_extension("key"));
        std::fs::write(&cert_path, cert)?;
        std::fs::write(&key_path, key)?;
        say!(
            "client certificate: {} (key {})",
            cert_path.display(),
            key_path.display()
        );
    }
    say!("Ctrl-C stops it.");
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Args;
    use clap::CommandFactory;
    use est_server::EnrollFault;

    #[test]
    fn the_fault_option_names_every_kind() {
        let mut command = Args::command();
        let fault = command
            .get_arguments()
            .find(|arg| arg.get_id() == "fault")
            .and_then(|arg| arg.get_help())
            .map(ToString::to_string)
            .expect("--fault has a help text");
        let words: Vec<&str> = fault
            .split(|c: char| c.is_whitespace() || c == ',')
            .collect();
        for kind in EnrollFault::ALL.iter().map(|f| f.kind()) {
            assert!(
                words.contains(&kind.as_str()),
                "--fault's help lacks {kind}: {fault}"
            );
        }
        // The help renders (clap checks the definition while rendering).
        assert!(command.render_help().to_string().contains("--fault"));
    }
}
