//! The handler's settings, read under acme2certifier's `[CAhandler]` key
//! names ([`keys`]).
//!
//! Values come from a [`SettingsSource`] (the host's `wasi:config/store` in
//! the component; a map in tests). A `*_variable` key names an environment
//! variable that holds the value; the directly configured key wins over it.
//! An empty value counts as unset, so hosts can declare optional keys with
//! an empty default. [`Config::load`] reads each section ([`url`],
//! [`auth`], [`options`]) through one problem-collecting reader and
//! reports every problem it finds in one [`HandlerError::Config`]. The HTTP
//! API's own settings are read by [`api`].

pub mod api;
pub mod auth;
pub mod keys;
pub mod options;
pub mod secret;
pub mod source;
pub mod url;

pub use api::ApiAccess;
pub use auth::{Auth, CaBundle, ClientKey};
pub use options::{DEFAULT_REQUEST_TIMEOUT_SECS, MAX_REQUEST_TIMEOUT_SECS, NamesCheck, parse_bool};
pub use secret::Secret;
pub use source::SettingsSource;
pub use url::{EstUrl, Scheme};

use crate::error::HandlerError;
use source::Reader;

/// A complete, validated handler configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the EST service lives.
    pub url: EstUrl,
    /// How to authenticate.
    pub auth: Auth,
    /// How the host verifies the server's TLS certificate.
    pub ca_bundle: CaBundle,
    /// Seconds to wait for the server.
    pub request_timeout_secs: u32,
    /// Whether the issued certificate's names are compared with the CSR's.
    pub names_check: NamesCheck,
}

impl Config {
    /// Reads and validates every setting. All problems found are reported
    /// together, separated by `"; "`.
    pub fn load(source: &dyn SettingsSource) -> Result<Self, HandlerError> {
        let mut reader = Reader::new(source);
        let url = url::load(&mut reader);
        let (auth, ca_bundle) = auth::load(&mut reader);
        let request_timeout_secs = options::load_timeout(&mut reader);
        let names_check = options::load_names_check(&mut reader);
        let complete = url.zip(auth);
        reader.finish()?;
        // Each section records a problem whenever it yields nothing.
        let (url, auth) = complete.ok_or_else(|| {
            HandlerError::Config("internal: a setting is missing without a problem".into())
        })?;
        Ok(Self {
            url,
            auth,
            ca_bundle,
            request_timeout_secs,
            names_check,
        })
    }

    /// Settings that work but that an operator should know about.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.url.scheme == Scheme::Http {
            warnings.push(format!(
                "est_host {} uses plain http:// (est_insecure_http is set): requests, credentials and certificates are not protected by TLS unless something in between adds it",
                self.url
            ));
        }
        if self.url.scheme == Scheme::Https && self.ca_bundle == CaBundle::Disabled {
            warnings.push(
                "ca_bundle is False: the EST server's TLS certificate is not verified".into(),
            );
        }
        warnings
    }
}

#[cfg(test)]
mod tests;
