//! Fixed inputs the targets build on: a small CA (root and issuing
//! certificate), a CSR with DNS and IP names, and certificates issued for
//! its key with and without those names (made by `fixtures/make.sh` with
//! OpenSSL; nothing checks their signatures), and a configuration that
//! loads.

use est_ca_handler::config::{MapSource, SettingsSource};

/// The root CA certificate (`CN=Fuzz Root`).
pub(crate) const ROOT: &[u8] = include_bytes!("../fixtures/root.der");
/// The issuing CA certificate (`CN=Fuzz Issuing CA`), signed by [`ROOT`].
pub(crate) const ISSUING: &[u8] = include_bytes!("../fixtures/issuing.der");
/// A CSR for `CN=fuzz.example` asking for DNS `fuzz.example`,
/// `www.fuzz.example` and IP `192.0.2.1`.
pub(crate) const CSR: &[u8] = include_bytes!("../fixtures/csr.der");
/// [`CSR`]'s certificate from [`ISSUING`], with all its names.
pub(crate) const LEAF: &[u8] = include_bytes!("../fixtures/leaf.der");
/// [`CSR`]'s certificate from [`ISSUING`], without its alternative names.
pub(crate) const LEAF_CN_ONLY: &[u8] = include_bytes!("../fixtures/leaf-cn-only.der");

/// The API token of the fuzzed configurations.
pub(crate) const API_TOKEN: &str = "fuzz-api-token-Qx7Zk2";
/// The EST password of the fuzzed configurations.
pub(crate) const EST_PASSWORD: &str = "fuzz-est-password-Wm4Jr9";

/// The targets' settings: a [`MapSource`], and optionally a key whose
/// reading fails as a configuration store can.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    /// The keys, their values and the environment.
    pub(crate) source: MapSource,
    /// A key whose reading fails, and the store's words for it.
    pub(crate) failing: Option<(String, String)>,
}

impl Settings {
    /// A configuration that loads: Basic authentication, an API token.
    pub(crate) fn working() -> Self {
        Self {
            source: MapSource::new([
                ("est_host", "https://est.fuzz.example:8443/prefix"),
                ("est_user", "fuzz-user"),
                ("est_password", EST_PASSWORD),
                ("api_token", API_TOKEN),
            ]),
            failing: None,
        }
    }

    pub(crate) fn set(&mut self, key: &str, value: &str) {
        self.source.set(key, value);
    }

    pub(crate) fn unset(&mut self, key: &str) {
        self.source.unset(key);
    }

    pub(crate) fn value(&self, key: &str) -> Option<&str> {
        self.source.value(key)
    }
}

impl SettingsSource for Settings {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        match &self.failing {
            Some((failing, why)) if failing.eq_ignore_ascii_case(key) => Err(why.clone()),
            _ => self.source.get(key),
        }
    }

    fn env(&self, name: &str) -> Option<String> {
        self.source.env(name)
    }
}
