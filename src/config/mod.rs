//! The handler's settings, read under acme2certifier's `[CAhandler]` key
//! names ([`keys`]).
//!
//! Values come from a [`SettingsSource`] (the host's `wasi:config/store` in
//! the component; a [`MapSource`] in tools and tests). A `*_variable` key names an environment
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
pub use source::{MapSource, SettingsSource};
pub use url::{EstUrl, Scheme};

use crate::error::HandlerError;
use crate::text::Redactions;
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
    /// The handler's own secrets (the EST password and the Basic
    /// credentials as sent, the PKCS#12 passphrase, the API token), to be
    /// taken out of whatever outside text reaches an error, a log line or
    /// an answer.
    pub redactions: Redactions,
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
        let redactions = redactions(&auth, source);
        Ok(Self {
            url,
            auth,
            ca_bundle,
            request_timeout_secs,
            names_check,
            redactions,
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

/// The secrets of `auth`, and the API token when one is configured (the
/// API reads it for itself, apart from the EST settings; a store failure
/// here only means there is no token to take out).
fn redactions(auth: &Auth, source: &dyn SettingsSource) -> Redactions {
    let mut secrets = Redactions::default();
    match auth {
        Auth::Basic { user, password } => secrets.add_basic(user, password.expose()),
        Auth::ClientCertificate {
            key: ClientKey::Pkcs12 { passphrase },
            ..
        } => secrets.add_secret(passphrase.expose()),
        Auth::ClientCertificate { .. } => {}
    }
    if let Ok(ApiAccess::Token(token)) = ApiAccess::load(source) {
        secrets.add_secret(token.expose());
    }
    secrets
}

#[cfg(test)]
mod tests;
