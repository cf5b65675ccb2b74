//! What every in-process row of the benchmark enrolls against: the local
//! EST server, the settings both contenders use, the native floor's
//! transport, one CSR, and the benchmark's engine configuration.

use crate::args::Args;
use crate::native::NativeTransport;
use anyhow::Result;
use base64ct::{Base64UrlUnpadded, Encoding};
use est_ca_handler::config::{Config, MapSource};
use est_ca_host::Settings;
use est_server::{EstServer, KeyType, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The EST server's password.
pub const PASSWORD: &str = "bench-Passw0rd";

/// The settings both contenders use, as acme2certifier keys.
fn pairs(server: &EstServer, anchor: &Path) -> Vec<(String, String)> {
    vec![
        ("est_host".into(), server.https_url()),
        ("est_user".into(), "estuser".into()),
        ("est_password".into(), PASSWORD.into()),
        ("ca_bundle".into(), anchor.display().to_string()),
    ]
}

/// The local EST server and what the contenders need to enroll against it.
pub struct Fixture {
    /// The benchmark's scratch directory.
    pub dir: PathBuf,
    /// The EST server's trust anchor, in `dir`.
    pub anchor: PathBuf,
    /// The local EST server.
    pub server: EstServer,
    /// The settings, as acme2certifier keys.
    pub pairs: Vec<(String, String)>,
    /// The settings for the component.
    pub settings: Arc<Settings>,
    /// The configuration for the native floor.
    pub config: Arc<Config>,
    /// The native floor's transport.
    pub native: Arc<NativeTransport>,
    /// The CSR every enrollment sends, base64url.
    pub csr: String,
}

impl Fixture {
    /// Starts the EST server and makes the CSR; the native floor's
    /// blocking transport runs on `runtime`.
    pub async fn start(runtime: tokio::runtime::Handle) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("est-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let anchor = dir.join("root.pem");
        let server = EstServer::start(ServerConfig {
            key_type: KeyType::EcdsaP256,
            password: PASSWORD.into(),
            trust_anchor_out: Some(anchor.clone()),
            ..ServerConfig::default()
        })
        .await?;
        let pairs = pairs(&server, &anchor);
        let settings = Arc::new(Settings::from_pairs(pairs.clone())?);
        let config = Arc::new(
            Config::load(&MapSource::new(pairs.iter().cloned()))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        let native = Arc::new(NativeTransport::new(&config, runtime.clone())?);

        let key = KeyType::EcdsaP256.generate()?;
        let mut params = rcgen::CertificateParams::new(vec!["bench.example.test".to_owned()])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "bench.example.test");
        let csr = Base64UrlUnpadded::encode_string(params.serialize_request(&key)?.der());
        Ok(Self {
            dir,
            anchor,
            server,
            pairs,
            settings,
            config,
            native,
            csr,
        })
    }
}

/// The engine configuration of the benchmark's hosts.
pub fn engine_config(args: &Args, pooling: bool) -> wasmtime::Config {
    let mut engine = wasmtime::Config::new();
    if args.perf_map {
        engine.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if pooling {
        engine.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
            // Room for the throughput rounds' 64 workers and the host's default.
            est_ca_host::pooling_config(est_ca_host::limits::DEFAULT_MAX_INSTANCES),
        ));
    }
    engine
}
