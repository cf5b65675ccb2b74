//! The options every command takes that say which component to run, and
//! loading it into a [`Host`].

use super::config::ConfigArgs;
use super::exit;
use anyhow::{Context, Result};
use est_ca_host::{Host, Settings};
use std::path::PathBuf;
use std::process::ExitCode;

/// The component options, global to every command.
#[derive(clap::Args)]
pub struct Global {
    /// Use this component instead of the embedded est-ca-handler: a
    /// `.wasm`, or an artifact from `ca-handler compile` (loaded without
    /// compiling; only load artifacts you compiled yourself).
    #[arg(long, global = true, value_name = "FILE.wasm|FILE.cwasm")]
    pub component: Option<PathBuf>,
    /// Compile the component afresh instead of using wasmtime's on-disk cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
}

/// The instance pool of the commands other than `serve`: they run one
/// instance at a time, and a small pool reserves little address space.
pub const ONE_SHOT_INSTANCES: usize = 4;

impl Global {
    /// The component `--component` names (a `.wasm` or a precompiled
    /// artifact), or the embedded one; from wasmtime's on-disk cache unless
    /// `--no-cache`; its instance pool sized for `max_instances`.
    #[allow(
        unsafe_code,
        reason = "loading a precompiled artifact is `Host::from_precompiled_file`"
    )]
    pub fn load_host(&self, max_instances: usize) -> Result<Host> {
        let mut config = est_ca_host::engine_config(max_instances);
        let bytes = match &self.component {
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
        if !self.no_cache {
            est_ca_host::use_disk_cache(&mut config);
        }
        Host::with_engine_config(&bytes, config)
    }

    /// The host (see [`Global::load_host`]) and the settings of `config`,
    /// or, when the settings cannot be read, the configuration error's exit
    /// code (after saying why).
    pub fn host_and_settings(
        &self,
        config: &ConfigArgs,
        max_instances: usize,
    ) -> Result<Result<(Host, Settings), ExitCode>> {
        let host = self.load_host(max_instances)?;
        match config.settings() {
            Ok(settings) => Ok(Ok((host, settings))),
            Err(e) => {
                eprintln!("error: configuration: {e:#}");
                Ok(Err(ExitCode::from(exit::CONFIG)))
            }
        }
    }
}
