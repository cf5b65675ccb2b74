//! Where settings come from, and the reader that every section's loader
//! uses: it trims values, treats empty ones as unset, resolves `*_variable`
//! keys through the environment, and collects every problem it meets so
//! that a configuration is judged all at once.

use crate::error::HandlerError;
use crate::text::SafeText;
use std::collections::BTreeMap;
use std::fmt;

/// A source of settings: the host's `wasi:config/store` in the component,
/// a [`MapSource`] in the host's own checks, tools and tests.
pub trait SettingsSource {
    /// The value configured for `key`, if any. An `Err` is the store's own
    /// failure, described in words.
    fn get(&self, key: &str) -> Result<Option<String>, String>;
    /// The value of the environment variable `name`, if set.
    fn env(&self, name: &str) -> Option<String>;
}

/// Reads settings from a source and collects the problems found.
pub(crate) struct Reader<'a> {
    source: &'a dyn SettingsSource,
    problems: Vec<String>,
}

impl<'a> Reader<'a> {
    /// A reader over `source` with no problem recorded yet.
    pub(crate) fn new(source: &'a dyn SettingsSource) -> Self {
        Self {
            source,
            problems: Vec::new(),
        }
    }

    /// The trimmed value of `key`; empty counts as unset. A store failure
    /// is recorded as a problem.
    pub(crate) fn value(&mut self, key: &str) -> Option<String> {
        match self.source.get(key) {
            Ok(value) => value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()),
            Err(err) => {
                self.problem(format!(
                    "could not read \"{key}\" from the configuration store: {}",
                    SafeText::new(&err, 200)
                ));
                None
            }
        }
    }

    /// The value of `key`, or else of the environment variable that
    /// `variable_key` names; the direct value wins. A named variable that
    /// is not set is recorded as a problem.
    pub(crate) fn value_or_variable(&mut self, key: &str, variable_key: &str) -> Option<String> {
        let direct = self.value(key);
        let variable = self.value(variable_key);
        direct.or_else(|| {
            let name = variable?;
            let value = self.source.env(&name).filter(|v| !v.trim().is_empty());
            if value.is_none() {
                self.problem(format!(
                    "\"{variable_key}\" names the environment variable \"{}\", which is not set",
                    SafeText::new(&name, 100)
                ));
            }
            value
        })
    }

    /// Records a problem.
    pub(crate) fn problem(&mut self, text: impl Into<String>) {
        self.problems.push(text.into());
    }

    /// Every problem found, as one configuration error (separated by
    /// `"; "`), or `Ok` when there was none.
    pub(crate) fn finish(self) -> Result<(), HandlerError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(HandlerError::Config(self.problems.join("; ")))
        }
    }
}

/// Settings held in memory: key/value pairs and an environment of their
/// own, for hosts and tools that have the settings at hand (a parsed
/// configuration file, command-line pairs) and for tests.
///
/// Keys are matched without regard to ASCII case, as acme2certifier's
/// `configparser` and the host read `[CAhandler]` keys; environment
/// variable names are matched exactly. A later value for a key replaces
/// an earlier one. The source never fails, and only the environment given
/// to it is seen, never the process's.
///
/// ```
/// use est_ca_handler::config::{Config, MapSource};
///
/// let settings = MapSource::new([
///     ("EST_HOST", "https://est.example"),
///     ("est_user", "alice"),
///     ("est_password_variable", "EST_PASSWORD"),
/// ])
/// .with_env("EST_PASSWORD", "s3cret");
/// let config = Config::load(&settings).unwrap();
/// assert_eq!(config.url.authority, "est.example");
/// ```
///
/// `Debug` shows the keys and variable names, never their values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MapSource {
    values: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
}

impl MapSource {
    /// Settings from `pairs`, with an empty environment.
    pub fn new<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        pairs.into_iter().collect()
    }

    /// Sets `key` to `value`, replacing any value it had.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_ascii_lowercase(), value.into());
    }

    /// These settings with `key` set to `value`.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Removes `key`.
    pub fn unset(&mut self, key: &str) {
        self.values.remove(&key.to_ascii_lowercase());
    }

    /// The value set for `key`, if any, as given (not trimmed).
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Sets the environment variable `name` to `value`.
    pub fn set_env(&mut self, name: &str, value: impl Into<String>) {
        self.env.insert(name.to_owned(), value.into());
    }

    /// These settings with the environment variable `name` set to `value`.
    #[must_use]
    pub fn with_env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.set_env(name, value);
        self
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for MapSource {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut source = Self::default();
        for (key, value) in pairs {
            source.set(key.as_ref(), value);
        }
        source
    }
}

impl SettingsSource for MapSource {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.value(key).map(str::to_owned))
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}

impl fmt::Debug for MapSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapSource")
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}
