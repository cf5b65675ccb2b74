//! The component's settings source: the host's `wasi:config/store` for
//! values, the WASI environment for the variables `*_variable` keys name.

use super::bindings;
// Both versions of wasi:config are vendored, so the bindings carry the version.
use crate::config::SettingsSource;
#[cfg(not(feature = "wasmtime-serve"))]
use bindings::wasi::config0_2_0_draft_2024_09_27::store;
#[cfg(feature = "wasmtime-serve")]
use bindings::wasi::config0_2_0_rc_1::store;

/// Settings from the host's `wasi:config/store`.
pub(super) struct WasiSettings;

impl SettingsSource for WasiSettings {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        store::get(key).map_err(|e| match e {
            store::Error::Upstream(why) => format!("upstream: {why}"),
            store::Error::Io(why) => format!("I/O: {why}"),
        })
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}
