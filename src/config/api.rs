//! The HTTP API's own settings: `api_auth` and `api_token` (or
//! `api_token_variable`). They are read apart from the EST settings, so
//! that `/health` can answer even while the EST configuration is broken.

use super::keys;
use super::options::parse_bool;
use super::secret::Secret;
use super::source::SettingsSource;
use crate::text::SafeText;

/// How callers of the HTTP API must authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiAccess {
    /// With `Authorization: Bearer <api_token>`.
    Token(Secret),
    /// Without authentication (`api_auth = none`, an explicit opt-out).
    Open,
    /// No token is configured, and authentication was not turned off: the
    /// API issues nothing.
    Unconfigured,
}

impl ApiAccess {
    /// Reads `api_auth` and the token. An `Err` names the bad setting.
    pub fn load(source: &dyn SettingsSource) -> Result<Self, String> {
        let read = |key: &str| {
            source
                .get(key)
                .map(|v| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
                .map_err(|e| format!("could not read \"{key}\": {}", SafeText::new(&e, 200)))
        };
        match read(keys::API_AUTH)?.map(|v| v.to_ascii_lowercase()) {
            None => {}
            Some(v) if v == "none" => return Ok(Self::Open),
            Some(v) if v == "token" || parse_bool(&v) == Some(true) => {}
            Some(_) => {
                return Err(format!(
                    "\"{}\" must be \"token\" (the default) or \"none\"",
                    keys::API_AUTH
                ));
            }
        }
        let token = match read(keys::API_TOKEN)? {
            Some(token) => Some(token),
            None => match read(keys::API_TOKEN_VARIABLE)? {
                Some(name) => source.env(&name).filter(|v| !v.trim().is_empty()),
                None => None,
            },
        };
        Ok(token.map_or(Self::Unconfigured, |t| Self::Token(Secret::new(t))))
    }
}
