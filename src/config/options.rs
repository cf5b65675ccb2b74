//! The plain options: `request_timeout`, `est_names_check`, and booleans
//! read the way Python's configparser reads them.

use super::keys;
use super::source::Reader;
use crate::text::SafeText;

/// Seconds to wait for the CA when `request_timeout` is not set.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u32 = 20;
/// The largest `request_timeout` accepted, in seconds.
pub const MAX_REQUEST_TIMEOUT_SECS: u32 = 3600;

/// What to do when the issued certificate does not carry every name
/// (subject CN, DNS and IP subject alternative names) the CSR asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NamesCheck {
    /// Refuse the certificate with a `certificate-mismatch` error.
    Error,
    /// Return the certificate with a warning naming the missing names.
    #[default]
    Warn,
    /// Do not compare names.
    Off,
}

impl NamesCheck {
    fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Self::Error),
            "warn" | "warning" => Some(Self::Warn),
            "off" | "none" => Some(Self::Off),
            _ => None,
        }
    }
}

/// Parses a boolean the way Python's configparser does.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Reads `request_timeout` (seconds, 1 to [`MAX_REQUEST_TIMEOUT_SECS`]).
pub(crate) fn load_timeout(reader: &mut Reader<'_>) -> u32 {
    let Some(value) = reader.value(keys::REQUEST_TIMEOUT) else {
        return DEFAULT_REQUEST_TIMEOUT_SECS;
    };
    match value.parse::<u32>() {
        Ok(secs) if (1..=MAX_REQUEST_TIMEOUT_SECS).contains(&secs) => secs,
        _ => {
            reader.problem(format!(
                "\"request_timeout\" must be a whole number of seconds from 1 to {MAX_REQUEST_TIMEOUT_SECS}, not \"{}\"",
                SafeText::new(&value, 40)
            ));
            DEFAULT_REQUEST_TIMEOUT_SECS
        }
    }
}

/// Reads `est_names_check` (`error`, `warn` or `off`).
pub(crate) fn load_names_check(reader: &mut Reader<'_>) -> NamesCheck {
    let Some(value) = reader.value(keys::EST_NAMES_CHECK) else {
        return NamesCheck::default();
    };
    NamesCheck::parse(&value).unwrap_or_else(|| {
        reader.problem(format!(
            "\"{}\" must be error, warn or off, not \"{}\"",
            keys::EST_NAMES_CHECK,
            SafeText::new(&value, 40)
        ));
        NamesCheck::default()
    })
}
