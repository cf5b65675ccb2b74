//! Settings from a map, standing in for the host's configuration store.

use crate::config::SettingsSource;
use std::collections::HashMap;

/// Settings from a map, with a separate environment.
#[derive(Default, Clone)]
pub struct MapSettings {
    pub values: HashMap<String, String>,
    pub env: HashMap<String, String>,
    pub fail: Option<String>,
}

impl MapSettings {
    pub fn with(pairs: &[(&str, &str)]) -> Self {
        Self {
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Self::default()
        }
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }
}

impl SettingsSource for MapSettings {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        match &self.fail {
            Some(why) => Err(why.clone()),
            None => Ok(self.values.get(key).cloned()),
        }
    }

    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}
