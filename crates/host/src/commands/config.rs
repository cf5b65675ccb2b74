//! Where a command's handler settings come from.

use anyhow::Result;
use clap::Args;
use est_ca_host::Settings;
use std::path::PathBuf;

/// Where the handler's settings come from, lowest precedence first:
/// `--config`, `CAHANDLER_<KEY>` environment variables, `--set`.
#[derive(Args)]
pub struct ConfigArgs {
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

fn parse_pair(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or("expected KEY=VALUE")?;
    Ok((key.trim().to_ascii_lowercase(), value.to_owned()))
}

impl ConfigArgs {
    /// The settings, from the file, the environment and `--set`.
    pub fn settings(&self) -> Result<Settings> {
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
