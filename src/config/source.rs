//! Where settings come from, and the reader that every section's loader
//! uses: it trims values, treats empty ones as unset, resolves `*_variable`
//! keys through the environment, and collects every problem it meets so
//! that a configuration is judged all at once.

use crate::error::HandlerError;
use crate::text::SafeText;

/// A source of settings: the host's `wasi:config/store` in the component,
/// a map in tests.
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
